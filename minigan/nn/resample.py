"""Layers that change resolution or drop units: Upsample, pooling, pixel shuffle, Dropout."""
from __future__ import annotations

from typing import Sequence

from minigan.nn.module import Module
from minigan.ops.dropout import dropout
from minigan.ops.pool import avg_pool2d, max_pool2d
from minigan.ops.resample import interpolate, pixel_shuffle
from minigan.random import Generator
from minigan.tensor import Tensor


class Upsample(Module):
    """Resize (N, C, H, W) images by ``scale_factor`` or to ``size`` ('nearest' or
    'bilinear')."""

    def __init__(self, size: int | Sequence[int] | None = None,
                 scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                 align_corners: bool | None = None) -> None:
        super().__init__()
        self.size, self.scale_factor = size, scale_factor
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x: Tensor) -> Tensor:
        return interpolate(x, self.size, self.scale_factor, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        what = f"size={self.size}" if self.size is not None \
            else f"scale_factor={self.scale_factor}"
        return f"{what}, mode={self.mode!r}"


class AvgPool2d(Module):
    """Mean over kh x kw windows."""

    def __init__(self, kernel_size: int | tuple[int, int], stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(Module):
    """Maximum over kh x kw windows."""

    def __init__(self, kernel_size: int | tuple[int, int], stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding

    def forward(self, x: Tensor) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class PixelShuffle(Module):
    """(N, C r^2, H, W) -> (N, C, H r, W r) (SRGAN's sub-pixel upsampling)."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, x: Tensor) -> Tensor:
        return pixel_shuffle(x, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class Dropout(Module):
    """Zero units with probability p in training, scaling the rest by 1 / (1 - p); the
    identity in eval mode."""

    def __init__(self, p: float = 0.5, generator: Generator | None = None) -> None:
        super().__init__()
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must lie in [0, 1], got {p}")
        self.p, self.generator = p, generator

    def forward(self, x: Tensor) -> Tensor:
        return dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"
