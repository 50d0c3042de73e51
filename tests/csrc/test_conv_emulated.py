"""csrc/cuda/conv.cuh, run on CPU threads by csrc/cuda/emulator.h, against the float64
NumPy references of minigan/ops/conv.py (NUMPY_KERNELS): the three implicit GEMMs over
strides, padding, dilation, groups and kernel sizes, partial 64-wide tiles, the phase
classes of the input gradient, the weight gradient's split reduction, empty sums, and the
adjoint identities that tie the three together. Every output (and the workspace) starts
as NaN, so an element that a kernel does not write shows up."""
import ctypes
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan.ops.conv import (NUMPY_KERNELS, Geometry, conv2d_array, conv2d_weight_array,
                              conv_transpose2d_array, output_size)
from minigan.testing import assert_close

OPS = ("conv2d", "conv_transpose2d", "conv2d_weight")
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}
H100_SHARED_BYTES = 227 * 1024


@dataclass(frozen=True)
class Conv:
    """One convolution: x (n, c, h, w), weight (o, c/groups, kh, kw), y (n, o, ho, wo)."""

    n: int
    c: int
    h: int
    w: int
    o: int
    kh: int
    kw: int
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    @property
    def geo(self) -> Geometry:
        return Geometry(self.stride, self.padding, self.dilation, self.groups)

    @property
    def out_hw(self) -> tuple[int, int]:
        return tuple(output_size(size, k, s, p, d) for size, k, s, p, d in zip(
            (self.h, self.w), (self.kh, self.kw), self.stride, self.padding, self.dilation))

    @property
    def x_shape(self) -> tuple[int, ...]:
        return (self.n, self.c, self.h, self.w)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        return (self.o, self.c // self.groups, self.kh, self.kw)

    @property
    def y_shape(self) -> tuple[int, ...]:
        return (self.n, self.o, *self.out_hw)

    @property
    def sizes(self) -> np.ndarray:
        """ConvSizes as tests/csrc/emulated_conv.cpp reads it."""
        return np.array([self.n, self.c, self.h, self.w, self.o, self.kh, self.kw,
                         *self.out_hw, *self.stride, *self.padding, *self.dilation,
                         self.groups], dtype=np.int64)


class EmulatedConv:
    """The three launchers of conv.cuh, on NumPy arrays; outputs and workspace start NaN."""

    def __init__(self, library, pointer, call):
        self.library, self.pointer, self.call = library, pointer, call
        for name in ("emulated_conv2d_weight_splits", "emulated_conv2d_weight_workspace_size"):
            getattr(library, name).restype = ctypes.c_int64
        library.emulated_set_shared_limit.argtypes = [ctypes.c_size_t]

    def splits(self, conv: Conv) -> int:
        sizes = conv.sizes                      # named: it must outlive the call
        return self.library.emulated_conv2d_weight_splits(self.pointer(sizes))

    def workspace_size(self, conv: Conv) -> int:
        sizes = conv.sizes
        return self.library.emulated_conv2d_weight_workspace_size(self.pointer(sizes))

    def run(self, op: str, conv: Conv, first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """conv2d(x, weight), conv_transpose2d(dy, weight) or conv2d_weight(x, dy)."""
        out_shape = {"conv2d": conv.y_shape, "conv_transpose2d": conv.x_shape,
                     "conv2d_weight": conv.weight_shape}[op]
        out = np.full(out_shape, np.nan, first.dtype)
        workspace = np.full(self.workspace_size(conv), np.nan, first.dtype)
        extra = (self.pointer(workspace),) if op == "conv2d_weight" else ()
        sizes = conv.sizes
        self.call(getattr(self.library, f"emulated_{op}"),
                  ctypes.c_int(first.dtype == np.float64), self.pointer(first),
                  self.pointer(second), self.pointer(out), *extra, self.pointer(sizes))
        return out


@pytest.fixture(scope="module")
def kernels(emulated, kernel_call):
    return EmulatedConv(emulated("conv"), *kernel_call)


def operands(op: str, conv: Conv, dtype, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random inputs of ``op``: (x, weight), (dy, weight) or (x, dy)."""
    rng = np.random.default_rng(seed)
    shapes = {"conv2d": (conv.x_shape, conv.weight_shape),
              "conv_transpose2d": (conv.y_shape, conv.weight_shape),
              "conv2d_weight": (conv.x_shape, conv.y_shape)}[op]
    return tuple(rng.standard_normal(shape).astype(dtype) for shape in shapes)


def reference(op: str, conv: Conv, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The float64 NumPy reference of ``op`` on the same inputs."""
    first, second = first.astype(np.float64), second.astype(np.float64)
    if op == "conv2d":
        return conv2d_array(first, second, conv.geo, conv.out_hw, NUMPY_KERNELS)
    if op == "conv_transpose2d":
        return conv_transpose2d_array(first, second, conv.geo, (conv.h, conv.w), NUMPY_KERNELS)
    return conv2d_weight_array(first, second, conv.geo, (conv.kh, conv.kw), NUMPY_KERNELS)


def check_against_reference(kernels: EmulatedConv, op: str, conv: Conv, dtype=np.float64,
                            seed: int = 0) -> None:
    first, second = operands(op, conv, dtype, seed)
    got = kernels.run(op, conv, first, second)
    want = reference(op, conv, first, second)
    assert got.dtype == dtype
    assert not np.isnan(got).any(), f"{op} left elements unwritten for {conv}"
    tolerance = TOLERANCE[dtype]
    assert_close(got, want, rtol=tolerance, atol=tolerance * np.abs(want).max(initial=1.0),
                 msg=f"{op} {conv}: ")


CASES = [
    Conv(2, 3, 7, 9, 5, 3, 3, padding=(1, 1)),
    Conv(2, 5, 6, 5, 7, 1, 1),
    Conv(2, 3, 8, 8, 5, 4, 4, stride=(2, 2), padding=(1, 1)),              # DCGAN's layer
    Conv(1, 3, 11, 10, 4, 5, 5, stride=(3, 3), padding=(2, 2)),
    Conv(2, 3, 9, 8, 3, 3, 3, padding=(2, 2), dilation=(2, 2)),
    Conv(2, 3, 9, 11, 5, 3, 2, stride=(2, 1), padding=(0, 2), dilation=(1, 2)),
    Conv(1, 3, 7, 13, 3, 2, 5, stride=(1, 3), padding=(1, 0)),
    Conv(2, 6, 7, 7, 4, 3, 3, padding=(1, 1), groups=2),
    Conv(2, 9, 6, 5, 9, 3, 3, stride=(2, 2), padding=(1, 1), dilation=(2, 1), groups=3),
    Conv(1, 3, 9, 9, 4, 2, 2, stride=(3, 3)),                               # taps skip pixels
    Conv(1, 2, 3, 3, 3, 5, 5, padding=(2, 2)),                              # kernel > image
]


@pytest.mark.parametrize("conv", CASES, ids=str)
@pytest.mark.parametrize("op", OPS)
def test_matches_the_reference_in_float64(kernels, op, conv):
    check_against_reference(kernels, op, conv)


@pytest.mark.parametrize("conv", [CASES[2], CASES[8]], ids=str)
@pytest.mark.parametrize("op", OPS)
def test_matches_the_reference_in_float32(kernels, op, conv):
    check_against_reference(kernels, op, conv, np.float32, seed=1)


# conv_transpose2d runs one product per phase class (h0, w0) of the pixels of dx, h0 < sh,
# w0 < sw, each over only the taps that reach its pixels (conv.cuh, "The input gradient
# by phases"). What that risks, one case each:
PHASE_CASES = {
    "stride2-kernel1-classes-without-taps": Conv(1, 3, 7, 7, 4, 1, 1, stride=(2, 2)),
    "stride2-kernel2-as-large-as-the-stride": Conv(2, 3, 8, 7, 3, 2, 2, stride=(2, 2)),
    "stride2-kernel3-odd-sizes": Conv(2, 3, 9, 7, 4, 3, 3, stride=(2, 2), padding=(1, 1)),
    "stride3-kernel2-classes-without-taps": Conv(1, 3, 10, 11, 4, 2, 2, stride=(3, 3)),
    "stride3-kernel3-as-large-as-the-stride": Conv(1, 3, 10, 8, 4, 3, 3, stride=(3, 3),
                                                   padding=(1, 1)),
    "stride3-kernel5x4-larger-than-the-stride": Conv(2, 4, 8, 10, 3, 5, 4, stride=(3, 3),
                                                     padding=(2, 1)),
    "stride2-padding3-beyond-the-stride": Conv(1, 3, 9, 9, 3, 7, 7, stride=(2, 2),
                                               padding=(3, 3)),
    "stride2x3-padding4-beyond-the-stride": Conv(1, 2, 8, 9, 3, 5, 5, stride=(2, 3),
                                                 padding=(4, 4)),
    "stride2-dilation2-half-the-phases-without-taps": Conv(2, 3, 9, 8, 4, 3, 3, stride=(2, 2),
                                                           padding=(2, 1), dilation=(2, 2)),
    "stride3-dilation2-taps-spread-over-the-phases": Conv(1, 3, 10, 9, 3, 3, 3, stride=(3, 3),
                                                          padding=(1, 2), dilation=(2, 2)),
    "stride3-dilation3-one-phase-with-every-tap": Conv(1, 2, 7, 7, 2, 2, 2, stride=(3, 3),
                                                       dilation=(3, 3)),
    "image-smaller-than-the-stride": Conv(2, 3, 2, 1, 4, 3, 3, stride=(3, 3), padding=(1, 1)),
    "groups2-dcgan-layer": Conv(2, 6, 8, 7, 4, 4, 4, stride=(2, 2), padding=(1, 1), groups=2),
    "groups3-stride3x2": Conv(1, 6, 7, 8, 9, 3, 2, stride=(3, 2), padding=(1, 0), groups=3),
    # classes of 81, 72, 72 and 64 pixels: two 64-row tiles each, and one tile that is
    # past the end of the smallest class
    "classes-of-one-and-two-tiles": Conv(1, 2, 17, 17, 3, 4, 4, stride=(2, 2), padding=(1, 1)),
}


@pytest.mark.parametrize("conv", PHASE_CASES.values(), ids=PHASE_CASES.keys())
def test_conv_transpose2d_by_phase_classes_matches_the_reference(kernels, conv):
    check_against_reference(kernels, "conv_transpose2d", conv)


@pytest.mark.parametrize("name", ["stride3-kernel5x4-larger-than-the-stride",
                                  "groups2-dcgan-layer"])
def test_conv_transpose2d_by_phase_classes_matches_the_reference_in_float32(kernels, name):
    check_against_reference(kernels, "conv_transpose2d", PHASE_CASES[name], np.float32, seed=7)


def unreached(size: int, kernel: int, stride: int, padding: int, dilation: int) -> list[int]:
    """The pixels h < size that no tap p reaches: (h + padding - p dilation) mod stride != 0
    for every p < kernel (whether the output pixel it would read exists or not)."""
    return [h for h in range(size)
            if all((h + padding - p * dilation) % stride for p in range(kernel))]


@pytest.mark.parametrize("name", ["stride2-kernel1-classes-without-taps",
                                  "stride3-kernel2-classes-without-taps",
                                  "stride2-dilation2-half-the-phases-without-taps",
                                  "stride3-dilation3-one-phase-with-every-tap"])
def test_conv_transpose2d_writes_zeros_where_no_tap_reaches(kernels, name):
    """dx starts as NaN: the classes with no taps must store their zeros, exactly."""
    conv = PHASE_CASES[name]
    rows, cols = (unreached(*axis) for axis in zip((conv.h, conv.w), (conv.kh, conv.kw),
                                                    conv.stride, conv.padding, conv.dilation))
    assert rows and cols
    got = kernels.run("conv_transpose2d", conv, *operands("conv_transpose2d", conv, np.float64))
    assert np.array_equal(got[:, :, rows, :], np.zeros_like(got[:, :, rows, :]))
    assert np.array_equal(got[:, :, :, cols], np.zeros_like(got[:, :, :, cols]))


# 1x1 convolutions with one extent around the 64-wide tiles; per op, which GEMM size it is:
#   pixels (h w):   conv2d M,  conv_transpose2d M,  conv2d_weight K (the reduction)
#   c:              conv2d K,  conv_transpose2d N,  conv2d_weight N
#   o:              conv2d N,  conv_transpose2d K,  conv2d_weight M
EDGE_CONVS = {"pixels": lambda e: Conv(1, 2, 1, e, 3, 1, 1),
              "c": lambda e: Conv(1, e, 2, 2, 3, 1, 1),
              "o": lambda e: Conv(1, 3, 2, 2, e, 1, 1)}


@pytest.mark.parametrize("extent", [63, 64, 65])
@pytest.mark.parametrize("dimension", list(EDGE_CONVS))
@pytest.mark.parametrize("op", OPS)
def test_partial_tiles_match_the_reference(kernels, op, dimension, extent):
    check_against_reference(kernels, op, EDGE_CONVS[dimension](extent))


def test_weight_gradient_splits_a_long_reduction_into_partial_sums(kernels):
    conv = Conv(2, 4, 20, 20, 4, 3, 3, padding=(1, 1), groups=2)        # 800 pixels
    splits = kernels.splits(conv)
    assert splits > 1
    assert kernels.workspace_size(conv) == splits * 4 * 2 * 3 * 3
    check_against_reference(kernels, "conv2d_weight", conv)


def test_weight_gradient_is_the_same_bits_on_every_run(kernels):
    conv = Conv(2, 3, 13, 13, 3, 3, 3, padding=(1, 1))                  # 338 pixels
    assert kernels.splits(conv) > 1
    x, dy = operands("conv2d_weight", conv, np.float32)
    first = kernels.run("conv2d_weight", conv, x, dy)
    # the emulator runs the blocks in another order on every launch
    assert np.array_equal(first, kernels.run("conv2d_weight", conv, x, dy))


@pytest.mark.parametrize("op", OPS)
def test_empty_batch_writes_an_empty_result_or_zeros(kernels, op):
    conv = Conv(0, 3, 5, 5, 4, 3, 3, padding=(1, 1))
    got = kernels.run(op, conv, *operands(op, conv, np.float64))
    assert kernels.splits(conv) == 0 and kernels.workspace_size(conv) == 0
    if op == "conv2d_weight":
        assert np.array_equal(got, np.zeros(conv.weight_shape))
    else:
        assert got.size == 0


@pytest.mark.parametrize("op, conv", [
    ("conv2d", Conv(2, 0, 5, 5, 4, 3, 3, padding=(1, 1))),              # no input channels
    ("conv_transpose2d", Conv(2, 3, 5, 5, 0, 3, 3, stride=(2, 2))),     # no taps at all
], ids=["conv2d-no-input-channels", "conv_transpose2d-no-output-channels"])
def test_empty_reductions_write_zeros(kernels, op, conv):
    got = kernels.run(op, conv, *operands(op, conv, np.float64))
    assert got.size > 0
    assert np.array_equal(got, np.zeros_like(got))


ADJOINT_CASES = [Conv(2, 4, 9, 8, 6, 3, 4, stride=(2, 3), padding=(1, 2), dilation=(2, 1),
                      groups=2),
                 Conv(1, 3, 10, 10, 5, 4, 4, stride=(2, 2), padding=(1, 1))]


@pytest.mark.parametrize("conv", ADJOINT_CASES, ids=str)
def test_conv_transpose2d_is_the_adjoint_of_conv2d_in_x(kernels, conv):
    """<conv2d(x, w), dy> = <x, conv_transpose2d(dy, w)>, all through the CUDA kernels."""
    x, w = operands("conv2d", conv, np.float64, seed=2)
    dy, _ = operands("conv_transpose2d", conv, np.float64, seed=3)
    left = np.vdot(kernels.run("conv2d", conv, x, w), dy)
    right = np.vdot(x, kernels.run("conv_transpose2d", conv, dy, w))
    assert_close(left, right, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("conv", ADJOINT_CASES, ids=str)
def test_conv2d_weight_is_the_adjoint_of_conv2d_in_the_weight(kernels, conv):
    """<conv2d(x, w), dy> = <w, conv2d_weight(x, dy)>, all through the CUDA kernels."""
    x, w = operands("conv2d", conv, np.float64, seed=4)
    dy, _ = operands("conv_transpose2d", conv, np.float64, seed=5)
    left = np.vdot(kernels.run("conv2d", conv, x, w), dy)
    right = np.vdot(w, kernels.run("conv2d_weight", conv, x, dy))
    assert_close(left, right, rtol=1e-12, atol=1e-12)


@st.composite
def convolutions(draw, stride=3, padding=2, dilation=2, groups=3, out_channels=3,
                 extra=6) -> Conv:
    """Small convolutions with every geometric knob drawn up to the given maxima, and an
    output of >= 1 pixel."""
    g = draw(st.integers(1, groups))
    kernel = draw(st.tuples(st.integers(1, 5), st.integers(1, 5)))
    strides = draw(st.tuples(st.integers(1, stride), st.integers(1, stride)))
    paddings = draw(st.tuples(st.integers(0, padding), st.integers(0, padding)))
    dilations = draw(st.tuples(st.integers(1, dilation), st.integers(1, dilation)))
    smallest = [max(1, d * (k - 1) + 1 - 2 * p) for k, p, d in zip(kernel, paddings, dilations)]
    h, w = (draw(st.integers(low, low + extra)) for low in smallest)
    return Conv(draw(st.integers(1, 2)), g * draw(st.integers(1, out_channels)), h, w,
                g * draw(st.integers(1, 3)), *kernel, strides, paddings, dilations, g)


@settings(max_examples=6, deadline=None)
@given(conv=convolutions())
def test_drawn_geometries_match_the_reference(kernels, conv):
    for op in OPS:
        check_against_reference(kernels, op, conv, seed=6)


# Input gradients with many phase classes: strides up to 4, padding up to 4, dilation up to
# 3, images down to 1 pixel (smaller than the stride).
@settings(max_examples=8, deadline=None)
@given(conv=convolutions(stride=4, padding=4, dilation=3, groups=2, out_channels=2, extra=7))
def test_drawn_conv_transpose2d_phase_geometries_match_the_reference(kernels, conv):
    check_against_reference(kernels, "conv_transpose2d", conv, seed=8)


def _divide(kernels, divisor: int, dividends: np.ndarray) -> np.ndarray:
    dividends = np.ascontiguousarray(dividends, dtype=np.uint32)
    quotients = np.empty_like(dividends)
    kernels.library.emulated_conv_divide(ctypes.c_int(divisor), kernels.pointer(dividends),
                                         kernels.pointer(quotients),
                                         ctypes.c_int64(dividends.size))
    return quotients


DIVISORS = [1, 2, 3, 4, 5, 7, 9, 12, 16, 25, 48, 63, 64, 1000, 4096, 65535, 65537,
            2 ** 30 - 1, 2 ** 30, 2 ** 30 + 1, 2 ** 31 - 1]


@pytest.mark.parametrize("divisor", DIVISORS)
def test_division_by_a_fixed_divisor_matches_integer_division(kernels, divisor):
    """conv_divide (multiply, add, shift) against integer division, on the dividends
    where an error would show first: the ends of the range, each side of multiples of
    the divisor up to 2^31 - 1, and random ones; also every dividend below 2^16."""
    rng = np.random.default_rng(divisor)
    top = 2 ** 31 - 1
    multiples = np.unique(np.concatenate([
        np.arange(0, top, divisor, dtype=np.int64)[-4096:],
        (rng.integers(0, top // divisor + 1, 4096) * divisor)]))
    dividends = np.concatenate([multiples - 1, multiples, multiples + 1,
                                rng.integers(0, top + 1, 1 << 16), np.arange(1 << 16), [top]])
    dividends = dividends[(dividends >= 0) & (dividends <= top)]
    quotients = _divide(kernels, divisor, dividends)
    np.testing.assert_array_equal(quotients, dividends // divisor)


def test_a_zero_divisor_is_taken_as_one(kernels):
    dividends = np.array([0, 1, 7, 2 ** 31 - 1])
    np.testing.assert_array_equal(_divide(kernels, 0, dividends), dividends)


def test_tiles_fit_the_48_kib_of_shared_memory_of_every_cuda_device(kernels):
    kernels.library.emulated_set_shared_limit(48 * 1024)
    try:
        check_against_reference(kernels, "conv2d_weight", CASES[0])    # float64: the larger
    finally:
        kernels.library.emulated_set_shared_limit(H100_SHARED_BYTES)


@pytest.mark.parametrize("op", OPS)
def test_sizes_beyond_32_bit_indices_are_refused_naming_the_op(kernels, op):
    sizes = Conv(1, 1, 2 ** 31, 1, 1, 1, 1).sizes
    null = ctypes.c_void_p(None)
    workspace = (null,) if op == "conv2d_weight" else ()
    with pytest.raises(RuntimeError, match=f"^{op}: .*32-bit"):
        kernels.call(getattr(kernels.library, f"emulated_{op}"), ctypes.c_int(1), null, null,
                     null, *workspace, kernels.pointer(sizes))
