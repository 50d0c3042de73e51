"""Tests for minigan/ops/norm.py."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
from minigan.testing import assert_close, check_op, gradcheck, gradgradcheck
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)
ORDS = [1, 2, math.inf]


def _kinkless(shape, seed=0):
    """Signed values with distinct magnitudes in [0.2, ...), at least 0.15 apart (a shuffled
    arange plus noise): away from |x| = 0 (ord 1, inf) and from ties of max |x| (ord inf)."""
    gen = np.random.default_rng(seed)
    n = int(np.prod(shape))
    magnitude = (gen.permutation(n) + 1 + gen.uniform(-0.25, 0.25, n)) * 0.3
    return (magnitude * gen.choice([-1.0, 1.0], n)).reshape(shape)


def _reference(x, ord, dim, keepdim):
    a = np.abs(x)
    if ord == 1:
        return np.sum(a, axis=dim, keepdims=keepdim)
    if ord == 2:
        return np.sqrt(np.sum(a * a, axis=dim, keepdims=keepdim))
    return np.max(a, axis=dim, keepdims=keepdim)


def _dims(ndim):
    """dim arguments for ``ndim`` dims: None, an int (maybe negative), a tuple of them."""
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(one, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple)
    return st.one_of(st.none(), one, many)


FIXED = [  # (shape, dim, keepdim)
    ((5,), None, False), ((5,), 0, True), ((3, 4), 1, False), ((3, 4), -2, True),
    ((1, 6), -1, False), ((2, 3, 5), (0, 2), False), ((2, 3, 5), (-1, 1), True),
    ((3, 1, 4), None, True),
]


@pytest.mark.parametrize("shape, dim, keepdim", FIXED)
@pytest.mark.parametrize("ord", ORDS)
def test_vector_norm_matches_reference_and_gradients(ord, shape, dim, keepdim):
    check_op(lambda x: mg.vector_norm(x, ord, dim, keepdim),
             lambda x: _reference(x, ord, dim, keepdim), _kinkless(shape))


@given(shapes(max_dims=3).flatmap(lambda s: st.tuples(
    st.builds(_kinkless, st.just(s), st.integers(0, 2 ** 32 - 1)), _dims(len(s)),
    st.booleans())))
def test_vector_norm_on_drawn_shapes_and_dims(case):
    x, dim, keepdim = case
    for ord in ORDS:
        check_op(lambda t: mg.vector_norm(t, ord, dim, keepdim),
                 lambda a: _reference(a, ord, dim, keepdim), x, gradgrad=False,
                 noncontiguous=False)


@pytest.mark.parametrize("ord", ORDS)
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_norm_gradient_at_zero_vector_is_exactly_zero(ord, dtype):
    x = mg.zeros(5, dtype=dtype, requires_grad=True)
    y = mg.vector_norm(x, ord)
    assert y.item() == 0.0
    (g,) = mg.grad(y, x)
    assert g.dtype == dtype and not np.any(g.data)


def test_l2_norm_second_derivatives_at_zero_are_finite():
    x = mg.zeros(4, dtype=mg.float64, requires_grad=True)
    (g,) = mg.grad(mg.vector_norm(x), x, create_graph=True)
    assert not np.any(g.data)
    for i in range(4):
        (row,) = mg.grad(g[i], x, retain_graph=True)
        assert np.isfinite(row.data).all()


def test_gradient_penalty_with_a_zero_gradient_row_is_differentiable():
    # Rows of x * w play the role of per-sample gradients of a critic; row 1 is all zero,
    # as for a sample in a dead ReLU region. The penalty must stay finite to second order.
    x = mg.tensor(np.vstack([rng.standard_normal(4), np.zeros(4), rng.standard_normal(4)]))
    w = mg.tensor(rng.standard_normal(4), requires_grad=True)

    def penalty(w):
        return ((mg.vector_norm(x * w, dim=1) - 1) ** 2).mean()

    gradcheck(penalty, [w])
    gradgradcheck(penalty, [w])
    (g,) = mg.grad(penalty(w), w, create_graph=True)
    (h,) = mg.grad(g.sum(), w)
    assert np.isfinite(g.data).all() and np.isfinite(h.data).all()


@pytest.mark.parametrize("ord", ORDS)
def test_norm_of_zero_rows_has_zero_gradient_and_others_are_unaffected(ord):
    rows = _kinkless((2, 3))
    x = mg.tensor(np.vstack([rows[0], np.zeros(3), rows[1]]), requires_grad=True)
    mg.vector_norm(x, ord, dim=1).sum().backward()
    assert not np.any(x.grad.data[1])
    expected = mg.tensor(rows, requires_grad=True)
    mg.vector_norm(expected, ord, dim=1).sum().backward()
    assert_close(x.grad.data[[0, 2]], expected.grad, rtol=1e-15, atol=0)


@pytest.mark.parametrize("ord", ORDS)
@given(x=arrays(shapes(max_dims=3), low=-3, high=3), size=st.floats(1e-3, 1e3),
       sign=st.sampled_from([-1.0, 1.0]))
def test_norm_scales_linearly(ord, x, size, sign):
    # |c| >= 1e-3 keeps (c x)^2 in range: the L2 norm sums squares directly, as
    # numpy.linalg.norm does, and so underflows below |x| ~ 1e-154 (float32: 1e-19).
    c = sign * size
    t = mg.tensor(x)
    assert_close(mg.vector_norm(c * t, ord), abs(c) * mg.vector_norm(t, ord), rtol=1e-12,
                 atol=1e-300)
    assert_close(mg.vector_norm(c * t, ord, dim=-1), abs(c) * mg.vector_norm(t, ord, dim=-1),
                 rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("x, ord, expected", [
    ([3.0, -3.0, 1.0], math.inf, [0.5, -0.5, 0.0]),
    ([0.0, 2.0, -1.0], 1, [0.0, 1.0, -1.0]),
    ([3.0, 0.0, -4.0], 2, [0.6, 0.0, -0.8]),
])
def test_norm_gradients_at_kinks_and_ties(x, ord, expected):
    t = mg.tensor(x, dtype=mg.float64, requires_grad=True)
    mg.vector_norm(t, ord).backward()
    assert_close(t.grad, expected, rtol=1e-15, atol=0)


def test_l2_norm_of_a_vector_is_its_length_and_tensor_norm_matches():
    x = mg.tensor([[3.0, 4.0], [5.0, 12.0]])
    assert_close(mg.vector_norm(x, dim=1), [5.0, 13.0], rtol=0, atol=0)
    assert_close(x.norm(2, 1, True), [[5.0], [13.0]], rtol=0, atol=0)
    assert_close(x.norm(1), 24.0, rtol=0, atol=0)
    assert_close(x.norm(math.inf, dim=0), [5.0, 12.0], rtol=0, atol=0)


@pytest.mark.parametrize("ord", ORDS)
def test_norm_of_zero_dim_tensor_is_its_absolute_value(ord):
    x = mg.tensor(-2.5, dtype=mg.float64)
    for dim in [None, 0, -1]:
        assert mg.vector_norm(x, ord, dim).item() == 2.5
    check_op(lambda t: mg.vector_norm(t, ord, 0), np.abs, np.array(-0.7))


@pytest.mark.parametrize("ord", [3, 0, -1, -math.inf, 0.5])
def test_vector_norm_rejects_unsupported_ord(ord):
    with pytest.raises(ValueError, match=rf"^vector_norm: ord must be 1, 2 or inf, got {ord}"):
        mg.vector_norm(mg.randn(3), ord)


def test_vector_norm_rejects_bad_dims_and_integer_tensors():
    with pytest.raises(IndexError, match=r"^vector_norm: dim 2 is out of range for a tensor "
                                         "with 2 dimensions"):
        mg.vector_norm(mg.randn(3, 4), dim=2)
    with pytest.raises(ValueError, match=r"^vector_norm: dim \(1, -1\) names a dimension twice"):
        mg.vector_norm(mg.randn(3, 4), dim=(1, -1))
    with pytest.raises(TypeError, match="^vector_norm: expected a floating-point tensor"):
        mg.vector_norm(mg.tensor([3, 4]))
