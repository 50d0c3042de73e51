"""Vector norms, with a gradient that stays finite at zero.

A gradient penalty evaluates ||grad_x D(x)|| at points where that gradient can be exactly
zero (a dead ReLU critic, a constant region). The true derivative of ||x||_2 at x = 0 does
not exist; here it is defined as **0** (the zero subgradient, PyTorch's choice), and the
backward pass divides by max-safe norms so that second derivatives stay finite too.
"""
from __future__ import annotations

import math
from typing import Sequence

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.arithmetic import where
from minigan.ops.common import check_floating, keepdim_shape, normalize_dims
from minigan.tensor import Tensor


class L2Norm(Function):
    """y = sqrt(sum x^2) over ``dims``.   dx = gy * x / y, and 0 where y = 0.

    The backward computes ``x / where(y > 0, y, 1)``: at y = 0 this is x / 1 = 0 (x is
    zero there), and its own derivative is finite, so gradgrad exists everywhere.
    """

    def forward(ctx, x, dims, keepdim):
        ctx.dims = dims
        return xp(x).sqrt((x * x).sum(axis=dims, keepdims=keepdim))

    def backward(ctx, gy):
        x = ctx.inputs[0]
        keep = keepdim_shape(x.shape, ctx.dims)
        y = ctx.saved_output.reshape(keep)
        safe = where(y > 0, y, 1.0)
        return gy.reshape(keep) * x / safe


def vector_norm(x: Tensor, ord: float = 2, dim: int | Sequence[int] | None = None,
                keepdim: bool = False) -> Tensor:
    """||x||_ord over ``dim`` (all dims when None), for ord in {1, 2, inf}.

    Gradients at x = 0 are 0 for every ord (the zero subgradient). ``ord=1`` is
    sum |x|; ``ord=inf`` is max |x| (ties share the gradient).
    """
    check_floating("vector_norm", x)
    dims = normalize_dims("vector_norm", dim, x.ndim)
    if ord == 2:
        return L2Norm.apply(x, dims=dims, keepdim=keepdim)
    if ord == 1:
        return x.abs().sum(dims, keepdim)
    if ord == math.inf:
        return x.abs().amax(dims, keepdim)
    raise ValueError(f"vector_norm: ord must be 1, 2 or inf, got {ord}")
