"""Reductions over dims, with ``keepdim``: sum, mean, var, std, max, min, logsumexp.

Shapes: x: (d0, ..., dn) -> y: x's shape without the reduced dims (or with them set to 1
when ``keepdim``). Backward broadcasts the gradient back: ``gy.reshape(keep).expand(x)``.
"""
from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Sequence

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.common import check_floating, const, keepdim_shape, normalize_dim, \
    normalize_dims
from minigan.tensor import Tensor

Dims = int | Sequence[int] | None

MinMax = namedtuple("MinMax", ["values", "indices"])


def _spread(gy: Tensor, x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Broadcast a reduced gradient back over the input's shape."""
    return gy.reshape(keepdim_shape(x.shape, dims)).expand(x.shape)


class Sum(Function):
    """y = sum of x over ``dims``;  dx = gy broadcast over the summed dims."""

    def forward(ctx, x, dims, keepdim):
        ctx.dims = dims
        return x.sum(axis=dims, keepdims=keepdim)

    def backward(ctx, gy):
        return _spread(gy, ctx.inputs[0], ctx.dims)


class AMax(Function):
    """y = max of x over ``dims``;  dx = gy / k at each of the k maximal elements, else 0.

    (Ties share the gradient evenly, as PyTorch's ``amax`` does.)"""

    def forward(ctx, x, dims, keepdim, smallest):
        y = (x.min if smallest else x.max)(axis=dims, keepdims=True)
        hits = (x == y)
        ctx.save(share=hits / hits.sum(axis=dims, keepdims=True))
        ctx.dims = dims
        return y if keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(ctx, gy):
        return _spread(gy, ctx.inputs[0], ctx.dims) * const(ctx.share.astype(gy.dtype))


class LogSumExp(Function):
    """y = log sum_i e^(x_i) over ``dims``, shifted by the max for stability;
    dx = gy * e^(x - y) (the softmax)."""

    def forward(ctx, x, dims, keepdim):
        mod = xp(x)
        m = x.max(axis=dims, keepdims=True)
        m = mod.where(mod.isfinite(m), m, 0)
        y = m + mod.log(mod.exp(x - m).sum(axis=dims, keepdims=True))
        ctx.dims = dims
        ctx.keep_shape = y.shape
        return y if keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(ctx, gy):
        x = ctx.inputs[0]
        y = ctx.saved_output.reshape(ctx.keep_shape)
        return _spread(gy, x, ctx.dims) * (x - y).exp()


def sum(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all dims when None)."""
    return Sum.apply(x, dims=normalize_dims("sum", dim, x.ndim), keepdim=keepdim)


def mean(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Arithmetic mean over ``dim``: sum / count."""
    check_floating("mean", x)
    dims = normalize_dims("mean", dim, x.ndim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    return sum(x, dims, keepdim) / count


def var(x: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False,
        unbiased: bool | None = None) -> Tensor:
    """Variance sum (x - mean)^2 / (N - correction); ``unbiased=False`` means correction 0."""
    check_floating("var", x)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    dims = normalize_dims("var", dim, x.ndim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    centered = x - mean(x, dims, keepdim=True)
    return sum(centered * centered, dims, keepdim) / builtins.max(count - correction, 0)


def std(x: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False,
        unbiased: bool | None = None) -> Tensor:
    """Standard deviation: sqrt of ``var``."""
    return var(x, dim, correction=correction, keepdim=keepdim, unbiased=unbiased).sqrt()


def amax(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient."""
    _check_nonempty("amax", x)
    return AMax.apply(x, dims=normalize_dims("amax", dim, x.ndim), keepdim=keepdim,
                      smallest=False)


def amin(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``; ties share the gradient."""
    _check_nonempty("amin", x)
    return AMax.apply(x, dims=normalize_dims("amin", dim, x.ndim), keepdim=keepdim,
                      smallest=True)


def max(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """``max(x)``: the largest element. ``max(x, dim)``: ``(values, indices)`` along dim."""
    if dim is None:
        return amax(x)
    return MinMax(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """``min(x)``: the smallest element. ``min(x, dim)``: ``(values, indices)`` along dim."""
    if dim is None:
        return amin(x)
    return MinMax(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    _check_nonempty("argmax", x)
    if dim is None:
        return Tensor._make(x.xp.asarray(x.data.argmax()))
    d = normalize_dim("argmax", dim, x.ndim)
    return Tensor._make(x.data.argmax(axis=d, keepdims=keepdim))


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    _check_nonempty("argmin", x)
    if dim is None:
        return Tensor._make(x.xp.asarray(x.data.argmin()))
    d = normalize_dim("argmin", dim, x.ndim)
    return Tensor._make(x.data.argmin(axis=d, keepdims=keepdim))


def logsumexp(x: Tensor, dim: Dims, keepdim: bool = False) -> Tensor:
    """log sum exp over ``dim``, stable for large inputs."""
    check_floating("logsumexp", x)
    return LogSumExp.apply(x, dims=normalize_dims("logsumexp", dim, x.ndim), keepdim=keepdim)


def _check_nonempty(op: str, x: Tensor) -> None:
    if x.numel() == 0:
        raise ValueError(f"{op}: empty tensor of shape {x.shape} has no extremum")
