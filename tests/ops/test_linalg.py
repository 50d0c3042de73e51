"""Tests for minigan/ops/linalg.py."""
import re

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, broadcastable_shapes

rng = np.random.default_rng(0)


@st.composite
def _operands(draw):
    """Two arrays that ``np.matmul`` accepts: broadcastable batch dims, either one maybe
    1-D, sizes 1 to 4."""
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    n, k, m = draw(st.tuples(*[st.integers(1, 4)] * 3))
    kind = draw(st.sampled_from(["matrix @ matrix", "vector @ matrix", "matrix @ vector"]))
    a_shape = (k,) if kind == "vector @ matrix" else batch_a + (n, k)
    b_shape = (k,) if kind == "matrix @ vector" else batch_b + (k, m)
    return draw(arrays(a_shape)), draw(arrays(b_shape))


MATMUL_SHAPES = [  # 1-D x 1-D, 1-D x 2-D, 2-D x 1-D, 2-D x 2-D, batched with broadcasting
    ((4,), (4,)), ((4,), (4, 3)), ((3, 4), (4,)), ((3, 4), (4, 5)), ((1, 4), (4, 1)),
    ((1, 1), (1, 1)), ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (4,)), ((4,), (2, 4, 3)),
    ((3, 5), (2, 5, 1)), ((1, 3, 5), (2, 5, 3)),
]


@pytest.mark.parametrize("a_shape, b_shape", MATMUL_SHAPES)
def test_matmul_matches_numpy_and_gradients(a_shape, b_shape):
    check_op(mg.matmul, np.matmul, rng.standard_normal(a_shape), rng.standard_normal(b_shape))


@pytest.mark.parametrize("a_shape, b_shape", [((3, 4), (4, 5)), ((2, 1, 3, 4), (5, 4, 2)),
                                              ((4,), (4,)), ((3, 4), (4,))])
def test_matmul_operator_is_matmul(a_shape, b_shape):
    check_op(lambda a, b: a @ b, np.matmul, rng.standard_normal(a_shape),
             rng.standard_normal(b_shape))


def test_numpy_array_at_tensor_uses_rmatmul():
    a, b = rng.standard_normal((3, 4)), mg.randn(4, 2, dtype=mg.float64, requires_grad=True)
    y = a @ b
    assert isinstance(y, mg.Tensor)
    assert_close(y, a @ b.data, rtol=1e-15, atol=0)
    y.sum().backward()
    assert_close(b.grad, a.T @ np.ones((3, 2)), rtol=1e-15, atol=0)


@given(_operands())
def test_matmul_matches_numpy_on_drawn_broadcast_shapes(operands):
    check_op(mg.matmul, np.matmul, *operands, gradgrad=False, noncontiguous=False)


def test_matmul_gradient_is_gy_bT_and_aT_gy():
    a, b, gy = (rng.standard_normal(s) for s in [(3, 4), (4, 5), (3, 5)])
    ta, tb = (mg.tensor(v, requires_grad=True) for v in (a, b))
    ga, gb = mg.grad(ta @ tb, [ta, tb], mg.tensor(gy))
    assert_close(ga, gy @ b.T, rtol=1e-14, atol=1e-14)
    assert_close(gb, a.T @ gy, rtol=1e-14, atol=1e-14)


def test_batched_matmul_gradient_sums_over_broadcast_batch_dims():
    a, b = rng.standard_normal((2, 1, 3, 4)), rng.standard_normal((5, 4, 2))
    gy = rng.standard_normal((2, 5, 3, 2))
    ta, tb = (mg.tensor(v, requires_grad=True) for v in (a, b))
    ga, gb = mg.grad(ta @ tb, [ta, tb], mg.tensor(gy))
    assert_close(ga, (gy @ b.swapaxes(-1, -2)).sum(axis=1, keepdims=True), rtol=1e-14,
                 atol=1e-14)
    assert_close(gb, (a.swapaxes(-1, -2) @ gy).sum(axis=0), rtol=1e-14, atol=1e-14)


def test_vector_operand_gradients_are_outer_products():
    a, b, gy = rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal(3)
    ta, tb = (mg.tensor(v, requires_grad=True) for v in (a, b))
    ga, gb = mg.grad(ta @ tb, [ta, tb], mg.tensor(gy))
    assert_close(ga, b @ gy, rtol=1e-14, atol=1e-14)
    assert_close(gb, np.outer(a, gy), rtol=1e-14, atol=1e-14)


def test_matmul_only_differentiates_the_operands_that_need_it():
    a = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((4, 2)))
    (ga,) = mg.grad((a @ b).sum(), a)
    assert_close(ga, np.ones((3, 2)) @ b.data.T, rtol=1e-15, atol=0)
    assert not (b @ b.T).requires_grad


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape", [(3,), (2, 3), (1, 3), (2, 1, 3), (4, 2, 3)])
def test_linear_is_x_times_weight_transposed_plus_bias(x_shape, bias):
    x, w, b = rng.standard_normal(x_shape), rng.standard_normal((5, 3)), rng.standard_normal(5)
    if bias:
        check_op(F.linear, lambda x, w, b: x @ w.T + b, x, w, b)
    else:
        check_op(F.linear, lambda x, w: x @ w.T, x, w)


def test_linear_bias_gradient_sums_over_the_batch():
    x = mg.tensor(rng.standard_normal((2, 4, 3)))
    w = mg.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(5), requires_grad=True)
    gy = rng.standard_normal((2, 4, 5))
    gw, gb = mg.grad(F.linear(x, w, b), [w, b], mg.tensor(gy))
    assert_close(gb, gy.sum(axis=(0, 1)), rtol=1e-14, atol=1e-14)
    assert_close(gw, np.einsum("bno,bni->oi", gy, x.data), rtol=1e-13, atol=1e-13)


@st.composite
def _linear_operands(draw):
    """x: (*batch, in) with 0 to 2 batch dims (sides 0 to 3), weight: (out, in), maybe a
    bias; in and out from 1 to 4."""
    batch = draw(st.lists(st.integers(0, 3), max_size=2))
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    operands = [draw(arrays(tuple(batch) + (n_in,))), draw(arrays((n_out, n_in)))]
    if draw(st.booleans()):
        operands.append(draw(arrays((n_out,))))
    return operands


@given(_linear_operands())
def test_linear_matches_x_times_weight_transposed_on_drawn_shapes(operands):
    def reference(x, w, b=None):
        return x @ w.T if b is None else x @ w.T + b
    check_op(F.linear, reference, *operands, noncontiguous=False)


def test_linear_is_one_node_that_differentiates_only_what_needs_it():
    x = mg.tensor(rng.standard_normal((2, 3)))
    w = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal(4))
    y = F.linear(x, w, b)
    assert y._ctx.name == "Linear" and y._ctx.needs_input_grad == (False, True, False)
    assert all(t._ctx is None for t in y._ctx.inputs)       # no transpose or add node
    gy = rng.standard_normal((2, 4))
    (gw,) = mg.grad(y, w, mg.tensor(gy))
    assert_close(gw, gy.T @ x.data, rtol=1e-15, atol=0)


def test_linear_of_an_empty_batch_has_zero_weight_and_bias_gradients():
    x = mg.zeros(0, 3, dtype=mg.float64, requires_grad=True)
    w = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
    b = mg.randn(4, dtype=mg.float64, requires_grad=True)
    y = F.linear(x, w, b)
    assert y.shape == (0, 4)
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    assert_close(w.grad, np.zeros((4, 3)), rtol=0, atol=0)
    assert_close(b.grad, np.zeros(4), rtol=0, atol=0)


def test_matmul_of_incompatible_matrices_names_both_shapes():
    with pytest.raises(ValueError, match=r"^matmul: shapes \(3, 4\) and \(5, 6\) cannot be "
                                         "multiplied"):
        mg.randn(3, 4) @ mg.randn(5, 6)
    with pytest.raises(ValueError, match=r"^matmul: shapes \(3,\) and \(4,\) cannot be "
                                         "multiplied"):
        mg.matmul(mg.randn(3), mg.randn(4))
    with pytest.raises(ValueError, match=r"^matmul: shapes \(2, 3\) and \(4,\) cannot be "
                                         "multiplied"):
        mg.matmul(mg.randn(2, 3), mg.randn(4))


@pytest.mark.parametrize("a_shape, b_shape", [((), (3,)), ((3, 4), ())])
def test_matmul_rejects_zero_dim_operand(a_shape, b_shape):
    message = f"matmul: both operands need at least one dimension, got shapes {a_shape} and "
    with pytest.raises(ValueError, match="^" + re.escape(message + str(b_shape))):
        mg.matmul(mg.randn(*a_shape), mg.randn(*b_shape))


def test_matmul_rejects_non_broadcastable_batch_dims():
    with pytest.raises(ValueError, match=r"^matmul: shapes \(2, 3, 4\) and \(3, 4, 5\) cannot "
                                         r"be multiplied: batch dims \(2,\) and \(3,\)"):
        mg.randn(2, 3, 4) @ mg.randn(3, 4, 5)


def test_matmul_rejects_integer_tensors():
    with pytest.raises(TypeError, match=r"^matmul: expected a floating-point tensor, got "
                                        r"input 0 of dtype int64 and shape \(1, 2\)"):
        mg.tensor([[1, 2]]) @ mg.tensor([[1.0], [2.0]])
    with pytest.raises(TypeError, match="^matmul: expected a floating-point tensor, got input 1"):
        mg.matmul(mg.randn(2, 2), mg.tensor([[1, 2], [3, 4]]))


def test_linear_rejects_wrong_weight_and_bias_shapes():
    x = mg.randn(2, 3)
    with pytest.raises(ValueError, match=r"^linear: input of shape \(2, 3\) does not match "
                                         r"weight of shape \(4, 5\)"):
        F.linear(x, mg.randn(4, 5))
    with pytest.raises(ValueError, match=r"^linear: weight must be 2-D \(out, in\), got shape "
                                         r"\(3,\)"):
        F.linear(x, mg.randn(3))
    with pytest.raises(ValueError, match=r"^linear: bias must have shape \(4,\), got \(3,\)"):
        F.linear(x, mg.randn(4, 3), mg.randn(3))
    with pytest.raises(ValueError, match=r"^linear: bias must have shape \(4,\), got \(1, 4\)"):
        F.linear(x, mg.randn(4, 3), mg.randn(1, 4))
