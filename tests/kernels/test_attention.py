"""Tests for kernels/attention.py: the fused Triton attention (forward, and the three
backward kernels) against the NumPy reference of minigan/ops/attention.py, on partial
tiles of queries and keys, feature sizes that are not powers of two, three dtypes and
drawn shapes; NaN-poisoned outputs; empty inputs; bad input.

Under the interpreter the tiles are 16 x 16 (``BLOCKS``), so that a partial tile costs
a handful of programs."""
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from minigan.backend import implementations
from minigan.kernels import ATTENTION_TILES
from minigan.ops.attention import attention_backward_numpy, attention_numpy
from minigan.testing import Poisoned

triton_attention = pytest.importorskip("minigan.kernels.attention")
BLOCK = 16
BLOCKS = dict(BLOCK_M=BLOCK, BLOCK_N=BLOCK)

# float32 may run on TF32 tensor cores on a GPU (10-bit mantissa); float64 must be exact
# to rounding; float16 rounds P and dS to 11 bits before their products.
TOLERANCE = {np.float64: 1e-12, np.float32: 3e-3, np.float16: 5e-3}


def _host(a):
    return a if isinstance(a, np.ndarray) else a.get()


def _relative_error(got, want, floor=1e-300):
    """||got - want|| / ||want||, or over ``floor`` when that is larger: the size of the
    terms a gradient sums, for one that cancels to (nearly) nothing."""
    got, want = _host(got).astype(np.float64), np.asarray(want, np.float64)
    assert not np.isnan(got).any(), "unwritten (NaN-poisoned) or NaN outputs"
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), floor, 1e-300)


def _gradient_scales(q, k, v, g, scale):
    """The size of the terms of dq, dk and dv: dq_i = scale sum_j P_ij (dP_ij - D_i) k_j
    with dP_ij = g_i . v_j and D_i = sum_j P_ij dP_ij, dk alike with q, dv_j = sum_i P_ij g_i.
    With one key, P = 1 and dP_i1 - D_i is a difference of two roundings of g_i . v_1:
    dq is 0 in exact arithmetic and a rounding error in both implementations."""
    def largest_row(a):
        return np.linalg.norm(a.astype(np.float64), axis=-1).max(initial=0.0)
    g_norm = np.linalg.norm(g.astype(np.float64))
    return (abs(scale) * g_norm * largest_row(v) * largest_row(k),
            abs(scale) * g_norm * largest_row(v) * largest_row(q), g_norm)


def _problem(b, h, nq, nk, d, dv, dtype, seed=0, spread=1.0):
    """q, k, v and an output gradient, standard normal (times ``spread`` for q and k)."""
    rng = np.random.default_rng(seed)
    q = (spread * rng.standard_normal((b, h, nq, d))).astype(dtype)
    k = (spread * rng.standard_normal((b, h, nk, d))).astype(dtype)
    v = rng.standard_normal((b, h, nk, dv)).astype(dtype)
    g = rng.standard_normal((b, h, nq, dv)).astype(dtype)
    return q, k, v, g


def _launch(xp, q, k, v, g, scale, blocks=BLOCKS):
    """out, lse, dq, dk, dv from the kernels, each output poisoned with NaN before its
    launch (an element that no program writes stays NaN), and so is the scratch the
    launchers allocate (delta, which the dQ kernel writes for the dK/dV kernel)."""
    dtype = q.dtype.type
    acc = np.float64 if dtype is np.float64 else np.float32
    qd, kd, vd, gd = (xp.asarray(a) for a in (q, k, v, g))
    out = xp.full(g.shape, np.nan, dtype=dtype)
    lse = xp.full(q.shape[:3], np.nan, dtype=acc)
    triton_attention.attention(qd, kd, vd, scale, Poisoned(xp), out=out, lse=lse,
                               blocks=blocks)
    grads = [xp.full(a.shape, np.nan, dtype=dtype) for a in (q, k, v)]
    triton_attention.attention_backward(qd, kd, vd, out, lse, gd, scale, Poisoned(xp),
                                        *grads, blocks=blocks)
    return [_host(a) for a in (out, lse, *grads)]


def _check_forward_and_backward(xp, q, k, v, g, scale, blocks=BLOCKS):
    """The three kernels (forward, dQ, dK/dV) against the float64 reference, on the same
    rounded inputs."""
    out, lse, *grads = _launch(xp, q, k, v, g, scale, blocks)
    tolerance = TOLERANCE[q.dtype.type]
    q64, k64, v64, g64 = (a.astype(np.float64) for a in (q, k, v, g))
    want_out, want_lse = attention_numpy(q64, k64, v64, scale)
    assert _relative_error(out, want_out) < tolerance, "out"
    assert _relative_error(lse, want_lse) < tolerance, "lse"
    # the reference backward from the kernel's own out and lse, as the op would call it
    wants = attention_backward_numpy(q64, k64, v64, out.astype(np.float64),
                                     lse.astype(np.float64), g64, scale)
    for name, got, want, floor in zip(("dq", "dk", "dv"), grads, wants,
                                      _gradient_scales(q, k, v, g, scale)):
        assert _relative_error(got, want, floor) < tolerance, name


@pytest.mark.parametrize("nq", [BLOCK - 1, BLOCK, BLOCK + 1])
@pytest.mark.parametrize("nk", [BLOCK - 1, BLOCK, BLOCK + 1])
@pytest.mark.parametrize("scale", [0.5, -0.5, 0.0])
def test_partial_tiles_of_queries_and_keys(xp, nq, nk, scale):
    """Full and partial tiles, with a scale of each sign (the forward takes the maximum of
    the raw scores, or their minimum, or scales first: SCALE_SIGN)."""
    _check_forward_and_backward(xp, *_problem(1, 2, nq, nk, 4, 3, np.float64), scale)


@pytest.mark.parametrize("name", sorted(ATTENTION_TILES))
def test_every_registered_tile_shape_matches_the_reference_on_partial_tiles(xp, name):
    """Each tile shape registered for autotuning (None: ``config``'s choice), with one
    query more than its BLOCK_M and one key more than its BLOCK_N."""
    blocks = ATTENTION_TILES[name]
    rows, cols = (blocks["BLOCK_M"], blocks["BLOCK_N"]) if blocks else (64, 64)
    _check_forward_and_backward(xp, *_problem(1, 1, rows + 1, cols + 1, 5, 3, np.float64),
                                0.5, blocks)


def test_each_attention_tile_shape_is_a_registered_implementation():
    for op in ("attention", "attention_backward"):
        assert set(ATTENTION_TILES) <= set(implementations(op))


def test_a_tile_shape_that_does_not_fit_the_gpu_is_a_refusal(xp, monkeypatch, unfit_kernel):
    monkeypatch.setattr(triton_attention, "attention_forward_kernel", unfit_kernel)
    with pytest.raises(ValueError, match=r"attention \(triton\): tiles .*'BLOCK_M': 128.* "
                                         r"do not fit this GPU: out of resource"):
        triton_attention.attention(*(xp.zeros((1, 1, 4, 2)) for _ in range(3)), 1.0, xp,
                                   blocks=ATTENTION_TILES["triton-128x64"])


def test_default_tiles_compile_for_sm90_within_an_h100s_shared_memory():
    """Compiled (not interpreted) for an H100 without a GPU: bench/attention_resources.py
    with the default tiles. ``config`` keeps a streamed tile of k or v within 32 KB, so
    square heads take the most shared memory (both streamed tiles at the bound): 128 and
    256 wide in the three dtypes, each kernel that streams them."""
    pytest.importorskip("triton.backends.nvidia")
    root = pathlib.Path(__file__).resolve().parents[2]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, str(root / "bench" / "attention_resources.py"),
                             "--tiles", "triton", "--kernels", "forward", "dkdv", "dq",
                             "--widths", "128x128", "256x256"],
                            env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "too much shared memory" not in result.stdout, result.stdout
    rows = [line.split() for line in result.stdout.splitlines()[1:] if line.strip()]
    assert len(rows) == 3 * 2 * 3                     # dtypes x widths x kernels
    assert {(row[1], row[2], row[4]) for row in rows} == {
        (dtype, width, kernel) for dtype in ("float16", "float32", "float64")
        for width in ("128", "256") for kernel in ("forward", "dkdv", "dq")}
    for row in rows:                          # ... smem, mma, cp.async, loop loads
        assert 0 < int(row[-4]) <= 227 * 1024, row


@pytest.mark.parametrize("d, dv", [(1, 1), (5, 7), (17, 20), (16, 33)])
def test_feature_sizes_that_are_not_powers_of_two(xp, d, dv):
    _check_forward_and_backward(xp, *_problem(2, 1, 9, 20, d, dv, np.float64, seed=1),
                                d ** -0.5)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
def test_dtypes(xp, dtype):
    _check_forward_and_backward(xp, *_problem(1, 2, 20, 35, 8, 12, dtype, seed=2), 8 ** -0.5)


def test_default_tiles_with_sagan_head_sizes(xp):
    """No ``blocks``: the launcher's own configuration (64 x 64 tiles; D = C/8, Dv = C/2
    for C = 64), with a partial tile of each."""
    _check_forward_and_backward(xp, *_problem(1, 1, 70, 65, 8, 32, np.float64, seed=3),
                                8 ** -0.5, blocks=None)


def test_wider_rows_take_fewer_of_them_per_tile(xp):
    """A streamed tile stays within 32 KB: 64 rows of 32 float32 (SAGAN, C = 64), 32 of
    256 float32, 16 of 256 float64; the last one run through the launcher's own
    configuration."""
    assert triton_attention.config(8, 32, 4)["BLOCK_N"] == 64
    assert triton_attention.config(24, 200, 4)["BLOCK_N"] == 32
    config = triton_attention.config(24, 200, 8)
    assert (config["BLOCK_M"], config["BLOCK_D"], config["BLOCK_DV"]) == (16, 32, 256)
    _check_forward_and_backward(xp, *_problem(1, 1, 33, 40, 24, 200, np.float64, seed=4),
                                24 ** -0.5, blocks=None)


def _huge_logits(all_negative):
    """q, k, v, g in float64 with scale q.k ~ 1e4 in size (scale 2): of both signs, or all
    negative (so that lse ~ -1e4 too)."""
    q, k, v, g = _problem(1, 1, 17, 33, 4, 3, np.float64, seed=5, spread=50.0)
    if all_negative:
        q, k = 50 + np.abs(q) / 5, -50 - np.abs(k) / 5
    return q, k, v, g


@pytest.mark.parametrize("scale", [2.0, -2.0])
@pytest.mark.parametrize("all_negative", [False, True], ids=["mixed", "all negative"])
def test_huge_logits_stay_finite_and_correct(xp, all_negative, scale):
    """Logits far beyond exp's range, in float32 and float64 alike: the online softmax
    subtracts the running maximum first, and a key outside the sequence is masked rather
    than multiplied by zero (for it exp(0 - lse) overflows when lse ~ -1e4). float64
    matches the reference to rounding (the gradients measured against the size of their
    summands); in float32 the (mostly one-hot) softmax gives the
    reference's output, and gradients that are finite (exactly they are rounding-sized:
    one-hot rows have dS = 0). A scale of -2 flips every logit: all positive ones."""
    problem = _huge_logits(all_negative)
    q, k, v, g = problem
    out, lse, *grads = _launch(xp, *problem, scale)
    want_out, want_lse = attention_numpy(q, k, v, scale)
    assert _relative_error(out, want_out) < 1e-12 and _relative_error(lse, want_lse) < 1e-12
    # Each gradient against the size of its summands, not of itself: a logit of 1e4
    # carries an absolute rounding of ~1e-12 into every exponent, and with one-hot rows
    # the true dq is itself rounding (1e-13, from summands of 3e3), so its relative error
    # measures nothing. A wrong term would be off by the summands' size.
    wants = attention_backward_numpy(q, k, v, _host(out), _host(lse), g, scale)
    p = np.exp(scale * q @ k.swapaxes(-1, -2) - want_lse[..., None])        # (.., Nq, Nk)
    dp_size = np.abs(g) @ np.abs(v).swapaxes(-1, -2) + np.abs(g * want_out).sum(-1)[..., None]
    sizes = (abs(scale) * (p * dp_size) @ np.abs(k),
             abs(scale) * (p * dp_size).swapaxes(-1, -2) @ np.abs(q),
             p.swapaxes(-1, -2) @ np.abs(g))
    for name, got, want, size in zip(("dq", "dk", "dv"), grads, wants, sizes):
        error = np.linalg.norm(_host(got) - want)
        assert error <= 1e-14 * np.linalg.norm(size), (name, error, np.linalg.norm(size))
    problem32 = [a.astype(np.float32) for a in problem]
    out, lse, *grads = _launch(xp, *problem32, scale)
    want_out, want_lse = attention_numpy(*(a.astype(np.float64) for a in problem32[:3]), scale)
    assert _relative_error(out, want_out) < 1e-3 and _relative_error(lse, want_lse) < 1e-6
    assert all(np.isfinite(g).all() for g in grads)


@settings(max_examples=6)
@example(nq=1, nk=1, d=1, dv=2, scale=0.01)        # one key: dq is a rounding error of 0
@given(nq=st.integers(1, 40), nk=st.integers(1, 40), d=st.integers(1, 20),
       dv=st.integers(1, 20), scale=st.integers(-200, 200).map(lambda i: i / 100))
def test_drawn_shapes_match_the_reference(xp, nq, nk, d, dv, scale):
    _check_forward_and_backward(xp, *_problem(1, 1, nq, nk, d, dv, np.float64, seed=nq),
                                scale)


def test_non_contiguous_inputs_are_read_through_their_strides(xp, monkeypatch):
    """Views as SAGAN makes them (positions innermost), a Fortran-ordered output gradient
    and, in the backward, q running backwards: the results are the reference's. The views
    reach the kernels as they are; only the backward-running one is copied first."""
    q, k, v, g = _problem(2, 3, 18, 17, 5, 6, np.float64, seed=6)
    views = [xp.asarray(np.ascontiguousarray(a.transpose(0, 1, 3, 2))).transpose(0, 1, 3, 2)
             for a in (q, k, v)]
    assert not views[0].flags.c_contiguous
    handed = []
    launch = triton_attention.launch

    def recording_launch(*args, **kwargs):
        run = launch(*args, **kwargs)

        def recorded(*arguments, **meta):
            handed.append([arg.array for arg in arguments
                           if isinstance(arg, triton_attention.KernelArg)])
            return run(*arguments, **meta)
        return recorded
    monkeypatch.setattr(triton_attention, "launch", recording_launch)
    out, lse = triton_attention.attention(*views, 0.4, xp, blocks=BLOCKS)
    want_out, want_lse = attention_numpy(q, k, v, 0.4)
    assert _relative_error(out, want_out) < 1e-12 and _relative_error(lse, want_lse) < 1e-12
    assert all(got is view for got, view in zip(handed[0], views))

    g_view = xp.asfortranarray(xp.asarray(g))
    q_backwards = xp.asarray(np.ascontiguousarray(q[:, :, ::-1]))[:, :, ::-1]
    assert q_backwards.strides[2] < 0
    grads = triton_attention.attention_backward(q_backwards, *views[1:], out, lse, g_view,
                                                0.4, xp, blocks=BLOCKS)
    for got, want in zip(grads, attention_backward_numpy(q, k, v, _host(out), _host(lse), g,
                                                         0.4)):
        assert _relative_error(got, want) < 1e-12
    dq_kernel_inputs = handed[1]
    assert dq_kernel_inputs[0] is not q_backwards and dq_kernel_inputs[0].strides[2] > 0
    assert dq_kernel_inputs[1] is views[1] and dq_kernel_inputs[4] is g_view


class _NoLaunch:
    """Stands in for a kernel that must not be launched."""

    def __getitem__(self, grid):
        raise AssertionError(f"a kernel was launched on grid {grid}")


@pytest.mark.parametrize("shape", [(0, 2, 5, 3), (2, 2, 0, 3)], ids=["batch 0", "Nq 0"])
def test_empty_queries_launch_nothing(xp, shape, monkeypatch):
    for name in ("attention_forward_kernel", "attention_dq_kernel", "attention_dkdv_kernel"):
        monkeypatch.setattr(triton_attention, name, _NoLaunch())
    b, h, nq, d = shape
    q = xp.zeros(shape)
    k, v = xp.ones((b, h, 4, d)), xp.ones((b, h, 4, 2))
    out, lse = triton_attention.attention(q, k, v, 1.0, xp)
    assert out.shape == (b, h, nq, 2) and lse.shape == (b, h, nq)
    dq, dk, dv = triton_attention.attention_backward(q, k, v, out, lse, out, 1.0, xp)
    assert dq.shape == q.shape and dk.shape == k.shape and dv.shape == v.shape
    assert not _host(dk).any() and not _host(dv).any()


def test_bad_input_is_refused_before_launch(xp):
    q, k, v = xp.zeros((1, 1, 3, 4)), xp.zeros((1, 1, 5, 4)), xp.zeros((1, 1, 5, 2))
    with pytest.raises(TypeError, match=r"attention \(triton\): needs float16, float32 or "
                                        r"float64 arrays of one dtype, got \['float32', "
                                        r"'float64'\]"):
        triton_attention.attention(q.astype(np.float32), k, v, 1.0, xp)
    with pytest.raises(ValueError, match=r"shapes do not fit .* got \(1, 1, 3, 4\), "
                                         r"\(1, 1, 5, 3\), \(1, 1, 5, 2\)"):
        triton_attention.attention(q, xp.zeros((1, 1, 5, 3)), v, 1.0, xp)
    with pytest.raises(ValueError, match=r"needs 4-D \(B, H, N, D\) arrays"):
        triton_attention.attention(q[0], k[0], v[0], 1.0, xp)
    with pytest.raises(ValueError, match=r"needs at least one key"):
        triton_attention.attention(q, k[:, :, :0], v[:, :, :0], 1.0, xp)
    with pytest.raises(ValueError, match=r"D = 4 and Dv = 300 must be at most 256"):
        triton_attention.attention(q, k, xp.zeros((1, 1, 5, 300)), 1.0, xp)
    with pytest.raises(ValueError, match=r"scale 1e-40 is outside the magnitudes "
                                         r"\[2\^-100, 2\^100\]"):
        triton_attention.attention(q, k, v, 1e-40, xp)
    with pytest.raises(ValueError, match=r"out has shape \(1, 1, 3, 3\)"):
        triton_attention.attention(q, k, v, 1.0, xp, out=xp.zeros((1, 1, 3, 3)))
    with pytest.raises(ValueError, match=r"lse must have shape \(1, 1, 3\) and dtype "
                                         r"float64, got \(1, 1, 3\) and float32"):
        triton_attention.attention_backward(q, k, v, xp.zeros((1, 1, 3, 2)),
                                            xp.zeros((1, 1, 3), np.float32),
                                            xp.zeros((1, 1, 3, 2)), 1.0, xp)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), (2 ** 12, 2 ** 8, 2 ** 8, 8),
                                           (0, 0, 0, 0))
    with pytest.raises(ValueError, match=r"more than 2\^31 elements; the kernels index "
                                         r"with int32"):
        triton_attention.attention(huge, huge, huge, 1.0, np)
