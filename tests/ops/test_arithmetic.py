"""Tests for minigan/ops/arithmetic.py."""
import operator

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
from minigan.ops.arithmetic import clone, logical_and, logical_not, logical_or
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, broadcastable_shapes, keep_away

rng = np.random.default_rng(0)


def _operands(name, a, b):
    """Uniform draws on [-2, 2) moved away from the op's kinks and poles: a divisor at
    least 0.5 from 0, a positive base, and maximum/minimum operands at least 0.4 apart
    (a near integers, b near half-integers), however they broadcast."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if name == "div":
        b = np.where(b >= 0, 1.0, -1.0) * (0.5 + 0.75 * np.abs(b))
    elif name == "pow":
        a = 0.5 + 0.75 * np.abs(a)
    elif name in ("maximum", "minimum"):
        a = np.round(a) + 0.1 * (a - np.round(a))
        b = np.round(b) + 0.5 + 0.1 * (b - np.round(b))
    return np.asarray(a, np.float64), np.asarray(b, np.float64)


BINARY = {  # name: (op, float64 reference)
    "add": (operator.add, np.add),
    "sub": (operator.sub, np.subtract),
    "mul": (operator.mul, np.multiply),
    "div": (operator.truediv, np.divide),
    "pow": (operator.pow, np.power),
    "maximum": (mg.maximum, np.maximum),
    "minimum": (mg.minimum, np.minimum),
}
SCALAR = {  # name: (op, float64 reference, lowest input, points to keep away from)
    "x + 2": (lambda x: x + 2.0, lambda x: x + 2.0, -2, ()),
    "2 + x": (lambda x: 2.0 + x, lambda x: 2.0 + x, -2, ()),
    "x - 2": (lambda x: x - 2.0, lambda x: x - 2.0, -2, ()),
    "2 - x": (lambda x: 2.0 - x, lambda x: 2.0 - x, -2, ()),
    "x * 3": (lambda x: x * 3, lambda x: x * 3, -2, ()),
    "3 * x": (lambda x: 3 * x, lambda x: 3 * x, -2, ()),
    "x / 4": (lambda x: x / 4.0, lambda x: x / 4.0, -2, ()),
    "4 / x": (lambda x: 4.0 / x, lambda x: 4.0 / x, -2, (0.0,)),
    "x ** 2": (lambda x: x ** 2, lambda x: x ** 2, -2, ()),
    "x ** 3 negative base": (lambda x: x ** 3, lambda x: x ** 3, -2, ()),
    "x ** -1": (lambda x: x ** -1, lambda x: 1 / x, -2, (0.0,)),
    "x ** 0.5": (lambda x: x ** 0.5, np.sqrt, 0.2, ()),
    "x ** -1.5": (lambda x: x ** -1.5, lambda x: x ** -1.5, 0.2, ()),
    "2 ** x": (lambda x: 2 ** x, lambda x: 2.0 ** x, -2, ()),
    "0.5 ** x": (lambda x: 0.5 ** x, lambda x: 0.5 ** x, -2, ()),
    "-x": (lambda x: -x, lambda x: -x, -2, ()),
    "neg": (mg.neg, np.negative, -2, ()),
    "maximum(x, 0.5)": (lambda x: mg.maximum(x, 0.5), lambda x: np.maximum(x, 0.5), -2,
                        (0.5,)),
    "minimum(0.5, x)": (lambda x: mg.minimum(0.5, x), lambda x: np.minimum(0.5, x), -2,
                        (0.5,)),
    "x.maximum(-1)": (lambda x: x.maximum(-1), lambda x: np.maximum(x, -1), -2, (-1.0,)),
}
COMPARE = {  # name: (operator form, function form, reference)
    "lt": (operator.lt, mg.lt, np.less),
    "le": (operator.le, mg.le, np.less_equal),
    "gt": (operator.gt, mg.gt, np.greater),
    "ge": (operator.ge, mg.ge, np.greater_equal),
    "eq": (operator.eq, mg.eq, np.equal),
    "ne": (operator.ne, mg.ne, np.not_equal),
}
LOGICAL = {  # name: (operator form, function form, reference)
    "logical_and": (operator.and_, logical_and, np.logical_and),
    "logical_or": (operator.or_, logical_or, np.logical_or),
}
BROADCAST_SHAPES = [((3, 4), (3, 4)), ((3, 1), (4,)), ((1,), (2, 3)), ((), (2, 2)),
                    ((1, 5), (1, 5)), ((2, 3, 5), (3, 1)), ((7, 1, 3), (1, 2, 1))]
PAIRS = broadcastable_shapes(max_dims=3, max_side=4).flatmap(
    lambda s: st.tuples(arrays(s[0]), arrays(s[1])))
TRIPLES = broadcastable_shapes(3, max_dims=3, max_side=4).flatmap(
    lambda s: st.tuples(arrays(s[0]), arrays(s[1]), arrays(s[2])))


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_SHAPES)
def test_binary_op_matches_reference_and_gradients(name, shape_a, shape_b):
    op, ref = BINARY[name]
    a, b = _operands(name, rng.uniform(-2, 2, shape_a), rng.uniform(-2, 2, shape_b))
    check_op(op, ref, a, b)


@given(PAIRS)
def test_binary_ops_on_drawn_broadcast_shapes(pair):
    for name, (op, ref) in BINARY.items():
        a, b = _operands(name, *pair)
        assert op(mg.tensor(a), mg.tensor(b)).shape == np.broadcast_shapes(a.shape, b.shape)
        check_op(op, ref, a, b, gradgrad=False, noncontiguous=False)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_op_on_two_0d_tensors(name):
    op, ref = BINARY[name]
    check_op(op, ref, *_operands(name, rng.uniform(-2, 2, ()), rng.uniform(-2, 2, ())))


@pytest.mark.parametrize("name", sorted(SCALAR))
@pytest.mark.parametrize("shape", [(3, 4), (1,), (1, 5), (2, 3, 5)])
def test_scalar_and_reflected_forms_match_reference_and_gradients(name, shape):
    op, ref, low, avoid = SCALAR[name]
    x = np.asarray(keep_away(rng.uniform(low, 2, shape), avoid, 0.25))
    check_op(op, ref, x)


@pytest.mark.parametrize("name", sorted(SCALAR))
def test_scalar_and_reflected_forms_on_0d_tensor(name):
    op, ref, low, avoid = SCALAR[name]
    check_op(op, ref, np.asarray(keep_away(rng.uniform(low, 2, ()), avoid, 0.25)))


@pytest.mark.parametrize("shape_a, shape_b, expected_a, expected_b", [
    ((3, 1), (4,), np.full((3, 1), 4.0), np.full((4,), 3.0)),
    ((1,), (2, 3), np.full((1,), 6.0), np.ones((2, 3))),
    ((), (2, 2), np.array(4.0), np.ones((2, 2))),
    ((2, 1, 3), (4, 1), np.full((2, 1, 3), 4.0), np.full((4, 1), 6.0)),
])
def test_add_gradient_is_summed_to_each_input_shape(shape_a, shape_b, expected_a, expected_b):
    a = mg.zeros(shape_a, dtype=mg.float64, requires_grad=True)
    b = mg.zeros(shape_b, dtype=mg.float64, requires_grad=True)
    (a + b).sum().backward()
    assert_close(a.grad, expected_a, rtol=0, atol=0)
    assert_close(b.grad, expected_b, rtol=0, atol=0)


def test_mul_gradient_is_summed_over_broadcast_copies():
    a_np, b_np = rng.uniform(-2, 2, (3, 1)), rng.uniform(-2, 2, (4,))
    a = mg.tensor(a_np, requires_grad=True)
    b = mg.tensor(b_np, requires_grad=True)
    (a * b).sum().backward()
    assert_close(a.grad, np.full((3, 1), b_np.sum()), rtol=1e-12, atol=1e-12)
    assert_close(b.grad, np.full((4,), a_np.sum()), rtol=1e-12, atol=1e-12)


@given(PAIRS)
def test_maximum_plus_minimum_is_sum(pair):
    a, b = mg.tensor(pair[0]), mg.tensor(pair[1])
    assert_close(mg.maximum(a, b) + mg.minimum(a, b), a + b, rtol=0, atol=0)


@given(PAIRS)
def test_sub_and_div_are_add_of_negation_and_mul_by_reciprocal(pair):
    a, b = (mg.tensor(v) for v in _operands("div", *pair))
    assert_close(a - b, a + (-b), rtol=0, atol=0)
    assert_close(a / b, a * (1 / b), rtol=1e-15, atol=0)


@pytest.mark.parametrize("op", [mg.maximum, mg.minimum])
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_maximum_minimum_ties_split_gradient_evenly(op, dtype):
    values = rng.uniform(-2, 2, (2, 3))
    a = mg.tensor(values, dtype=dtype, requires_grad=True)
    b = mg.tensor(values, dtype=dtype, requires_grad=True)
    op(a, b).sum().backward()
    assert_close(a.grad, np.full((2, 3), 0.5), rtol=0, atol=0)
    assert_close(b.grad, np.full((2, 3), 0.5), rtol=0, atol=0)


@pytest.mark.parametrize("op", [mg.maximum, mg.minimum])
def test_maximum_minimum_broadcast_tie_sums_the_halves(op):
    x = mg.tensor([1.0, 2.0, 1.0, -3.0], dtype=mg.float64, requires_grad=True)
    s = mg.tensor(1.0, dtype=mg.float64, requires_grad=True)
    op(x, s).sum().backward()
    winner_x = [0.5, 1, 0.5, 0] if op is mg.maximum else [0.5, 0, 0.5, 1]
    assert_close(x.grad, np.array(winner_x, dtype=np.float64), rtol=0, atol=0)
    assert s.grad.item() == 4 - sum(winner_x)


@pytest.mark.parametrize("shape", [(3, 4), (1, 6), (5,)])
def test_pow_negative_base_with_integer_valued_tensor_exponent(shape):
    a = -keep_away(rng.uniform(0, 2, shape), [0.0], 0.2)
    b = rng.integers(-2, 4, shape).astype(np.float64)
    check_op(operator.pow, np.power, a, b, differentiable=[0])


def test_pow_gradients_at_zero_base_are_finite_limits():
    a = mg.tensor([0.0, 0.0, 0.0, 2.0], dtype=mg.float64, requires_grad=True)
    b = mg.tensor([2.0, 0.0, 0.5, 3.0], dtype=mg.float64, requires_grad=True)
    with np.errstate(divide="ignore"):                    # 0.5 * 0 ** -0.5 is inf
        (a ** b).sum().backward()
    assert_close(a.grad, np.array([0.0, 0.0, np.inf, 12.0]), rtol=1e-15, atol=0)
    assert_close(b.grad, np.array([0.0, 0.0, 0.0, 8 * np.log(2.0)]), rtol=1e-15, atol=0)


def test_pow_zero_exponent_has_zero_gradient_everywhere():
    x = mg.tensor([0.0, -1.5, 2.0], dtype=mg.float64, requires_grad=True)
    (g,) = mg.grad((x ** 0).sum(), x, create_graph=True)
    assert_close(g, np.zeros(3), rtol=0, atol=0)
    assert_close((x ** 0), np.ones(3), rtol=0, atol=0)


@pytest.mark.parametrize("shapes", [((3, 1), (4,), (3, 4)), ((2, 3), (), (3,)),
                                    ((1,), (2, 3), (1, 3)), ((5,), (5,), (5,))])
def test_where_matches_numpy_where_and_gradients(shapes):
    cond = rng.uniform(-1, 1, shapes[0]) > 0
    a, b = rng.uniform(-2, 2, shapes[1]), rng.uniform(-2, 2, shapes[2])
    check_op(mg.where, np.where, cond, a, b)


@given(TRIPLES)
def test_where_on_drawn_broadcast_shapes(triple):
    cond = np.asarray(triple[0] > 0)
    check_op(mg.where, np.where, cond, triple[1], triple[2], gradgrad=False,
             noncontiguous=False)


def test_where_gradient_goes_to_the_chosen_branch():
    cond = mg.tensor([[True, False, True]])
    a = mg.zeros(3, dtype=mg.float64, requires_grad=True)
    b = mg.zeros(2, 1, dtype=mg.float64, requires_grad=True)
    mg.where(cond, a, b).sum().backward()
    assert_close(a.grad, np.array([2.0, 0.0, 2.0]), rtol=0, atol=0)
    assert_close(b.grad, np.array([[1.0], [1.0]]), rtol=0, atol=0)


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_where_with_scalar_branches_keeps_tensor_dtype(dtype):
    cond_np = np.array([True, False, True, False])
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], dtype=dtype, requires_grad=True)
    cond = mg.tensor(cond_np)
    for got, want in [(mg.where(cond, x, 0.0), np.where(cond_np, x.detach().numpy(), 0.0)),
                      (mg.where(cond, -1, x), np.where(cond_np, -1, x.detach().numpy()))]:
        assert got.dtype == dtype and got.requires_grad
        assert_close(got, want.astype(dtype), rtol=0, atol=0)
    both = mg.where(cond, 1.0, 2.0)
    assert both.dtype == mg.get_default_dtype() and not both.requires_grad
    assert both.tolist() == [1.0, 2.0, 1.0, 2.0]


@pytest.mark.parametrize("name", sorted(COMPARE))
@pytest.mark.parametrize("shape_a, shape_b", BROADCAST_SHAPES)
def test_comparison_matches_numpy_and_has_no_gradient(name, shape_a, shape_b):
    op, fn, ref = COMPARE[name]
    a_np = rng.integers(-1, 2, shape_a).astype(np.float64)   # small integers: many ties
    b_np = rng.integers(-1, 2, shape_b).astype(np.float64)
    a, b = mg.tensor(a_np, requires_grad=True), mg.tensor(b_np, requires_grad=True)
    for got in (op(a, b), fn(a, b)):
        assert got.dtype == np.bool_ and not got.requires_grad and got.grad_fn is None
        np.testing.assert_array_equal(got.numpy(), ref(a_np, b_np))


@pytest.mark.parametrize("name", sorted(COMPARE))
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64, mg.int64])
def test_comparison_with_python_scalar_on_either_side(name, dtype):
    op, _, ref = COMPARE[name]
    x_np = np.array([-1, 0, 1, 2, 1])
    x = mg.tensor(x_np, dtype=dtype)
    for scalar in (1, 1.0, 0.5):
        np.testing.assert_array_equal(op(x, scalar).numpy(), ref(x_np, scalar))
        np.testing.assert_array_equal(op(scalar, x).numpy(), ref(scalar, x_np))


@given(PAIRS)
def test_comparisons_on_drawn_broadcast_shapes(pair):
    a_np, b_np = np.round(pair[0]), np.round(pair[1])
    for op, _, ref in COMPARE.values():
        got = op(mg.tensor(a_np), mg.tensor(b_np))
        assert got.dtype == np.bool_
        np.testing.assert_array_equal(got.numpy(), ref(a_np, b_np))


@pytest.mark.parametrize("name", sorted(LOGICAL))
@pytest.mark.parametrize("dtype", [mg.bool, mg.int64, mg.float32])
def test_logical_op_matches_numpy_and_gives_bool(name, dtype):
    op, fn, ref = LOGICAL[name]
    a_np = np.array([[0, 1, 2, 0], [3, 0, 1, 2]])
    b_np = np.array([1, 0, 1, 0])
    a, b = mg.tensor(a_np, dtype=dtype), mg.tensor(b_np, dtype=dtype)
    for got in (op(a, b), fn(a, b), fn(a, True)):
        assert got.dtype == np.bool_ and not got.requires_grad
    np.testing.assert_array_equal(op(a, b).numpy(), ref(a_np, b_np))
    np.testing.assert_array_equal(fn(a, b).numpy(), ref(a_np, b_np))


@pytest.mark.parametrize("dtype", [mg.bool, mg.int64, mg.float32])
def test_logical_not_matches_numpy_and_gives_bool(dtype):
    x_np = np.array([[0, 1, 2], [3, 0, 0]])
    x = mg.tensor(x_np, dtype=dtype)
    for got in (~x, logical_not(x)):
        assert got.dtype == np.bool_ and not got.requires_grad
        np.testing.assert_array_equal(got.numpy(), np.logical_not(x_np))


def test_comparison_of_tensors_requiring_grad_builds_no_graph():
    x = mg.randn(3, 4, requires_grad=True)
    mask = (x > 0) & (x < 1) | ~(x == 0.5)
    assert not mask.requires_grad and mask.grad_fn is None and mask.dtype == np.bool_


@pytest.mark.parametrize("source, target", [(mg.float32, mg.float64), (mg.float64, mg.float32),
                                            (mg.float32, mg.float16), (mg.float16, mg.float64)])
def test_cast_converts_values_and_gradient_back(source, target):
    x_np = rng.uniform(-2, 2, (3, 4)).astype(source)
    x = mg.tensor(x_np, requires_grad=True)
    y = x.to(target)
    assert y.dtype == target and y.requires_grad
    assert_close(y, x_np.astype(target), rtol=0, atol=0)
    g = rng.standard_normal((3, 4)).astype(target)
    y.backward(mg.tensor(g))
    assert x.grad.dtype == source
    assert_close(x.grad, g.astype(source), rtol=0, atol=0)


def test_cast_is_twice_differentiable():
    x_np = np.array([-1.5, 0.25, 2.0], dtype=np.float32)
    x = mg.tensor(x_np, requires_grad=True)
    (g,) = mg.grad((x.double() ** 3).sum(), x, create_graph=True)
    assert g.dtype == mg.float32
    assert_close(g, 3 * x_np ** 2)
    (gg,) = mg.grad(g.sum(), x)
    assert gg.dtype == mg.float32
    assert_close(gg, 6 * x_np)


@pytest.mark.parametrize("to", ["long", "int", "bool"])
def test_cast_to_non_floating_dtype_leaves_the_graph(to):
    x_np = np.array([-1.7, 0.0, 0.4, 2.9], dtype=np.float32)
    x = mg.tensor(x_np, requires_grad=True)
    y = getattr(x, to)()
    assert not y.requires_grad and y.grad_fn is None
    np.testing.assert_array_equal(y.numpy(), x_np.astype({"long": np.int64, "int": np.int32,
                                                          "bool": np.bool_}[to]))


def test_cast_to_same_dtype_returns_the_tensor_itself():
    x = mg.randn(2, 3, requires_grad=True)
    assert x.to(mg.float32) is x and x.float() is x and x.type_as(x) is x


@pytest.mark.parametrize("shape", [(3, 4), (1, 5), (2, 3, 5), ()])
def test_clone_matches_reference_and_gradients(shape):
    check_op(clone, np.copy, rng.uniform(-2, 2, shape))
    check_op(lambda x: x.clone(), np.copy, rng.uniform(-2, 2, shape))


def test_clone_owns_its_storage():
    x = mg.randn(3, 4)
    y = x.clone()
    assert not np.shares_memory(x.numpy(), y.numpy())
    y.fill_(7.0)
    assert not np.any(x.numpy() == 7.0)


def test_clone_of_a_transposed_view_is_contiguous():
    view = mg.tensor(np.arange(12.0).reshape(3, 4)).T
    copy = view.clone()
    assert copy.numpy().flags.c_contiguous
    assert_close(copy, np.arange(12.0).reshape(3, 4).T, rtol=0, atol=0)


RESULT_DTYPES = {  # name: (input dtype, op on a module m (mg or np) and x, result dtype)
    "float32 * 2.0": (mg.float32, lambda m, x: x * 2.0, mg.float32),
    "2.0 * float32": (mg.float32, lambda m, x: 2.0 * x, mg.float32),
    "float32 + 1": (mg.float32, lambda m, x: x + 1, mg.float32),
    "1 - float32": (mg.float32, lambda m, x: 1 - x, mg.float32),
    "float32 / 3": (mg.float32, lambda m, x: x / 3, mg.float32),
    "float32 ** 2": (mg.float32, lambda m, x: x ** 2, mg.float32),
    "2 ** float32": (mg.float32, lambda m, x: 2 ** x, mg.float32),
    "maximum(float32, 2.5)": (mg.float32, lambda m, x: m.maximum(x, 2.5), mg.float32),
    "float64 * 2.0": (mg.float64, lambda m, x: x * 2.0, mg.float64),
    "float16 * 2.0": (mg.float16, lambda m, x: x * 2.0, mg.float16),
    "int64 * 2": (mg.int64, lambda m, x: x * 2, mg.int64),
    "2 - int64": (mg.int64, lambda m, x: 2 - x, mg.int64),
    "int64 ** 2": (mg.int64, lambda m, x: x ** 2, mg.int64),
    "-int64": (mg.int64, lambda m, x: -x, mg.int64),
    "int32 + 1": (mg.int32, lambda m, x: x + 1, mg.int32),
    "int64 * 2.5": (mg.int64, lambda m, x: x * 2.5, mg.float32),
    "2.5 + int64": (mg.int64, lambda m, x: 2.5 + x, mg.float32),
    "int64 - 0.5": (mg.int64, lambda m, x: x - 0.5, mg.float32),
    "int64 / int64": (mg.int64, lambda m, x: x / x, mg.float32),
    "int64 / 2": (mg.int64, lambda m, x: x / 2, mg.float32),
    "3 / int64": (mg.int64, lambda m, x: 3 / x, mg.float32),
    "int64 / 2.0": (mg.int64, lambda m, x: x / 2.0, mg.float32),
    "int64 ** 0.5": (mg.int64, lambda m, x: x ** 0.5, mg.float32),
    "maximum(int64, 2.5)": (mg.int64, lambda m, x: m.maximum(x, 2.5), mg.float32),
    "where(int64, 2.5)": (mg.int64, lambda m, x: m.where(x > 1, x, 2.5), mg.float32),
    "bool + 1": (mg.bool, lambda m, x: x + 1, mg.int64),
    "bool * 2.5": (mg.bool, lambda m, x: x * 2.5, mg.float32),
}


@pytest.mark.parametrize("name", sorted(RESULT_DTYPES))
def test_python_scalar_keeps_the_tensor_dtype(name):
    dtype, op, expected = RESULT_DTYPES[name]
    x_np = np.array([1, 0, 1, 1]) if dtype == mg.bool else np.array([1, 2, 3, 4])
    got = op(mg, mg.tensor(x_np, dtype=dtype))
    assert got.dtype == expected
    assert_close(got, op(np, x_np.astype(dtype).astype(np.float64)).astype(expected))


SCALAR_NODES = {  # name: (op with a number s, node it makes, the same op in float32 arrays)
    "x + s": (lambda x, s: x + s, "AddScalar", lambda x, s: x + s),
    "s + x": (lambda x, s: s + x, "AddScalar", lambda x, s: s + x),
    "x - s": (lambda x, s: x - s, "AddScalar", lambda x, s: x - s),
    "s - x": (lambda x, s: s - x, "RSubScalar", lambda x, s: s - x),
    "x * s": (lambda x, s: x * s, "MulScalar", lambda x, s: x * s),
    "s * x": (lambda x, s: s * x, "MulScalar", lambda x, s: s * x),
    "x / s": (lambda x, s: x / s, "DivScalar", lambda x, s: x / s),
    "s / x": (lambda x, s: s / x, "RDivScalar", lambda x, s: s / x),
    "x ** s": (lambda x, s: x ** s, "PowScalar", lambda x, s: x ** s),
}


@pytest.mark.parametrize("name", sorted(SCALAR_NODES))
@pytest.mark.parametrize("scalar", [3, 0.1, np.float64(0.1), np.int64(-2)])
def test_a_number_next_to_a_float_tensor_is_a_parameter_of_one_node(name, scalar):
    """No constant tensor is made from the number (on a GPU, a copy from the host): the
    node has one input, and the result is the float32 arithmetic of the number rounded to
    float32, bit for bit, even for a NumPy float64 scalar."""
    op, node, ref = SCALAR_NODES[name]
    x_np = rng.uniform(0.5, 2, (3, 4)).astype(np.float32)
    x = mg.tensor(x_np, requires_grad=True)
    y = op(x, scalar)
    assert y._ctx.name == node and len(y._ctx.inputs) == 1 and y.dtype == mg.float32
    s32 = np.float32(scalar)
    expected = ref(x_np, s32)
    np.testing.assert_array_equal(y.detach().numpy(), expected)


@given(x=arrays(st.tuples(st.integers(0, 3), st.integers(1, 4)), low=0.5, high=2.0),
       s=st.sampled_from([-1.5, 0.5, 2, 3]))
def test_number_forms_have_the_gradients_of_the_tensor_forms(x, s):
    """Each one-node form against the same op with the number as a 0-d tensor (the
    general broadcasting node): values, first and second derivatives."""
    for name, (op, _, _) in SCALAR_NODES.items():
        a = mg.tensor(x, requires_grad=True)
        b = mg.tensor(x, requires_grad=True)
        s_t = mg.tensor(np.float64(s))
        ya, yb = op(a, s), op(b, s_t)
        assert ya._ctx.name != yb._ctx.name, name
        assert_close(ya.detach(), yb.detach().numpy(), rtol=1e-14, atol=1e-14)
        (ga,) = mg.grad(ya.square().sum(), a, create_graph=True)
        (gb,) = mg.grad(yb.square().sum(), b, create_graph=True)
        assert_close(ga.detach(), gb.detach().numpy(), rtol=1e-12, atol=1e-12)
        (gga,) = mg.grad(ga.sum(), a)
        (ggb,) = mg.grad(gb.sum(), b)
        assert_close(gga, ggb.numpy(), rtol=1e-12, atol=1e-12)


def test_x_to_the_power_0_has_a_zero_gradient_even_at_0():
    x = mg.tensor([0.0, 1.5, -2.0], requires_grad=True)
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.truediv, operator.pow,
                                mg.maximum, lambda a, b: mg.where(b > 1, a, b)])
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_int_tensor_next_to_float_tensor_takes_the_float_dtype(op, dtype):
    f = mg.tensor([0.5, 1.5, 2.5], dtype=dtype, requires_grad=True)
    i = mg.tensor([1, 2, 3])
    for got in (op(f, i), op(i, f)):
        assert got.dtype == dtype
    op(f, i).sum().backward()
    assert f.grad.dtype == dtype


BROADCAST_ERRORS = {  # name: function form
    "add": mg.add, "sub": mg.sub, "mul": mg.mul, "div": mg.div, "pow": mg.pow,
    "maximum": mg.maximum, "minimum": mg.minimum, "lt": mg.lt, "le": mg.le, "gt": mg.gt,
    "ge": mg.ge, "eq": mg.eq, "ne": mg.ne, "logical_and": logical_and,
    "logical_or": logical_or,
}


@pytest.mark.parametrize("name", sorted(BROADCAST_ERRORS))
def test_binary_op_rejects_non_broadcastable_shapes(name):
    fn = BROADCAST_ERRORS[name]
    with pytest.raises(ValueError,
                       match=rf"^{name}: shapes \(3,\) and \(4,\) cannot be broadcast together"):
        fn(mg.zeros(3), mg.zeros(4))
    with pytest.raises(ValueError,
                       match=rf"^{name}: shapes \(2, 3\) and \(3, 2\) cannot be broadcast"):
        fn(mg.zeros(2, 3), mg.zeros(3, 2))


@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.sub, "sub"),
                                      (operator.mul, "mul"), (operator.truediv, "div"),
                                      (operator.pow, "pow"), (operator.lt, "lt")])
def test_operator_rejects_non_broadcastable_shapes(op, name):
    with pytest.raises(ValueError,
                       match=rf"^{name}: shapes \(3,\) and \(4,\) cannot be broadcast together"):
        op(mg.zeros(3, requires_grad=True), mg.zeros(4))


def test_where_rejects_non_broadcastable_shapes():
    cond = mg.tensor([True, False])
    with pytest.raises(ValueError, match=r"^where: shapes \(2,\) and \(3,\) and \(4,\) cannot "
                                         r"be broadcast together"):
        mg.where(cond, mg.zeros(3), mg.zeros(4))


@pytest.mark.parametrize("cond, kind", [(mg.tensor([1.0, 0.0]), "float32"),
                                        (mg.tensor([1, 0]), "int64"),
                                        ([True, False], "list"), (True, "bool")])
def test_where_rejects_non_bool_condition(cond, kind):
    with pytest.raises(TypeError, match=f"^where: condition must be a bool tensor, got {kind}$"):
        mg.where(cond, mg.zeros(2), mg.ones(2))


@pytest.mark.parametrize("op, name", [(operator.add, "add"), (operator.mul, "mul"),
                                      (operator.lt, "lt"), (mg.maximum, "maximum")])
def test_binary_op_rejects_unsupported_operand_type(op, name):
    with pytest.raises(TypeError, match=f"^{name}: cannot combine a tensor with str$"):
        op(mg.zeros(3), "1")
