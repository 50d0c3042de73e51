"""Reductions over dims, with ``keepdim``: sum, mean, var, std, max, min, logsumexp.

Shapes: x: (d0, ..., dn) -> y: x's shape without the reduced dims (or with them set to 1
when ``keepdim``). Backward broadcasts the gradient back over the reduced dims, one
``Spread`` node: a view of ``gy`` reshaped to the kept shape and broadcast to x's.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Sequence

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.common import check_floating, const, keepdim_shape, normalize_dim, \
    normalize_dims
from minigan.ops.norm import L2Norm
from minigan.tensor import Tensor

Dims = int | Sequence[int] | None

MinMax = namedtuple("MinMax", ["values", "indices"])


def _spread(gy: Tensor, x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Broadcast a reduced gradient back over the input's shape."""
    return Spread.apply(gy, dims=dims, shape=x.shape, divisor=1)


class Sum(Function):
    """y = (sum of x over ``dims``) / divisor;  dx = gy / divisor broadcast over the summed
    dims. divisor = 1 is ``sum``; the count of summed elements is ``mean``, one node."""

    def forward(ctx, x, dims, keepdim, divisor):
        ctx.dims, ctx.divisor = dims, divisor
        y = x.sum(axis=dims, keepdims=keepdim)
        return y if divisor == 1 else y / divisor

    def backward(ctx, gy):
        return Spread.apply(gy, dims=ctx.dims, shape=ctx.inputs[0].shape,
                            divisor=ctx.divisor)


class Spread(Function):
    """y = g / divisor broadcast over the ``dims`` of ``shape`` that a Sum reduced: the
    adjoint of Sum, one node (a view of g / divisor; no copy at divisor 1).

    g: ``shape`` without ``dims`` (or with them kept as 1) -> y: ``shape``;
    dg = (sum of gy over ``dims``) / divisor."""

    def forward(ctx, g, dims, shape, divisor):
        ctx.dims, ctx.divisor = dims, divisor
        if divisor != 1:
            g = g / divisor
        return xp(g).broadcast_to(g.reshape(keepdim_shape(shape, dims)), shape)

    def backward(ctx, gy):
        keepdim = ctx.inputs[0].ndim == gy.ndim
        return Sum.apply(gy, dims=ctx.dims, keepdim=keepdim, divisor=ctx.divisor)


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
    """y = log sum_i e^(x_i) over ``dims``, shifted by the max m for stability;
    dx = gy * e^(x - y) (the softmax).

    Backward takes the softmax as e^(z - logsumexp(z)) with z = x - m, not as e^(x - y):
    y is rounded at the magnitude of x (float32: 6e-5 at 1000, 0.06 at 10^6), and that
    error would pass into every weight of the softmax; z's logsumexp lies in [0, log N].
    A constant shift m leaves the softmax and all its derivatives unchanged."""

    def forward(ctx, x, dims, keepdim):
        mod = xp(x)
        m = x.max(axis=dims, keepdims=True)
        m = mod.where(mod.isfinite(m), m, 0)
        y = m + mod.log(mod.exp(x - m).sum(axis=dims, keepdims=True))
        ctx.dims = dims
        ctx.save(shift=m)
        return y if keepdim else y.reshape([n for i, n in enumerate(x.shape) if i not in dims])

    def backward(ctx, gy):
        x = ctx.inputs[0]
        z = x - const(ctx.shift)
        log_softmax = z - LogSumExp.apply(z, dims=ctx.dims, keepdim=True)
        return _spread(gy, x, ctx.dims) * log_softmax.exp()


def sum(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all dims when None)."""
    return Sum.apply(x, dims=normalize_dims("sum", dim, x.ndim), keepdim=keepdim, divisor=1)


def mean(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Arithmetic mean over ``dim``: sum / count."""
    check_floating("mean", x)
    dims = normalize_dims("mean", dim, x.ndim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    return Sum.apply(x, dims=dims, keepdim=keepdim, divisor=count)


def _centered(op: str, x: Tensor, dim: Dims, correction: int, unbiased: bool | None
              ) -> tuple[Tensor, tuple[int, ...], int]:
    """``x - mean(x)`` over the dims, the dims, and the divisor ``N - correction``."""
    check_floating(op, x)
    if unbiased is not None:
        correction = 1 if unbiased else 0
    dims = normalize_dims(op, dim, x.ndim)
    count = 1
    for d in dims:
        count *= x.shape[d]
    return x - mean(x, dims, keepdim=True), dims, builtins.max(count - correction, 0)


def var(x: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False,
        unbiased: bool | None = None) -> Tensor:
    """Variance sum (x - mean)^2 / (N - correction); ``unbiased=False`` means correction 0."""
    centered, dims, divisor = _centered("var", x, dim, correction, unbiased)
    return Sum.apply(centered * centered, dims=dims, keepdim=keepdim, divisor=divisor)


def std(x: Tensor, dim: Dims = None, *, correction: int = 1, keepdim: bool = False,
        unbiased: bool | None = None) -> Tensor:
    """Standard deviation ||x - mean||_2 / sqrt(N - correction).

    Computed through the L2 norm, whose gradient is 0 (not NaN) where all the values are
    equal: the zero subgradient, as in PyTorch. sqrt(var) would give 0 * inf = NaN there,
    e.g. for a minibatch-stddev feature of a collapsed batch."""
    centered, dims, divisor = _centered("std", x, dim, correction, unbiased)
    return L2Norm.apply(centered, dims=dims, keepdim=keepdim) / math.sqrt(divisor)


def amax(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; ties share the gradient."""
    dims = normalize_dims("amax", dim, x.ndim)
    _check_nonempty("amax", x, dims)
    return AMax.apply(x, dims=dims, keepdim=keepdim, smallest=False)


def amin(x: Tensor, dim: Dims = None, keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``; ties share the gradient."""
    dims = normalize_dims("amin", dim, x.ndim)
    _check_nonempty("amin", x, dims)
    return AMax.apply(x, dims=dims, keepdim=keepdim, smallest=True)


def max(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """``max(x)``: the largest element. ``max(x, dim)``: ``(values, indices)`` along dim."""
    _check_nonempty("max", x, normalize_dims("max", dim, x.ndim))
    if dim is None:
        return amax(x)
    normalize_dim("max", dim, x.ndim)                  # with a dim, one int dim
    return MinMax(amax(x, dim, keepdim), argmax(x, dim, keepdim))


def min(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor | MinMax:
    """``min(x)``: the smallest element. ``min(x, dim)``: ``(values, indices)`` along dim."""
    _check_nonempty("min", x, normalize_dims("min", dim, x.ndim))
    if dim is None:
        return amin(x)
    normalize_dim("min", dim, x.ndim)                  # with a dim, one int dim
    return MinMax(amin(x, dim, keepdim), argmin(x, dim, keepdim))


def _arg_extreme(op: str, x: Tensor, dim: int | None, keepdim: bool) -> Tensor:
    """Index of the largest (``argmax``) or smallest (``argmin``) element along ``dim``,
    or in the flattened tensor when ``dim`` is None. No gradient: indices are integers."""
    find = x.data.argmax if op == "argmax" else x.data.argmin
    if dim is None:
        _check_nonempty(op, x, tuple(range(x.ndim)))
        return Tensor._make(x.xp.asarray(find()))
    d = normalize_dim(op, dim, x.ndim)
    if x.ndim == 0:                                  # a 0-d tensor: its one element
        return Tensor._make(x.xp.asarray(0))
    _check_nonempty(op, x, (d,))
    return Tensor._make(x.xp.asarray(find(axis=d, keepdims=keepdim)))


def argmax(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor when ``dim`` is None)."""
    return _arg_extreme("argmax", x, dim, keepdim)


def argmin(x: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor when ``dim`` is None)."""
    return _arg_extreme("argmin", x, dim, keepdim)


def logsumexp(x: Tensor, dim: Dims, keepdim: bool = False) -> Tensor:
    """log sum exp over ``dim``, stable for large inputs."""
    check_floating("logsumexp", x)
    return LogSumExp.apply(x, dims=normalize_dims("logsumexp", dim, x.ndim), keepdim=keepdim)


def _check_nonempty(op: str, x: Tensor, dims: tuple[int, ...]) -> None:
    """An extremum over an empty extent does not exist; over a non-empty one of an empty
    tensor (a batch of 0 rows reduced along its features) it is an empty result."""
    if x.numel() == 0 and (not dims or any(x.shape[d] == 0 for d in dims)):
        raise ValueError(f"{op}: empty tensor of shape {x.shape} has no extremum over "
                         f"dims {dims}")
