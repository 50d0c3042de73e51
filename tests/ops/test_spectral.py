"""Tests for minigan/ops/spectral.py: the power iteration against a float64 oracle written
out one sum at a time, convergence to the top singular value of np.linalg.svd, the
monotone growth of sigma, constants out and inputs untouched, the fixed-u, v gradient of
spectral_sigma (and gradcheck / gradgradcheck of W / sigma), and bad input."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.backend import implementation, use_implementation
from minigan.ops.spectral import spectral_norm_power_iteration, spectral_sigma
from minigan.testing import assert_close, gradcheck, gradgradcheck

OP = "spectral_norm_power_iteration"
TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6),
             np.float16: dict(rtol=3e-3, atol=1e-3)}


def _oracle(w, u, steps, eps=1e-12):
    """The iteration in float64 scalars, one sum at a time; sigma = u^T W v recomputed as a
    double sum with the final u and v (the implementation reuses its last W v)."""
    w = np.asarray(w, np.float64)
    m, n = w.shape
    u = [float(x) for x in u]
    for _ in range(steps):
        t = [math.fsum(w[i, j] * u[i] for i in range(m)) for j in range(n)]
        scale = max(math.sqrt(math.fsum(x * x for x in t)), eps)
        v = [x / scale for x in t]
        wv = [math.fsum(w[i, j] * v[j] for j in range(n)) for i in range(m)]
        scale = max(math.sqrt(math.fsum(x * x for x in wv)), eps)
        u = [x / scale for x in wv]
    sigma = math.fsum(u[i] * w[i, j] * v[j] for i in range(m) for j in range(n))
    return np.array(u), np.array(v), np.array(sigma)


def _random(shape, seed, dtype=np.float64):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def _run(weight, u, steps, eps=1e-12, impl="numpy"):
    with use_implementation(OP, impl):
        return spectral_norm_power_iteration(mg.tensor(weight), mg.tensor(u), steps, eps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("shape, steps", [
    ((4, 6), 1), ((6, 4), 3), ((1, 5), 2), ((5, 1), 2), ((1, 1), 1),
    ((8, 3, 3, 3), 2),                       # conv: (C_out, C_in, kh, kw) -> (8, 27)
    ((3, 2, 4), 4),
])
def test_iteration_matches_the_step_by_step_oracle(shape, steps, dtype):
    w = _random(shape, 0, dtype)
    u0 = _random(shape[0], 1, dtype)
    u, v, sigma = _run(w, u0, steps)
    want = _oracle(w.reshape(shape[0], -1), u0, steps)
    for name, got, expected in zip(("u", "v", "sigma"), (u, v, sigma), want):
        assert got.dtype == dtype and got.shape == expected.shape, name
        assert_close(got, expected, **TOLERANCE[dtype], msg=f"{name}: ")


@pytest.mark.parametrize("shape, seed", [((6, 9), 0), ((9, 6), 1), ((16, 3, 3, 3), 2),
                                         ((32, 32), 3)])
def test_sigma_converges_to_the_largest_singular_value(shape, seed):
    w = _random(shape, seed)
    u, v, sigma = _run(w, _random(shape[0], seed + 10), 500)
    left, values, right_t = np.linalg.svd(w.reshape(shape[0], -1))
    assert_close(sigma, values[0], rtol=1e-10, atol=0)
    # u, v: the top singular vectors, up to one common sign
    sign = np.sign(u.numpy() @ left[:, 0])
    assert_close(u, sign * left[:, 0], rtol=0, atol=1e-6)
    assert_close(v, sign * right_t[0], rtol=0, atol=1e-6)


@settings(max_examples=10)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(0, 2 ** 32 - 1))
def test_sigma_grows_with_each_step_up_to_the_top_singular_value(m, n, seed):
    """||W v_k|| <= ||W^T u_k|| <= ||W v_(k+1)|| (Cauchy-Schwarz on W^T W and W W^T), so
    sigma never decreases and never passes sigma_max; u and v are unit vectors."""
    w, u0 = _random((m, n), seed), _random(m, seed + 1)
    sigmas = [float(_run(w, u0, steps)[2]) for steps in range(1, 5)]
    top = np.linalg.svd(w, compute_uv=False)[0]
    assert all(a <= b * (1 + 1e-12) for a, b in zip(sigmas, sigmas[1:])), sigmas
    assert sigmas[-1] <= top * (1 + 1e-12)
    u, v, sigma = _run(w, u0, 2)
    assert_close(u.norm(), 1.0)
    assert_close(v.norm(), 1.0)
    want = _oracle(w, u0, 2)
    for got, expected in zip((u, v, sigma), want):
        assert_close(got, expected, **TOLERANCE[np.float64])


def test_results_are_new_constants_and_the_inputs_are_unchanged():
    weight = mg.tensor(_random((5, 2, 3), 0), requires_grad=True)
    u0 = mg.tensor(_random(5, 1), requires_grad=True)
    weight_before, u_before = weight.data.copy(), u0.data.copy()
    u, v, sigma = spectral_norm_power_iteration(weight, u0, 3)
    for t in (u, v, sigma):
        assert not t.requires_grad and t.grad_fn is None
        assert not np.shares_memory(t.data, weight.data) and not np.shares_memory(t.data,
                                                                                  u0.data)
    assert (u.shape, v.shape, sigma.shape) == ((5,), (6,), ())
    np.testing.assert_array_equal(weight.data, weight_before)
    np.testing.assert_array_equal(u0.data, u_before)


def test_zero_weight_gives_zero_vectors_through_the_eps_floor():
    u, v, sigma = _run(np.zeros((3, 4)), np.ones(3), 2)
    assert not u.numpy().any() and not v.numpy().any() and float(sigma) == 0.0


def test_norms_below_eps_are_divided_by_eps():
    w, u0 = _random((3, 4), 0) * 1e-14, _random(3, 1)
    u, v, sigma = _run(w, u0, 2, eps=1e-12)
    for got, expected in zip((u, v, sigma), _oracle(w, u0, 2, eps=1e-12)):
        assert_close(got, expected, rtol=1e-12, atol=0)
    assert float(v.norm()) < 0.5                         # not a unit vector: the floor acted


def test_non_contiguous_weight_is_read_as_its_values():
    base = _random((6, 5), 0)
    u0 = _random(5, 1)
    got = _run(base.T, u0, 2)                            # a transposed view, (5, 6)
    for g, expected in zip(got, _oracle(np.ascontiguousarray(base.T), u0, 2)):
        assert_close(g, expected, **TOLERANCE[np.float64])


def test_cpu_dispatch_uses_the_numpy_reference():
    assert implementation(OP, "cpu").name == "numpy"


def test_matches_torch_spectral_norm_power_iteration():
    torch = pytest.importorskip("torch")
    w, u0 = _random((4, 3, 3, 3), 0), _random(4, 1)
    conv = torch.nn.Conv2d(3, 4, 3, bias=False).double()
    with torch.no_grad():
        conv.weight.copy_(torch.from_numpy(w))
    conv = torch.nn.utils.spectral_norm(conv, n_power_iterations=3)
    conv.weight_u.copy_(torch.from_numpy(u0))
    conv(torch.zeros(1, 3, 3, 3, dtype=torch.float64))   # training mode: iterates, sets weight
    u, v, sigma = spectral_norm_power_iteration(mg.tensor(w), mg.tensor(u0), 3)
    assert_close(u, conv.weight_u.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(v, conv.weight_v.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(mg.tensor(w) / sigma, conv.weight.detach().numpy(), rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------------------------------
# spectral_sigma: u^T W v with u and v held fixed
# --------------------------------------------------------------------------------------

def test_spectral_sigma_gradient_is_u_v_transpose():
    weight = mg.tensor(_random((4, 2, 3, 3), 0), requires_grad=True)
    u = mg.tensor(_random(4, 1), requires_grad=True)
    v = mg.tensor(_random(18, 2), requires_grad=True)
    sigma = spectral_sigma(weight, u, v)
    assert_close(sigma, u.data @ weight.data.reshape(4, 18) @ v.data)
    sigma.backward()
    assert_close(weight.grad, np.outer(u.data, v.data).reshape(4, 2, 3, 3))
    assert u.grad is None and v.grad is None                  # held fixed


@pytest.mark.parametrize("shape", [(4, 5), (3, 2, 2, 2)])
def test_normalized_weight_gradcheck_and_gradgradcheck(shape):
    w = _random(shape, 0)
    u, v, _ = _run(w, _random(shape[0], 1), 2)

    def normalized(weight):
        return weight / spectral_sigma(weight, u, v)

    weight = mg.tensor(w, requires_grad=True)
    assert gradcheck(normalized, [weight])
    assert gradgradcheck(normalized, [weight])


# --------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("weight, u, kwargs, error, message", [
    (np.zeros((4, 3)), np.zeros(5), {}, ValueError,
     r"spectral_norm_power_iteration: u must have shape \(4,\), got \(5,\) \(weight of "
     r"shape \(4, 3\), seen as a 4 x 3 matrix\)"),
    (np.zeros((4, 3)), np.zeros((4, 1)), {}, ValueError, r"u must have shape \(4,\)"),
    (np.zeros((4, 3)), np.zeros(4, np.float32), {}, TypeError,
     r"u is float32 but weight is float64"),
    (np.zeros(4), np.zeros(4), {}, ValueError,
     r"weight must have at least 2 dimensions .* got shape \(4,\)"),
    (np.zeros((4, 3), np.int64), np.zeros(4, np.int64), {}, TypeError,
     r"weight must be floating-point, got int64"),
    (np.zeros((0, 3)), np.zeros(0), {}, ValueError, r"weight has no elements \(shape \(0, 3\)"),
    (np.zeros((4, 3)), np.zeros(4), dict(n_iterations=0), ValueError,
     r"n_iterations must be an int >= 1, got 0 \(for none, keep the stored u and v and call "
     r"spectral_sigma\)"),
    (np.zeros((4, 3)), np.zeros(4), dict(n_iterations=1.5), ValueError, r"got 1.5"),
    (np.zeros((4, 3)), np.zeros(4), dict(n_iterations=True), ValueError, r"got True"),
    (np.zeros((4, 3)), np.zeros(4), dict(eps=0.0), ValueError,
     r"eps must be a positive finite number, got 0.0"),
    (np.zeros((4, 3)), np.zeros(4), dict(eps=math.nan), ValueError, r"got nan"),
])
def test_bad_input_is_refused_with_the_op_and_shapes_named(weight, u, kwargs, error, message):
    with pytest.raises(error, match=message):
        spectral_norm_power_iteration(mg.tensor(weight), mg.tensor(u), **kwargs)


def test_bad_spectral_sigma_input_names_the_function():
    weight, u = mg.tensor(np.zeros((4, 3))), mg.tensor(np.zeros(4))
    with pytest.raises(ValueError, match=r"spectral_sigma: v must have shape \(3,\), got "
                                         r"\(4,\)"):
        spectral_sigma(weight, u, mg.tensor(np.zeros(4)))
    with pytest.raises(TypeError, match=r"spectral_sigma: u must be a Tensor, got ndarray"):
        spectral_sigma(weight, np.zeros(4), mg.tensor(np.zeros(3)))
