"""Tests for minigan/ops/pointwise.py."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, keep_away, shapes

rng = np.random.default_rng(0)


def _erf(x):
    return np.vectorize(math.erf, otypes=[np.float64])(x)


UNARY = {  # name: (op, float64 reference, input range and kinks: keywords of arrays())
    "exp": (mg.exp, np.exp, dict(low=-3, high=3)),
    "log": (mg.log, np.log, dict(low=0.1, high=5)),
    "log1p": (mg.log1p, np.log1p, dict(low=-0.9, high=3)),
    "sqrt": (mg.sqrt, np.sqrt, dict(low=0.1, high=5)),
    "abs": (mg.abs, np.abs, dict(avoid=[0.0])),
    "erf": (mg.erf, _erf, dict(low=-3, high=3)),
    "clamp_min": (lambda x: x.clamp(min=-0.5), lambda x: np.maximum(x, -0.5),
                  dict(avoid=[-0.5])),
    "clamp_max": (lambda x: mg.clamp(x, max=0.75), lambda x: np.minimum(x, 0.75),
                  dict(avoid=[0.75])),
    "clamp_both": (lambda x: mg.clamp(x, -0.5, 0.75), lambda x: np.clip(x, -0.5, 0.75),
                   dict(avoid=[-0.5, 0.75])),
    "clip_method": (lambda x: x.clip(-1, 1), lambda x: np.clip(x, -1, 1),
                    dict(avoid=[-1.0, 1.0])),
}
METHODS = {  # name: (function form, method form)
    "exp": (mg.exp, lambda x: x.exp()),
    "log": (mg.log, lambda x: x.log()),
    "log1p": (mg.log1p, lambda x: x.log1p()),
    "sqrt": (mg.sqrt, lambda x: x.sqrt()),
    "abs": (mg.abs, lambda x: x.abs()),
    "abs()": (mg.abs, abs),
    "sign": (mg.sign, lambda x: x.sign()),
    "erf": (mg.erf, lambda x: x.erf()),
    "clamp": (lambda x: mg.clamp(x, -0.5, 0.5), lambda x: x.clamp(-0.5, 0.5)),
}
FLOAT_ONLY = {  # name: op that needs a floating-point input
    "exp": mg.exp, "log": mg.log, "log1p": mg.log1p, "sqrt": mg.sqrt, "erf": mg.erf,
    "clamp": lambda x: mg.clamp(x, 0, 1),
}


def _draw(name, shape):
    kw = dict(dict(low=-2.0, high=2.0, avoid=()), **UNARY[name][2])
    return np.asarray(keep_away(rng.uniform(kw["low"], kw["high"], shape), kw["avoid"], 0.05))


@pytest.mark.parametrize("name", sorted(UNARY))
@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (1,), (7,), (2, 3, 5)])
def test_pointwise_op_matches_reference_and_gradients(name, shape):
    op, ref, _ = UNARY[name]
    check_op(op, ref, _draw(name, shape))


@pytest.mark.parametrize("name", sorted(UNARY))
def test_pointwise_op_on_0d_tensor(name):
    op, ref, _ = UNARY[name]
    check_op(op, ref, _draw(name, ()))


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_pointwise_op_on_drawn_shapes(name, data):
    op, ref, kw = UNARY[name]
    x = data.draw(arrays(shapes(min_dims=0, max_dims=4), **kw))
    check_op(op, ref, x, gradgrad=False, noncontiguous=False)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_method_form_equals_function_form(name):
    fn, method = METHODS[name]
    for x in (mg.tensor(rng.uniform(0.1, 3, (3, 4))), mg.tensor(rng.uniform(-3, 3, (2, 5)))):
        with np.errstate(invalid="ignore"):                  # log and sqrt of negatives
            assert_close(method(x), fn(x), rtol=0, atol=0, equal_nan=True)


@given(arrays(shapes(min_dims=0), low=1e-3, high=1e3))
def test_exp_of_log_is_identity(x):
    assert_close(mg.exp(mg.log(mg.tensor(x))), x, rtol=1e-14, atol=0)


@given(arrays(shapes(min_dims=0), low=-30, high=30))
def test_log_of_exp_is_identity(x):
    assert_close(mg.log(mg.exp(mg.tensor(x))), x, rtol=0, atol=1e-14)


@given(arrays(shapes(min_dims=0), low=-10, high=10))
def test_sqrt_of_square_is_abs_and_square_of_sqrt_is_identity(x):
    t = mg.tensor(x)
    assert_close(mg.sqrt(t * t), mg.abs(t), rtol=1e-15, atol=0)
    assert_close(mg.sqrt(mg.abs(t)) ** 2, np.abs(x), rtol=1e-15, atol=0)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_log1p_is_accurate_for_tiny_inputs(dtype):
    x = np.array([1e-20, -1e-12, 3e-9, 1e-6], dtype=dtype)
    got = mg.log1p(mg.tensor(x))
    assert got.dtype == dtype
    assert_close(got, np.log1p(x.astype(np.float64)).astype(dtype), rtol=1e-6, atol=0)


@given(arrays(shapes(min_dims=0), low=-6, high=6))
def test_erf_is_odd_increasing_and_bounded(x):
    t = mg.tensor(x)
    assert_close(mg.erf(-t), -mg.erf(t), rtol=0, atol=0)
    assert np.all(np.abs(mg.erf(t).numpy()) <= 1)
    ordered = np.sort(x.ravel())
    assert np.all(np.diff(mg.erf(mg.tensor(ordered)).numpy()) >= 0)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_abs_gradient_at_exactly_zero_is_zero(dtype):
    x = mg.tensor([-2.0, 0.0, 3.0, -0.0], dtype=dtype, requires_grad=True)
    (g,) = mg.grad(mg.abs(x).sum(), x, create_graph=True)
    assert g.dtype == dtype
    assert_close(g, np.array([-1.0, 0.0, 1.0, 0.0]), rtol=0, atol=0)
    assert_close(mg.abs(x), np.array([2.0, 0.0, 3.0, 0.0]), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [mg.int64, mg.int32])
def test_abs_of_integer_tensor_stays_integer(dtype):
    x = mg.tensor([-3, 0, 2], dtype=dtype)
    y = mg.abs(x)
    assert y.dtype == dtype and not y.requires_grad
    assert y.tolist() == [3, 0, 2]


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64, mg.int64])
def test_sign_matches_numpy_and_has_no_gradient(dtype):
    x_np = np.array([[-2.5, 0.0, 1.0], [3.0, -0.0, -1e-30]]).astype(dtype)
    x = mg.tensor(x_np, requires_grad=dtype != mg.int64)
    y = mg.sign(x)
    assert y.dtype == dtype and not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), np.sign(x_np))


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
@pytest.mark.parametrize("lo, hi", [(-1.0, 1.0), (-1.0, None), (None, 1.0), (0.5, 0.5)])
def test_clamp_passes_gradient_at_its_bounds(dtype, lo, hi):
    x_np = np.array([-3.0, -1.0, 0.5, 1.0, 3.0])
    x = mg.tensor(x_np, dtype=dtype, requires_grad=True)
    mg.clamp(x, lo, hi).sum().backward()
    inside = ((x_np >= (-np.inf if lo is None else lo))
              & (x_np <= (np.inf if hi is None else hi)))
    assert x.grad.dtype == dtype
    assert_close(x.grad, inside.astype(np.float64), rtol=0, atol=0)


@given(arrays(shapes(min_dims=0), low=-3, high=3), st.floats(-2, 2), st.floats(0, 2))
def test_clamp_matches_numpy_clip(x, lo, width):
    for low, high in [(lo, lo + width), (lo, None), (None, lo)]:
        expected = np.clip(x, -np.inf if low is None else low, np.inf if high is None else high)
        assert_close(mg.clamp(mg.tensor(x), low, high), expected, rtol=0, atol=0)


@pytest.mark.parametrize("bound", [0.5, 1, np.float64(0.5), np.float32(0.5), np.int64(1)])
@pytest.mark.parametrize("dtype", [mg.float16, mg.float32, mg.float64])
def test_clamp_keeps_the_tensor_dtype(bound, dtype):
    x = mg.tensor([-1.0, 0.25, 2.0], dtype=dtype, requires_grad=True)
    for y in (x.clamp(min=bound), x.clamp(max=bound), x.clamp(-bound, bound)):
        assert y.dtype == dtype
        y.sum().backward()
        assert x.grad.dtype == dtype


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_log_and_sqrt_at_zero_follow_ieee(dtype):
    x = mg.tensor([0.0, 4.0], dtype=dtype, requires_grad=True)
    with np.errstate(divide="ignore"):
        assert_close(mg.log(x), np.array([-np.inf, np.log(4.0)]))
        y = mg.sqrt(x)
        y.sum().backward()
    assert_close(y, np.array([0.0, 2.0]), rtol=0, atol=0)
    assert_close(x.grad, np.array([np.inf, 0.25]), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [mg.float16, mg.float32, mg.float64])
def test_exp_overflows_to_inf_and_underflows_to_zero(dtype):
    big = {mg.float16: 20.0, mg.float32: 200.0, mg.float64: 1000.0}[dtype]
    with np.errstate(over="ignore"):
        y = mg.exp(mg.tensor([-big, 0.0, big], dtype=dtype))
    assert y.dtype == dtype
    assert y.tolist() == [0.0, 1.0, np.inf]


@pytest.mark.parametrize("name", sorted(FLOAT_ONLY))
@pytest.mark.parametrize("dtype", [mg.int64, mg.bool])
def test_float_only_op_rejects_integer_tensor(name, dtype):
    x = mg.tensor([1, 0, 1], dtype=dtype)
    with pytest.raises(TypeError, match=rf"^{name}: expected a floating-point tensor, got .*"
                                        rf"dtype {np.dtype(dtype)} and shape \(3,\)"):
        FLOAT_ONLY[name](x)


@pytest.mark.parametrize("method", ["exp", "log", "log1p", "sqrt", "erf", "clamp"])
def test_float_only_method_rejects_integer_tensor(method):
    x = mg.tensor([[1, 2], [3, 4]])
    with pytest.raises(TypeError, match=rf"^{method}: expected a floating-point tensor"):
        getattr(x, method)(*([0] if method == "clamp" else []))


def test_clamp_without_bounds_is_an_error():
    with pytest.raises(ValueError, match="^clamp: at least one of min and max must be given$"):
        mg.clamp(mg.randn(3))
    with pytest.raises(ValueError, match="^clamp: at least one of min and max must be given$"):
        mg.randn(3).clamp(None, None)


@pytest.mark.parametrize("lo, hi", [(1.0, 0.0), (0.5, -0.5), (2, 1)])
def test_clamp_with_min_above_max_is_an_error(lo, hi):
    with pytest.raises(ValueError, match=rf"^clamp: min {lo} is larger than max {hi}$"):
        mg.clamp(mg.randn(3), lo, hi)
