"""Scaled dot-product attention: a hot op with a fused first-order backward.

Notation: q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv); per batch and head

    S = scale Q K^T                          (Nq, Nk)   scale = 1/sqrt(D) by default
    lse_i = log sum_j exp(S_ij)              (Nq,)      the softmax's normaliser, kept
    P = exp(S - lse)  (= softmax(S) by rows) (Nq, Nk)
    O = P V                                  (Nq, Dv)

and the gradients for an output gradient dO: (Nq, Dv),

    dV = P^T dO        dP = dO V^T        delta_i = sum_j dP_ij P_ij = sum_c dO_ic O_ic
    dS = P o (dP - delta)                 (the softmax's Jacobian, row by row)
    dQ = scale dS K    dK = scale dS^T Q

(``o`` is the elementwise product). The two array functions, registered as the ``numpy``
implementation of the ops ``"attention"`` and ``"attention_backward"``, compute exactly
this with whole (Nq, Nk) matrices; kernels/attention.py computes the same in tiles,
never holding S or P in memory. ``lse`` is what makes the backward cheap: P is recomputed
from Q, K and lse in one pass, without a second softmax.

Gradients (DESIGN.md: "Attention's fused kernel serves first-order gradients; its double
backward may fall back to the composed ops"): under a plain ``backward()`` the op's
backward calls the registered ``"attention_backward"`` on raw arrays. When a graph is
being recorded (``grad(..., create_graph=True)``: a gradient penalty through an attention
layer) it computes the same formulas with Tensor ops from ``softmax(scale Q K^T)``, so
second- and higher-order derivatives come out of the engine like any other.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigan.autograd import Function, is_grad_enabled
from minigan.backend import register, run, xp
from minigan.ops.activation import softmax
from minigan.tensor import Tensor

__all__ = ["scaled_dot_product_attention", "attention_numpy", "attention_backward_numpy"]


def accumulator_dtype(dtype: Any) -> np.dtype:
    """float64 for float64 inputs, else float32: the dtype of lse and of the sums."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


# --------------------------------------------------------------------------------------
# The reference: whole matrices, max-subtracted
# --------------------------------------------------------------------------------------

def attention_numpy(q: Any, k: Any, v: Any, scale: float) -> tuple[Any, Any]:
    """(out, lse) = (softmax(S) V, logsumexp(S)),  S = scale Q K^T.

    q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv) -> out: (B, H, Nq, Dv) in q's
    dtype, lse: (B, H, Nq) in the accumulator dtype (float16 inputs are computed in
    float32). Subtracting each row's maximum m keeps exp(S - m) <= 1: no overflow for any
    logits, and exp(0) = 1 makes each row's sum at least 1.

    The (Nq, Nk) matrix is one array, S, then exp(S - m), then P, each step done in place:
    the same operations, rounded the same way, as with a new array per step.
    """
    mod = xp(q)
    acc = accumulator_dtype(q.dtype)
    p = mod.matmul(q.astype(acc, copy=False), k.astype(acc, copy=False).swapaxes(-1, -2))
    p *= scale                                                              # S (B, H, Nq, Nk)
    m = p.max(axis=-1, keepdims=True)
    p -= m
    mod.exp(p, out=p)
    total = p.sum(axis=-1, keepdims=True)
    p /= total                                                              # P
    out = mod.matmul(p, v.astype(acc, copy=False))                          # (B, H, Nq, Dv)
    lse = (m + mod.log(total))[..., 0]                                     # (B, H, Nq)
    return out.astype(q.dtype, copy=False), lse


def attention_backward_numpy(q: Any, k: Any, v: Any, out: Any, lse: Any, grad_out: Any,
                             scale: float) -> tuple[Any, Any, Any]:
    """(dq, dk, dv) from P = exp(scale Q K^T - lse):  dV = P^T dO,  dP = dO V^T,
    delta = rowsum(dO o O),  dS = P o (dP - delta),  dQ = scale dS K,  dK = scale dS^T Q.

    Shapes as in ``attention_numpy``; grad_out: (B, H, Nq, Dv); results in q's dtype. The
    two (Nq, Nk) matrices are P and dP, dP becoming dS in place.
    """
    mod = xp(q)
    acc = accumulator_dtype(q.dtype)
    q_, k_, v_, o_, do = (a.astype(acc, copy=False) for a in (q, k, v, out, grad_out))
    p = mod.matmul(q_, k_.swapaxes(-1, -2))
    p *= scale
    p -= lse[..., None]
    mod.exp(p, out=p)                                                         # (.., Nq, Nk)
    dv = mod.matmul(p.swapaxes(-1, -2), do)                                   # (.., Nk, Dv)
    ds = mod.matmul(do, v_.swapaxes(-1, -2))                                  # dP (.., Nq, Nk)
    ds -= (do * o_).sum(axis=-1, keepdims=True)                               # - delta (.., Nq, 1)
    ds *= p                                                                   # dS
    dq = scale * mod.matmul(ds, k_)                                           # (.., Nq, D)
    dk = scale * mod.matmul(ds.swapaxes(-1, -2), q_)                          # (.., Nk, D)
    return (dq.astype(q.dtype, copy=False), dk.astype(q.dtype, copy=False),
            dv.astype(q.dtype, copy=False))


register("attention", "numpy", ("cpu", "cuda"))(attention_numpy)
register("attention_backward", "numpy", ("cpu", "cuda"))(attention_backward_numpy)


# --------------------------------------------------------------------------------------
# The op
# --------------------------------------------------------------------------------------

def _is_empty(q: Any) -> bool:
    """No query rows at all (B, H or Nq is 0): nothing for an implementation to do."""
    return q.shape[0] * q.shape[1] * q.shape[2] == 0


class Attention(Function):
    """out = softmax(scale Q K^T) V over the last two dims (see the module docstring).

    Forward runs the registered ``"attention"`` and keeps its lse. Backward runs the
    registered ``"attention_backward"`` (the fused kernel on a GPU) when no graph is
    recorded, else the composed Tensor ops, which differentiate again.
    """

    def forward(ctx, q, k, v, scale):
        ctx.scale = scale
        if _is_empty(q):
            mod = xp(q)
            shape = q.shape[:3]
            ctx.save(lse=mod.zeros(shape, accumulator_dtype(q.dtype)))
            return mod.zeros((*shape, v.shape[3]), q.dtype)
        out, lse = run("attention", q, k, v, scale)
        ctx.save(lse=lse)
        return out

    def backward(ctx, grad_out):
        if is_grad_enabled():
            grads = _composed_backward(*ctx.inputs, grad_out, ctx.scale)
        else:
            grads = _fused_backward(*ctx.inputs, ctx.saved_output, ctx.lse, grad_out,
                                    ctx.scale)
        return tuple(g if needed else None for g, needed in zip(grads, ctx.needs_input_grad))


def _fused_backward(q: Tensor, k: Tensor, v: Tensor, out: Tensor, lse: Any, grad_out: Tensor,
                    scale: float) -> tuple[Tensor, Tensor, Tensor]:
    """The registered array implementation, for first-order gradients."""
    if _is_empty(q.data):
        mod = q.xp
        return tuple(Tensor._make(mod.zeros(t.shape, t.dtype)) for t in (q, k, v))
    grads = run("attention_backward", q.data, k.data, v.data, out.data, lse, grad_out.data,
                scale)
    return tuple(Tensor._make(g) for g in grads)


def _composed_backward(q: Tensor, k: Tensor, v: Tensor, grad_out: Tensor, scale: float
                       ) -> tuple[Tensor, Tensor, Tensor]:
    """The same formulas in Tensor ops on graph values: differentiable again. P is rebuilt
    with ``softmax`` (not from the saved lse, a constant here) so that its own derivative
    with respect to q and k is part of the graph."""
    p = softmax(scale * (q @ k.mT), -1)                                  # (B, H, Nq, Nk)
    dv = p.mT @ grad_out                                                 # (B, H, Nk, Dv)
    dp = grad_out @ v.mT                                                 # (B, H, Nq, Nk)
    ds = p * (dp - (dp * p).sum(-1, keepdim=True))
    return scale * (ds @ k), scale * (ds.mT @ q), dv


# --------------------------------------------------------------------------------------
# The public function
# --------------------------------------------------------------------------------------

def _check(op: str, q: Tensor, k: Tensor, v: Tensor, scale: Any) -> None:
    """Shapes (B, H, Nq, D), (B, H, Nk, D), (B, H, Nk, Dv) (or 3-D without H), one
    floating dtype, one device, at least one key, D >= 1, and a finite real scale."""
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(t).__name__}")
    shapes = f"q {q.shape}, k {k.shape}, v {v.shape}"
    if not (q.ndim == k.ndim == v.ndim and q.ndim in (3, 4)):
        raise ValueError(f"{op}: q, k and v must all be 4-D (B, H, N, D) or all 3-D "
                         f"(B, N, D), got {shapes}")
    if q.dtype.kind != "f" or not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"{op}: q, k and v must share one floating-point dtype, got "
                        f"{q.dtype}, {k.dtype}, {v.dtype} ({shapes})")
    if not q.device == k.device == v.device:
        raise RuntimeError(f"{op}: q, k and v must be on one device, got {q.device}, "
                           f"{k.device}, {v.device} ({shapes})")
    if not q.shape[:-2] == k.shape[:-2] == v.shape[:-2]:
        raise ValueError(f"{op}: q, k and v must have the same batch (and head) sizes, got "
                         f"{shapes}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(f"{op}: q and k must have the same feature size D, got "
                         f"{q.shape[-1]} and {k.shape[-1]} ({shapes})")
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(f"{op}: k and v must have the same number of positions Nk, got "
                         f"{k.shape[-2]} and {v.shape[-2]} ({shapes})")
    if k.shape[-2] == 0 or q.shape[-1] == 0:
        raise ValueError(f"{op}: needs at least one key and D >= 1 (a softmax over no keys "
                         f"is undefined), got {shapes}")
    if (isinstance(scale, (bool, np.bool_)) or not isinstance(scale, (int, float, np.number))
            or not math.isfinite(scale)):
        raise ValueError(f"{op}: scale must be a finite real number, got {scale!r} "
                         f"({shapes})")


def scaled_dot_product_attention(q: Tensor, k: Tensor, v: Tensor,
                                 scale: float | None = None) -> Tensor:
    """softmax(scale Q K^T) V, row by row.

    q: (B, H, Nq, D), k: (B, H, Nk, D), v: (B, H, Nk, Dv) -> (B, H, Nq, Dv); 3-D inputs
    (B, N, D) are one head (H = 1) and give (B, Nq, Dv). ``scale`` defaults to 1/sqrt(D).
    No mask and no dropout (SAGAN's attention needs neither). Differentiable to any
    order: first-order gradients run the fused backward (the Triton kernel on a GPU),
    recorded ones (``create_graph=True``) the composed ops.
    """
    op = "scaled_dot_product_attention"
    _check(op, q, k, v, 1.0 if scale is None else scale)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    if q.ndim == 3:
        heads = (q.unsqueeze(1), k.unsqueeze(1), v.unsqueeze(1))     # (B, N, D) -> (B, 1, N, D)
        return Attention.apply(*heads, scale=scale).squeeze(1)
    return Attention.apply(q, k, v, scale=scale)
