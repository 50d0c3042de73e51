"""Tests for minigan/ops/activation.py."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.backend import run
from minigan.testing import assert_close, check_op, gradcheck, gradgradcheck
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)


def _erf(x):
    return np.vectorize(math.erf)(x)


def _softplus(x, beta=1.0):
    return np.logaddexp(0, beta * x) / beta


def _softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)


KINKED = {  # name: (op, float64 reference, kinks to keep inputs away from)
    "relu": (F.relu, lambda x: np.maximum(x, 0), [0.0]),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x),
                   [0.0]),
    "elu": (lambda x: F.elu(x, 1.5), lambda x: np.where(x > 0, x, 1.5 * np.expm1(x)), [0.0]),
}
POINTWISE = {
    "gelu": (F.gelu, lambda x: x * 0.5 * (1 + _erf(x / math.sqrt(2)))),
    "gelu_tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                   * (x + 0.044715 * x ** 3)))),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "softplus": (F.softplus, _softplus),
    "softplus_beta": (lambda x: F.softplus(x, beta=2.5), lambda x: _softplus(x, 2.5)),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh, np.tanh),
}
SOFTMAX = {
    "softmax_last": (lambda x: F.softmax(x, -1), lambda x: _softmax(x, -1)),
    "softmax_first": (lambda x: F.softmax(x, 0), lambda x: _softmax(x, 0)),
    "log_softmax": (lambda x: F.log_softmax(x, 1), lambda x: np.log(_softmax(x, 1))),
}


@pytest.mark.parametrize("name", sorted(KINKED))
@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (2, 3, 5)])
def test_kinked_activation_matches_reference_and_gradients(name, shape):
    op, ref, kinks = KINKED[name]
    x = rng.uniform(-2, 2, shape)
    x = np.where(np.abs(x) < 0.05, 0.5, x)
    check_op(op, ref, x)


@pytest.mark.parametrize("name", sorted(POINTWISE) + sorted(SOFTMAX))
@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (2, 3, 5)])
def test_smooth_activation_matches_reference_and_gradients(name, shape):
    op, ref = {**POINTWISE, **SOFTMAX}[name]
    check_op(op, ref, rng.uniform(-3, 3, shape))


@given(arrays(shapes(max_dims=3), avoid=[0.0]))
def test_activations_on_drawn_shapes(x):
    for op, ref, _ in KINKED.values():
        check_op(op, ref, x, gradgrad=False, noncontiguous=False)
    for op, ref in POINTWISE.values():
        check_op(op, ref, x, gradgrad=False, noncontiguous=False)


@given(arrays(shapes(max_dims=3), low=-30, high=30))
def test_sigmoid_symmetry(x):
    t = mg.tensor(x)
    assert_close(F.sigmoid(-t), 1 - F.sigmoid(t), atol=1e-12, rtol=0)


@given(arrays(shapes(min_dims=1, max_dims=3), low=-50, high=50))
def test_softmax_rows_sum_to_one(x):
    for dim in range(x.ndim):
        total = F.softmax(mg.tensor(x), dim).sum(dim)
        assert_close(total, np.ones(total.shape), atol=1e-12, rtol=1e-12)


def test_softmax_is_shift_invariant_and_stable_for_huge_logits():
    x = mg.tensor([[1000.0, 1001.0, 1002.0], [-1000.0, -1001.0, -1002.0]], dtype=mg.float64)
    expected = _softmax(np.array([[0.0, 1, 2], [0, -1, -2]]), -1)
    assert_close(F.softmax(x, -1), expected)
    assert_close(F.log_softmax(x, -1), np.log(expected))


@pytest.mark.parametrize("value", [-100.0, -30.0, 0.0, 30.0, 100.0])
def test_sigmoid_softplus_finite_at_extremes(value):
    x = mg.tensor([value], dtype=mg.float32, requires_grad=True)
    y = F.softplus(x).sum() + F.sigmoid(x).sum()
    y.backward()
    assert np.isfinite(y.item()) and np.isfinite(x.grad.numpy()).all()
    assert_close(F.softplus(x), _softplus(np.array([value])).astype(np.float32), rtol=1e-6)


def test_erf_matches_math_erf_to_double_precision():
    x = np.concatenate([np.linspace(-7, 7, 20001), [2.5, -2.5, 0.0, 1e-8]])
    assert_close(mg.erf(mg.tensor(x)), _erf(x), atol=3e-15, rtol=0)
    check_op(mg.erf, _erf, rng.uniform(-3, 3, (4, 5)))


def test_gelu_matches_its_two_halves_at_zero():
    x = mg.tensor([0.0], dtype=mg.float64, requires_grad=True)
    F.gelu(x).sum().backward()
    assert x.grad.item() == pytest.approx(0.5)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.0, 3.0, -0.5])
def test_leaky_relu_for_every_kind_of_slope(slope):
    """max(x, slope x) for slope <= 1, min for slope > 1, max(x, 0) for slope 0: each
    branch against the definition, with its gradient."""
    x = np.linspace(-2, 2, 12).reshape(3, 4) + 0.05                # no element at 0
    check_op(lambda x: F.leaky_relu(x, slope), lambda x: np.where(x > 0, x, slope * x), x)


@pytest.mark.parametrize("slope", [0.0, 0.2, 3.0])
def test_the_gradient_is_one_node_linear_in_gy_and_flat_in_x(slope):
    """relu's and leaky_relu's gradient is one LeakyReLUBackward node; differentiated
    again, it gives the same map of the new gradient for gy, and nothing for x (the mask
    is a constant: zero second derivative almost everywhere)."""
    op = F.relu if slope == 0 else (lambda t: F.leaky_relu(t, slope))
    x = mg.tensor([-1.5, -0.25, 0.5, 2.0], dtype=mg.float64, requires_grad=True)
    gy = mg.tensor([1.0, 2.0, 3.0, 4.0], dtype=mg.float64, requires_grad=True)
    (gx,) = mg.grad(op(x), x, gy, create_graph=True)
    assert gx._ctx.name == "LeakyReLUBackward"
    factor = np.array([slope, slope, 1.0, 1.0])
    assert_close(gx.detach(), factor * gy.data, rtol=1e-15, atol=0)
    v = np.array([1.0, -1.0, 2.0, 0.5])
    ggy, ggx = mg.grad(gx, [gy, x], mg.tensor(v), allow_unused=True)
    assert_close(ggy, factor * v, rtol=1e-15, atol=0)
    assert ggx is None


@given(x=arrays(st.tuples(st.integers(0, 4), st.integers(1, 5)), avoid=[0.0]),
       slope=st.sampled_from([0.0, 0.01, 0.2, 1.0, 3.0, -0.5]))
def test_the_registered_array_code_is_the_definition(x, slope):
    """``leaky_relu`` and ``leaky_relu_backward`` on drawn shapes (empty ones too) against
    where(x > 0, ...): the forward exactly, the gradient to the rounding of 1 - slope + slope."""
    gy = np.cos(3 * x) + 0.5
    np.testing.assert_array_equal(run("leaky_relu", x, slope), np.where(x > 0, x, slope * x))
    assert_close(run("leaky_relu_backward", gy, x, slope), np.where(x > 0, gy, slope * gy),
                 rtol=1e-15, atol=0)


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_the_softplus_gradient_is_one_node_with_the_second_derivatives_of_the_definition(
        beta):
    """gx = gy s, s = sigmoid(beta x): one SoftplusBackward node; d/dgy <v, gx> = v s and
    d/dx <v, gx> = v gy beta s (1 - s); and a third derivative through the latter."""
    x = mg.tensor([-3.0, -0.5, 0.25, 2.0], dtype=mg.float64, requires_grad=True)
    gy = mg.tensor([1.0, -2.0, 3.0, 0.5], dtype=mg.float64, requires_grad=True)
    (gx,) = mg.grad(F.softplus(x, beta), x, gy, create_graph=True)
    assert gx._ctx.name == "SoftplusBackward"
    s = 1 / (1 + np.exp(-beta * x.data))
    assert_close(gx.detach(), gy.data * s, rtol=1e-14, atol=0)
    v = np.array([0.5, 1.0, -1.0, 2.0])
    ggy, ggx = mg.grad(gx, [gy, x], mg.tensor(v), create_graph=True)
    assert_close(ggy.detach(), v * s, rtol=1e-14, atol=0)
    assert_close(ggx.detach(), v * gy.data * beta * s * (1 - s), rtol=1e-13, atol=1e-15)
    def first_derivative(t):
        return mg.grad(F.softplus(t, beta).sum(), t, create_graph=True)[0]
    gradcheck(first_derivative, [x])
    gradgradcheck(first_derivative, [x])


@given(x=arrays(st.tuples(st.integers(0, 4), st.integers(1, 5)), low=-40.0, high=40.0),
       beta=st.sampled_from([1.0, 0.5, 2.0]))
def test_the_registered_softplus_array_code_is_the_definition(x, beta):
    """``softplus`` = log(1 + e^(beta x)) / beta and ``softplus_backward`` = gy sigmoid(beta
    x), on drawn shapes, against the formulas computed in long double where they do not
    overflow."""
    gy = np.cos(3 * x) + 0.5
    z = (beta * x).astype(np.longdouble)
    assert_close(run("softplus", x, beta), np.log1p(np.exp(z)) / beta, rtol=1e-14, atol=0)
    assert_close(run("softplus_backward", gy, x, beta), gy / (1 + np.exp(-z)), rtol=1e-14,
                 atol=0)


@pytest.mark.parametrize("slope", [0.0, 0.2, 3.0])
def test_leaky_relu_at_the_infinities(slope):
    y = F.leaky_relu(mg.tensor([-np.inf, np.inf, np.nan, -0.0]), slope).numpy()
    assert y[0] == (0.0 if slope == 0 else -np.inf) and y[1] == np.inf
    assert np.isnan(y[2]) and y[3] == 0


@pytest.mark.parametrize("op", [F.relu, F.sigmoid, F.tanh, F.gelu, F.silu, F.softplus])
def test_activation_rejects_integer_tensor(op):
    with pytest.raises(TypeError, match="floating-point"):
        op(mg.tensor([1, 2, 3]))


def test_bad_activation_arguments():
    x = mg.randn(3)
    with pytest.raises(ValueError, match="gelu: approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="softplus: beta"):
        F.softplus(x, beta=0)
    with pytest.raises(IndexError, match="softmax: dim 2"):
        F.softmax(x, 2)
