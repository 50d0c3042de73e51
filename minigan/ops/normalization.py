"""Feature normalisation: batch, instance, layer, group and pixel norm.

Batch, instance, layer and group norm are one op, :class:`Normalize`, whose statistics
run over different axes. For x: (*) and ``dims``, the axes the statistics run over
(n elements each):

    mean = E_dims[x],   var = E_dims[(x - mean)^2]   (biased, divided by n, as in PyTorch)
    invstd = 1 / sqrt(var + eps),   x̂ = (x - mean) invstd
    y = x̂ weight + bias = (x - mean) (invstd weight) + bias

``weight`` and ``bias`` have the sizes of the ``affine_axes`` and broadcast along the
others:

| norm | x | dims | affine axes |
|---|---|---|---|
| batch | (N, C, *) | every axis but 1 | (1,) |
| instance | (N, C, *S) | the spatial axes | (1,) |
| layer | (*, *L) | the trailing L axes | the trailing L axes |
| group | (N, C, *) viewed as (N, G, C/G, prod S) | (2, 3) | (1, 2) |

For an output gradient gy, with g = gy weight and sums over the axes that are not affine:

    dbias = sum gy,   dweight = sum gy x̂
    dx = invstd (g - E_dims[g] - x̂ E_dims[g x̂])        statistics of the batch
    dx = invstd g                                      given statistics (eval batch norm)

The two subtracted terms are the gradient's paths through the mean and the variance:
dx is g invstd with its mean and its component along x̂ removed. So E_dims[dx] = 0 (y
does not change when x shifts by a constant along ``dims``) and, when eps = 0,
E_dims[dx x̂] = 0 too (nor when x is scaled).

One forward node instead of the dozen ops the formula takes as Tensor ops (mean, centre,
square, mean, add, rsqrt, multiply, reshape, multiply, reshape, add), and one array pass
for the first-order gradient. Under a plain ``backward()`` the gradient is those array
formulas. When a graph is being recorded (``grad(..., create_graph=True)``: a gradient
penalty through a critic with a norm), dx is one node too, :class:`NormalizeBackward`,
whose own gradient is written out (below): array code under a plain backward (the
penalty's), Tensor ops with x̂ and invstd recomputed from x when recorded again, so that
third and higher derivatives come out of the engine; dweight and dbias, sums of gy x̂ and
gy, are Tensor ops.

The second derivative. With upstream gradient v for dx (both (*)) and s = invstd, the
parts of dx = s (g - E[g] - x̂ E[g x̂]) (statistics of the batch) are

    dL/dg = s (v - E[v] - x̂ E[v x̂])                 (g -> dx is self-adjoint)
    dL/dgy = dL/dg weight,   dL/dweight = sum gy dL/dg
    dL/dx = s^2 (x̂ (3 E[v x̂] E[g x̂] - E[v g] + E[v] E[g])
                 - E[g x̂] (v - E[v]) - E[v x̂] (g - E[g]))

(the last from ds/dx = -s^3 (x - mean) / n and dx̂/dx through the mean and s, per group of
n elements along ``dims``); with given statistics dx = s g: dL/dg = s v, and dL/dx = 0.

Batch norm's running variance uses the unbiased estimate n / (n - 1) var, as PyTorch does.

The array work is two registered ops, so that a device can bring its own kernels:
``normalize_forward`` (the statistics, y and the running averages) and
``normalize_backward`` (dx, dweight, dbias). Their ``numpy`` implementations below run on
NumPy and CuPy arrays; csrc/cuda/normalization.cuh does each in one launch on a GPU for
batch, instance and layer norm, where the array code makes about 21 and 13 kernel
launches for batch norm (layer norm's dweight and dbias stay array calls).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from minigan.autograd import Function, is_grad_enabled
from minigan.backend import device_of, implementation, register, run, xp
from minigan.ops.common import check_floating, const
from minigan.tensor import Tensor, _check_inplace


def moments(x: Any, dims: tuple[int, ...]) -> tuple[Any, Any]:
    """(mean, biased variance) of the array ``x`` over ``dims``, both with keepdims:
    E[x] and E[(x - E[x])^2], two passes (no E[x^2] - E[x]^2 cancellation)."""
    mean = x.mean(axis=dims, keepdims=True)
    centered = x - mean
    centered *= centered
    return mean, centered.mean(axis=dims, keepdims=True)


def _inverse_std(var: Any, eps: float) -> Any:
    """1 / sqrt(var + eps) of an array of statistics (the shape of ``var``)."""
    return 1 / xp(var).sqrt(var + eps)


def _affine_view(shape: tuple[int, ...], affine_axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape a weight of the ``affine_axes``' sizes takes to broadcast against x."""
    return tuple(n if i in affine_axes else 1 for i, n in enumerate(shape))


def _other_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


class Normalize(Function):
    """y = (x - mean) invstd weight + bias (see the module docstring for the shapes).

    Inputs x, weight, bias (weight and bias may be None); parameters: ``mean`` and
    ``invstd``, arrays of x's shape reduced over ``dims`` (keepdims); ``batch_stats``, True
    when they are x's own statistics over ``dims`` (their gradient paths count), False when
    they are constants (eval-mode batch norm); ``eps``, to recompute invstd from x;
    ``output``, y when ``normalize_forward`` made it together with the statistics (else
    it is computed here from mean and invstd).
    """

    def forward(ctx, x, weight, bias, mean, invstd, dims, affine_axes, batch_stats, eps,
                output=None):
        ctx.save(mean=mean, invstd=invstd)
        ctx.dims, ctx.affine_axes, ctx.batch_stats, ctx.eps = (dims, affine_axes,
                                                               batch_stats, eps)
        if output is not None:
            return output
        return _scale_and_shift(x, weight, bias, mean, invstd, affine_axes)

    def backward(ctx, gy):
        x, weight, _ = ctx.inputs
        needs = ctx.needs_input_grad
        if not is_grad_enabled():
            return tuple(None if g is None else Tensor._make(g) for g in run(
                "normalize_backward", gy.data, x.data, None if weight is None else weight.data,
                ctx.mean, ctx.invstd, ctx.dims, ctx.affine_axes, ctx.batch_stats, needs))
        dx = NormalizeBackward.apply(
            gy, x, weight, mean=ctx.mean, invstd=ctx.invstd, dims=ctx.dims,
            affine_axes=ctx.affine_axes, batch_stats=ctx.batch_stats, eps=ctx.eps) \
            if needs[0] else None
        dweight = dbias = None
        others = _other_axes(x.ndim, ctx.affine_axes)
        if needs[1]:
            dweight = (gy * _statistics(ctx, x)[1]).sum(others)
        if needs[2]:
            dbias = gy.sum(others)
        return dx, dweight, dbias


class NormalizeBackward(Function):
    """dx = s (g - E[g] - x̂ E[g x̂]), g = gy weight (or s g with given statistics): the
    input gradient of :class:`Normalize` as one node of a recorded graph, computed by the
    registered op ``normalize_backward``. Inputs gy, x (both (*)) and weight (the affine
    axes' sizes, or None); parameters as Normalize's. Its backward is the second
    derivative of the module docstring: array code under a plain backward, Tensor ops
    when a graph is recorded again."""

    def forward(ctx, gy, x, weight, mean, invstd, dims, affine_axes, batch_stats, eps):
        ctx.save(mean=mean, invstd=invstd)
        ctx.dims, ctx.affine_axes, ctx.batch_stats, ctx.eps = (dims, affine_axes,
                                                               batch_stats, eps)
        return run("normalize_backward", gy, x, weight, mean, invstd, dims, affine_axes,
                   batch_stats, (True, False, False))[0]

    def backward(ctx, v):
        gy, x, weight = ctx.inputs
        dims, others = ctx.dims, _other_axes(x.ndim, ctx.affine_axes)
        view = _affine_view(x.shape, ctx.affine_axes)
        if is_grad_enabled():
            invstd, xhat = _statistics(ctx, x) if ctx.batch_stats else (const(ctx.invstd),
                                                                         None)
            return _second_derivative(
                v, gy, None if weight is None else weight.reshape(view), invstd, xhat,
                ctx.needs_input_grad, lambda a: a.mean(dims, keepdim=True),
                lambda a: a.sum(others))
        xhat = (x.data - ctx.mean) * ctx.invstd if ctx.batch_stats else None
        grads = _second_derivative(
            v.data, gy.data, None if weight is None else weight.data.reshape(view),
            ctx.invstd, xhat, ctx.needs_input_grad,
            lambda a: a.mean(axis=dims, keepdims=True), lambda a: a.sum(axis=others))
        return tuple(None if g is None else Tensor._make(g) for g in grads)


def _second_derivative(v: Any, gy: Any, w: Any, invstd: Any, xhat: Any,
                       needs: Sequence[bool], mean: Callable[[Any], Any],
                       total: Callable[[Any], Any]) -> tuple[Any, Any, Any]:
    """(dL/dgy, dL/dx, dL/dweight) of the module docstring for the upstream gradient v, on
    arrays (a plain backward) or on Tensors (a recorded one) alike: w is the weight viewed
    to broadcast (or None), x̂ None for given statistics, ``mean(a)`` a's mean over the
    statistics' axes (kept) and ``total(a)`` its sum over the axes that are not affine;
    None where ``needs`` is False (and for x with given statistics, where dx does not
    depend on x)."""
    d_gy = d_x = d_weight = None
    batch_stats = xhat is not None
    if batch_stats:
        v_mean, v_xhat = mean(v), mean(v * xhat)
        dg = invstd * (v - v_mean - xhat * v_xhat)
    else:
        dg = v * invstd
    if needs[0]:
        d_gy = dg if w is None else dg * w
    if needs[1] and batch_stats:
        g = gy if w is None else gy * w
        g_mean, g_xhat = mean(g), mean(g * xhat)
        d_x = invstd * invstd * (xhat * (3 * v_xhat * g_xhat - mean(v * g) + v_mean * g_mean)
                                 - g_xhat * (v - v_mean) - v_xhat * (g - g_mean))
    if needs[2] and w is not None:
        d_weight = total(gy * dg)
    return d_gy, d_x, d_weight


def _scale_and_shift(x: Any, weight: Any, bias: Any, mean: Any, invstd: Any,
                     affine_axes: tuple[int, ...]) -> Any:
    """y = (x - mean) (invstd weight) + bias on arrays (weight, bias: None or the affine
    axes' sizes)."""
    view = _affine_view(x.shape, affine_axes)
    y = x - mean
    y *= invstd if weight is None else invstd * weight.reshape(view)
    if bias is not None:
        y += bias.reshape(view)
    return y


@register("normalize_forward", "numpy")
def normalize_forward(x: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                      momentum: float, dims: tuple[int, ...], affine_axes: tuple[int, ...],
                      eps: float) -> tuple[Any, Any, Any]:
    """(y, mean, invstd) of x by its own statistics over ``dims`` (the module docstring's
    forward), as arrays: x, y (*); mean, invstd keepdims over ``dims``; weight, bias:
    the affine axes' sizes, or None.

    ``running_mean`` and ``running_var`` (batch norm: (C,), or None) are updated in place,
    running = (1 - momentum) running + momentum batch, with the unbiased variance
    n / (n - 1) var over the n elements of a statistic. The op that csrc/cuda's
    normalize_forward makes in one launch.
    """
    mean, var = moments(x, dims)
    invstd = _inverse_std(var, eps)
    if running_mean is not None:
        count = x.size // mean.size
        for running, batch in ((running_mean, mean), (running_var, var * (count / (count - 1)))):
            running[...] = running * (1 - momentum) + batch.reshape(-1) * momentum
    return _scale_and_shift(x, weight, bias, mean, invstd, affine_axes), mean, invstd


@register("normalize_backward", "numpy")
def normalize_backward(gy: Any, x: Any, weight: Any, mean: Any, invstd: Any,
                       dims: tuple[int, ...], affine_axes: tuple[int, ...],
                       batch_stats: bool, needs: Sequence[bool]) -> tuple[Any, Any, Any]:
    """(dx, dweight, dbias) as arrays by the module docstring's formulas; None where
    ``needs`` (for x, weight, bias) is False. gy, x: (*); mean, invstd: keepdims over
    ``dims``; weight: the affine axes' sizes, or None."""
    others = _other_axes(x.ndim, affine_axes)
    xhat = x - mean
    xhat *= invstd
    dx = dweight = dbias = None
    if needs[0]:
        g = gy if weight is None else gy * weight.reshape(_affine_view(x.shape, affine_axes))
        if batch_stats:
            projection = g * xhat
            dx = g - g.mean(axis=dims, keepdims=True)
            projection = projection.mean(axis=dims, keepdims=True)
            dx -= xhat * projection
            dx *= invstd
        else:
            dx = g * invstd
    if needs[1]:
        dweight = (gy * xhat).sum(axis=others)
    if needs[2]:
        dbias = gy.sum(axis=others)
    return dx, dweight, dbias


def _statistics(ctx: Any, x: Tensor) -> tuple[Tensor, Tensor]:
    """(invstd, x̂) as graph values: with batch statistics rebuilt from x, so that their
    own derivatives with respect to x are part of the graph; else from the given
    constants."""
    if ctx.batch_stats:
        centered = x - x.mean(ctx.dims, keepdim=True)
        invstd = ((centered * centered).mean(ctx.dims, keepdim=True) + ctx.eps).rsqrt()
        return invstd, centered * invstd
    invstd = const(ctx.invstd)
    return invstd, (x - const(ctx.mean)) * invstd


def _check_affine(op: str, x: Tensor, weight: Tensor | None, bias: Tensor | None,
                  shape: tuple[int, ...]) -> None:
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"{op}: {name} must have shape {shape}, got {p.shape} "
                             f"(input {x.shape})")


def batch_norm(x: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over every axis but the channel axis 1.   x: (N, C, *) -> (N, C, *)

    Training: mean and biased variance of the batch normalise ``x``; the running
    statistics (if given) become ``(1 - momentum) * running + momentum * batch`` with the
    unbiased variance (a cumulative average is momentum = 1 / batches seen, which
    ``BatchNorm`` computes when its momentum is None). Evaluation: the running statistics
    normalise ``x`` and are constants.
    """
    check_floating("batch_norm", x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input (N, C, *), got shape {x.shape}")
    channels = x.shape[1]
    dims = (0,) + tuple(range(2, x.ndim))
    _check_affine("batch_norm", x, weight, bias, (channels,))
    if running_mean is not None or running_var is not None:
        shapes = [None if s is None else s.shape for s in (running_mean, running_var)]
        if shapes != [(channels,)] * 2:
            raise ValueError(f"batch_norm: running statistics must both have shape "
                             f"({channels},), got {shapes[0]} and {shapes[1]}")
    if training or running_mean is None:
        count = x.numel() // max(channels, 1)
        if count <= 1:
            raise ValueError(f"batch_norm: need more than 1 value per channel in training, "
                             f"got input shape {x.shape}")
        return _own_statistics(x, weight, bias, dims, (1,), eps, running_mean, running_var,
                               momentum)
    view = _affine_view(x.shape, (1,))
    mean, var = (s.data.reshape(view).astype(x.dtype, copy=False)
                 for s in (running_mean, running_var))
    return Normalize.apply(x, weight, bias, mean=mean, invstd=_inverse_std(var, eps),
                           dims=dims, affine_axes=(1,), batch_stats=False, eps=eps)


def _own_statistics(x: Tensor, weight: Tensor | None, bias: Tensor | None,
                    dims: tuple[int, ...], affine_axes: tuple[int, ...], eps: float,
                    running_mean: Tensor | None = None, running_var: Tensor | None = None,
                    momentum: float = 0.0) -> Tensor:
    """``Normalize`` by x's own statistics over ``dims``, computed with y (and the running
    averages, when given) by the op ``normalize_forward``. It updates the running
    statistics in place, so it runs as chosen (``implementation``), never autotuned."""
    arrays = [None if t is None else t.data for t in (weight, bias, running_mean, running_var)]
    if running_mean is not None:
        for running in (running_mean, running_var):
            _check_inplace(running, "batch_norm")
    y, mean, invstd = implementation("normalize_forward", device_of(x.data).type).fn(
        x.data, *arrays, momentum, dims, affine_axes, eps)
    return Normalize.apply(x, weight, bias, mean=mean, invstd=invstd, dims=dims,
                           affine_axes=affine_axes, batch_stats=True, eps=eps, output=y)


def instance_norm(x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
                  eps: float = 1e-5) -> Tensor:
    """Per-example, per-channel normalisation over the spatial axes (CycleGAN's norm).
    x: (N, C, *spatial) -> same shape; weight, bias: (C,)."""
    check_floating("instance_norm", x)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input (N, C, *spatial), got shape {x.shape}")
    if x.numel() // (x.shape[0] * x.shape[1] or 1) <= 1:
        raise ValueError(f"instance_norm: need more than 1 spatial element per channel, "
                         f"got input shape {x.shape}")
    _check_affine("instance_norm", x, weight, bias, (x.shape[1],))
    return _own_statistics(x, weight, bias, tuple(range(2, x.ndim)), (1,), eps)


def layer_norm(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalisation over the trailing ``normalized_shape`` axes of each example.
    x: (*, *normalized_shape) -> same shape; weight, bias: normalized_shape."""
    check_floating("layer_norm", x)
    shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape or len(shape) == 0:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with "
                         f"normalized_shape {shape}")
    _check_affine("layer_norm", x, weight, bias, shape)
    axes = tuple(range(x.ndim - len(shape), x.ndim))
    return _own_statistics(x, weight, bias, axes, axes, eps)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Channels split into ``num_groups`` groups, each normalised per example over its
    channels and positions.   x: (N, C, *) -> same shape; weight, bias: (C,).

    x is viewed as (N, G, C/G, prod *) with statistics over axes (2, 3) and weight and
    bias as (G, C/G)."""
    check_floating("group_norm", x)
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups must divide the channel axis of "
                         f"input (N, C, *), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    _check_affine("group_norm", x, weight, bias, (c,))
    grouped = (num_groups, c // num_groups)
    y = _own_statistics(x.reshape(n, *grouped, -1),
                        None if weight is None else weight.reshape(grouped),
                        None if bias is None else bias.reshape(grouped), (2, 3), (1, 2), eps)
    return y.reshape(x.shape)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """PGGAN's pixelwise feature normalisation: y = x / sqrt(mean_c x^2 + eps).
    x: (N, C, *) -> same shape."""
    check_floating("pixel_norm", x)
    if x.ndim < 2:
        raise ValueError(f"pixel_norm: expected input (N, C, *), got shape {x.shape}")
    return x * ((x * x).mean(1, keepdim=True) + eps).rsqrt()
