"""Normalisation layers: batch, instance, layer and group norm, BigGAN's class-conditional
batch norm and PGGAN's pixel norm. The math lives in ``minigan.ops.normalization``."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minigan import creation
from minigan.nn import init
from minigan.nn.linear import Embedding, Linear
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.normalization import (batch_norm, group_norm, instance_norm, layer_norm,
                                       pixel_norm)
from minigan.tensor import Tensor


class _BatchNorm(Module):
    """y = (x - E[x]) / sqrt(Var[x] + eps) * gamma + beta, per channel.

    Training: batch statistics; ``running_mean``/``running_var`` move by ``momentum``
    (running = (1 - momentum) running + momentum batch, with the unbiased batch variance;
    ``momentum=None`` gives the cumulative average over ``num_batches_tracked`` batches).
    Evaluation: the running statistics. gamma starts at 1, beta at 0.
    """

    expected_ndim: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, dtype: Any = None,
                 device: Any = None) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(creation.ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(creation.zeros(num_features, dtype=dtype, device=device))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean",
                                 creation.zeros(num_features, dtype=dtype, device=device))
            self.register_buffer("running_var",
                                 creation.ones(num_features, dtype=dtype, device=device))
            self.register_buffer("num_batches_tracked",
                                 creation.zeros((), dtype=np.int64, device=device))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def forward(self, x: Tensor) -> Tensor:
        name = type(self).__name__
        if x.ndim not in self.expected_ndim or x.shape[1] != self.num_features:
            raise ValueError(f"{name}({self.num_features}): expected input of "
                             f"{' or '.join(map(str, self.expected_ndim))} dims with "
                             f"{self.num_features} channels on axis 1, got shape {x.shape}")
        use_batch = self.training or self.running_mean is None
        momentum = self.momentum
        if self.training and self.num_batches_tracked is not None:
            count = self.num_batches_tracked.data
            count += 1                                  # in place: one kernel on a GPU
            if momentum is None:
                momentum = 1.0 / int(self.num_batches_tracked.item())
        return batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                          training=use_batch,
                          momentum=0.0 if momentum is None else momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch norm of (N, C) or (N, C, L) inputs."""

    expected_ndim = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch norm of (N, C, H, W) inputs."""

    expected_ndim = (4,)


class InstanceNorm2d(Module):
    """Each example's each channel normalised over H, W (CycleGAN, style transfer).
    PyTorch's defaults: affine=False, no running statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, affine: bool = False,
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        self.num_features, self.eps, self.affine = num_features, eps, affine
        if affine:
            self.weight = Parameter(creation.ones(num_features, dtype=dtype, device=device))
            self.bias = Parameter(creation.zeros(num_features, dtype=dtype, device=device))
        else:
            self.weight = self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.num_features:
            raise ValueError(f"InstanceNorm2d({self.num_features}): expected (N, "
                             f"{self.num_features}, H, W), got shape {x.shape}")
        return instance_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, affine={self.affine}"


class LayerNorm(Module):
    """Each example normalised over its trailing ``normalized_shape`` axes, with an
    elementwise gain (1) and bias (0) of that shape."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, dtype: Any = None,
                 device: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) \
            else tuple(normalized_shape)
        self.normalized_shape, self.eps = shape, eps
        if elementwise_affine:
            self.weight = Parameter(creation.ones(*shape, dtype=dtype, device=device))
            self.bias = Parameter(creation.zeros(*shape, dtype=dtype, device=device))
        else:
            self.weight = self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, " \
               f"elementwise_affine={self.weight is not None}"


class GroupNorm(Module):
    """Channels in ``num_groups`` groups, each normalised per example; per-channel gain
    and bias."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_groups={num_groups} must divide "
                             f"num_channels={num_channels}")
        self.num_groups, self.num_channels, self.eps = num_groups, num_channels, eps
        if affine:
            self.weight = Parameter(creation.ones(num_channels, dtype=dtype, device=device))
            self.bias = Parameter(creation.zeros(num_channels, dtype=dtype, device=device))
        else:
            self.weight = self.bias = None

    def forward(self, x: Tensor) -> Tensor:
        return group_norm(x, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, " \
               f"affine={self.weight is not None}"


class ConditionalBatchNorm2d(Module):
    """Class-conditional batch norm (de Vries et al. 2017; BigGAN, Brock et al. 2019):

        y = BN(x) * (1 + gain(c)) + bias(c),   x: (N, C, H, W)

    with BN a batch norm without its own affine. The condition ``c`` is either
    - an (N, cond_features) float tensor (BigGAN: a shared class embedding concatenated
      with a chunk of the latent vector), projected by two linear layers ``gain`` and
      ``bias`` (no bias terms; weights N(0, 0.02^2), so the layer starts near plain
      batch norm), or
    - (N,) integer labels when built with ``num_classes``: per-class gain and bias rows
      (embeddings starting at 0, so the layer starts as plain batch norm).
    """

    def __init__(self, num_features: int, cond_features: int | None = None,
                 num_classes: int | None = None, eps: float = 1e-5, momentum: float = 0.1,
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        if (cond_features is None) == (num_classes is None):
            raise ValueError("ConditionalBatchNorm2d: give exactly one of cond_features "
                             f"({cond_features}) and num_classes ({num_classes})")
        self.num_features, self.cond_features, self.num_classes = (num_features,
                                                                   cond_features, num_classes)
        self.bn = BatchNorm2d(num_features, eps, momentum, affine=False, dtype=dtype,
                              device=device)
        if cond_features is not None:
            self.gain = Linear(cond_features, num_features, bias=False, dtype=dtype,
                               device=device)
            self.bias = Linear(cond_features, num_features, bias=False, dtype=dtype,
                               device=device)
            init.normal_(self.gain.weight, 0.0, 0.02)
            init.normal_(self.bias.weight, 0.0, 0.02)
        else:
            self.gain = Embedding(num_classes, num_features, dtype=dtype, device=device)
            self.bias = Embedding(num_classes, num_features, dtype=dtype, device=device)
            init.zeros_(self.gain.weight)
            init.zeros_(self.bias.weight)

    def forward(self, x: Tensor, cond: Tensor) -> Tensor:
        if cond.shape[:1] != x.shape[:1]:
            raise ValueError(f"ConditionalBatchNorm2d: condition of shape {cond.shape} does "
                             f"not match the batch of input {x.shape}")
        shape = (x.shape[0], self.num_features, 1, 1)
        gain = self.gain(cond).reshape(shape)
        bias = self.bias(cond).reshape(shape)
        return self.bn(x) * (1 + gain) + bias

    def extra_repr(self) -> str:
        kind = (f"cond_features={self.cond_features}" if self.cond_features is not None
                else f"num_classes={self.num_classes}")
        return f"{self.num_features}, {kind}"


class PixelNorm(Module):
    """PGGAN (Karras et al. 2018): each pixel's feature vector scaled to unit RMS,
    y = x / sqrt(mean_c x^2 + eps)."""

    def __init__(self, eps: float = 1e-8) -> None:
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        return pixel_norm(x, self.eps)

    def extra_repr(self) -> str:
        return f"eps={self.eps}"
