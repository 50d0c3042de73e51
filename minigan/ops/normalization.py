"""Feature normalisation: batch, instance, layer, group and pixel norm.

Each is ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with statistics over a
different set of axes, written with Tensor ops so that gradients of any order come from
the ops' own backward passes (a gradient penalty differentiates through a critic's
LayerNorm). Variances are biased (divided by n) as in PyTorch; batch norm's running
variance uses the unbiased estimate n / (n - 1) * var, again as PyTorch does.
"""
from __future__ import annotations

from typing import Sequence

from minigan.autograd import no_grad
from minigan.ops.common import check_floating
from minigan.tensor import Tensor


def _standardize(x: Tensor, dims: tuple[int, ...], eps: float) -> tuple[Tensor, Tensor, Tensor]:
    """(x - mean) / sqrt(var + eps) over ``dims``, with the mean and biased variance."""
    mean = x.mean(dims, keepdim=True)
    centered = x - mean
    var = (centered * centered).mean(dims, keepdim=True)
    return centered * (var + eps).rsqrt(), mean, var


def _channel_view(t: Tensor, ndim: int) -> Tensor:
    """A per-channel (C,) tensor shaped (1, C, 1, ...) to broadcast against (N, C, *)."""
    return t.reshape((1, -1) + (1,) * (ndim - 2))


def _affine(op: str, y: Tensor, weight: Tensor | None, bias: Tensor | None,
            shape: tuple[int, ...], view) -> Tensor:
    for name, p in (("weight", weight), ("bias", bias)):
        if p is not None and p.shape != shape:
            raise ValueError(f"{op}: {name} must have shape {shape}, got {p.shape} "
                             f"(input {y.shape})")
    if weight is not None:
        y = y * view(weight)
    if bias is not None:
        y = y + view(bias)
    return y


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
    count = x.numel() // max(channels, 1)
    if training or running_mean is None:
        if count <= 1:
            raise ValueError(f"batch_norm: need more than 1 value per channel in training, "
                             f"got input shape {x.shape}")
        y, mean, var = _standardize(x, dims, eps)
        if running_mean is not None and running_var is not None:
            factor = momentum
            with no_grad():
                unbiased = var.detach() * (count / (count - 1))
                running_mean.copy_(running_mean * (1 - factor) + mean.detach().reshape(-1)
                                   * factor)
                running_var.copy_(running_var * (1 - factor) + unbiased.reshape(-1) * factor)
    else:
        if running_var is None or running_mean.shape != (channels,) or \
                running_var.shape != (channels,):
            raise ValueError(f"batch_norm: running statistics must have shape ({channels},), "
                             f"got {running_mean.shape} and "
                             f"{None if running_var is None else running_var.shape}")
        mean = _channel_view(running_mean.detach(), x.ndim)
        var = _channel_view(running_var.detach(), x.ndim)
        y = (x - mean) * (var + eps).rsqrt()
    return _affine("batch_norm", y, weight, bias, (channels,),
                   lambda p: _channel_view(p, x.ndim))


def instance_norm(x: Tensor, weight: Tensor | None = None, bias: Tensor | None = None,
                  eps: float = 1e-5) -> Tensor:
    """Per-example, per-channel normalisation over the spatial axes (CycleGAN's norm).
    x: (N, C, *spatial) -> same shape."""
    check_floating("instance_norm", x)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input (N, C, *spatial), got shape {x.shape}")
    if x.numel() // (x.shape[0] * x.shape[1] or 1) <= 1:
        raise ValueError(f"instance_norm: need more than 1 spatial element per channel, "
                         f"got input shape {x.shape}")
    y, _, _ = _standardize(x, tuple(range(2, x.ndim)), eps)
    return _affine("instance_norm", y, weight, bias, (x.shape[1],),
                   lambda p: _channel_view(p, x.ndim))


def layer_norm(x: Tensor, normalized_shape: Sequence[int], weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalisation over the trailing ``normalized_shape`` axes of each example.
    x: (*, *normalized_shape) -> same shape; weight, bias: normalized_shape."""
    check_floating("layer_norm", x)
    shape = tuple(normalized_shape)
    if x.shape[x.ndim - len(shape):] != shape or len(shape) == 0:
        raise ValueError(f"layer_norm: input shape {x.shape} does not end with "
                         f"normalized_shape {shape}")
    y, _, _ = _standardize(x, tuple(range(x.ndim - len(shape), x.ndim)), eps)
    return _affine("layer_norm", y, weight, bias, shape, lambda p: p)


def group_norm(x: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Channels split into ``num_groups`` groups, each normalised per example over its
    channels and positions.   x: (N, C, *) -> same shape; weight, bias: (C,)."""
    check_floating("group_norm", x)
    if x.ndim < 2 or num_groups < 1 or x.shape[1] % num_groups:
        raise ValueError(f"group_norm: {num_groups} groups must divide the channel axis of "
                         f"input (N, C, *), got shape {x.shape}")
    n, c = x.shape[0], x.shape[1]
    grouped = x.reshape(n, num_groups, -1)                     # (N, G, C/G * prod(*))
    y, _, _ = _standardize(grouped, (2,), eps)
    return _affine("group_norm", y.reshape(x.shape), weight, bias, (c,),
                   lambda p: _channel_view(p, x.ndim))


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    """PGGAN's pixelwise feature normalisation: y = x / sqrt(mean_c x^2 + eps).
    x: (N, C, *) -> same shape."""
    check_floating("pixel_norm", x)
    if x.ndim < 2:
        raise ValueError(f"pixel_norm: expected input (N, C, *), got shape {x.shape}")
    return x * ((x * x).mean(1, keepdim=True) + eps).rsqrt()
