"""csrc/cuda/attention.cuh, run on CPU threads by csrc/cuda/emulator.h, against the NumPy
references of minigan/ops/attention.py: the forward (out, lse) and the two backward
kernels (dQ with delta, then dK/dV), on tiles of 16, 32 and 64 rows with partial tiles, odd
feature sizes, huge logits, empty sizes and the launcher's choice of tile."""
import ctypes

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan.ops.attention import attention_backward_numpy, attention_numpy
from minigan.testing import assert_close

DEFAULT_SHARED_LIMIT = 227 * 1024       # emulator.h's default, an H100's opt-in maximum
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5}


@pytest.fixture(scope="module")
def library(emulated):
    lib = emulated("attention")
    lib.emulated_attention_backward_workspace.restype = ctypes.c_int64
    lib.emulated_set_shared_limit.argtypes = [ctypes.c_size_t]
    return lib


@pytest.fixture
def shared_limit(library):
    """Set the emulated shared memory per block for one test; restored afterwards."""
    yield library.emulated_set_shared_limit
    library.emulated_set_shared_limit(DEFAULT_SHARED_LIMIT)


@pytest.fixture(scope="module")
def kernels(library, kernel_call):
    pointer, call = kernel_call

    def sizes_of(q, v):
        b, h, nq, d = q.shape
        nk, dv = v.shape[2:]
        return np.array([b, h, nq, nk, d, dv], np.int64)

    def forward(q, k, v, scale):
        """(out, lse) of the forward kernel, both pre-filled with NaN."""
        b, h, nq, _ = q.shape
        out = np.full((b, h, nq, v.shape[3]), np.nan, q.dtype)
        lse = np.full((b, h, nq), np.nan, q.dtype)
        call(library.emulated_attention_forward, ctypes.c_int(q.dtype == np.float64),
             pointer(q), pointer(k), pointer(v), pointer(out), pointer(lse),
             pointer(sizes_of(q, v)), ctypes.c_double(scale))
        return out, lse

    def backward(q, k, v, out, lse, grad_out, scale):
        """(dq, dk, dv) of the two backward kernels, pre-filled with NaN, as is the
        delta workspace."""
        sizes = sizes_of(q, v)
        delta = np.full(library.emulated_attention_backward_workspace(pointer(sizes)), np.nan,
                        q.dtype)
        grads = tuple(np.full(a.shape, np.nan, q.dtype) for a in (q, k, v))
        call(library.emulated_attention_backward, ctypes.c_int(q.dtype == np.float64),
             pointer(q), pointer(k), pointer(v), pointer(out), pointer(lse),
             pointer(grad_out), *(pointer(g) for g in grads), pointer(delta),
             pointer(sizes), ctypes.c_double(scale))
        return grads

    def shared_bytes(dtype, shape, block):
        """{kernel: bytes} of shared memory with tiles of `block` rows."""
        result = np.zeros(3, np.int64)
        library.emulated_attention_shared_bytes(ctypes.c_int(dtype == np.float64),
                                                pointer(np.array(shape, np.int64)),
                                                ctypes.c_int(block), pointer(result))
        return dict(zip(("forward", "dkdv", "dq"), result.tolist()))

    def tiles(dtype, shape):
        """{kernel: tile} that the launchers pick under the current shared limit."""
        result = np.zeros(3, np.int32)
        library.emulated_attention_tiles(ctypes.c_int(dtype == np.float64),
                                         pointer(np.array(shape, np.int64)), pointer(result))
        return dict(zip(("forward", "dkdv", "dq"), result.tolist()))

    return dict(forward=forward, backward=backward, shared_bytes=shared_bytes, tiles=tiles)


def _inputs(shape, dtype, seed=0):
    """q, k, v and an output gradient for shape (B, H, Nq, Nk, D, Dv)."""
    b, h, nq, nk, d, dv = shape
    rng = np.random.default_rng(seed)
    arrays = (rng.standard_normal(s) for s in ((b, h, nq, d), (b, h, nk, d), (b, h, nk, dv),
                                               (b, h, nq, dv)))
    return tuple(a.astype(dtype) for a in arrays)


def _check_against_reference(kernels, q, k, v, grad_out, scale):
    """The forward against attention_numpy, then the backward, fed the kernel's own out
    and lse, against attention_backward_numpy on those same arrays; all in float64."""
    dtype = q.dtype.type
    tol = TOLERANCE[dtype]
    wide = [a.astype(np.float64) for a in (q, k, v, grad_out)]

    out, lse = kernels["forward"](q, k, v, scale)
    want_out, want_lse = attention_numpy(*wide[:3], scale)
    assert out.dtype == lse.dtype == dtype
    assert np.isfinite(out).all() and np.isfinite(lse).all()
    assert_close(out, want_out, rtol=tol, atol=tol * np.abs(want_out).max())
    assert_close(lse, want_lse, rtol=tol, atol=tol)

    grads = kernels["backward"](q, k, v, out, lse, grad_out, scale)
    want = attention_backward_numpy(*wide[:3], out.astype(np.float64), lse.astype(np.float64),
                                    wide[3], scale)
    for name, got, expected in zip(("dq", "dk", "dv"), grads, want):
        assert got.dtype == dtype
        assert np.isfinite(got).all(), f"{name} has unwritten (NaN) elements"
        assert_close(got, expected, rtol=tol, atol=tol * max(np.abs(expected).max(), 1.0),
                     msg=f"{name}: ")


def _limit_for_tile(kernels, dtype, shape, block):
    """The shared limit under which every kernel's largest fitting tile is `block`."""
    needs = kernels["shared_bytes"](dtype, shape, block)
    limit = max(needs.values())
    if block < 64:
        assert min(kernels["shared_bytes"](dtype, shape, 2 * block).values()) > limit
    return limit


# (B, H, Nq, Nk, D, Dv) around tiles of 16 and 32 rows: one short, exact and one long,
# with Nq != Nk, odd and different feature sizes.
AROUND_16 = [(1, 2, 15, 17, 3, 5), (2, 1, 16, 16, 8, 32), (1, 2, 17, 15, 5, 3),
             (1, 1, 17, 33, 7, 1)]
AROUND_32 = [(1, 2, 31, 33, 8, 32), (1, 1, 32, 32, 3, 5), (2, 1, 33, 31, 5, 9)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", AROUND_16, ids=str)
def test_matches_reference_on_partial_tiles_of_16(kernels, shared_limit, dtype, shape):
    shared_limit(_limit_for_tile(kernels, dtype, shape, 16))
    assert kernels["tiles"](dtype, shape) == dict(forward=16, dkdv=16, dq=16)
    q, k, v, grad_out = _inputs(shape, dtype)
    _check_against_reference(kernels, q, k, v, grad_out, scale=1 / np.sqrt(shape[4]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", AROUND_32, ids=str)
def test_matches_reference_on_partial_tiles_of_32(kernels, shared_limit, dtype, shape):
    shared_limit(_limit_for_tile(kernels, dtype, shape, 32))
    assert kernels["tiles"](dtype, shape) == dict(forward=32, dkdv=32, dq=32)
    q, k, v, grad_out = _inputs(shape, dtype, seed=1)
    _check_against_reference(kernels, q, k, v, grad_out, scale=0.7)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_reference_with_the_default_tile_of_64(kernels, dtype):
    shape = (1, 1, 65, 70, 8, 32)
    assert kernels["tiles"](dtype, shape) == dict(forward=64, dkdv=64, dq=64)
    q, k, v, grad_out = _inputs(shape, dtype, seed=2)
    _check_against_reference(kernels, q, k, v, grad_out, scale=1 / np.sqrt(8))


def test_launchers_pick_the_largest_tile_that_fits(kernels, shared_limit):
    # The widest heads (D = Dv = 256) fit 32-row tiles in float and 16 in double.
    wide = (1, 1, 4, 4, 256, 256)
    assert kernels["tiles"](np.float32, wide) == dict(forward=32, dkdv=32, dq=32)
    assert kernels["tiles"](np.float64, wide) == dict(forward=16, dkdv=16, dq=16)
    # SAGAN's D = C/8, Dv = C/2 with C = 256 fits the default 64.
    assert kernels["tiles"](np.float32, (1, 1, 4, 4, 32, 128)) == dict(forward=64, dkdv=64,
                                                                       dq=64)
    shape = (1, 1, 4, 4, 8, 8)
    needs = kernels["shared_bytes"](np.float32, shape, 32)
    shared_limit(needs["forward"])              # forward fits 32, the backward's need more
    assert kernels["tiles"](np.float32, shape) == dict(forward=32, dkdv=16, dq=16)


def test_wide_heads_in_double_match_reference_on_16_row_tiles(kernels):
    shape = (1, 1, 3, 18, 256, 256)
    assert kernels["tiles"](np.float64, shape) == dict(forward=16, dkdv=16, dq=16)
    q, k, v, grad_out = _inputs(shape, np.float64, seed=3)
    _check_against_reference(kernels, q, k, v, grad_out, scale=1 / 16)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_huge_logits_stay_finite_and_correct(kernels, shared_limit, dtype):
    """Scores near -1e4 (whole rows negative) and +1e4, differing by a few units, so the
    softmax is not one-hot. Integer-valued inputs with scale 1 make every score exact in
    float32 too: any overflow or lost rescaling would show, not rounding."""
    b, h, nq, nk = 1, 2, 20, 37
    rng = np.random.default_rng(4)
    q = rng.integers(-1, 2, (b, h, nq, 4)).astype(dtype)
    k = rng.integers(-2, 3, (b, h, nk, 4)).astype(dtype)
    q[..., 0] = np.where(np.arange(nq) % 3 == 0, 100.0, -100.0)     # rows of +-1e4
    k[..., 0] = 100.0
    v = rng.standard_normal((b, h, nk, 3)).astype(dtype)
    grad_out = rng.standard_normal((b, h, nq, 3)).astype(dtype)
    shared_limit(_limit_for_tile(kernels, dtype, (b, h, nq, nk, 4, 3), 16))
    _, lse = kernels["forward"](q, k, v, 1.0)
    assert (np.abs(lse) > 9000).all()
    _check_against_reference(kernels, q, k, v, grad_out, scale=1.0)


def test_sagan_like_shape_matches_reference(kernels):
    """SAGAN's self-attention on an 8 x 12 feature map of C = 32 channels: N = 96 positions,
    D = C/8 = 4, Dv = C/2 = 16, no scaling."""
    shape = (2, 1, 96, 96, 4, 16)
    q, k, v, grad_out = _inputs(shape, np.float32, seed=5)
    _check_against_reference(kernels, q, k, v, grad_out, scale=1.0)


def test_no_queries_give_zero_key_and_value_gradients(kernels):
    shape = (2, 1, 0, 19, 3, 5)
    q, k, v, grad_out = _inputs(shape, np.float64, seed=6)
    out, lse = kernels["forward"](q, k, v, 0.5)
    assert out.shape == (2, 1, 0, 5) and lse.shape == (2, 1, 0)
    dq, dk, dv = kernels["backward"](q, k, v, out, lse, grad_out, 0.5)
    assert dq.shape == (2, 1, 0, 3)
    assert (dk == 0).all() and (dv == 0).all()


def test_no_batch_or_heads_launch_nothing(kernels, shared_limit):
    shared_limit(0)                             # any launch would raise
    shape = (0, 3, 5, 6, 3, 2)
    q, k, v, grad_out = _inputs(shape, np.float32)
    out, lse = kernels["forward"](q, k, v, 0.5)
    grads = kernels["backward"](q, k, v, out, lse, grad_out, 0.5)
    assert out.size == lse.size == sum(g.size for g in grads) == 0


def test_launchers_raise_naming_the_kernel_when_no_tile_fits(kernels, shared_limit):
    shape = (1, 1, 5, 6, 3, 2)
    q, k, v, grad_out = _inputs(shape, np.float64)
    out, lse = kernels["forward"](q, k, v, 0.5)
    shared_limit(1024)
    assert kernels["tiles"](np.float64, shape) == dict(forward=0, dkdv=0, dq=0)
    with pytest.raises(RuntimeError, match="attention_forward_kernel.*1024 bytes"):
        kernels["forward"](q, k, v, 0.5)
    with pytest.raises(RuntimeError, match="attention_dkdv_kernel.*1024 bytes"):
        kernels["backward"](q, k, v, out, lse, grad_out, 0.5)


def test_backward_workspace_is_one_accumulator_per_query_row(library, kernel_call):
    pointer, _ = kernel_call
    sizes = np.array([3, 2, 7, 5, 4, 6], np.int64)
    assert library.emulated_attention_backward_workspace(pointer(sizes)) == 3 * 2 * 7


@settings(max_examples=6, deadline=None)
@given(b=st.integers(1, 2), h=st.integers(1, 2), nq=st.integers(1, 40),
       nk=st.integers(1, 40), d=st.integers(1, 12), dv=st.integers(1, 12),
       scale=st.floats(0.05, 2.0), seed=st.integers(0, 2 ** 16))
def test_matches_reference_on_drawn_shapes(kernels, b, h, nq, nk, d, dv, scale, seed):
    q, k, v, grad_out = _inputs((b, h, nq, nk, d, dv), np.float64, seed)
    _check_against_reference(kernels, q, k, v, grad_out, scale)
