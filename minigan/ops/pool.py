"""Pooling: ``avg_pool2d`` and ``max_pool2d``.   x: (N, C, H, W) -> (N, C, Ho, Wo)

Both are built from ops that already differentiate to any order:

* average pooling is a depthwise convolution with the constant kernel 1 / (kh kw) (or,
  when windows tile the image exactly, a reshape and a mean), so its gradients are the
  conv family's;
* max pooling finds each window's argmax without a graph, then *gathers* those pixels:
  y = x.flatten(2)[n, c, argmax], whose gradient is a scatter-add and whose second
  derivative is the same gather again.

Ho = floor((H + 2 padding - dilation (k - 1) - 1) / stride) + 1, as for a convolution.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.backend import xp
from minigan.ops.common import IntPair, const, int_pair
from minigan.ops.conv import conv2d, output_size
from minigan.tensor import Tensor


def _geometry(op: str, x: Tensor, kernel_size: IntPair, stride: IntPair | None,
              padding: IntPair, dilation: IntPair = 1) -> tuple:
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating-point, got {x.dtype}")
    kernel = int_pair(op, "kernel_size", kernel_size, 1)
    strides = kernel if stride is None else int_pair(op, "stride", stride, 1)
    pads = int_pair(op, "padding", padding, 0)
    dilations = int_pair(op, "dilation", dilation, 1)
    if pads[0] > kernel[0] // 2 or pads[1] > kernel[1] // 2:
        raise ValueError(f"{op}: padding {pads} must be at most half the kernel size "
                         f"{kernel}")
    out = tuple(output_size(n, k, s, p, d) for n, k, s, p, d in zip(
        x.shape[2:], kernel, strides, pads, dilations))
    if min(out) < 1:
        raise ValueError(f"{op}: kernel {kernel} is larger than the padded input "
                         f"{tuple(n + 2 * p for n, p in zip(x.shape[2:], pads))} "
                         f"(input {x.shape})")
    for n, k, s, p, d, o in zip(x.shape[2:], kernel, strides, pads, dilations, out):
        taps = np.arange(o).reshape(-1, 1) * s - p + np.arange(k) * d   # (Ho, k) positions
        if not ((taps >= 0) & (taps < n)).any(axis=1).all():
            raise ValueError(f"{op}: with kernel {kernel}, dilation {dilations} and padding "
                             f"{pads}, some windows hold only padding (input {x.shape}); "
                             "use less padding or dilation")
    return kernel, strides, pads, dilations, out


def _check_ceil_mode(op: str, ceil_mode: bool) -> None:
    if ceil_mode:
        raise ValueError(f"{op}: ceil_mode=True is not supported; pad the input instead")


def avg_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """Mean over each window (stride defaults to the kernel size). With padding,
    ``count_include_pad=True`` divides by kh kw, else by the number of real pixels."""
    op = "avg_pool2d"
    _check_ceil_mode(op, ceil_mode)
    kernel, strides, pads, _, out = _geometry(op, input, kernel_size, stride, padding)
    n, c, h, w = input.shape
    if strides == kernel and pads == (0, 0) and h % kernel[0] == 0 and w % kernel[1] == 0:
        # (N, C, H, W) -> (N, C, Ho, kh, Wo, kw), mean over the window dims
        return input.reshape(n, c, out[0], kernel[0], out[1], kernel[1]).mean((3, 5))
    mod = input.xp
    weight = const(mod.full((c, 1, *kernel), 1.0 / (kernel[0] * kernel[1]), input.dtype))
    y = conv2d(input, weight, stride=strides, padding=pads, groups=c)
    if count_include_pad or pads == (0, 0):
        return y
    ones = mod.ones((1, 1, h, w), input.dtype)
    window = mod.ones((1, 1, *kernel), input.dtype)
    counts = conv2d(const(ones), const(window), stride=strides, padding=pads).data
    return y * const(kernel[0] * kernel[1] / counts)


def _window_argmax(x: Any, kernel: tuple, strides: tuple, pads: tuple, dilations: tuple,
                   out: tuple) -> Any:
    """For each output pixel, the flat index (h * W + w) in x of its window's maximum.

    x is padded with -inf, viewed as windows (N, C, Ho, Wo, kh, kw) through strides, and
    each window's first tap that holds its maximum (or a NaN) *and lies inside the image*
    wins: a padding tap ties with a real -inf, and must never be chosen (its index would
    wrap to another pixel). The winning tap (p, q) maps back to h = i*sh - ph + p*dh,
    w = j*sw - pw + q*dw.
    """
    mod = xp(x)
    n, c, h, w = x.shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), (ho, wo) = kernel, strides, pads, dilations, out
    padded = mod.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    s_n, s_c, s_h, s_w = padded.strides
    windows = mod.lib.stride_tricks.as_strided(
        padded, (n, c, ho, wo, kh, kw), (s_n, s_c, s_h * sh, s_w * sw, s_h * dh, s_w * dw))
    windows = windows.reshape(n, c, ho, wo, kh * kw)
    inside = mod.zeros((h + 2 * ph, w + 2 * pw), dtype=bool)
    inside[ph:ph + h, pw:pw + w] = True
    i_h, i_w = inside.strides
    inside = mod.lib.stride_tricks.as_strided(
        inside, (ho, wo, kh, kw), (i_h * sh, i_w * sw, i_h * dh, i_w * dw))
    best = windows.max(axis=-1, keepdims=True)
    hit = ((windows == best) | mod.isnan(windows)) & inside.reshape(ho, wo, kh * kw)
    tap = hit.argmax(axis=-1)
    p, q = tap // kw, tap % kw
    rows = mod.arange(ho).reshape(-1, 1) * sh - ph + p * dh
    cols = mod.arange(wo) * sw - pw + q * dw
    return rows * w + cols


def max_pool2d(input: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
               padding: IntPair = 0, dilation: IntPair = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """Maximum over each window (stride defaults to the kernel size). The gradient goes to
    the window's first maximal pixel, as in PyTorch. ``return_indices`` also returns the
    flat index (h * W + w) of each maximum within its plane, int64."""
    op = "max_pool2d"
    _check_ceil_mode(op, ceil_mode)
    kernel, strides, pads, dilations, out = _geometry(op, input, kernel_size, stride,
                                                      padding, dilation)
    n, c, h, w = input.shape
    index = _window_argmax(input.data, kernel, strides, pads, dilations, out)  # (N,C,Ho,Wo)
    mod = input.xp
    planes = mod.arange(n * c).reshape(n, c, 1, 1)
    y = input.reshape(n * c, h * w)[planes, index]                  # gather: (N, C, Ho, Wo)
    if return_indices:
        return y, Tensor._make(index.astype(np.int64))
    return y
