"""Resampling: ``interpolate`` (nearest, bilinear) and ``pixel_shuffle``/``pixel_unshuffle``.

All are compositions of movement ops (reshape, permute, expand, gathers with constant
indices) and products with constant weights, so they differentiate to any order.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from minigan.ops.common import const
from minigan.tensor import Tensor


def _check_image(op: str, x: Tensor) -> None:
    if x.ndim != 4:
        raise ValueError(f"{op}: input must be 4-D (N, C, H, W), got shape {x.shape}")


def _output_size(op: str, x: Tensor, size: int | Sequence[int] | None,
                 scale_factor: float | Sequence[float] | None) -> tuple[tuple[int, int],
                                                                      tuple[float, float]]:
    """(Ho, Wo), and the source-per-output scale of each dim (in / out, or 1 / factor)."""
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{op}: give exactly one of size and scale_factor")
    h, w = x.shape[2:]
    if size is not None:
        out = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != 2 or min(out) < 1:
            raise ValueError(f"{op}: size must be a positive int or pair, got {size!r}")
        return (int(out[0]), int(out[1])), (h / out[0], w / out[1])
    factors = ((scale_factor, scale_factor) if isinstance(scale_factor, (int, float))
               else tuple(scale_factor))
    if len(factors) != 2 or min(factors) <= 0:
        raise ValueError(f"{op}: scale_factor must be positive, got {scale_factor!r}")
    out = (math.floor(h * factors[0]), math.floor(w * factors[1]))
    if min(out) < 1:
        raise ValueError(f"{op}: scale_factor {scale_factor!r} leaves an empty output for "
                         f"input {x.shape}")
    return out, (1 / factors[0], 1 / factors[1])


def _exact_scales(x: Tensor, out: tuple[int, int], scale: tuple[float, float],
                  ratios: tuple[int, ...]) -> tuple[float, float]:
    """PyTorch's special cases: a dim whose output is ``ratio`` times its input (1 for
    both modes: a copy; 2 for 'nearest': dst // 2) uses in / out, even when a
    non-integer scale_factor (say 1.3 on 2 pixels, or 2.05 on 10) gave that size."""
    return tuple(n / o if o in [r * n for r in ratios] else s
                 for n, o, s in zip(x.shape[2:], out, scale))


def _nearest(x: Tensor, out: tuple[int, int], scale: tuple[float, float]) -> Tensor:
    """PyTorch's 'nearest': source index floor(dst * scale), clipped to the input."""
    n, c, h, w = x.shape
    if out[0] % h == 0 and out[1] % w == 0 and scale == (h / out[0], w / out[1]):
        # integer upsampling: each pixel becomes an (r, s) block (reshape/expand/reshape)
        r, s = out[0] // h, out[1] // w
        return x.reshape(n, c, h, 1, w, 1).expand(n, c, h, r, w, s).reshape(n, c, *out)
    mod = x.xp
    rows = mod.minimum((mod.arange(out[0]) * scale[0]).astype(np.int64), h - 1)
    cols = mod.minimum((mod.arange(out[1]) * scale[1]).astype(np.int64), w - 1)
    return x[:, :, rows][:, :, :, cols]


def _linear_taps(mod, size_in: int, size_out: int, scale: float, align_corners: bool):
    """For each output position: the two source indices and the weight of the second.

    align_corners=False: src = (dst + 0.5) * scale - 0.5 (clamped at 0), PyTorch's
    half-pixel convention; True: src = dst * (in - 1) / (out - 1).
    """
    dst = mod.arange(size_out, dtype=np.float64)
    if align_corners:
        src = dst * ((size_in - 1) / (size_out - 1) if size_out > 1 else 0.0)
    else:
        src = mod.maximum((dst + 0.5) * scale - 0.5, 0.0)
    low = mod.minimum(mod.floor(src).astype(np.int64), size_in - 1)
    high = mod.minimum(low + 1, size_in - 1)
    return low, high, src - low


def _bilinear(x: Tensor, out: tuple[int, int], scale: tuple[float, float],
              align_corners: bool) -> Tensor:
    """out = (1 - a)(1 - b) x[i0, j0] + (1 - a) b x[i0, j1] + a (1 - b) x[i1, j0]
    + a b x[i1, j1], separably: first along H, then along W."""
    mod = x.xp
    i0, i1, a = _linear_taps(mod, x.shape[2], out[0], scale[0], align_corners)
    j0, j1, b = _linear_taps(mod, x.shape[3], out[1], scale[1], align_corners)
    a = const(a.astype(x.dtype).reshape(-1, 1))
    b = const(b.astype(x.dtype))
    rows = x[:, :, i0] * (1 - a) + x[:, :, i1] * a                  # (N, C, Ho, W)
    return rows[:, :, :, j0] * (1 - b) + rows[:, :, :, j1] * b      # (N, C, Ho, Wo)


def interpolate(input: Tensor, size: int | Sequence[int] | None = None,
                scale_factor: float | Sequence[float] | None = None, mode: str = "nearest",
                align_corners: bool | None = None) -> Tensor:
    """Resize (N, C, H, W) images to ``size`` or by ``scale_factor``.

    mode 'nearest' (PyTorch's: source index floor(dst * scale)) or 'bilinear'
    (half-pixel centres; ``align_corners=True`` maps corner pixels onto each other). As in
    PyTorch, scale is in / out for a ``size`` and 1 / factor for a ``scale_factor``
    (output floor(in * factor)), except that a dim whose output equals its input is a
    copy, and, for 'nearest', one whose output is twice its input takes dst // 2.
    """
    op = "interpolate"
    _check_image(op, input)
    if input.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating-point, got {input.dtype}")
    out, scale = _output_size(op, input, size, scale_factor)
    if mode == "nearest":
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners only applies to mode 'bilinear'")
        return _nearest(input, out, _exact_scales(input, out, scale, (1, 2)))
    if mode == "bilinear":
        return _bilinear(input, out, _exact_scales(input, out, scale, (1,)),
                         bool(align_corners))
    raise ValueError(f"{op}: mode must be 'nearest' or 'bilinear', got {mode!r}")


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(N, C r^2, H, W) -> (N, C, H r, W r):  y[n, c, h r + i, w r + j] =
    x[n, c r^2 + i r + j, h, w]  (sub-pixel convolution, SRGAN)."""
    _check_image("pixel_shuffle", input)
    n, c, h, w = input.shape
    r = int(upscale_factor)
    if r < 1 or c % (r * r):
        raise ValueError(f"pixel_shuffle: channels {c} must be divisible by "
                         f"upscale_factor^2 = {r * r} (input {input.shape})")
    return (input.reshape(n, c // (r * r), r, r, h, w)
            .permute(0, 1, 4, 2, 5, 3)                              # (N, C, H, r, W, r)
            .reshape(n, c // (r * r), h * r, w * r))


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(N, C, H r, W r) -> (N, C r^2, H, W): the inverse of ``pixel_shuffle``."""
    _check_image("pixel_unshuffle", input)
    n, c, h, w = input.shape
    r = int(downscale_factor)
    if r < 1 or h % r or w % r:
        raise ValueError(f"pixel_unshuffle: height and width {(h, w)} must be divisible by "
                         f"downscale_factor {r} (input {input.shape})")
    return (input.reshape(n, c, h // r, r, w // r, r)
            .permute(0, 1, 3, 5, 2, 4)                              # (N, C, r, r, H, W)
            .reshape(n, c * r * r, h // r, w // r))
