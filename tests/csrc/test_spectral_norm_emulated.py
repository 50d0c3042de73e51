"""csrc/cuda/spectral_norm.cuh, run on CPU threads by csrc/cuda/emulator.h, against the
NumPy reference of minigan/ops/spectral.py: one launch per step, column slabs of 32
(partial slabs included), the last block finishing each step."""
import ctypes

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan.ops.spectral import power_iteration_numpy
from minigan.testing import assert_close


@pytest.fixture(scope="module")
def power_iteration(emulated, kernel_call):
    library = emulated("spectral_norm")
    pointer, call = kernel_call
    library.emulated_power_iteration_workspace.restype = ctypes.c_int64
    library.emulated_power_iteration_workspace.argtypes = [ctypes.c_int64, ctypes.c_int64]

    def run(weight, u, n_iterations=1, eps=1e-12):
        m, n = weight.shape
        dtype = weight.dtype
        u_out = np.full(m, np.nan, dtype)
        v = np.full(n, np.nan, dtype)
        sigma = np.full((), np.nan, dtype)
        workspace = np.full(library.emulated_power_iteration_workspace(m, n), np.nan, dtype)
        counter = np.zeros(1, np.int32)
        call(library.emulated_power_iteration, ctypes.c_int(dtype == np.float64),
             pointer(weight), pointer(u), pointer(u_out), pointer(v), pointer(sigma),
             pointer(workspace), pointer(counter), ctypes.c_int64(m), ctypes.c_int64(n),
             ctypes.c_int64(n_iterations), ctypes.c_double(eps))
        assert counter[0] == 0, "the last block must reset the arrival counter"
        return u_out, v, sigma

    return run


def _inputs(m, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)).astype(dtype), rng.standard_normal(m).astype(dtype)


@pytest.mark.parametrize("shape", [(1, 1), (5, 31), (7, 32), (9, 33), (64, 65), (3, 100),
                                   (300, 40)])
@pytest.mark.parametrize("n_iterations", [1, 3])
def test_matches_the_reference_in_float64(power_iteration, shape, n_iterations):
    weight, u = _inputs(*shape, np.float64)
    got = power_iteration(weight, u, n_iterations)
    want = power_iteration_numpy(weight, u, n_iterations, 1e-12)
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-12, atol=1e-14)


def test_matches_the_reference_in_float32(power_iteration):
    weight, u = _inputs(70, 129, np.float32, seed=1)
    got = power_iteration(weight, u, 2)
    want = power_iteration_numpy(weight.astype(np.float64), u.astype(np.float64), 2, 1e-12)
    for g, w in zip(got, want):
        assert g.dtype == np.float32
        assert_close(g.astype(np.float64), w, rtol=2e-5, atol=1e-6)


def test_sigma_converges_to_the_largest_singular_value(power_iteration):
    rng = np.random.default_rng(2)
    left, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    right, _ = np.linalg.qr(rng.standard_normal((70, 40)))
    singular = np.concatenate([[5.0], np.linspace(3.0, 1.0, 39)])       # gap 5 : 3
    weight = np.ascontiguousarray((left * singular) @ right.T)
    _, _, sigma = power_iteration(weight, rng.standard_normal(40), 60)
    assert_close(sigma, np.linalg.svd(weight, compute_uv=False)[0], rtol=1e-10, atol=0)


def test_u_and_v_are_unit_vectors_with_sigma_their_bilinear_form(power_iteration):
    weight, u = _inputs(45, 77, np.float64, seed=3)
    u_out, v, sigma = power_iteration(weight, u, 2)
    assert_close(np.linalg.norm(u_out), 1.0, rtol=1e-13, atol=0)
    assert_close(np.linalg.norm(v), 1.0, rtol=1e-13, atol=0)
    assert_close(sigma, u_out @ weight @ v, rtol=1e-12, atol=0)


def test_a_zero_weight_gives_zeros_through_eps_not_nan(power_iteration):
    u_out, v, sigma = power_iteration(np.zeros((6, 40)), np.ones(6), 2)
    assert not np.isnan(u_out).any() and not np.isnan(v).any()
    assert np.all(u_out == 0) and np.all(v == 0) and sigma == 0


def test_the_input_u_is_left_unchanged(power_iteration):
    weight, u = _inputs(10, 50, np.float64, seed=4)
    before = u.copy()
    power_iteration(weight, u, 3)
    np.testing.assert_array_equal(u, before)


def test_results_are_the_same_bit_for_bit_on_every_run(power_iteration):
    weight, u = _inputs(33, 97, np.float32, seed=5)
    first = power_iteration(weight, u, 2)
    second = power_iteration(weight, u, 2)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


@settings(max_examples=8, deadline=None)
@given(m=st.integers(1, 70), n=st.integers(1, 140), n_iterations=st.integers(1, 3))
def test_drawn_shapes_match_the_reference(power_iteration, m, n, n_iterations):
    weight, u = _inputs(m, n, np.float64, seed=m * 1000 + n)
    got = power_iteration(weight, u, n_iterations)
    want = power_iteration_numpy(weight, u, n_iterations, 1e-12)
    for g, w in zip(got, want):
        assert_close(g, w, rtol=1e-11, atol=1e-13)
