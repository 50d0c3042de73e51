"""PGGAN's layers (Karras et al. 2018): minibatch standard deviation and equalized
learning rate. (Pixel norm lives with the other norms.)"""
from __future__ import annotations

import math
from typing import Any

from minigan import creation
from minigan.nn import init
from minigan.nn.conv import IntPair, _pair
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.conv import conv2d
from minigan.ops.linalg import linear
from minigan.ops.shape import cat
from minigan.tensor import Tensor


class MinibatchStdDev(Module):
    """Append one feature map holding the batch's average standard deviation, so the
    critic can see a lack of variety.   x: (N, C, H, W) -> (N, C + 1, H, W)

    The batch is split into groups of ``group_size`` examples (``min(group_size, N)``,
    which must divide N); within a group, s = mean over (C, H, W) of
    sqrt(Var_group[x] + eps) (biased variance), and every example of the group gets s as
    its extra channel.
    """

    def __init__(self, group_size: int = 4, eps: float = 1e-8) -> None:
        super().__init__()
        self.group_size, self.eps = group_size, eps

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[0] % min(self.group_size, x.shape[0]):
            raise ValueError(f"MinibatchStdDev: group size {self.group_size} (or N, if "
                             f"smaller) must divide the batch of input (N, C, H, W), got "
                             f"shape {x.shape}")
        n, c, h, w = x.shape
        g = min(self.group_size, n)
        grouped = x.reshape(g, n // g, c, h, w)                     # (G, M, C, H, W)
        centered = grouped - grouped.mean(0, keepdim=True)
        std = ((centered * centered).mean(0) + self.eps).sqrt()     # (M, C, H, W)
        s = std.mean((1, 2, 3)).reshape(1, n // g, 1, 1, 1)         # (1, M, 1, 1, 1)
        s = s.expand((g, n // g, 1, h, w)).reshape(n, 1, h, w)      # example i: group i % M
        return cat([x, s], dim=1)

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}"


class EqualizedLinear(Module):
    """Linear with equalized learning rate: W ~ N(0, 1) stored, used as W * c with
    c = gain / sqrt(in_features) at every call, so Adam's per-parameter step size acts
    equally on every layer. ``lr_multiplier`` scales both (StyleGAN's mapping network)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 gain: float = math.sqrt(2), lr_multiplier: float = 1.0, dtype: Any = None,
                 device: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.scale = gain / math.sqrt(in_features) * lr_multiplier
        self.lr_multiplier = lr_multiplier
        self.weight = Parameter(creation.zeros(out_features, in_features, dtype=dtype,
                                               device=device))
        init.normal_(self.weight, 0.0, 1.0 / lr_multiplier)
        self.bias = (Parameter(creation.zeros(out_features, dtype=dtype, device=device))
                     if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        bias = None if self.bias is None else self.bias * self.lr_multiplier
        return linear(x, self.weight * self.scale, bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, " \
               f"scale={self.scale:.4g}"


class EqualizedConv2d(Module):
    """Conv2d with equalized learning rate: W ~ N(0, 1), used as W * gain / sqrt(fan_in)
    with fan_in = C_in * kh * kw."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True,
                 gain: float = math.sqrt(2), dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        kh, kw = _pair(kernel_size)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = (kh, kw), _pair(stride), _pair(padding)
        self.scale = gain / math.sqrt(in_channels * kh * kw)
        self.weight = Parameter(creation.zeros(out_channels, in_channels, kh, kw,
                                               dtype=dtype, device=device))
        init.normal_(self.weight)
        self.bias = (Parameter(creation.zeros(out_channels, dtype=dtype, device=device))
                     if bias else None)

    def forward(self, x: Tensor) -> Tensor:
        return conv2d(x, self.weight * self.scale, self.bias, self.stride, self.padding)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, scale={self.scale:.4g}")
