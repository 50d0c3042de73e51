"""Tests for minigan/ops/indexing.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)

MASK_2D = rng.random((4, 5)) > 0.5
MASK_1D = np.array([True, False, True, True])


def assert_backward_is_adjoint(op, reference, x):
    """grad((op(x) * y).sum(), x) == M.T @ y, with M the matrix of the NumPy ``reference``
    built by brute force (column k = reference(k-th unit array)), never by a scatter-add;
    and <op(x), y> == <x, grad>."""
    columns = [np.asarray(reference(e.reshape(x.shape)), np.float64).ravel()
               for e in np.eye(x.size)]
    out_shape = np.shape(reference(x))
    matrix = np.array(columns, np.float64).reshape(x.size, int(np.prod(out_shape))).T
    y = rng.standard_normal(out_shape)
    t = mg.tensor(x, requires_grad=True)
    out = op(t)
    (g,) = mg.grad((out * mg.tensor(y)).sum(), t)
    assert_close(g, (matrix.T @ y.ravel()).reshape(x.shape), rtol=1e-12, atol=1e-12)
    assert float((out.detach() * mg.tensor(y)).sum()) == pytest.approx(
        float((mg.tensor(x) * g).sum()), rel=1e-12, abs=1e-12)


INDEXES = {  # name: (index given to minigan, the same index for NumPy); x has shape (4, 5, 3)
    "int": (2, 2),
    "negative_int": (-1, -1),
    "int_pair": ((1, -2), (1, -2)),
    "int_triple": ((3, 4, -3), (3, 4, -3)),
    "slice": (slice(1, 3), slice(1, 3)),
    "slice_with_step": ((slice(None), slice(0, 5, 2)), (slice(None), slice(0, 5, 2))),
    "slice_negative_step": ((slice(None, None, -1), slice(4, 0, -2)),
                            (slice(None, None, -1), slice(4, 0, -2))),
    "slice_empty": (slice(3, 1), slice(3, 1)),
    "none": ((None, 1), (None, 1)),
    "none_in_the_middle": ((slice(None), None, 0), (slice(None), None, 0)),
    "ellipsis": ((Ellipsis, 1), (Ellipsis, 1)),
    "ellipsis_none": ((Ellipsis, None), (Ellipsis, None)),
    "int_array_repeated": (np.array([3, 0, 3, 3]), np.array([3, 0, 3, 3])),
    "int_array_2d_repeated": (np.array([[0, 1], [1, 1]]), np.array([[0, 1], [1, 1]])),
    "int_array_negative": (np.array([-1, 0, -1]), np.array([-1, 0, -1])),
    "int_tensor": (mg.tensor([2, 2, 1]), np.array([2, 2, 1])),
    "int32_tensor": (mg.tensor([0, 3, 0], dtype=mg.int32), np.array([0, 3, 0])),
    "int_tensor_scalar": (mg.tensor(1), 1),
    "list": ([0, 2, 0], [0, 2, 0]),
    "nested_list": ([[0, 2], [2, 2]], np.array([[0, 2], [2, 2]])),
    "empty_list": ([], np.zeros(0, dtype=int)),
    "bool_mask_tensor": (mg.tensor(MASK_2D), MASK_2D),
    "bool_mask_numpy": (MASK_1D, MASK_1D),
    "bool_list": ([True, False, True, True], MASK_1D),
    "bool_mask_and_int": ((MASK_1D, 2), (MASK_1D, 2)),
    "slice_and_list": ((slice(1, None), [0, 2]), (slice(1, None), [0, 2])),
    "list_pair_repeated": (([1, 1, 3], [4, 4, 0]), ([1, 1, 3], [4, 4, 0])),
    "lists_around_a_slice": (([0, 0, 3], slice(None), [2, 2, 0]),
                             ([0, 0, 3], slice(None), [2, 2, 0])),
    "ellipsis_and_list": ((Ellipsis, [2, 2]), (Ellipsis, [2, 2])),
    "none_and_array": ((None, np.array([1, 1])), (None, np.array([1, 1]))),
    "tensor_and_negative_step": ((mg.tensor([3, 3]), slice(None, None, -2)),
                                 (np.array([3, 3]), slice(None, None, -2))),
}
X = mg.zeros(3, 4)
ERRORS = {  # name: (call, exception type, message pattern)
    "int_out_of_range": (lambda: X[5], IndexError,
                         r"getitem: index 5 is out of bounds for axis 0 with size 3 \(tensor "
                         r"of shape \(3, 4\)\)"),
    "negative_int_out_of_range": (lambda: X[:, -5], IndexError,
                                  r"getitem: index -5 is out of bounds for axis 1 with size 4 "
                                  r"\(tensor of shape \(3, 4\)\)"),
    "array_out_of_range": (lambda: X[[0, 3]], IndexError,
                           r"getitem: index 3 is out of bounds .* \(tensor of shape \(3, 4\)\)"),
    "tensor_out_of_range": (lambda: X[:, mg.tensor([4])], IndexError,
                            r"getitem: index 4 is out of bounds.*shape \(3, 4\)"),
    "too_many_indices": (lambda: X[0, 0, 0], IndexError,
                         r"getitem: too many indices.*\(tensor of shape \(3, 4\)\)"),
    "float_numpy_index": (lambda: X[np.array([0.0, 1.0])], IndexError,
                          r"getitem: index arrays must hold integers or booleans, got float64 "
                          r"\(tensor of shape \(3, 4\)\)"),
    "float_tensor_index": (lambda: X[mg.tensor([0.0, 1.0])], IndexError,
                           r"getitem: index arrays must hold integers or booleans, got "
                           r"float32 \(tensor of shape \(3, 4\)\)"),
    "float_list_index": (lambda: X[:, [0.5]], IndexError,
                         r"getitem: index arrays must hold integers.*shape \(3, 4\)"),
    "float_scalar_index": (lambda: X[1.0], IndexError, r"getitem: .*shape \(3, 4\)"),
    "mask_wrong_shape": (lambda: X[np.ones(4, bool)], IndexError,
                         r"getitem: boolean index did not match.*shape \(3, 4\)"),
    "index_add_values_shape": (lambda: mg.index_add((3,), [0, 0, 1], mg.ones(1)), ValueError,
                               r"index_add: values of shape \(1,\) do not match the indexed "
                               r"region of shape \(3,\) \(target shape \(3,\)\)"),
    "index_add_out_of_range": (lambda: mg.index_add((3, 2), [0, 3], mg.ones(2, 2)),
                               IndexError, r"index_add: index 3 is out of bounds for axis 0 "
                               r"with size 3 \(target shape \(3, 2\)\)"),
    "index_add_float_index": (lambda: mg.index_add((3,), np.array([0.0]), mg.ones(1)),
                              IndexError, r"index_add: index arrays must hold integers.*"
                              r"\(target shape \(3,\)\)"),
    "one_hot_float_labels": (lambda: mg.one_hot(mg.tensor([0.0, 1.0]), 3), TypeError,
                             "one_hot: labels must be integers, got float32"),
    "one_hot_bool_labels": (lambda: mg.one_hot(mg.tensor([True]), 2), TypeError,
                            "one_hot: labels must be integers, got bool"),
    "one_hot_label_too_big": (lambda: F.one_hot(mg.tensor([0, 3, 1]), 3), ValueError,
                              "one_hot: label 3 does not fit num_classes=3"),
    "one_hot_negative_label": (lambda: mg.one_hot(mg.tensor([0, -1]), 3), ValueError,
                               "one_hot: labels must be non-negative, got -1"),
    "embedding_index_too_big": (lambda: mg.embedding(mg.tensor([[0, 5]]), mg.zeros(5, 2)),
                                IndexError, r"embedding: indices must lie in \[0, 5\), got "
                                r"values from 0 to 5"),
    "embedding_negative_index": (lambda: F.embedding(mg.tensor([-1, 2]), mg.zeros(5, 2)),
                                 IndexError, r"embedding: indices must lie in \[0, 5\), got "
                                 r"values from -1 to 2"),
    "embedding_float_indices": (lambda: mg.embedding(mg.tensor([0.0]), mg.zeros(5, 2)),
                                TypeError, "embedding: indices must be integers, got float32"),
    "embedding_weight_not_2d": (lambda: mg.embedding(mg.tensor([0]), mg.zeros(5)),
                                ValueError, r"embedding: weight must be 2-D \(num_embeddings, "
                                r"dim\), got shape \(5,\)"),
}


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_getitem_matches_numpy_and_gradients(name):
    index, np_index = INDEXES[name]
    check_op(lambda t: t[index], lambda a: a[np_index], rng.standard_normal((4, 5, 3)))


@pytest.mark.parametrize("name", sorted(INDEXES))
def test_getitem_backward_is_the_adjoint(name):
    index, np_index = INDEXES[name]
    assert_backward_is_adjoint(lambda t: t[index], lambda a: a[np_index],
                               rng.standard_normal((4, 5, 3)))


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_arguments_raise_naming_op_and_shapes(name):
    call, error, pattern = ERRORS[name]
    with pytest.raises(error, match=pattern):
        call()


def test_repeated_integer_index_gradient_counts_the_repeats():
    x = mg.tensor([5.0, 6.0, 7.0], requires_grad=True)
    x[[0, 0, 1]].sum().backward()
    assert_close(x.grad, np.array([2.0, 1.0, 0.0], np.float32), rtol=0, atol=0)
    m = mg.zeros(3, 2, requires_grad=True)
    (g,) = mg.grad(m[[0, 0, 2, 0], [1, 1, 1, 0]].sum(), m)
    assert_close(g, np.array([[1.0, 2.0], [0.0, 0.0], [0.0, 1.0]], np.float32), rtol=0,
                 atol=0)
    (g,) = mg.grad(m[mg.tensor([1, 1, 1])].sum(), m)
    assert_close(g, np.array([[0.0, 0.0], [3.0, 3.0], [0.0, 0.0]], np.float32), rtol=0,
                 atol=0)


@given(shapes(max_dims=3).flatmap(lambda s: st.tuples(
    arrays(s), st.lists(st.integers(-s[0], s[0] - 1), max_size=8))))
def test_drawn_repeated_indices_gradient_is_a_bincount(case):
    x, picks = case
    index = np.array(picks, dtype=np.int64)
    check_op(lambda t: t[index], lambda a: a[index], x, gradgrad=False, noncontiguous=False)
    t = mg.tensor(x, requires_grad=True)
    (g,) = mg.grad(t[mg.tensor(index)].sum(), t)
    counts = np.bincount(index % x.shape[0], minlength=x.shape[0]).astype(np.float64)
    assert_close(g, np.broadcast_to(counts.reshape((-1,) + (1,) * (x.ndim - 1)), x.shape),
                 rtol=0, atol=0)


@given(shapes(max_dims=3, max_side=6).flatmap(lambda s: st.tuples(
    arrays(s), st.tuples(*[st.slices(n) for n in s]))))
def test_drawn_slices_match_numpy_and_backward_is_the_adjoint(case):
    x, index = case
    check_op(lambda t: t[index], lambda a: a[index], x, gradgrad=False, noncontiguous=False)
    assert_backward_is_adjoint(lambda t: t[index], lambda a: a[index], x)


@given(shapes(max_dims=3).flatmap(lambda s: st.tuples(
    arrays(s), st.integers(1, len(s)), st.integers(0, 2 ** 32 - 1))))
def test_drawn_boolean_masks_pick_and_scatter_back(case):
    x, mask_dims, seed = case
    mask = np.random.default_rng(seed).random(x.shape[:mask_dims]) > 0.5
    for index in (mask, mg.tensor(mask)):
        check_op(lambda t: t[index], lambda a: a[mask], x, gradgrad=False,
                 noncontiguous=False)
        t = mg.tensor(x, requires_grad=True)
        (g,) = mg.grad(t[index].sum(), t)
        want = np.broadcast_to(mask.reshape(mask.shape + (1,) * (x.ndim - mask_dims)),
                               x.shape)
        assert_close(g, want.astype(np.float64), rtol=0, atol=0)


def _index_add_by_loop(shape, rows, values):
    out = np.zeros(shape)
    for r, v in zip(rows, values):
        out[r] += v
    return out


@pytest.mark.parametrize("rows", [[0, 2, 0, 0], [3, 1], [-1, 3, -1], []])
def test_index_add_adds_up_repeated_rows_and_gradients(rows):
    values = rng.standard_normal((len(rows), 3))
    check_op(lambda v: mg.index_add((4, 3), rows, v),
             lambda v: _index_add_by_loop((4, 3), rows, v), values)
    assert_backward_is_adjoint(lambda v: mg.index_add((4, 3), rows, v),
                               lambda v: _index_add_by_loop((4, 3), rows, v), values)


def test_index_add_with_slices_masks_and_tensor_indices():
    v = rng.standard_normal((2, 3))
    want = np.zeros((4, 3))
    want[1:3] = v
    assert_close(mg.index_add((4, 3), slice(1, 3), mg.tensor(v)), want, rtol=0, atol=0)
    assert_close(mg.index_add((4, 3), MASK_1D[[0, 1, 2, 1]], mg.tensor(v)),
                 np.array([v[0], 0 * v[0], v[1], 0 * v[0]]), rtol=0, atol=0)
    w = rng.standard_normal((3, 2))
    assert_close(mg.index_add([4, 2], mg.tensor([3, 3, 0]), mg.tensor(w)),
                 np.array([w[2], [0, 0], [0, 0], w[0] + w[1]]), rtol=0, atol=0)


@pytest.mark.parametrize("labels, num_classes", [([0, 2, 1, 2], 4), ([[1, 0], [3, 3]], -1),
                                                 ([], 3), (2, 5), ([0, 0], 1)])
def test_one_hot_matches_np_eye_rows(labels, num_classes):
    labels = np.array(labels, dtype=np.int64)
    n = int(labels.max()) + 1 if num_classes == -1 else num_classes
    got = mg.one_hot(mg.tensor(labels), num_classes)
    assert got.dtype == mg.int64 and not got.requires_grad
    assert_close(got, np.eye(n, dtype=np.int64)[labels], rtol=0, atol=0)


def test_one_hot_accepts_int32_and_uint8_labels():
    for dtype in (mg.int32, mg.uint8):
        got = F.one_hot(mg.tensor([1, 0, 2], dtype=dtype))
        assert_close(got, np.eye(3, dtype=np.int64)[[1, 0, 2]], rtol=0, atol=0)


@pytest.mark.parametrize("indices", [[3, 0, 3, 3, 1], [[0, 4], [4, 4]], 2])
def test_embedding_picks_rows_and_gradients(indices):
    indices = np.array(indices, dtype=np.int64)
    check_op(mg.embedding, lambda i, w: w[i], indices, rng.standard_normal((5, 3)))


def test_embedding_gradient_adds_up_repeated_rows():
    weight = mg.tensor(rng.standard_normal((4, 2)), requires_grad=True)
    indices = mg.tensor([[1, 3, 1], [1, 0, 3]])
    F.embedding(indices, weight).sum().backward()
    counts = np.array([1.0, 3.0, 0.0, 2.0], np.float32)[:, None]
    assert_close(weight.grad, np.broadcast_to(counts, (4, 2)), rtol=0, atol=0)


def test_getitem_without_grad_records_no_graph():
    x = mg.tensor(rng.standard_normal((3, 4)))
    y = x[1:, [0, 2]]
    assert not y.requires_grad and y.grad_fn is None
    with mg.no_grad():
        assert mg.randn(3, requires_grad=True)[[0, 0]].grad_fn is None
