"""Tests for minigan/ops/shape.py."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.ops.shape import to_device
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, broadcastable_shapes, shapes

rng = np.random.default_rng(0)


def _flat(result):
    """One float64 vector of an op's output(s): a tensor, an array or a tuple of them."""
    items = result if isinstance(result, (tuple, list)) else (result,)
    return np.concatenate([np.asarray(getattr(r, "data", r), np.float64).ravel()
                           for r in items])


def assert_backward_is_adjoint(op, reference, x):
    """grad((op(x) * y).sum(), x) == M.T @ y, with M the matrix of the NumPy ``reference``
    built by brute force (column k = reference(k-th unit array) - reference(0)), and
    <op(x) - op(0), y> == <x, grad>."""
    offset = _flat(reference(np.zeros(x.shape)))
    columns = [_flat(reference(e.reshape(x.shape))) - offset for e in np.eye(x.size)]
    matrix = np.array(columns, np.float64).reshape(x.size, offset.size).T
    y = rng.standard_normal(offset.size)
    t = mg.tensor(x, requires_grad=True)
    out = op(t)
    pieces = out if isinstance(out, (tuple, list)) else (out,)
    weights, start = [], 0
    for p in pieces:
        weights.append(mg.tensor(y[start:start + p.numel()].reshape(p.shape)))
        start += p.numel()
    (g,) = mg.grad(sum((p * w).sum() for p, w in zip(pieces, weights)), t)
    assert_close(g, (matrix.T @ y).reshape(x.shape), rtol=1e-12, atol=1e-12)
    assert np.dot(_flat(out) - offset, y) == pytest.approx(np.dot(x.ravel(), _flat(g)),
                                                            rel=1e-12, abs=1e-12)


def _width(ndim, pad):
    """np.pad's width list for PyTorch's pad tuple (last dim first)."""
    width = [(0, 0)] * ndim
    for i in range(len(pad) // 2):
        width[ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return width


def _pad_pair(pad, mode="constant", value=0.0):
    """(minigan op, NumPy reference) of one padding."""
    np_mode = {"reflect": "reflect", "replicate": "edge"}.get(mode, "constant")
    kwargs = {"constant_values": value} if mode == "constant" else {}
    return (lambda t: F.pad(t, pad, mode=mode, value=value),
            lambda a: np.pad(a, _width(a.ndim, pad), mode=np_mode, **kwargs))


MOVEMENT = {  # name: (op, float64 NumPy reference, input shape)
    "reshape_minus1": (lambda t: t.reshape(4, -1), lambda a: a.reshape(4, -1), (2, 3, 4)),
    "reshape_tuple": (lambda t: t.reshape((3, 2, 2, 2)), lambda a: a.reshape(3, 2, 2, 2),
                      (2, 3, 4)),
    "reshape_function": (lambda t: mg.reshape(t, (-1,)), np.ravel, (2, 3, 4)),
    "view": (lambda t: t.view(-1, 8), lambda a: a.reshape(-1, 8), (2, 3, 4)),
    "flatten": (lambda t: t.flatten(), np.ravel, (2, 3, 4)),
    "flatten_start": (lambda t: t.flatten(1), lambda a: a.reshape(2, 12), (2, 3, 4)),
    "flatten_start_end": (lambda t: mg.flatten(t, 0, 1), lambda a: a.reshape(6, 4),
                          (2, 3, 4)),
    "flatten_negative": (lambda t: t.flatten(-3, -2), lambda a: a.reshape(6, 4), (2, 3, 4)),
    "permute": (lambda t: t.permute(2, 0, 1), lambda a: np.transpose(a, (2, 0, 1)),
                (2, 3, 4)),
    "permute_negative": (lambda t: mg.permute(t, (-1, 0, -2)),
                         lambda a: np.transpose(a, (2, 0, 1)), (2, 3, 4)),
    "transpose": (lambda t: t.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), (2, 3, 4)),
    "transpose_negative": (lambda t: mg.transpose(t, -1, 1), lambda a: np.swapaxes(a, 2, 1),
                           (2, 3, 4)),
    "T_matrix": (lambda t: t.T, lambda a: a.T, (3, 4)),
    "T_3d": (lambda t: t.T, lambda a: a.T, (2, 3, 4)),
    "mT": (lambda t: t.mT, lambda a: np.swapaxes(a, -2, -1), (2, 3, 4)),
    "movedim_to_end": (lambda t: mg.movedim(t, 0, -1), lambda a: np.moveaxis(a, 0, -1),
                       (2, 3, 4)),
    "movedim_to_front": (lambda t: t.movedim(-1, 0), lambda a: np.moveaxis(a, -1, 0),
                         (2, 3, 4)),
    "squeeze_all": (lambda t: t.squeeze(), np.squeeze, (2, 1, 3, 1)),
    "squeeze_dim": (lambda t: mg.squeeze(t, 1), lambda a: np.squeeze(a, 1), (2, 1, 3, 1)),
    "squeeze_negative_dim": (lambda t: t.squeeze(-1), lambda a: np.squeeze(a, -1),
                             (2, 1, 3, 1)),
    "squeeze_non1_dim_noop": (lambda t: t.squeeze(2), lambda a: a, (2, 1, 3, 1)),
    "unsqueeze_front": (lambda t: t.unsqueeze(0), lambda a: a[None], (3, 4)),
    "unsqueeze_end": (lambda t: mg.unsqueeze(t, -1), lambda a: a[..., None], (3, 4)),
    "unsqueeze_negative": (lambda t: t.unsqueeze(-2), lambda a: a[:, None, :], (3, 4)),
    "expand": (lambda t: t.expand(3, 4), lambda a: np.broadcast_to(a, (3, 4)), (3, 1)),
    "expand_minus1": (lambda t: t.expand(-1, 5), lambda a: np.broadcast_to(a, (3, 5)),
                      (3, 1)),
    "expand_new_leading_dims": (lambda t: mg.expand(t, (2, 2, -1, 4)),
                                lambda a: np.broadcast_to(a, (2, 2, 3, 4)), (3, 1)),
    "broadcast_to": (lambda t: mg.broadcast_to(t, (2, 3, 4)),
                     lambda a: np.broadcast_to(a, (2, 3, 4)), (1, 4)),
    "sum_to": (lambda t: mg.sum_to(t, (3, 1)), lambda a: a.sum((0, 2))[:, None], (2, 3, 4)),
    "sum_to_method": (lambda t: t.sum_to((4,)), lambda a: a.sum((0, 1)), (2, 3, 4)),
    "sum_to_scalar": (lambda t: t.sum_to(()), np.sum, (2, 3)),
    "flip": (lambda t: t.flip(0), lambda a: np.flip(a, 0), (2, 3, 4)),
    "flip_dims": (lambda t: mg.flip(t, (0, -1)), lambda a: np.flip(a, (0, 2)), (2, 3, 4)),
    "repeat": (lambda t: t.repeat(2, 1, 3), lambda a: np.tile(a, (2, 1, 3)), (2, 3, 2)),
    "repeat_extra_leading_dims": (lambda t: mg.repeat(t, (2, 1, 2, 1)),
                                  lambda a: np.tile(a, (2, 1, 2, 1)), (3, 2)),
    "split_int": (lambda t: t.split(3, dim=-1), lambda a: np.split(a, [3], axis=-1),
                  (2, 3, 4)),
    "split_sections": (lambda t: mg.split(t, [1, 0, 2], 1), lambda a: np.split(a, [1, 1], 1),
                       (2, 3, 4)),
    "chunk": (lambda t: t.chunk(3, dim=1), lambda a: np.split(a, [2, 4], 1), (2, 5, 2)),
    "to_device_cpu": (lambda t: t.to("cpu"), lambda a: a, (2, 3)),
    "cpu": (lambda t: to_device(t.cpu(), mg.device("cpu")), lambda a: a, (2, 3)),
}
PADS = {  # name: (pad, mode, value, input shape); reflect pads stay below the dim sizes
    "constant_1d": ((1, 2), "constant", 1.5, (2, 3, 4)),
    "constant_2d": ((0, 1, 2, 0), "constant", -0.5, (2, 3, 4)),
    "constant_3d": ((1, 0, 0, 2, 1, 1), "constant", 0.0, (2, 3, 4)),
    "reflect_1d": ((3, 1), "reflect", 0.0, (2, 3, 4)),
    "reflect_2d": ((2, 0, 1, 2), "reflect", 0.0, (2, 3, 4)),
    "reflect_3d": ((1, 3, 0, 2, 1, 1), "reflect", 0.0, (2, 3, 4)),
    "replicate_1d": ((0, 3), "replicate", 0.0, (2, 3, 4)),
    "replicate_2d": ((2, 1, 3, 0), "replicate", 0.0, (2, 3, 4)),
    "replicate_3d": ((1, 2, 2, 0, 0, 3), "replicate", 0.0, (2, 3, 4)),
}
MOVEMENT.update({f"pad_{name}": (*_pad_pair(pad, mode, value), shape)
                 for name, (pad, mode, value, shape) in PADS.items()})

X = mg.zeros(2, 3, 4)
ERRORS = {  # name: (call, exception type, message pattern)
    "reshape_incompatible": (lambda: X.reshape(5, 5), ValueError,
                             r"reshape: cannot view shape \(2, 3, 4\) \(24 elements\) as "
                             r"\(5, 5\)"),
    "reshape_minus1_no_fit": (lambda: X.reshape(5, -1), ValueError,
                              r"reshape: cannot view shape \(2, 3, 4\).* as \(5, -1\)"),
    "reshape_two_minus1": (lambda: X.reshape(-1, -1), ValueError,
                           r"reshape: cannot view shape \(2, 3, 4\)"),
    "reshape_empty_ambiguous": (lambda: mg.zeros(0, 3).reshape(0, -1), ValueError,
                                r"reshape: cannot view shape \(0, 3\) \(0 elements\)"),
    "permute_repeated_dim": (lambda: X.permute(0, 0, 1), ValueError,
                             r"permute: dims \(0, 0, 1\) are not a permutation of the 3 dims "
                             r"of shape \(2, 3, 4\)"),
    "permute_too_few_dims": (lambda: X.permute(1, 0), ValueError,
                             r"permute: dims \(1, 0\) are not a permutation.*\(2, 3, 4\)"),
    "permute_dim_out_of_range": (lambda: X.permute(0, 1, 3), IndexError,
                                 "permute: dim 3 is out of range for a tensor with 3 dim"),
    "mT_of_vector": (lambda: mg.zeros(3).mT, IndexError, "transpose: dim -2 is out of range"),
    "flatten_start_after_end": (lambda: X.flatten(2, 1), ValueError,
                                "flatten: start_dim 2 comes after end_dim 1"),
    "squeeze_dim_out_of_range": (lambda: X.squeeze(3), IndexError, "squeeze: dim 3"),
    "unsqueeze_dim_out_of_range": (lambda: X.unsqueeze(4), IndexError, "unsqueeze: dim 4"),
    "expand_non1_dim": (lambda: X.expand(2, 5, 4), ValueError,
                        r"expand: cannot expand shape \(2, 3, 4\) to \(2, 5, 4\) \(dim 1: "
                        r"3 -> 5"),
    "expand_fewer_dims": (lambda: X.expand(3, 4), ValueError,
                          r"expand: cannot expand shape \(2, 3, 4\) to fewer dims \(3, 4\)"),
    "expand_minus1_new_dim": (lambda: X.expand(-1, 2, 3, 4), ValueError,
                              r"expand: -1 is not allowed for the new leading dim 0"),
    "expand_negative_size": (lambda: X.expand(-2, 2, 3, 4), ValueError,
                             r"expand: cannot expand shape \(2, 3, 4\).*negative size -2"),
    "sum_to_not_broadcastable": (lambda: mg.sum_to(X, (3, 2)), ValueError,
                                 r"sum_to: shape \(3, 2\) does not broadcast to \(2, 3, 4\)"),
    "flip_repeated_dim": (lambda: X.flip((0, -3)), ValueError,
                          r"flip: dim \(0, -3\) names a dimension twice"),
    "repeat_too_few_counts": (lambda: X.repeat(2, 2), ValueError,
                              r"repeat: 2 repeat counts for a tensor of 3 dims \(shape "
                              r"\(2, 3, 4\)\)"),
    "repeat_negative_count": (lambda: X.repeat(1, -1, 1), ValueError,
                              r"repeat: repeat counts must be non-negative, got \(1, -1, 1\)"),
    "cat_shapes": (lambda: mg.cat([X, mg.zeros(2, 4, 4)], 2), ValueError,
                   r"cat: shapes \(2, 3, 4\), \(2, 4, 4\) differ outside dim 2"),
    "cat_ndims": (lambda: mg.cat([X, mg.zeros(2, 3)]), ValueError,
                  r"cat: shapes \(2, 3, 4\), \(2, 3\) differ outside dim 0"),
    "cat_dtypes": (lambda: mg.cat([X, X.double()], 1), TypeError,
                   r"cat: tensors have different dtypes \(float32 \(2, 3, 4\), float64 "
                   r"\(2, 3, 4\)\)"),
    "cat_empty_list": (lambda: mg.cat([]), ValueError, "cat: expected a non-empty sequence"),
    "cat_scalars": (lambda: mg.cat([mg.tensor(1.0), mg.tensor(2.0)]), ValueError,
                    r"cat: zero-dimensional tensors \(shapes \(\), \(\)\).*use stack"),
    "cat_dim_out_of_range": (lambda: mg.cat([X, X], 3), IndexError, "cat: dim 3"),
    "stack_shapes": (lambda: mg.stack([X, mg.zeros(2, 3, 5)]), ValueError,
                     r"stack: all tensors need the same shape, got \(2, 3, 4\), \(2, 3, 5\)"),
    "stack_dtypes": (lambda: mg.stack([X, X.double()]), TypeError,
                     r"stack: tensors have different dtypes \(float32 \(2, 3, 4\), float64"),
    "stack_empty_list": (lambda: mg.stack([]), ValueError, "stack: expected a non-empty"),
    "split_sections_sum": (lambda: X.split([1, 1], dim=1), ValueError,
                           r"split: sections \[1, 1\] do not add up to size 3 of dim 1 "
                           r"\(shape \(2, 3, 4\)\)"),
    "split_negative_section": (lambda: X.split([4, -1], dim=1), ValueError,
                               r"split: sections \[4, -1\] do not add up"),
    "split_zero_size": (lambda: X.split(0), ValueError,
                        "split: split size must be positive, got 0"),
    "chunk_zero": (lambda: X.chunk(0), ValueError, "chunk: chunks must be positive, got 0"),
    "pad_odd_length": (lambda: mg.pad(X, (1, 2, 3)), ValueError,
                       r"pad: pad \(1, 2, 3\) must have an even length of at most 2 \* 3 for "
                       r"shape \(2, 3, 4\)"),
    "pad_too_long": (lambda: mg.pad(X, (1,) * 8), ValueError,
                     r"pad: pad \(1, 1, 1, 1, 1, 1, 1, 1\) must have an even length"),
    "pad_reflect_equal_to_dim": (lambda: mg.pad(X, (4, 0), mode="reflect"), ValueError,
                                 r"pad: reflect padding \(4, 0\) must be smaller than dim 2 of "
                                 r"size 4 \(shape \(2, 3, 4\)\)"),
    "pad_reflect_larger_than_dim": (lambda: mg.pad(X, (0, 0, 1, 5), mode="reflect"),
                                    ValueError, r"pad: reflect padding \(1, 5\) must be "
                                    r"smaller than dim 1 of size 3"),
    "pad_negative": (lambda: mg.pad(X, (1, -1)), ValueError,
                     r"pad: negative padding \(1, -1\) is not supported \(shape \(2, 3, 4\)\)"),
    "pad_unknown_mode": (lambda: mg.pad(X, (1, 1), mode="circular"), ValueError,
                         r"pad: mode must be 'constant', 'reflect' or 'replicate', got "
                         r"'circular' \(shape \(2, 3, 4\)\)"),
    "pad_replicate_empty_dim": (lambda: mg.pad(mg.zeros(2, 0), (1, 1), mode="replicate"),
                                ValueError, r"pad: cannot replicate-pad empty dim 1 \(shape "
                                r"\(2, 0\)\)"),
}


@pytest.mark.parametrize("name", sorted(MOVEMENT))
def test_movement_op_matches_numpy_and_gradients(name):
    op, ref, shape = MOVEMENT[name]
    check_op(op, ref, rng.standard_normal(shape))


@pytest.mark.parametrize("name", sorted(MOVEMENT))
def test_movement_backward_is_the_adjoint(name):
    op, ref, shape = MOVEMENT[name]
    assert_backward_is_adjoint(op, ref, rng.standard_normal(shape))


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_bad_arguments_raise_naming_op_and_shapes(name):
    call, error, pattern = ERRORS[name]
    with pytest.raises(error, match=pattern):
        call()


@given(shapes(max_dims=4).flatmap(lambda s: st.tuples(
    arrays(s), st.permutations(range(len(s))))))
def test_permute_on_drawn_permutations(case):
    x, dims = case
    check_op(lambda t: t.permute(*dims), lambda a: np.transpose(a, dims), x, gradgrad=False,
             noncontiguous=False)
    assert_backward_is_adjoint(lambda t: mg.permute(t, dims), lambda a: np.transpose(a, dims),
                               x)


@given(shapes(max_dims=4).flatmap(lambda s: st.tuples(
    arrays(s), st.permutations(s), st.integers(-1, len(s) - 1))))
def test_reshape_to_drawn_shapes_with_minus1(case):
    x, target, hole = case
    target = tuple(-1 if i == hole else n for i, n in enumerate(target))
    check_op(lambda t: t.reshape(target), lambda a: a.reshape(target), x, gradgrad=False,
             noncontiguous=False)


@given(shapes(max_dims=3).flatmap(lambda s: st.tuples(arrays(s), st.tuples(
    *[st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)) for n in s]))))
def test_reflect_pad_on_drawn_shapes_and_pads(case):
    x, widths = case
    pad = tuple(p for lo_hi in reversed(widths) for p in lo_hi)
    for mode in ("reflect", "replicate"):
        op, ref = _pad_pair(pad, mode)
        check_op(op, ref, x, gradgrad=False, noncontiguous=False)
        assert_backward_is_adjoint(op, ref, x)


@given(shapes(min_dims=0, max_dims=3, max_side=3).flatmap(lambda s: st.tuples(
    arrays(s), st.lists(st.integers(0, 3), min_size=len(s), max_size=len(s) + 2))))
def test_repeat_equals_np_tile(case):
    x, reps = case
    reps = tuple(reps)
    assert_close(mg.tensor(x).repeat(reps), np.tile(x, reps), rtol=0, atol=0)
    assert_backward_is_adjoint(lambda t: t.repeat(reps), lambda a: np.tile(a, reps), x)


@given(broadcastable_shapes(num_shapes=2, max_dims=3))
def test_expand_and_sum_to_are_adjoint(pair):
    small, target = pair
    big = np.broadcast_shapes(small, target)
    x = rng.standard_normal(small)
    assert_close(mg.tensor(x).expand(big), np.broadcast_to(x, big), rtol=0, atol=0)
    assert_backward_is_adjoint(lambda t: t.expand(big), lambda a: np.broadcast_to(a, big), x)
    lead = len(big) - len(small)
    sum_axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(small)
                                          if n == 1 and big[lead + i] != 1)
    y = rng.standard_normal(big)

    def reduce(a):
        return a.sum(sum_axes, keepdims=True).reshape(small)
    assert_close(mg.tensor(y).sum_to(small), reduce(y), rtol=1e-12, atol=1e-12)
    assert_backward_is_adjoint(lambda t: t.sum_to(small), reduce, y)


@given(shapes(max_dims=3, max_side=7).flatmap(lambda s: st.tuples(
    arrays(s), st.integers(0, len(s) - 1), st.integers(1, 8))))
def test_split_pieces_cat_back_to_the_original(case):
    x, dim, size = case
    t = mg.tensor(x, requires_grad=True)
    pieces = t.split(size, dim)
    n = x.shape[dim]
    assert [p.shape[dim] for p in pieces] == [min(size, n - s) for s in range(0, n, size)]
    assert_close(mg.cat(pieces, dim), x, rtol=0, atol=0)
    sections = [p.shape[dim] for p in pieces]
    assert_close(mg.cat(t.split(sections[::-1], dim)[::-1], dim),
                 np.concatenate(np.split(x, np.cumsum(sections[::-1])[:-1], dim)[::-1], dim),
                 rtol=0, atol=0)
    weights = [mg.tensor(rng.standard_normal(p.shape)) for p in pieces]
    (g,) = mg.grad(sum((p * w).sum() for p, w in zip(pieces, weights)), t)
    assert_close(g, mg.cat(weights, dim), rtol=0, atol=0)


@given(shapes(max_dims=3).flatmap(lambda s: st.tuples(
    arrays(s), st.integers(-len(s) - 1, len(s)))))
def test_unsqueeze_then_squeeze_round_trips(case):
    x, dim = case
    t = mg.tensor(x)
    assert_close(t.unsqueeze(dim), np.expand_dims(x, dim), rtol=0, atol=0)
    assert_close(t.unsqueeze(dim).squeeze(dim), x, rtol=0, atol=0)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -2])
def test_cat_matches_np_concatenate_and_gradients(dim):
    parts = [rng.standard_normal((2, 3, 2)), rng.standard_normal((2, 3, 2)),
             rng.standard_normal((2, 3, 2))]
    parts[1] = np.concatenate([parts[1], parts[1]], axis=dim)      # sizes differ along dim
    check_op(lambda a, b, c: mg.cat([a, b, c], dim), lambda a, b, c: np.concatenate(
        [a, b, c], axis=dim), *parts)


@pytest.mark.parametrize("dim", [0, 1, 3, -1, -4])
def test_stack_matches_np_stack_and_gradients(dim):
    parts = [rng.standard_normal((2, 3, 2)) for _ in range(3)]
    check_op(lambda a, b, c: mg.stack((a, b, c), dim), lambda a, b, c: np.stack(
        [a, b, c], axis=dim), *parts)


def test_cat_gradient_is_each_inputs_slice_and_skips_constants():
    a = mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = mg.tensor(rng.standard_normal((2, 1)))
    c = mg.tensor(rng.standard_normal((2, 2)), requires_grad=True)
    gy = rng.standard_normal((2, 6))
    ga, gc = mg.grad((mg.cat([a, b, c], 1) * mg.tensor(gy)).sum(), [a, c])
    assert_close(ga, gy[:, :3], rtol=0, atol=0)
    assert_close(gc, gy[:, 4:], rtol=0, atol=0)


def test_split_int_leaves_a_short_last_piece():
    pieces = mg.arange(7).split(3)
    assert [p.tolist() for p in pieces] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [p.shape for p in mg.zeros(2, 5).split([2, 0, 3], dim=-1)] == [(2, 2), (2, 0),
                                                                         (2, 3)]
    assert [p.numel() for p in mg.zeros(5).split(np.int64(2))] == [2, 2, 1]


@pytest.mark.parametrize("n, chunks, sizes", [(7, 3, [3, 3, 1]), (6, 4, [2, 2, 2]),
                                              (2, 5, [1, 1]), (6, 3, [2, 2, 2])])
def test_chunk_sizes_are_ceil_of_n_over_chunks(n, chunks, sizes):
    pieces = mg.chunk(mg.arange(n), chunks)
    assert [p.numel() for p in pieces] == sizes
    assert_close(mg.cat(pieces), np.arange(n), rtol=0, atol=0)


def test_squeeze_of_a_non1_dim_and_identity_moves_return_the_input():
    x = mg.randn(2, 1, 3, requires_grad=True)
    assert x.squeeze(0) is x and x.squeeze(-1) is x
    assert x.permute(0, 1, 2) is x and x.reshape(2, 1, 3) is x and x.expand(2, 1, 3) is x
    assert x.sum_to((2, 1, 3)) is x
    assert mg.zeros(()).squeeze(0).shape == ()


def test_to_device_cpu_is_a_no_op_that_keeps_the_graph():
    x = mg.randn(2, 3, requires_grad=True)
    assert x.to("cpu") is x and x.cpu() is x and to_device(x, mg.device("cpu")) is x
    (x.cpu() * 2).sum().backward()
    assert_close(x.grad, np.full((2, 3), 2.0, np.float32), rtol=0, atol=0)


def test_flatten_of_a_scalar_gives_one_element():
    x = mg.tensor(3.0, requires_grad=True)
    assert x.flatten().shape == (1,)
    check_op(lambda t: t.flatten(), lambda a: a.reshape(1), np.array(2.5))


@pytest.mark.parametrize("mode", ["reflect", "replicate"])
def test_pad_gradient_folds_the_border_back_by_hand(mode):
    x = mg.tensor([1.0, 2.0, 3.0, 4.0], dtype=mg.float64, requires_grad=True)
    gy = mg.tensor([1.0, 10.0, 100.0, 1000.0, 1e4, 1e5, 1e6], dtype=mg.float64)
    (g,) = mg.grad((mg.pad(x, (2, 1), mode) * gy).sum(), x)
    # reflect: y = x2 x1 | x0 x1 x2 x3 | x2;  replicate: y = x0 x0 | x0 x1 x2 x3 | x3
    want = [100, 1010, 1e4 + 1 + 1e6, 1e5] if mode == "reflect" else [
        111, 1000, 1e4, 1e5 + 1e6]
    assert_close(g, np.array(want, dtype=np.float64), rtol=0, atol=0)


def test_pad_keeps_dtype_and_constant_value():
    x = mg.ones(2, 2)
    y = mg.pad(x, (1, 1, 0, 1), value=7.0)
    assert y.dtype == mg.float32 and y.shape == (3, 4)
    assert_close(y, np.pad(np.ones((2, 2), np.float32), [(0, 1), (1, 1)],
                           constant_values=7.0), rtol=0, atol=0)
    assert math.isclose(mg.pad(x, (0, 0)).sum().item(), 4.0)
