"""Tests for minigan/ops/reduction.py."""
import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import minigan as mg
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)


def _distinct(shape, seed=0):
    """A shuffled arange plus noise, scaled: every two values at least 0.2 apart, so max
    and min have no ties and are differentiable."""
    gen = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((gen.permutation(n) + gen.uniform(-0.25, 0.25, n) - n / 2) * 0.4).reshape(shape)


def _dims(ndim):
    """dim arguments for ``ndim`` dims: None, an int (maybe negative), a tuple of them."""
    one = st.integers(-ndim, ndim - 1)
    many = st.lists(one, min_size=1, max_size=ndim, unique_by=lambda d: d % ndim).map(tuple)
    return st.one_of(st.none(), one, many)


def _cases(values):
    """(x, dim, keepdim) with x from ``values(shape)`` and dims drawn to match its shape."""
    return shapes(max_dims=3).flatmap(
        lambda s: st.tuples(values(s), _dims(len(s)), st.booleans()))


def _count(shape, dim):
    dims = range(len(shape)) if dim is None else np.atleast_1d(dim)
    return int(np.prod([shape[d] for d in dims]))


def _logsumexp(x, dim, keepdim):
    m = np.max(x, axis=dim, keepdims=True)
    y = m + np.log(np.sum(np.exp(x - m), axis=dim, keepdims=True))
    return y if keepdim else np.squeeze(y, axis=dim)


SMOOTH = {  # name: (op(x, dim, keepdim), float64 reference(x, dim, keepdim))
    "sum": (mg.sum, lambda x, d, k: np.sum(x, axis=d, keepdims=k)),
    "mean": (mg.mean, lambda x, d, k: np.mean(x, axis=d, keepdims=k)),
    "logsumexp": (mg.logsumexp, _logsumexp),
}
SPREAD = {"var": (mg.var, np.var), "std": (mg.std, np.std)}
CORRECTIONS = {  # keyword arguments: the ddof they mean
    "default": ({}, 1), "correction=0": ({"correction": 0}, 0),
    "correction=1": ({"correction": 1}, 1), "correction=2": ({"correction": 2}, 2),
    "unbiased=True": ({"unbiased": True}, 1), "unbiased=False": ({"unbiased": False}, 0),
}
EXTREMA = {  # name: (op, value reference, index reference)
    "amax": (mg.amax, np.amax, None), "amin": (mg.amin, np.amin, None),
    "max": (mg.max, np.max, np.argmax), "min": (mg.min, np.min, np.argmin),
}
FIXED = [  # (shape, dim, keepdim): each dim reduces at least 3 elements (var correction=2)
    ((3, 4), None, False), ((3, 4), 1, True), ((1, 5), -1, False), ((5,), 0, True),
    ((2, 3, 5), (0, 2), True), ((2, 3, 5), (-1, 0), False), ((3, 1, 7), -1, False),
    ((3, 1, 7), (0, 1), True),
]


@pytest.mark.parametrize("shape, dim, keepdim", FIXED)
@pytest.mark.parametrize("name", sorted(SMOOTH))
def test_smooth_reduction_matches_reference_and_gradients(name, shape, dim, keepdim):
    op, ref = SMOOTH[name]
    check_op(lambda x: op(x, dim, keepdim), lambda x: ref(x, dim, keepdim),
             rng.uniform(-3, 3, shape))


@pytest.mark.parametrize("shape, dim, keepdim", FIXED[1::2])
@pytest.mark.parametrize("correction", sorted(CORRECTIONS))
@pytest.mark.parametrize("name", sorted(SPREAD))
def test_var_std_match_numpy_ddof_and_gradients(name, correction, shape, dim, keepdim):
    (op, ref), (kwargs, ddof) = SPREAD[name], CORRECTIONS[correction]
    check_op(lambda x: op(x, dim, keepdim=keepdim, **kwargs),
             lambda x: ref(x, axis=dim, ddof=ddof, keepdims=keepdim), rng.uniform(-3, 3, shape))


@pytest.mark.parametrize("shape, dim, keepdim", FIXED)
@pytest.mark.parametrize("name", ["amax", "amin"])
def test_amax_amin_match_reference_and_gradients(name, shape, dim, keepdim):
    op, ref, _ = EXTREMA[name]
    check_op(lambda x: op(x, dim, keepdim), lambda x: ref(x, axis=dim, keepdims=keepdim),
             _distinct(shape))


@pytest.mark.parametrize("shape, dim, keepdim",
                         [(s, d, k) for s, d, k in FIXED if not isinstance(d, tuple)])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_return_values_and_indices(name, shape, dim, keepdim):
    op, ref, arg = EXTREMA[name]
    dim = 0 if dim is None else dim
    check_op(lambda x: op(x, dim, keepdim),
             lambda x: (ref(x, axis=dim, keepdims=keepdim), arg(x, axis=dim, keepdims=keepdim)),
             _distinct(shape))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_without_dim_reduce_the_whole_tensor(name):
    op, ref, _ = EXTREMA[name]
    check_op(op, ref, _distinct((3, 4)))


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_is_a_values_indices_namedtuple(name):
    x = mg.tensor(_distinct((3, 4)))
    result = EXTREMA[name][0](x, 1)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert indices.dtype == mg.int64 and not indices.requires_grad
    assert_close(x.data[np.arange(3), indices.data], values, rtol=0, atol=0)
    assert_close(getattr(x, name)(1).values, values, rtol=0, atol=0)


@pytest.mark.parametrize("op, ref", [(mg.argmax, np.argmax), (mg.argmin, np.argmin)])
@pytest.mark.parametrize("shape, dim, keepdim",
                         [(s, d, k) for s, d, k in FIXED if not isinstance(d, tuple)])
def test_argmax_argmin_match_numpy(op, ref, shape, dim, keepdim):
    x = _distinct(shape)
    got = op(mg.tensor(x), dim, keepdim if dim is not None else False)
    assert got.dtype.kind == "i"
    assert_close(got, ref(x, axis=dim, keepdims=keepdim if dim is not None else False),
                 rtol=0, atol=0)


@given(_cases(arrays))
def test_smooth_reductions_on_drawn_shapes_and_dims(case):
    x, dim, keepdim = case
    for op, ref in SMOOTH.values():
        check_op(lambda t: op(t, dim, keepdim), lambda a: ref(a, dim, keepdim), x,
                 gradgrad=False, noncontiguous=False)


@given(_cases(arrays), st.sampled_from(sorted(CORRECTIONS)))
def test_var_std_on_drawn_shapes_and_dims(case, correction):
    x, dim, keepdim = case
    kwargs, ddof = CORRECTIONS[correction]
    assume(_count(x.shape, dim) > ddof)
    for op, ref in SPREAD.values():
        check_op(lambda t: op(t, dim, keepdim=keepdim, **kwargs),
                 lambda a: ref(a, axis=dim, ddof=ddof, keepdims=keepdim), x,
                 gradgrad=False, noncontiguous=False)


@given(_cases(lambda s: st.builds(_distinct, st.just(s), st.integers(0, 2 ** 32 - 1))))
def test_extrema_on_drawn_shapes_and_dims(case):
    x, dim, keepdim = case
    for name in ["amax", "amin"]:
        op, ref, _ = EXTREMA[name]
        check_op(lambda t: op(t, dim, keepdim), lambda a: ref(a, axis=dim, keepdims=keepdim),
                 x, gradgrad=False, noncontiguous=False)
    if not isinstance(dim, tuple):
        d = 0 if dim is None else dim
        for name in ["max", "min"]:
            op, ref, arg = EXTREMA[name]
            check_op(lambda t: op(t, d, keepdim),
                     lambda a: (ref(a, axis=d, keepdims=keepdim), arg(a, axis=d, keepdims=keepdim)),
                     x, gradgrad=False, noncontiguous=False)
        assert_close(mg.argmax(mg.tensor(x), dim), np.argmax(x, axis=dim), rtol=0, atol=0)
        assert_close(mg.argmin(mg.tensor(x), dim), np.argmin(x, axis=dim), rtol=0, atol=0)


@pytest.mark.parametrize("op, x, expected", [
    (mg.amax, [1.0, 3.0, 3.0], [0.0, 0.5, 0.5]),
    (mg.amin, [2.0, 1.0, 1.0, 5.0], [0.0, 0.5, 0.5, 0.0]),
    (mg.max, [3.0, 3.0, 3.0], [1 / 3, 1 / 3, 1 / 3]),
    (mg.min, [-1.0, 0.0, -1.0], [0.5, 0.0, 0.5]),
])
def test_tied_extrema_share_the_gradient_evenly(op, x, expected):
    for dtype in [mg.float32, mg.float64]:
        t = mg.tensor(x, dtype=dtype, requires_grad=True)
        op(t).backward()
        assert_close(t.grad, np.array(expected, dtype=dtype))


def test_tied_amax_along_a_dim_shares_within_each_row():
    x = mg.tensor([[1.0, 3.0, 3.0], [4.0, 4.0, 4.0]], dtype=mg.float64, requires_grad=True)
    mg.amax(x, 1).backward(mg.tensor([2.0, 3.0], dtype=mg.float64))
    assert_close(x.grad, [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0]], rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_logsumexp_is_stable_for_huge_inputs(dtype):
    x = mg.tensor([[1000.0, 1000.0], [-1000.0, -1000.0], [1000.0, -1000.0], [1e6, 1e6 + 1]],
                  dtype=dtype, requires_grad=True)
    y = mg.logsumexp(x, 1)
    assert_close(y, np.array([1000 + np.log(2), -1000 + np.log(2), 1000.0,
                              1e6 + 1 + np.log1p(np.exp(-1))], dtype=dtype))
    y.sum().backward()
    p = 1 / (1 + np.e)                  # the softmax of (0, 1), to float32 rounding
    assert_close(x.grad, np.array([[0.5, 0.5], [0.5, 0.5], [1.0, 0.0], [p, 1 - p]],
                                  dtype=dtype))


@given(_cases(lambda s: arrays(s, low=-5, high=5)))
def test_logsumexp_equals_log_sum_exp_for_moderate_inputs(case):
    x, dim, keepdim = case
    t = mg.tensor(x)
    naive = np.log(np.sum(np.exp(x), axis=dim, keepdims=keepdim))
    assert_close(mg.logsumexp(t, dim, keepdim), naive, rtol=1e-12, atol=1e-12)
    assert_close(mg.logsumexp(t, dim, keepdim), t.exp().sum(dim, keepdim).log(), rtol=1e-12,
                 atol=1e-12)


@given(_cases(lambda s: arrays(s, low=-10, high=10)))
def test_biased_var_is_mean_of_squares_minus_square_of_mean(case):
    x, dim, keepdim = case
    t = mg.tensor(x)
    mean = t.mean(dim, keepdim)
    assert_close(t.var(dim, correction=0, keepdim=keepdim),
                 (t * t).mean(dim, keepdim) - mean * mean, rtol=1e-9, atol=1e-12)
    assert_close(t.std(dim, unbiased=False, keepdim=keepdim),
                 t.var(dim, correction=0, keepdim=keepdim).sqrt(), rtol=1e-15, atol=0)


@pytest.mark.parametrize("correction", [0, 1])
def test_std_of_equal_values_has_zero_gradient_and_finite_second_derivative(correction):
    x = mg.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype=mg.float64, requires_grad=True)
    (g,) = mg.grad(x.std(1, correction=correction).sum(), x, create_graph=True)
    assert not np.any(g.data[0]) and np.isfinite(g.data).all()
    (h,) = mg.grad((g * g).sum(), x)
    assert np.isfinite(h.data).all()
    check_op(lambda t: t.std(correction=0), np.std, np.array([0.3]))  # constant: grad 0


@pytest.mark.parametrize("keepdim", [False, True])
def test_mean_and_each_of_its_derivatives_are_one_node(keepdim):
    """mean is a Sum node with the count as divisor; its gradient one Spread node (gy /
    count broadcast back); the gradient of that, a Sum node with the same divisor."""
    x = mg.tensor(_distinct((2, 3, 4)), requires_grad=True)
    y = x.mean((0, 2), keepdim)
    assert y._ctx.name == "Sum" and y._ctx.inputs[0] is x
    gy = mg.tensor(_distinct(y.shape), requires_grad=True)
    (gx,) = mg.grad(y, x, gy, create_graph=True)
    assert gx._ctx.name == "Spread" and gx._ctx.inputs[0] is gy
    assert_close(gx.detach(), np.broadcast_to(gy.data.reshape(1, 3, 1) / 8, x.shape),
                 rtol=1e-15, atol=0)
    v = mg.tensor(_distinct(x.shape), requires_grad=True)
    (ggy,) = mg.grad(gx, gy, v, create_graph=True)
    assert ggy._ctx.name == "Sum"
    assert_close(ggy.detach(), v.data.sum((0, 2), keepdims=keepdim) / 8, rtol=1e-15, atol=1e-15)


def test_tensor_methods_match_functions():
    x = mg.tensor(_distinct((2, 3, 4)))
    pairs = [(x.sum((0, 2)), mg.sum(x, (0, 2))), (x.mean(-1, True), mg.mean(x, -1, True)),
             (x.var(1, correction=0), mg.var(x, 1, correction=0)), (x.std(), mg.std(x)),
             (x.amax(0), mg.amax(x, 0)), (x.amin(), mg.amin(x)), (x.argmax(2), mg.argmax(x, 2)),
             (x.argmin(), mg.argmin(x)), (x.logsumexp((1, 2)), mg.logsumexp(x, (1, 2)))]
    for method, function in pairs:
        assert_close(method, function, rtol=0, atol=0)


def test_zero_dim_tensor_reduces_over_dim_0_and_minus_1():
    x = mg.tensor(2.5, dtype=mg.float64)
    for dim in [None, 0, -1, (0,)]:
        for op in [mg.sum, mg.mean, mg.amax, mg.amin, mg.logsumexp]:
            assert_close(op(x, dim, True), 2.5, rtol=0, atol=0)
    for dim in [0, -1]:
        for op, arg in [(mg.max, mg.argmax), (mg.min, mg.argmin)]:
            values, indices = op(x, dim)
            assert values.item() == 2.5 and indices.item() == 0 and arg(x, dim).item() == 0
    check_op(lambda t: mg.logsumexp(t, 0), lambda a: a, np.array(0.7))


def test_integer_sum_and_amax_stay_exact_integers():
    x = mg.tensor([[1, 7, 3], [4, 2, 9]])
    assert x.sum().dtype == mg.int64 and x.sum().item() == 26
    assert x.sum(0).tolist() == [5, 9, 12]
    assert x.amax(1).tolist() == [7, 9] and x.argmax(1).tolist() == [1, 2]
    assert mg.argmax(mg.tensor([1.0, 5.0, 2.0]), 0).item() == 1


def test_extrema_of_empty_rows_along_a_nonempty_dim_are_empty():
    values, indices = mg.max(mg.zeros(0, 3), 1)
    assert values.shape == (0,) and indices.shape == (0,)
    assert mg.amin(mg.zeros(0, 3), 1, keepdim=True).shape == (0, 1)


@pytest.mark.parametrize("op", [mg.sum, mg.mean, mg.var, mg.std, mg.amax, mg.amin,
                                mg.logsumexp, mg.max, mg.min, mg.argmax, mg.argmin])
def test_dim_out_of_range_names_op_and_dim(op):
    x = mg.randn(3, 4)
    with pytest.raises(IndexError, match=rf"^{op.__name__}: dim 2 is out of range for a "
                                         r"tensor with 2 dimensions"):
        op(x, 2)
    with pytest.raises(IndexError, match=rf"^{op.__name__}: dim -3 is out of range"):
        op(x, -3)


@pytest.mark.parametrize("op", [mg.sum, mg.mean, mg.var, mg.std, mg.amax, mg.amin,
                                mg.logsumexp])
def test_same_dim_twice_is_rejected(op):
    with pytest.raises(ValueError, match=rf"^{op.__name__}: dim \(0, -2\) names a dimension "
                                         "twice"):
        op(mg.randn(3, 4), (0, -2))


@pytest.mark.parametrize("op", [mg.amax, mg.amin, mg.max, mg.min, mg.argmax, mg.argmin])
def test_extremum_of_empty_tensor_is_rejected(op):
    with pytest.raises(ValueError, match=rf"^{op.__name__}: empty tensor of shape \(0,\) has "
                                         "no extremum"):
        op(mg.zeros(0))
    with pytest.raises(ValueError, match=rf"^{op.__name__}: empty tensor of shape \(2, 0\)"):
        op(mg.zeros(2, 0), 1)


@pytest.mark.parametrize("op", [mg.max, mg.min, mg.argmax, mg.argmin])
def test_max_min_take_a_single_int_dim(op):
    with pytest.raises(TypeError, match=rf"^{op.__name__}: dim must be an int, got \(0, 1\)"):
        op(mg.randn(3, 4), (0, 1))


@pytest.mark.parametrize("op", [mg.mean, mg.var, mg.std, mg.logsumexp])
def test_reduction_rejects_integer_tensor(op):
    with pytest.raises(TypeError, match=rf"^{op.__name__}: expected a floating-point tensor"):
        op(mg.tensor([1, 2, 3]), 0)
