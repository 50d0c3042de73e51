"""Convolution layers over the conv ops of ``minigan.ops.conv``."""
from __future__ import annotations

import math
from typing import Any

from minigan import creation
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.conv import conv2d, conv_transpose2d
from minigan.ops.shape import pad
from minigan.tensor import Tensor

IntPair = int | tuple[int, int]
PADDING_MODES = ("zeros", "reflect", "replicate")


def _pair(value: IntPair) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)  # type: ignore


def _reset(weight: Parameter, bias: Parameter | None) -> None:
    """PyTorch's default: W ~ kaiming_uniform(a=sqrt(5)) = U(±1/sqrt(fan_in)), same for b."""
    init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = init.fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
        init.uniform_(bias, -bound, bound)


class Conv2d(Module):
    """y = conv2d(pad(x), W) + b.   x: (N, C_in, H, W) -> y: (N, C_out, H_out, W_out)

    W: (C_out, C_in / groups, kh, kw). ``padding_mode`` 'zeros' pads inside the conv;
    'reflect' and 'replicate' pad the input explicitly first. ``padding`` may be 'same'
    or 'valid' (stride 1).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair | str = 0, dilation: IntPair = 1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros",
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, "
                             f"got {padding_mode!r}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} "
                             f"and out_channels={out_channels}")
        if padding_mode != "zeros" and isinstance(padding, str):
            raise ValueError(f"Conv2d: padding={padding!r} needs padding_mode='zeros'")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.dilation = _pair(stride), _pair(dilation)
        self.padding = padding if isinstance(padding, str) else _pair(padding)
        self.groups, self.padding_mode = groups, padding_mode
        self.weight = Parameter(creation.zeros(out_channels, in_channels // groups,
                                               *self.kernel_size, dtype=dtype, device=device))
        self.bias = (Parameter(creation.zeros(out_channels, dtype=dtype, device=device))
                     if bias else None)
        _reset(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        if self.padding_mode == "zeros":
            return conv2d(x, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)
        ph, pw = self.padding                                   # type: ignore[misc]
        x = pad(x, (pw, pw, ph, ph), mode=self.padding_mode)
        return conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self._parameters.get("bias") is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode!r}"
        return text


class ConvTranspose2d(Module):
    """The adjoint of Conv2d, used to upsample.   x: (N, C_in, H, W) -> (N, C_out, H', W')

    H' = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.
    W: (C_in, C_out / groups, kh, kw), as in PyTorch.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                 groups: int = 1, bias: bool = True, dilation: IntPair = 1,
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"ConvTranspose2d: groups={groups} must divide "
                             f"in_channels={in_channels} and out_channels={out_channels}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding = _pair(stride), _pair(padding)
        self.output_padding, self.dilation = _pair(output_padding), _pair(dilation)
        self.groups = groups
        self.weight = Parameter(creation.zeros(in_channels, out_channels // groups,
                                               *self.kernel_size, dtype=dtype, device=device))
        self.bias = (Parameter(creation.zeros(out_channels, dtype=dtype, device=device))
                     if bias else None)
        _reset(self.weight, self.bias)

    def forward(self, x: Tensor) -> Tensor:
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                self.output_padding, self.groups, self.dilation)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}")
        if self.output_padding != (0, 0):
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self._parameters.get("bias") is None:
            text += ", bias=False"
        return text
