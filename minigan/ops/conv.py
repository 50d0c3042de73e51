"""2-D convolution, transposed convolution and the weight gradient: three ops that are
closed under differentiation.

Notation: x: (N, C, H, W); weight: (O, C/g, kh, kw) with g groups; y: (N, O, Ho, Wo).

    y[n, o, i, j] = sum over c in o's group, p < kh, q < kw of
                    weight[o, c, p, q] * x[n, c, i*sh - ph + p*dh, j*sw - pw + q*dw]
    Ho = floor((H + 2 ph - dh (kh - 1) - 1) / sh) + 1                   (x is 0 outside)

y is bilinear in (x, weight), so each of its derivatives is a linear map, and the three
maps below are the whole family:

    conv2d(x, w)            = y
    conv_transpose2d(y, w)  = the adjoint in x:  <conv2d(x, w), y> = <x, conv_transpose2d(y, w)>
    conv2d_weight(x, y)     = the adjoint in w:  <conv2d(x, w), y> = <w, conv2d_weight(x, y)>

and the derivatives of each are again the three (DESIGN.md: "conv closes on itself"):

    conv2d(x, w):            dx = conv_transpose2d(gy, w)    dw = conv2d_weight(x, gy)
    conv_transpose2d(y, w):  dy = conv2d(gx, w)              dw = conv2d_weight(gx, y)
    conv2d_weight(x, y):     dx = conv_transpose2d(y, gw)    dy = conv2d(x, gw)

so gradients of any order (a gradient penalty through a conv critic) stay convolutions.

The array code is im2col + one GEMM per group. im2col lays the receptive fields out as a
matrix  cols: (C*kh*kw, N*Ho*Wo),  row (c, p, q), column (n, i, j); then

    y        = W @ cols               W: (g, O/g, C/g*kh*kw)      -> (g, O/g, N*Ho*Wo)
    cols'    = W^T @ gy               and col2im adds each entry back onto its pixel
    gw       = gy @ cols^T

``im2col``/``col2im`` come in two implementations: ``numpy`` (the reference below, strided
views and slice-adds) and ``cpp`` (csrc/cpu/im2col.cpp, OpenMP, writing into a reused
per-thread workspace); the GEMMs stay in NumPy's BLAS. The registry (``minigan.backend``)
picks one per device (or per input shapes, measured, with autotuning on), and
``use_implementation("conv2d", "numpy")`` forces the reference.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from minigan import extension
from minigan.autograd import Function
from minigan.backend import register, run, xp
from minigan.ops.common import IntPair, int_pair
from minigan.ops.shape import pad as pad_tensor
from minigan.tensor import Tensor

@dataclass(frozen=True)
class Geometry:
    """Stride, zero padding, dilation (each (h, w)) and groups of a convolution."""

    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int


def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Ho = floor((H + 2 p - d (k - 1) - 1) / s) + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


# --------------------------------------------------------------------------------------
# im2col / col2im: the reference (strided views) and the C++ kernels
# --------------------------------------------------------------------------------------

def im2col_numpy(x: Any, kernel: tuple[int, int], geo: Geometry, out_hw: tuple[int, int]
                 ) -> Any:
    """cols[(c, p, q), (n, i, j)] = x_padded[n, c, i*sh + p*dh, j*sw + q*dw].

    x: (N, C, H, W) -> padded (N, C, H + 2ph, W + 2pw) -> a strided *view* of shape
    (N, C, kh, kw, Ho, Wo) (no copy) -> one copy into (C*kh*kw, N*Ho*Wo).
    """
    mod = xp(x)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geo.stride, geo.padding, geo.dilation
    n, c = x.shape[:2]
    ho, wo = out_hw
    padded = mod.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    s_n, s_c, s_h, s_w = padded.strides
    windows = mod.lib.stride_tricks.as_strided(
        padded, (n, c, kh, kw, ho, wo), (s_n, s_c, s_h * dh, s_w * dw, s_h * sh, s_w * sw))
    return windows.transpose(1, 2, 3, 0, 4, 5).reshape(c * kh * kw, n * ho * wo)


def col2im_numpy(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], geo: Geometry,
                 out_hw: tuple[int, int]) -> Any:
    """The adjoint of im2col: image[n, c, h, w] = sum of the cols entries read from it.

    cols: (C*kh*kw, N*Ho*Wo) -> (C, kh, kw, N, Ho, Wo); for each tap (p, q) one strided
    slice-add into the padded image (N, C, H + 2ph, W + 2pw); then the padding is cut off.
    """
    mod = xp(cols)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, geo.stride, geo.padding, geo.dilation
    n, c, h, w = shape
    ho, wo = out_hw
    taps = cols.reshape(c, kh, kw, n, ho, wo)
    padded = mod.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=cols.dtype)
    for p in range(kh):
        for q in range(kw):
            rows = slice(p * dh, p * dh + sh * (ho - 1) + 1, sh)
            columns = slice(q * dw, q * dw + sw * (wo - 1) + 1, sw)
            padded[:, :, rows, columns] += taps[:, p, q].transpose(1, 0, 2, 3)
    return mod.ascontiguousarray(padded[:, :, ph:ph + h, pw:pw + w])


def scratch_fresh(shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """A new array on ``like``'s device (the reference allocates plainly)."""
    return xp(like).empty(shape, dtype)


class Workspace(threading.local):
    """Grow-only scratch memory, one buffer per thread, for the C++ path's im2col matrix
    and the GEMM output that col2im reads: arrays that never outlive one call.

    A fresh 16 MB matrix pays about 4,000 page faults (some 2 microseconds each here) on
    every call; one reused buffer pays them once, and holds the largest matrix seen.
    """

    def __init__(self) -> None:
        self.buffer = np.empty(0, np.uint8)

    def take(self, shape: tuple[int, ...], dtype: Any, like: Any = None) -> np.ndarray:
        nbytes = math.prod(shape) * np.dtype(dtype).itemsize
        if self.buffer.size < nbytes:
            self.buffer = np.empty(nbytes, np.uint8)
        return self.buffer[:nbytes].view(dtype).reshape(shape)


WORKSPACE = Workspace()
_CPP_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _c_arguments(kernel: tuple[int, int], geo: Geometry, out_hw: tuple[int, int]) -> tuple:
    return (*kernel, *geo.stride, *geo.padding, *geo.dilation, *out_hw)


def im2col_cpp(x: Any, kernel: tuple[int, int], geo: Geometry, out_hw: tuple[int, int]
               ) -> Any:
    """csrc/cpu/im2col.cpp: the same matrix, written by OpenMP threads row by row into
    the thread's workspace (valid until the next call).

    The kernels exist for float32 and float64; other floating dtypes (float16) take the
    reference, so the default (C++) choice never rejects a dtype that conv2d accepts."""
    if x.dtype not in _CPP_DTYPES:
        return im2col_numpy(x, kernel, geo, out_hw)
    n, c = x.shape[:2]
    cols = WORKSPACE.take((c * kernel[0] * kernel[1], n * out_hw[0] * out_hw[1]), x.dtype)
    extension.C.im2col(np.ascontiguousarray(x), cols, *_c_arguments(kernel, geo, out_hw))
    return cols


def col2im_cpp(cols: Any, shape: tuple[int, ...], kernel: tuple[int, int], geo: Geometry,
               out_hw: tuple[int, int]) -> Any:
    """csrc/cpu/im2col.cpp: each OpenMP thread owns whole (n, c) planes of the image."""
    if cols.dtype not in _CPP_DTYPES:
        return col2im_numpy(cols, shape, kernel, geo, out_hw)
    image = np.empty(shape, cols.dtype)
    extension.C.col2im(np.ascontiguousarray(cols), image, *_c_arguments(kernel, geo, out_hw))
    return image


# --------------------------------------------------------------------------------------
# The three array functions: im2col/col2im around one GEMM per group
# --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Kernels:
    """The data movement of one implementation: im2col, col2im, and where the GEMM that
    feeds col2im writes (``scratch(shape, dtype, like)``)."""

    im2col: Callable[[Any, tuple[int, int], Geometry, tuple[int, int]], Any]
    col2im: Callable[[Any, tuple[int, ...], tuple[int, int], Geometry, tuple[int, int]], Any]
    scratch: Callable[[tuple[int, ...], Any, Any], Any]


NUMPY_KERNELS = Kernels(im2col_numpy, col2im_numpy, scratch_fresh)
CPP_KERNELS = Kernels(im2col_cpp, col2im_cpp, WORKSPACE.take)


def _by_group(image: Any, groups: int) -> Any:
    """(N, C, H, W) -> (g, C/g, N*H*W): channels first, as the GEMMs want them."""
    n, c, h, w = image.shape
    return image.transpose(1, 0, 2, 3).reshape(groups, c // groups, n * h * w)


def conv2d_array(x: Any, w: Any, geo: Geometry, out_hw: tuple[int, int],
                 kernels: Kernels) -> Any:
    """y = W @ im2col(x).   x: (N, C, H, W), w: (O, C/g, kh, kw) -> y: (N, O, Ho, Wo)"""
    n = x.shape[0]
    o, _, kh, kw = w.shape
    g = geo.groups
    cols = kernels.im2col(x, (kh, kw), geo, out_hw)               # (C*kh*kw, N*Ho*Wo)
    # explicit sizes, no -1: an empty batch (or channel count) must still reshape
    y = xp(x).matmul(w.reshape(g, o // g, w.shape[1] * kh * kw),
                     cols.reshape(g, cols.shape[0] // g, cols.shape[1]))
    return xp(x).ascontiguousarray(                                 # (g, O/g, N*L) ->
        y.reshape(o, n, *out_hw).transpose(1, 0, 2, 3))            # (N, O, Ho, Wo)


def conv_transpose2d_array(y: Any, w: Any, geo: Geometry, out_hw: tuple[int, int],
                           kernels: Kernels) -> Any:
    """x = col2im(W^T @ y).   y: (N, O, Ho, Wo), w: (O, C/g, kh, kw) -> (N, C, *out_hw)"""
    n = y.shape[0]
    o, c_per_group, kh, kw = w.shape
    g = geo.groups
    k = c_per_group * kh * kw
    weight_t = w.reshape(g, o // g, k).transpose(0, 2, 1)        # (g, C/g*kh*kw, O/g)
    by_group = _by_group(y, g)                                    # (g, O/g, N*L)
    cols = kernels.scratch((g, k, by_group.shape[2]), y.dtype, y)
    xp(y).matmul(weight_t, by_group, out=cols)                    # (g, C/g*kh*kw, N*L)
    return kernels.col2im(cols.reshape(g * k, cols.shape[2]), (n, c_per_group * g, *out_hw),
                          (kh, kw), geo, y.shape[2:])


def conv2d_weight_array(x: Any, gy: Any, geo: Geometry, kernel: tuple[int, int],
                        kernels: Kernels) -> Any:
    """gw = gy @ im2col(x)^T.   x: (N, C, H, W), gy: (N, O, Ho, Wo) -> (O, C/g, kh, kw)"""
    o = gy.shape[1]
    g = geo.groups
    cols = kernels.im2col(x, kernel, geo, gy.shape[2:])           # (C*kh*kw, N*Ho*Wo)
    cols = cols.reshape(g, cols.shape[0] // g, cols.shape[1])     # no -1: N may be 0
    cols = cols.transpose(0, 2, 1)                                # (g, N*L, C/g*kh*kw)
    gw = xp(x).matmul(_by_group(gy, g), cols)                     # (g, O/g, C/g*kh*kw)
    return gw.reshape(o, x.shape[1] // g, *kernel)


def _register(name: str, function: Callable) -> None:
    register(name, "numpy", ("cpu", "cuda"))(lambda *args: function(*args, NUMPY_KERNELS))
    register(name, "cpp", ("cpu",), extension.why_unavailable)(
        lambda *args: function(*args, CPP_KERNELS))


_register("conv2d", conv2d_array)
_register("conv_transpose2d", conv_transpose2d_array)
_register("conv2d_weight", conv2d_weight_array)


# --------------------------------------------------------------------------------------
# The ops
# --------------------------------------------------------------------------------------

def _add_bias(y: Any, bias: Any) -> Any:
    """y[n, o, i, j] += bias[o], in place: ``run`` returns a new array the op owns."""
    if bias is not None:
        y += bias.reshape(1, -1, 1, 1)
    return y


def _bias_grad(g: Tensor, needed: bool) -> Tensor | None:
    """d bias[o] = sum of g[n, o, i, j] over n, i, j."""
    return g.sum((0, 2, 3)) if needed else None


class Conv2d(Function):
    """y = conv2d(x, w) + b;  dx = conv_transpose2d(gy, w),  dw = conv2d_weight(x, gy),
    db = sum of gy over (N, Ho, Wo). b: (O,) or absent; one node with its bias, where a
    broadcast add would be a reshape and an add forward and a sum and a reshape backward.
    """

    def forward(ctx, x, w, b, geometry, out_hw):
        ctx.geometry = geometry
        return _add_bias(run("conv2d", x, w, geometry, out_hw), b)

    def backward(ctx, gy):
        x, w, _ = ctx.inputs
        geo = ctx.geometry
        needs = ctx.needs_input_grad
        return (ConvTranspose2d.apply(gy, w, None, geometry=geo, out_hw=x.shape[2:])
                if needs[0] else None,
                Conv2dWeight.apply(x, gy, geometry=geo, kernel=w.shape[2:])
                if needs[1] else None,
                _bias_grad(gy, needs[2]))


class ConvTranspose2d(Function):
    """x = conv_transpose2d(y, w) + b;  dy = conv2d(gx, w),  dw = conv2d_weight(gx, y),
    db = sum of gx over (N, H, W). b: (C,) or absent."""

    def forward(ctx, y, w, b, geometry, out_hw):
        ctx.geometry = geometry
        return _add_bias(run("conv_transpose2d", y, w, geometry, tuple(out_hw)), b)

    def backward(ctx, gx):
        y, w, _ = ctx.inputs
        geo = ctx.geometry
        needs = ctx.needs_input_grad
        return (Conv2d.apply(gx, w, None, geometry=geo, out_hw=y.shape[2:])
                if needs[0] else None,
                Conv2dWeight.apply(gx, y, geometry=geo, kernel=w.shape[2:])
                if needs[1] else None,
                _bias_grad(gx, needs[2]))


class Conv2dWeight(Function):
    """gw = conv2d_weight(x, gy);  dx = conv_transpose2d(gy, ggw),  dgy = conv2d(x, ggw)."""

    def forward(ctx, x, gy, geometry, kernel):
        ctx.geometry = geometry
        return run("conv2d_weight", x, gy, geometry, tuple(kernel))

    def backward(ctx, ggw):
        x, gy = ctx.inputs
        geo = ctx.geometry
        return (ConvTranspose2d.apply(gy, ggw, None, geometry=geo, out_hw=x.shape[2:])
                if ctx.needs_input_grad[0] else None,
                Conv2d.apply(x, ggw, None, geometry=geo, out_hw=gy.shape[2:])
                if ctx.needs_input_grad[1] else None)


# --------------------------------------------------------------------------------------
# Public functions: PyTorch's signatures, argument checks
# --------------------------------------------------------------------------------------

class _Shapes:
    """The operands' shapes for an error message ("input (2, 3, 8, 8), weight (4, 3, 3,
    3)"), written out only when a message uses it: every call builds one, few raise."""

    __slots__ = ("first", "second", "names", "weight_size")

    def __init__(self, first: Tensor, second: Tensor,
                 names: tuple[str, str] = ("input", "weight"), weight_size: Any = None):
        self.first, self.second, self.names = first, second, names
        self.weight_size = weight_size

    def __str__(self) -> str:
        text = f"{self.names[0]} {self.first.shape}, {self.names[1]} {self.second.shape}"
        if self.weight_size is not None:
            text += f", weight size {tuple(self.weight_size)}"
        return text


def _check_operands(op: str, x: Tensor, weight: Tensor,
                    names: tuple[str, str] = ("input", "weight")) -> None:
    """4-D floating-point operands of one dtype; the error names the op and both shapes."""
    shapes = _Shapes(x, weight, names)
    for name, t in zip(names, (x, weight)):
        if t.ndim != 4:
            raise ValueError(f"{op}: {name} must be 4-D, got shape {t.shape} ({shapes})")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: {name} must be floating-point, got {t.dtype} ({shapes})")
    if x.dtype != weight.dtype:
        raise TypeError(f"{op}: {names[0]} is {x.dtype} but {names[1]} is {weight.dtype} "
                        f"({shapes})")


def _check_bias(op: str, bias: Tensor | None, channels: int, x: Tensor, weight: Tensor
                ) -> None:
    if bias is None:
        return
    if bias.shape != (channels,):
        raise ValueError(f"{op}: bias must have shape ({channels},), got {bias.shape} "
                         f"({_Shapes(x, weight)})")
    if bias.dtype != x.dtype:
        raise TypeError(f"{op}: bias is {bias.dtype} but input is {x.dtype} "
                        f"({_Shapes(x, weight)})")


def _check_groups(op: str, groups: Any, shapes: _Shapes) -> None:
    if (not isinstance(groups, (int, np.integer)) or isinstance(groups, bool)
            or groups < 1):
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r} ({shapes})")


def _pair(op: str, name: str, value: Any, minimum: int, shapes: _Shapes) -> tuple[int, int]:
    """``int_pair`` whose errors also name the operands' shapes."""
    try:
        return int_pair(op, name, value, minimum)
    except (TypeError, ValueError) as err:
        raise type(err)(f"{err} ({shapes})") from None


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as in PyTorch).

    input: (N, C, H, W); weight: (O, C/groups, kh, kw); bias: (O,) -> (N, O, Ho, Wo) with
    Ho = floor((H + 2 padding - dilation (kh - 1) - 1) / stride) + 1. ``padding`` may be
    ``"valid"`` (0) or ``"same"`` (stride 1; output H x W; an odd total goes one more to
    the bottom/right, as in PyTorch).
    """
    op = "conv2d"
    _check_operands(op, input, weight)
    shapes = _Shapes(input, weight)
    n, c, h, w = input.shape
    o, c_per_group, kh, kw = weight.shape
    _check_groups(op, groups, shapes)
    if c % groups or o % groups:
        raise ValueError(f"{op}: groups={groups} must divide both the input channels ({c}) "
                         f"and the output channels ({o}) ({shapes})")
    if c_per_group * groups != c:
        raise ValueError(f"{op}: input has {c} channels but the weight expects C/groups x "
                         f"groups = {c_per_group} x {groups} = {c_per_group * groups} "
                         f"({shapes})")
    _check_bias(op, bias, o, input, weight)
    stride_hw = _pair(op, "stride", stride, 1, shapes)
    dilation_hw = _pair(op, "dilation", dilation, 1, shapes)
    if isinstance(padding, str):
        if padding == "valid":
            padding_hw = (0, 0)
        elif padding == "same":
            if stride_hw != (1, 1):
                raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride!r} "
                                 f"({shapes})")
            total = (dilation_hw[0] * (kh - 1), dilation_hw[1] * (kw - 1))
            padding_hw = (total[0] // 2, total[1] // 2)
            extra = (total[0] % 2, total[1] % 2)
            if any(extra):
                input = pad_tensor(input, (0, extra[1], 0, extra[0]))
                h, w = h + extra[0], w + extra[1]
        else:
            raise ValueError(f"{op}: padding must be an int, a pair, 'same' or 'valid', got "
                             f"{padding!r} ({shapes})")
    else:
        padding_hw = _pair(op, "padding", padding, 0, shapes)
    out_hw = tuple(output_size(size, k, s, p, d) for size, k, s, p, d in zip(
        (h, w), (kh, kw), stride_hw, padding_hw, dilation_hw))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: kernel {(kh, kw)} with dilation {dilation_hw} is larger than "
                         f"the padded input {(h + 2 * padding_hw[0], w + 2 * padding_hw[1])} "
                         f"(padding {padding_hw}; {shapes})")
    geo = Geometry(stride_hw, padding_hw, dilation_hw, int(groups))
    return Conv2d.apply(input, weight, bias, geometry=geo, out_hw=out_hw)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: IntPair = 1, padding: IntPair = 0, output_padding: IntPair = 0,
                     groups: int = 1, dilation: IntPair = 1) -> Tensor:
    """Transposed convolution: the adjoint of ``conv2d`` in its input.

    input: (N, C_in, H, W); weight: (C_in, C_out/groups, kh, kw) (PyTorch's layout: the
    same tensor as the weight of the conv2d it inverts); bias: (C_out,) ->
    (N, C_out, Ho, Wo), Ho = (H - 1) stride - 2 padding + dilation (kh - 1)
    + output_padding + 1. ``output_padding`` (smaller than stride or dilation) picks
    among the input sizes that a strided conv2d maps to the same output size.
    """
    op = "conv_transpose2d"
    _check_operands(op, input, weight)
    shapes = _Shapes(input, weight)
    n, c, h, w = input.shape
    c_in, c_out_per_group, kh, kw = weight.shape
    _check_groups(op, groups, shapes)
    if c != c_in:
        raise ValueError(f"{op}: input has {c} channels but the weight expects {c_in} "
                         f"(weight layout: (C_in, C_out/groups, kh, kw); {shapes})")
    if c_in % groups:
        raise ValueError(f"{op}: groups={groups} must divide the input channels ({c_in}) "
                         f"({shapes})")
    _check_bias(op, bias, c_out_per_group * groups, input, weight)
    stride_hw = _pair(op, "stride", stride, 1, shapes)
    dilation_hw = _pair(op, "dilation", dilation, 1, shapes)
    padding_hw = _pair(op, "padding", padding, 0, shapes)
    extra_hw = _pair(op, "output_padding", output_padding, 0, shapes)
    for extra, s, d in zip(extra_hw, stride_hw, dilation_hw):
        if extra >= s and extra >= d:
            raise ValueError(f"{op}: output_padding {extra_hw} must be smaller than either "
                             f"stride {stride_hw} or dilation {dilation_hw} ({shapes})")
    out_hw = tuple((size - 1) * s - 2 * p + d * (k - 1) + e + 1 for size, s, p, d, k, e in zip(
        (h, w), stride_hw, padding_hw, dilation_hw, (kh, kw), extra_hw))
    if min(out_hw) < 1:
        raise ValueError(f"{op}: padding {padding_hw} leaves an empty output {out_hw} "
                         f"({shapes}; stride {stride_hw}, dilation {dilation_hw}, "
                         f"output_padding {extra_hw})")
    geo = Geometry(stride_hw, padding_hw, dilation_hw, int(groups))
    return ConvTranspose2d.apply(input, weight, bias, geometry=geo, out_hw=out_hw)


def conv2d_weight(input: Tensor, weight_size: tuple[int, ...], grad_output: Tensor,
                  stride: IntPair = 1, padding: IntPair = 0, dilation: IntPair = 1,
                  groups: int = 1) -> Tensor:
    """The gradient of conv2d with respect to its weight (``torch.nn.grad.conv2d_weight``).

    input: (N, C, H, W); grad_output: (N, O, Ho, Wo) -> (O, C/groups, kh, kw) =
    ``weight_size``. Differentiable in both arguments.
    """
    op = "conv2d_weight"
    _check_operands(op, input, grad_output, ("input", "grad_output"))
    shapes = _Shapes(input, grad_output, ("input", "grad_output"), weight_size)
    if len(weight_size) != 4 or not all(isinstance(v, (int, np.integer)) and v > 0
                                        for v in weight_size):
        raise ValueError(f"{op}: weight_size must be 4 positive ints (O, C/groups, kh, kw), "
                         f"got {tuple(weight_size)} ({shapes})")
    o, c_per_group, kh, kw = (int(v) for v in weight_size)
    _check_groups(op, groups, shapes)
    n, c, h, w = input.shape
    if c_per_group * groups != c or o % groups:
        raise ValueError(f"{op}: with groups={groups}, the input channels ({c}) must equal "
                         f"C/groups ({c_per_group}) x groups and groups must divide the output "
                         f"channels ({o}) ({shapes})")
    if grad_output.shape[:2] != (n, o):
        raise ValueError(f"{op}: grad_output must have batch {n} and {o} channels ({shapes})")
    stride_hw = _pair(op, "stride", stride, 1, shapes)
    dilation_hw = _pair(op, "dilation", dilation, 1, shapes)
    padding_hw = _pair(op, "padding", padding, 0, shapes)
    natural = tuple(output_size(size, k, s, p, d) for size, k, s, p, d in zip(
        (h, w), (kh, kw), stride_hw, padding_hw, dilation_hw))
    if min(natural) < 1:
        raise ValueError(f"{op}: kernel {(kh, kw)} with dilation {dilation_hw} is larger than "
                         f"the padded input {(h + 2 * padding_hw[0], w + 2 * padding_hw[1])} "
                         f"(padding {padding_hw}; {shapes})")
    if grad_output.shape[2:] != natural:
        raise ValueError(f"{op}: grad_output should have spatial size {natural}, got "
                         f"{grad_output.shape[2:]} ({shapes}; stride {stride_hw}, padding "
                         f"{padding_hw}, dilation {dilation_hw})")
    geo = Geometry(stride_hw, padding_hw, dilation_hw, int(groups))
    return Conv2dWeight.apply(input, grad_output, geometry=geo, kernel=(kh, kw))
