"""Tests for kernels/conv.py: the Triton implicit-GEMM convolutions against the NumPy
reference of minigan/ops/conv.py, on partial tiles, odd channel counts and drawn
geometries; poisoned outputs; bad input."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan.backend import implementations
from minigan.kernels import CONV_IMPLEMENTATIONS, CONV_TILES
from minigan.ops.conv import NUMPY_KERNELS, Geometry, conv2d_array, conv2d_weight_array, \
    conv_transpose2d_array, output_size

triton_conv = pytest.importorskip("minigan.kernels.conv")
TILES = triton_conv.DEFAULT_TILES
BLOCK_M, BLOCK_N, BLOCK_K = TILES["BLOCK_M"], TILES["BLOCK_N"], TILES["BLOCK_K"]


def _host(a):
    return a if isinstance(a, np.ndarray) else a.get()


def _relative_error(got, want):
    got, want = _host(got).astype(np.float64), np.asarray(want, np.float64)
    assert not np.isnan(got).any(), "unwritten (NaN-poisoned) or NaN outputs"
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)


# float32 may run on TF32 tensor cores on a GPU (10-bit mantissa); float64 must be exact
# to rounding, float16 to its own precision.
TOLERANCE = {np.float64: 1e-12, np.float32: 3e-3, np.float16: 5e-3}


def _check_all_three(xp, x, w, geo, dtype, **options):
    """Each of the three kernels against the reference, outputs poisoned with NaN first;
    ``options`` are the launchers' (tiles, channels_last)."""
    kh, kw = w.shape[2:]
    out_hw = tuple(output_size(n, k, s, p, d) for n, k, s, p, d in zip(
        x.shape[2:], (kh, kw), geo.stride, geo.padding, geo.dilation))
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    rng = np.random.default_rng(1)
    gy = rng.standard_normal((x.shape[0], w.shape[0], *out_hw)).astype(dtype)
    xd, wd, gyd = xp.asarray(x), xp.asarray(w), xp.asarray(gy)

    y = xp.full((x.shape[0], w.shape[0], *out_hw), np.nan, dtype=dtype)
    triton_conv.conv2d(xd, wd, geo, out_hw, xp, out=y, **options)
    want = conv2d_array(x64, w64, geo, out_hw, NUMPY_KERNELS)
    assert _relative_error(y, want) < TOLERANCE[dtype], "conv2d"

    dx = xp.full(x.shape, np.nan, dtype=dtype)
    triton_conv.conv_transpose2d(gyd, wd, geo, x.shape[2:], xp, out=dx, **options)
    want = conv_transpose2d_array(gy.astype(np.float64), w64, geo, x.shape[2:], NUMPY_KERNELS)
    assert _relative_error(dx, want) < TOLERANCE[dtype], "conv_transpose2d"

    dw = triton_conv.conv2d_weight(xd, gyd, geo, (kh, kw), xp, **options)
    want = conv2d_weight_array(x64, gy.astype(np.float64), geo, (kh, kw), NUMPY_KERNELS)
    assert dw.dtype == dtype and _relative_error(dw, want) < TOLERANCE[dtype], "conv2d_weight"


def _random(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("pixels", [BLOCK_M - 1, BLOCK_M, BLOCK_M + 1])
@pytest.mark.parametrize("channels", [BLOCK_N - 1, BLOCK_N, BLOCK_N + 1])
def test_partial_tiles_in_rows_and_columns(xp, pixels, channels):
    x = _random((1, 3, 1, pixels), np.float64)
    w = _random((channels, 3, 1, 1), np.float64, seed=2)
    _check_all_three(xp, x, w, Geometry((1, 1), (0, 0), (1, 1), 1), np.float64)


@pytest.mark.parametrize("taps", [BLOCK_K - 1, BLOCK_K, BLOCK_K + 1])
def test_partial_tiles_in_the_reduction(xp, taps):
    x = _random((2, taps, 3, 4), np.float64)
    w = _random((5, taps, 1, 1), np.float64, seed=2)
    _check_all_three(xp, x, w, Geometry((1, 1), (0, 0), (1, 1), 1), np.float64)


@pytest.mark.parametrize("name", sorted(CONV_IMPLEMENTATIONS))
def test_every_implementation_matches_the_reference_on_its_partial_tiles(xp, name):
    """Each registered implementation (tile shape and operand layout), with one more pixel,
    channel and tap than its tile (so both a full and a partial tile in every dimension),
    on a strided, padded, grouped geometry."""
    options = CONV_IMPLEMENTATIONS[name]
    tiles = options["tiles"]
    x = _random((1, 2 * (tiles["BLOCK_K"] + 1), 1, tiles["BLOCK_M"] + 1), np.float64)
    w = _random((2 * (tiles["BLOCK_N"] + 1), tiles["BLOCK_K"] + 1, 1, 1), np.float64, seed=2)
    _check_all_three(xp, x, w, Geometry((1, 1), (0, 0), (1, 1), 2), np.float64, **options)
    x = _random((2, 4, 7, 6), np.float64)
    w = _random((6, 2, 4, 3), np.float64, seed=2)
    _check_all_three(xp, x, w, Geometry((2, 2), (1, 1), (1, 2), 2), np.float64, **options)


@pytest.mark.parametrize("taps_outer", [True, False])
@pytest.mark.parametrize("channels, geometry", [
    (33, Geometry((1, 1), (1, 1), (1, 1), 1)),          # a partial chunk, 3x3 "same"
    (8, Geometry((2, 2), (1, 1), (1, 1), 1)),           # DCGAN's 4x4 stride 2
    (6, Geometry((2, 1), (0, 2), (1, 2), 3)),           # asymmetric, dilated, grouped
    (34, Geometry((3, 3), (2, 0), (2, 1), 2)),          # strided, dilated, two chunks a group
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_both_walks_of_conv2d_and_conv2d_weight_match_the_reference(xp, monkeypatch,
                                                                    taps_outer, channels,
                                                                    geometry, channels_last):
    """Tap by tap over channel chunks, or flattened (c, p, q): each on any channel count,
    with the operands as given or moved to channels-last orders (which the launchers do
    for the tap-by-tap walk only)."""
    monkeypatch.setattr(triton_conv, "taps_outer", lambda channels, block: taps_outer)
    x = _random((2, channels, 9, 10), np.float64)
    w = _random((5 * geometry.groups, channels // geometry.groups, 4, 3), np.float64, seed=3)
    _check_all_three(xp, x, w, geometry, np.float64, channels_last=channels_last)


def test_the_walk_is_tap_by_tap_when_a_channel_chunk_is_at_least_half_full():
    assert [triton_conv.taps_outer(c, 32) for c in (3, 15, 16, 64)] == [
        False, False, True, True]


def test_each_tile_shape_and_layout_is_a_registered_implementation_of_each_op():
    assert {options["tiles"]["BLOCK_M"] for options in CONV_IMPLEMENTATIONS.values()
            if options.get("channels_last")} == {64, 128}
    for op in ("conv2d", "conv_transpose2d", "conv2d_weight"):
        assert set(CONV_IMPLEMENTATIONS) <= set(implementations(op))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("geometry", [
    Geometry((1, 1), (1, 1), (1, 1), 1),            # 3x3 "same"
    Geometry((2, 2), (1, 1), (1, 1), 1),            # DCGAN's 4x4 stride 2
    Geometry((2, 1), (0, 2), (1, 2), 3),            # asymmetric, dilated, grouped
    Geometry((3, 3), (2, 0), (2, 1), 1),
])
@pytest.mark.parametrize("channels_last", [False, True])
def test_geometries_and_dtypes(xp, geometry, dtype, channels_last):
    x = _random((2, 6, 9, 10), dtype)
    w = (_random((9, 6 // geometry.groups, 4, 3), dtype, seed=3) * 0.3).astype(dtype)
    _check_all_three(xp, x, w, geometry, dtype, channels_last=channels_last)


@st.composite
def problems(draw, max_padding=2):
    """A valid (x shape, weight shape, geometry), built rather than filtered."""
    groups = draw(st.integers(1, 3))
    c = groups * draw(st.integers(1, 3))
    o = groups * draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dh, dw = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    ph, pw = draw(st.integers(0, max_padding)), draw(st.integers(0, max_padding))
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 5))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, 5))
    n = draw(st.integers(1, 2))
    return (n, c, h, w), (o, c // groups, kh, kw), Geometry((sh, sw), (ph, pw), (dh, dw), groups)


@settings(max_examples=12)
@given(problems(), st.booleans())
def test_drawn_problems_match_the_reference(xp, problem, channels_last):
    x_shape, w_shape, geometry = problem
    _check_all_three(xp, _random(x_shape, np.float64), _random(w_shape, np.float64, 4),
                     geometry, np.float64, channels_last=channels_last)


# -- conv_transpose2d by phase class: the pixels h = h0 + u*sh of one residue (h + ph) mod sh
#    reduce over only the taps p with p*dh = (h + ph) mod sh ---------------------------------

def _check_transpose(xp, x_shape, w_shape, geo, channels_last=False):
    """conv_transpose2d(dy, w) into dx poisoned with NaN (an unwritten pixel fails) against
    the float64 reference, with dy of the shape conv2d(x, w) has; returns dx on the host."""
    n, _, h, w = x_shape
    out_hw = tuple(output_size(size, k, s, p, d) for size, k, s, p, d in zip(
        (h, w), w_shape[2:], geo.stride, geo.padding, geo.dilation))
    dy = _random((n, w_shape[0], *out_hw), np.float64, 6)
    weight = _random(w_shape, np.float64, 7)
    dx = xp.full(x_shape, np.nan)
    triton_conv.conv_transpose2d(xp.asarray(dy), xp.asarray(weight), geo, (h, w), xp, out=dx,
                                 channels_last=channels_last)
    want = conv_transpose2d_array(dy, weight, geo, (h, w), NUMPY_KERNELS)
    assert _relative_error(dx, want) < 1e-12
    return _host(dx)


def _geometry(stride, padding, dilation=1, groups=1):
    return Geometry((stride, stride), (padding, padding), (dilation, dilation), groups)


@pytest.mark.parametrize("x_shape, w_shape, geometry", [
    ((1, 2, 7, 9), (3, 2, 1, 1), _geometry(2, 0)),              # kernel < stride: empty phases
    ((1, 2, 7, 9), (3, 2, 2, 2), _geometry(2, 0)),              # kernel = stride
    ((2, 3, 8, 8), (5, 3, 4, 4), _geometry(2, 1)),              # DCGAN: 2 of 4 taps per phase
    ((1, 2, 7, 9), (3, 2, 5, 3), _geometry(2, 2)),              # kernel > stride, odd H, W
    ((1, 2, 8, 7), (3, 2, 2, 2), _geometry(3, 0)),              # kernel < stride: empty phases
    ((1, 2, 8, 7), (3, 2, 3, 3), _geometry(3, 1)),              # kernel = stride
    ((1, 2, 8, 7), (3, 2, 5, 4), _geometry(3, 2)),              # kernel > stride
    ((1, 2, 7, 8), (3, 2, 3, 3), _geometry(2, 2, dilation=2)),  # gcd(sh, dh) = 2: empty phases
    ((1, 2, 9, 8), (3, 2, 4, 4), _geometry(3, 1, dilation=2)),  # taps p0, p0 + 3
    ((1, 2, 6, 7), (3, 2, 5, 5), _geometry(2, 3)),              # padding > stride
    ((2, 2, 2, 1), (3, 2, 1, 1), _geometry(3, 0)),              # H, W < stride: empty classes
    ((1, 6, 7, 5), (6, 2, 4, 3), Geometry((2, 3), (1, 0), (1, 2), 3)),      # groups, mixed
    ((1, 2, 17, 17), (9, 2, 3, 3), _geometry(2, 1)),            # classes of 64/72/72/81
], ids=lambda value: str(value).replace(" ", ""))               # pixels, 36/18/18/9 taps
def test_transpose_by_phase_classes_matches_the_reference(xp, x_shape, w_shape, geometry):
    _check_transpose(xp, x_shape, w_shape, geometry)


@pytest.mark.parametrize("x_shape, w_shape, geometry", [
    ((1, 2, 8, 7), (3, 2, 2, 2), _geometry(3, 0)),              # phase 2 of 3: no tap p < 2
    ((1, 2, 7, 8), (3, 2, 3, 3), _geometry(2, 2, dilation=2)),  # odd phase: p*2 is even
])
def test_phases_without_taps_are_written_as_zeros(xp, x_shape, w_shape, geometry):
    dx = _check_transpose(xp, x_shape, w_shape, geometry)
    kh, kw = w_shape[2:]
    (sh, sw), (ph, pw), (dh, dw) = geometry.stride, geometry.padding, geometry.dilation
    rows = [h for h in range(x_shape[2]) if all((h + ph - p * dh) % sh for p in range(kh))]
    cols = [w for w in range(x_shape[3]) if all((w + pw - q * dw) % sw for q in range(kw))]
    assert rows and cols
    assert not dx[:, :, rows, :].any() and not dx[:, :, :, cols].any()


@settings(max_examples=8)
@given(problems(max_padding=3), st.booleans())
def test_drawn_transposes_with_padding_up_to_three_match_the_reference(xp, problem,
                                                                     channels_last):
    _check_transpose(xp, *problem, channels_last=channels_last)


def test_non_contiguous_inputs_are_read_through_their_strides(xp):
    x_view = xp.asarray(_random((2, 3, 7, 8), np.float64)).transpose(0, 1, 3, 2)
    w = xp.asarray(_random((4, 3, 3, 3), np.float64, 5))
    geo = Geometry((1, 1), (1, 1), (1, 1), 1)
    got = triton_conv.conv2d(x_view, w, geo, (8, 7), xp)
    want = conv2d_array(_host(xp.ascontiguousarray(x_view)), _host(w), geo, (8, 7),
                        NUMPY_KERNELS)
    assert not x_view.flags.c_contiguous and _relative_error(got, want) < 1e-12


def test_in_memory_order_keeps_shape_and_values_and_copies_only_when_needed(xp):
    a = xp.asarray(_random((2, 3, 4, 5), np.float64))
    nhwc = triton_conv.in_memory_order(a, (0, 2, 3, 1), xp)
    assert nhwc.shape == a.shape and (_host(nhwc) == _host(a)).all()
    assert tuple(s // 8 for s in nhwc.strides) == (60, 1, 15, 3)
    assert xp.shares_memory(triton_conv.in_memory_order(nhwc, (0, 2, 3, 1), xp), nhwc)
    assert not xp.shares_memory(nhwc, a)


def _memory_order(array):
    """The axes of ``array`` from the largest stride to the smallest (outermost first)."""
    return tuple(sorted(range(array.ndim), key=lambda axis: -array.strides[axis]))


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("channels", [3, 32])
def test_the_kernels_read_the_operands_in_the_layout_asked_for(xp, monkeypatch, channels_last,
                                                             channels):
    """What each kernel is handed: the operands as given, or in CHANNELS_LAST's orders,
    where the reduction axis of every tile load is innermost (the results are the
    reference's either way, tested above; this is what makes the loads 16 bytes wide).
    Three channels take the flat walk in conv2d and conv2d_weight, whose loads are gathers
    in any layout: their operands stay as given."""
    handed = {}

    def recording_launch(op, kernel, grid, tiles):
        def run(*args, **meta):
            handed[op] = [_memory_order(arg.array) for arg in args
                          if isinstance(arg, triton_conv.KernelArg)]
        return run
    monkeypatch.setattr(triton_conv, "launch", recording_launch)
    geo = Geometry((1, 1), (1, 1), (1, 1), 1)
    x, w = xp.zeros((2, channels, 4, 5)), xp.zeros((6, channels, 3, 2))
    dy = xp.zeros((2, 6, 4, 6))
    triton_conv.conv2d(x, w, geo, (4, 6), xp, channels_last=channels_last)
    triton_conv.conv_transpose2d(dy, w, geo, (4, 5), xp, channels_last=channels_last)
    triton_conv.conv2d_weight(x, dy, geo, (3, 2), xp, channels_last=channels_last)
    nchw = (0, 1, 2, 3)
    orders = triton_conv.CHANNELS_LAST
    moved = {op: orders[op] if channels_last and (channels > 3 or op == "conv_transpose2d")
             else (nchw, nchw) for op in orders}
    assert handed == {op: [*moved[op], nchw] for op in orders}
    assert orders["conv2d"] == ((0, 2, 3, 1), (0, 2, 3, 1))            # c innermost in both
    assert orders["conv_transpose2d"] == ((0, 2, 3, 1), (1, 2, 3, 0))  # o innermost in both
    assert orders["conv2d_weight"] == ((0, 2, 3, 1), (0, 2, 3, 1))     # channels innermost


def test_empty_batch_launches_nothing_and_returns_empty_or_zero_results(xp):
    geo = Geometry((1, 1), (1, 1), (1, 1), 1)
    x = xp.zeros((0, 3, 5, 5))
    w = xp.asarray(_random((4, 3, 3, 3), np.float64))
    assert triton_conv.conv2d(x, w, geo, (5, 5), xp).shape == (0, 4, 5, 5)
    assert triton_conv.conv_transpose2d(xp.zeros((0, 4, 5, 5)), w, geo, (5, 5),
                                        xp).shape == (0, 3, 5, 5)
    dw = triton_conv.conv2d_weight(x, xp.zeros((0, 4, 5, 5)), geo, (3, 3), xp)
    assert dw.shape == (4, 3, 3, 3) and not _host(dw).any()


def test_bad_input_is_refused_before_launch(xp):
    geo = Geometry((1, 1), (0, 0), (1, 1), 1)
    w = xp.zeros((2, 3, 1, 1))
    with pytest.raises(TypeError, match=r"conv2d \(triton\): needs float16, float32 or "
                                        r"float64 arrays of one dtype, got \['float64', "
                                        r"'int64'\]"):
        triton_conv.conv2d(xp.zeros((1, 3, 2, 2), dtype=np.int64), w, geo, (2, 2), xp)
    with pytest.raises(TypeError, match=r"one dtype, got \['float32', 'float64'\]"):
        triton_conv.conv2d_weight(xp.zeros((1, 3, 2, 2), dtype=np.float32),
                                  xp.zeros((1, 2, 2, 2)), geo, (1, 1), xp)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), (2 ** 16, 3, 2 ** 8, 2 ** 8),
                                           (0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"more than 2\^31 elements; the kernels index "
                                         r"with int32"):
        triton_conv.conv2d(huge, np.zeros((2, 3, 1, 1)), geo, (2 ** 8, 2 ** 8), np)
    with pytest.raises(ValueError, match=r"out has shape \(1, 2, 2, 3\)"):
        triton_conv.conv2d(xp.zeros((1, 3, 2, 2)), w, geo, (2, 2), xp,
                           out=xp.zeros((1, 2, 2, 3)))


def test_a_tile_shape_that_does_not_fit_the_gpu_is_a_refusal(xp, monkeypatch, unfit_kernel):
    """Triton's OutOfResources (too much shared memory for a tile in this dtype) comes out
    as a ValueError naming the op and the tiles, which autotuning passes over."""
    monkeypatch.setattr(triton_conv, "conv2d_kernel", unfit_kernel)
    tiles = CONV_TILES["triton-128x128"]
    with pytest.raises(ValueError, match=r"conv2d \(triton\): tiles .*'BLOCK_M': 128.* do "
                                         r"not fit this GPU: out of resource: shared memory"):
        triton_conv.conv2d(xp.zeros((1, 3, 2, 2)), xp.zeros((2, 3, 1, 1)),
                           Geometry((1, 1), (0, 0), (1, 1), 1), (2, 2), xp, tiles=tiles)


def test_every_tile_shape_compiles_for_sm90_within_an_h100s_shared_memory():
    """Compiled (not interpreted) for an H100 without a GPU, in float64, the dtype whose
    tiles take the most shared memory: bench/conv_resources.py, one row per kernel."""
    pytest.importorskip("triton.backends.nvidia")
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, str(root / "bench" / "conv_resources.py"),
                             "--dtypes", "float64"], env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "too much shared memory" not in result.stdout, result.stdout
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 5 * len(CONV_TILES)     # conv2d's and conv2d_weight's two walks each
    assert {row[0] for row in rows} == set(CONV_TILES)
    for row in rows:                          # ... smem, mma, cp.async, loop loads
        assert 0 < int(row[-4]) <= 227 * 1024, row


@pytest.mark.parametrize("dtype", [np.float64, np.float16])
def test_weight_gradient_summed_over_split_pixel_ranges_matches_the_reference(xp, dtype):
    """Enough pixels (2 x 24 x 24) that conv2d_weight splits its reduction over several
    programs and adds their partial sums; float16 also casts the float32 sum back."""
    x = _random((2, 3, 24, 24), dtype)
    w = (_random((5, 3, 3, 3), dtype, seed=2) * 0.3).astype(dtype)
    programs = 1                                   # one output tile: O = 5, 27 columns
    assert triton_conv._splits(2 * 24 * 24, programs) > 1
    _check_all_three(xp, x, w, Geometry((1, 1), (1, 1), (1, 1), 1), dtype)
