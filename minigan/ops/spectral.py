"""Spectral normalization's power iteration (Miyato et al. 2018, "Spectral Normalization for
Generative Adversarial Networks"): an estimate of the largest singular value of a weight.

A weight of any shape (O, *rest) is seen as the matrix W = weight.reshape(O, -1): (M, N),
(C_out, C_in kh kw) for a conv, (out, in) for a linear layer. With u: (M,) the running
estimate of W's top left singular vector, one step of the power iteration is

    v = normalize(W^T u)          (N,)
    u = normalize(W v)            (M,)        normalize(x) = x / max(||x||_2, eps)

(PyTorch's ``F.normalize``: a zero vector stays zero instead of becoming NaN), and after
the steps

    sigma = u^T W v               ()          -> sigma_max(W) as the steps go on

Each step multiplies u by W W^T and renormalizes, so u turns towards the top singular
vector at the rate (sigma_2 / sigma_1)^2 per step. Spectral normalization divides the
weight by sigma, making the layer about 1-Lipschitz; it carries u from one training step to
the next (a buffer), where W has changed little, so one step per training step suffices.

Gradients hold u and v fixed. The normalized weight is W / sigma(W) with

    d sigma / dW = u v^T          (M, N)      for sigma = u^T W v, u and v constants,

which is also the exact derivative of the top singular value when u, v are the top
singular vectors (sigma_1 = u_1^T W v_1 and d sigma_1 / dW = u_1 v_1^T for a simple
sigma_1). Differentiating through the iteration itself would cost a backward pass through
every step for a correction that vanishes as u and v converge. Miyato et al. reuse u from
step to step (section 2.2) and differentiate W / sigma(W) with d sigma / dW = u_1 v_1^T
(section 2.3); PyTorch's spectral_norm takes the same fixed-u, v gradient.

Two functions, on which ``nn`` builds ``spectral_norm(module)`` (buffers u and v,
iterating in training mode only, weight / sigma):

* ``spectral_norm_power_iteration(weight, u, n_iterations, eps) -> (u, v, sigma)``: the
  iteration, run without gradient (its results are constants), through the implementation
  registry: ``numpy`` (below; on NumPy and CuPy arrays) and ``triton`` (kernels/
  spectral_norm.py: one fused launch per step on a GPU).
* ``spectral_sigma(weight, u, v) -> sigma``: u^T W v in Tensor ops, so the gradient
  u v^T flows to the weight (and second derivatives, for gradient penalties through a
  spectrally normalized critic).

n_iterations = 0 (evaluation mode: the buffers are not updated) is the caller's case: it
keeps its stored u and v and calls ``spectral_sigma`` alone. The op needs at least one
step, since v is one of its outputs and is computed from u.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigan.backend import register, run, xp
from minigan.tensor import Tensor

OP = "spectral_norm_power_iteration"


# --------------------------------------------------------------------------------------
# The reference implementation on raw arrays
# --------------------------------------------------------------------------------------

def accumulator_dtype(dtype: Any) -> np.dtype:
    """float64 stays float64; float32 and float16 accumulate (and carry u) in float32."""
    return np.dtype(np.float64) if np.dtype(dtype) == np.float64 else np.dtype(np.float32)


def _normalize(x: Any, eps: float) -> Any:
    """x / max(||x||_2, eps)."""
    mod = xp(x)
    return x / mod.maximum(mod.sqrt(x @ x), eps)


def power_iteration_numpy(weight: Any, u: Any, n_iterations: int, eps: float
                          ) -> tuple[Any, Any, Any]:
    """The registry contract: weight (M, N), u (M,), n_iterations >= 1, eps > 0 ->
    (u (M,), v (N,), sigma ()) in weight's dtype, new arrays (the inputs are not changed).

    Per step v = normalize(W^T u), Wv = W v, u = normalize(Wv); then sigma = u^T Wv, which
    reuses the last step's Wv: the final u and v, no third product.
    """
    mod = xp(weight)
    acc = accumulator_dtype(weight.dtype)
    w = weight.astype(acc, copy=False)
    u = u.astype(acc, copy=False)
    for _ in range(n_iterations):
        v = _normalize(w.T @ u, eps)                                  # (N,)
        wv = w @ v                                                    # (M,)
        u = _normalize(wv, eps)                                       # (M,)
    sigma = mod.asarray(u @ wv)                                       # ()
    dtype = weight.dtype
    return u.astype(dtype, copy=False), v.astype(dtype, copy=False), sigma.astype(dtype)


register(OP, "numpy", ("cpu", "cuda"))(power_iteration_numpy)


# --------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------

def _check_weight(op: str, weight: Any) -> tuple[int, int]:
    """A non-empty floating-point tensor with at least 2 dims; returns its matrix shape."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"{op}: weight must be a Tensor, got {type(weight).__name__}")
    if weight.ndim < 2:
        raise ValueError(f"{op}: weight must have at least 2 dimensions (it is seen as the "
                         f"matrix weight.reshape(shape[0], -1)), got shape {weight.shape}")
    if weight.dtype.kind != "f":
        raise TypeError(f"{op}: weight must be floating-point, got {weight.dtype} (shape "
                        f"{weight.shape})")
    if weight.numel() == 0:
        raise ValueError(f"{op}: weight has no elements (shape {weight.shape}); its spectral "
                         "norm is undefined")
    return weight.shape[0], weight.numel() // weight.shape[0]


def _check_vector(op: str, name: str, vector: Any, length: int, weight: Tensor,
                  matrix: tuple[int, int]) -> None:
    """``vector`` is a ({length},) tensor of weight's dtype on weight's device."""
    where = f"weight of shape {weight.shape}, seen as a {matrix[0]} x {matrix[1]} matrix"
    if not isinstance(vector, Tensor):
        raise TypeError(f"{op}: {name} must be a Tensor, got {type(vector).__name__}")
    if vector.shape != (length,):
        raise ValueError(f"{op}: {name} must have shape ({length},), got {vector.shape} "
                         f"({where})")
    if vector.dtype != weight.dtype:
        raise TypeError(f"{op}: {name} is {vector.dtype} but weight is {weight.dtype} "
                        f"({where})")
    if vector.device != weight.device:
        raise ValueError(f"{op}: {name} is on {vector.device} but weight is on "
                         f"{weight.device} ({where})")


def _check_iterations(n_iterations: Any, eps: Any) -> None:
    if (not isinstance(n_iterations, (int, np.integer)) or isinstance(n_iterations, bool)
            or n_iterations < 1):
        raise ValueError(f"{OP}: n_iterations must be an int >= 1, got {n_iterations!r} "
                         "(for none, keep the stored u and v and call spectral_sigma)")
    if (not isinstance(eps, (int, float, np.integer, np.floating)) or isinstance(eps, bool)
            or not 0 < eps < math.inf):
        raise ValueError(f"{OP}: eps must be a positive finite number, got {eps!r}")


# --------------------------------------------------------------------------------------
# Public functions
# --------------------------------------------------------------------------------------

def spectral_norm_power_iteration(weight: Tensor, u: Tensor, n_iterations: int = 1,
                                  eps: float = 1e-12) -> tuple[Tensor, Tensor, Tensor]:
    """``n_iterations`` power-iteration steps on W = weight.reshape(M, -1), from u.

    weight: (M, *rest), at least 2-D; u: (M,), weight's dtype and device ->
    (u: (M,), v: (N,), sigma: ()) with N = prod(rest), in weight's dtype:

        repeat n_iterations times:  v = normalize(W^T u);  u = normalize(W v)
        sigma = u^T W v,            normalize(x) = x / max(||x||_2, eps)

    The results are new constant tensors (they never require grad, whatever the inputs
    do); the inputs are not modified. float16 weights accumulate in float32. Use
    ``spectral_sigma(weight, u, v)`` for a sigma that is differentiable in the weight.
    """
    m, n = _check_weight(OP, weight)
    _check_vector(OP, "u", u, m, weight, (m, n))
    _check_iterations(n_iterations, eps)
    mod = weight.xp
    matrix = mod.ascontiguousarray(weight.data.reshape(m, n))        # (M, *rest) -> (M, N)
    u_new, v, sigma = run(OP, matrix, mod.ascontiguousarray(u.data), int(n_iterations),
                          float(eps))
    return Tensor._make(u_new), Tensor._make(v), Tensor._make(sigma)


def spectral_sigma(weight: Tensor, u: Tensor, v: Tensor) -> Tensor:
    """sigma = u^T W v with W = weight.reshape(M, -1), differentiable in the weight.

    weight: (M, *rest); u: (M,); v: (N,), N = prod(rest) -> sigma: ().
    u and v are held fixed (detached: no gradient reaches them), so

        d sigma / d weight = (u v^T).reshape(weight.shape)

    the gradient spectral normalization uses (Miyato et al. 2018; see the module
    docstring). Built from Tensor ops, so second derivatives of W / sigma exist too.
    """
    op = "spectral_sigma"
    m, n = _check_weight(op, weight)
    _check_vector(op, "u", u, m, weight, (m, n))
    _check_vector(op, "v", v, n, weight, (m, n))
    return u.detach() @ (weight.reshape(m, n) @ v.detach())
