"""Clipping: of the gradients' global norm, of each gradient's values, and of the weights
(WGAN's Lipschitz constraint). Each works in place on the raw arrays, on CPU or GPU."""
from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from minigan.backend import to_device
from minigan.ops.norm import vector_norm
from minigan.tensor import Tensor, get_default_dtype

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_weights_"]


def _tensors(name: str, parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{name}: expected Tensors, got {type(p).__name__}")
    return params


def _check_bound(name: str, key: str, value: float) -> None:
    if not value >= 0:                              # also rejects NaN
        raise ValueError(f"{name}: {key} must be >= 0, got {value!r}")


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their global norm is at most ``max_norm``.

    With gradients g_1 .. g_k (any shapes) and p = ``norm_type`` in {1, 2, inf}::

        total = || (||g_1||_p, ..., ||g_k||_p) ||_p      (the norm of all values at once)
        g_i  <- g_i * min(1, max_norm / (total + 1e-6))

    Returns ``total`` (before clipping) as a 0-d tensor of the gradients' dtype on the
    first gradient's device; 0 when no parameter has a gradient. Parameters whose
    ``.grad`` is None are skipped. A NaN or infinite ``total`` raises RuntimeError when
    ``error_if_nonfinite``; otherwise the gradients are scaled by it (and become NaN).
    """
    name = "clip_grad_norm_"
    _check_bound(name, "max_norm", max_norm)
    if norm_type not in (1, 2, math.inf):
        raise ValueError(f"{name}: norm_type must be 1, 2 or inf, got {norm_type!r}")
    grads = [p.grad for p in _tensors(name, parameters) if p.grad is not None]
    if not grads:
        return Tensor(np.zeros((), dtype=get_default_dtype()))
    device = grads[0].device
    dtype = np.result_type(*(g.dtype for g in grads))
    xp = grads[0].xp
    norms = [to_device(vector_norm(g.detach(), norm_type).data, device).astype(dtype)
             for g in grads if g.numel() > 0]
    stacked = xp.stack(norms) if norms else xp.zeros((1,), dtype=dtype)
    total = vector_norm(Tensor._make(stacked), norm_type)
    if error_if_nonfinite and not math.isfinite(float(total)):
        raise RuntimeError(f"{name}: the total norm of order {norm_type} of the gradients is "
                           f"{float(total)}, so they cannot be clipped; pass "
                           "error_if_nonfinite=False to scale them by it anyway")
    scale = xp.minimum(max_norm / (total.data + 1e-6), 1.0)
    for g in grads:
        g.data *= to_device(scale, g.device).astype(g.dtype)
    return total


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float) -> None:
    """g <- clip(g, -clip_value, clip_value) for every gradient, in place (None skipped)."""
    name = "clip_grad_value_"
    _check_bound(name, "clip_value", clip_value)
    for p in _tensors(name, parameters):
        if p.grad is not None:
            p.grad.xp.clip(p.grad.data, -clip_value, clip_value, out=p.grad.data)


def clip_weights_(parameters: Tensor | Iterable[Tensor], c: float) -> None:
    """θ <- clip(θ, -c, c) for every parameter, in place: WGAN's weight clipping (Arjovsky
    et al., 2017, c = 0.01), run after each critic step to keep the critic K-Lipschitz."""
    name = "clip_weights_"
    _check_bound(name, "c", c)
    for p in _tensors(name, parameters):
        p.xp.clip(p.data, -c, c, out=p.data)
