"""Tests for minigan/ops/normalization.py: each norm against its formula in float64
NumPy, gradients of first and second order (check_op), running statistics, errors."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op, gradcheck, gradgradcheck
from minigan.testing.strategies import arrays

EPS = 1e-5


def standardize(x, axes, eps=EPS):
    """(x - mean) / sqrt(biased var + eps) over ``axes``, in float64."""
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def channel(p, ndim):
    return p.reshape((1, -1) + (1,) * (ndim - 2))


def rng_values(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# ----------------------------------------------------------------------- batch norm --
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 4), (2, 3, 2, 3)])
def test_batch_norm_training_normalizes_each_channel_over_batch_and_positions(shape):
    x, weight, bias = rng_values(*shape), rng_values(shape[1], seed=1), rng_values(shape[1],
                                                                                    seed=2)
    axes = (0,) + tuple(range(2, len(shape)))

    def reference(x, weight, bias):
        return (standardize(x, axes) * channel(weight, x.ndim) + channel(bias, x.ndim))
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), reference,
             x, weight, bias)


def test_batch_norm_eval_uses_the_given_statistics():
    x = rng_values(3, 2, 2, 2)
    mean, var = rng_values(2, seed=1), rng_values(2, seed=2, low=0.5, high=2.0)
    weight, bias = rng_values(2, seed=3), rng_values(2, seed=4)

    def reference(x, weight, bias):
        return ((x - channel(mean, 4)) / np.sqrt(channel(var, 4) + EPS) * channel(weight, 4)
                + channel(bias, 4))

    def fn(x, w, b):
        stats = mg.tensor(mean, dtype=x.dtype), mg.tensor(var, dtype=x.dtype)
        return F.batch_norm(x, *stats, w, b, training=False)
    check_op(fn, reference, x, weight, bias)


def test_batch_norm_training_updates_running_statistics_with_unbiased_variance():
    x = rng_values(5, 3, 2, seed=5)
    running_mean, running_var = rng_values(3, seed=6), rng_values(3, seed=7, low=0.5)
    momentum = 0.3
    rm, rv = mg.tensor(running_mean), mg.tensor(running_var)
    F.batch_norm(mg.tensor(x, requires_grad=True), rm, rv, training=True, momentum=momentum)
    batch_mean = x.mean(axis=(0, 2))
    batch_var = x.var(axis=(0, 2), ddof=1)
    assert_close(rm, (1 - momentum) * running_mean + momentum * batch_mean, rtol=1e-12)
    assert_close(rv, (1 - momentum) * running_var + momentum * batch_var, rtol=1e-12)
    assert not rm.requires_grad and not rv.requires_grad


def test_batch_norm_eval_leaves_running_statistics_alone():
    rm, rv = mg.tensor(rng_values(2, seed=1)), mg.tensor(rng_values(2, seed=2, low=0.5))
    before = rm.numpy().copy(), rv.numpy().copy()
    F.batch_norm(mg.tensor(rng_values(3, 2)), rm, rv, training=False)
    np.testing.assert_array_equal(rm.numpy(), before[0])
    np.testing.assert_array_equal(rv.numpy(), before[1])


def test_batch_norm_errors_name_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"batch_norm: need more than 1 value.*\(1, 3\)"):
        F.batch_norm(mg.zeros(1, 3), None, None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: running statistics.*\(3,\)"):
        F.batch_norm(mg.zeros(2, 3), mg.zeros(2), mg.ones(2), training=False)
    with pytest.raises(ValueError, match=r"batch_norm: running statistics must both have "
                                         r"shape \(3,\), got \(2,\) and \(3,\)"):
        F.batch_norm(mg.zeros(2, 3), mg.zeros(2), mg.ones(3), training=True)
    with pytest.raises(ValueError, match=r"got \(3,\) and None"):
        F.batch_norm(mg.zeros(2, 3), mg.zeros(3), None, training=True)
    with pytest.raises(ValueError, match=r"batch_norm: weight must have shape \(3,\)"):
        F.batch_norm(mg.zeros(2, 3), None, None, mg.ones(4), training=True)
    with pytest.raises(ValueError, match=r"batch_norm: expected input \(N, C, \*\)"):
        F.batch_norm(mg.zeros(3), None, None, training=True)
    with pytest.raises(TypeError, match="batch_norm"):
        F.batch_norm(mg.zeros(2, 3, dtype=mg.int64), None, None, training=True)


# -------------------------------------------------------------- instance, layer, group --
def test_instance_norm_normalizes_each_example_and_channel_over_positions():
    x, weight, bias = rng_values(2, 3, 2, 3), rng_values(3, seed=1), rng_values(3, seed=2)
    check_op(lambda x, w, b: F.instance_norm(x, w, b),
             lambda x, w, b: standardize(x, (2, 3)) * channel(w, 4) + channel(b, 4),
             x, weight, bias)


def test_instance_norm_rejects_a_single_position():
    with pytest.raises(ValueError, match=r"instance_norm: need more than 1.*\(2, 3, 1, 1\)"):
        F.instance_norm(mg.zeros(2, 3, 1, 1))


@pytest.mark.parametrize("shape, normalized", [((3, 4), (4,)), ((2, 3, 2, 2), (3, 2, 2)),
                                               ((2, 2, 3), (3,))])
def test_layer_norm_normalizes_the_trailing_axes(shape, normalized):
    x = rng_values(*shape)
    weight, bias = rng_values(*normalized, seed=1), rng_values(*normalized, seed=2)
    axes = tuple(range(len(shape) - len(normalized), len(shape)))
    check_op(lambda x, w, b: F.layer_norm(x, normalized, w, b),
             lambda x, w, b: standardize(x, axes) * w + b, x, weight, bias)


def test_layer_norm_rejects_a_shape_that_does_not_end_the_input():
    with pytest.raises(ValueError, match=r"layer_norm: input shape \(2, 3\).*\(2,\)"):
        F.layer_norm(mg.zeros(2, 3), (2,))


@pytest.mark.parametrize("shape, groups", [((2, 4, 3), 2), ((2, 6, 2, 1), 3), ((3, 4), 2),
                                           ((2, 4, 2, 1), 1)])
def test_group_norm_normalizes_each_group_of_channels(shape, groups):
    x, weight, bias = rng_values(*shape), rng_values(shape[1], seed=1), rng_values(shape[1],
                                                                                   seed=2)

    def reference(x, w, b):
        n, c = x.shape[:2]
        grouped = x.reshape(n, groups, -1)
        y = standardize(grouped, (2,)).reshape(x.shape)
        return y * channel(w, x.ndim) + channel(b, x.ndim)
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b), reference, x, weight, bias)


def test_group_norm_with_one_group_per_channel_is_instance_norm():
    x = mg.tensor(rng_values(2, 3, 4, 2))
    assert_close(F.group_norm(x, 3), F.instance_norm(x), rtol=1e-12, atol=1e-12)


def test_group_norm_rejects_groups_that_do_not_divide_the_channels():
    with pytest.raises(ValueError, match=r"group_norm: 4 groups.*\(2, 6, 3\)"):
        F.group_norm(mg.zeros(2, 6, 3), 4)


# ------------------------------------------------ the fused op: both gradient paths --
def _norm_case(kind, x, weight, bias):
    """One of the five uses of ``Normalize``, on tensors; weight and bias are (C,) or the
    trailing shape for layer norm."""
    if kind == "batch":
        return F.batch_norm(x, None, None, weight, bias, training=True)
    if kind == "batch eval":
        c = x.shape[1]
        mean = mg.tensor(np.linspace(-0.5, 0.5, c), dtype=x.dtype)
        var = mg.tensor(np.linspace(0.5, 2.0, c), dtype=x.dtype)
        return F.batch_norm(x, mean, var, weight, bias, training=False)
    if kind == "instance":
        return F.instance_norm(x, weight, bias)
    if kind == "layer":
        return F.layer_norm(x, x.shape[2:], weight, bias)
    return F.group_norm(x, 2, weight, bias)


def _affine_shape(kind, shape):
    return shape[2:] if kind == "layer" else (shape[1],)


NORM_KINDS = ["batch", "batch eval", "instance", "layer", "group"]
NORM_SHAPES = st.tuples(st.integers(2, 4), st.sampled_from([2, 4, 6]), st.integers(2, 4),
                        st.integers(1, 3))


@settings(max_examples=15)
@given(kind=st.sampled_from(NORM_KINDS), shape=NORM_SHAPES, affine=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_the_fused_first_order_gradients_equal_the_recorded_formulas(kind, shape, affine,
                                                                      seed):
    """Under a plain backward the op's gradients are array formulas; under create_graph
    they are Tensor ops rebuilt from x. Both must give the same numbers."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.uniform(-2, 2, shape), requires_grad=True)
    params = [mg.tensor(rng.uniform(0.5, 2, _affine_shape(kind, shape)), requires_grad=True)
              for _ in range(2)] if affine else [None, None]
    gy = mg.tensor(rng.standard_normal(shape))
    wrt = [x] + [p for p in params if p is not None]
    fused = mg.grad(_norm_case(kind, x, *params), wrt, gy)
    recorded = mg.grad(_norm_case(kind, x, *params), wrt, gy, create_graph=True)
    if kind != "batch eval" or affine:              # dx depends on x or on the weight
        assert recorded[0].requires_grad
    for a, b in zip(fused, recorded):
        assert not a.requires_grad
        assert_close(a, b, rtol=1e-12, atol=1e-12)


def _input_gradient(kind):
    """(x, weight, gy) -> dx of the norm ``kind`` with a graph recorded: the output of one
    NormalizeBackward node, a differentiable function of all three."""
    def dx(x, weight, gy):
        (grad,) = mg.grad(_norm_case(kind, x, weight, None), [x], gy, create_graph=True)
        return grad
    return dx


@pytest.mark.parametrize("kind", NORM_KINDS)
def test_a_recorded_input_gradient_is_one_node(kind):
    x = mg.tensor(rng_values(3, 4, 2, 2, seed=1), requires_grad=True)
    weight = mg.tensor(rng_values(*_affine_shape(kind, x.shape), seed=2), requires_grad=True)
    gy = mg.tensor(rng_values(3, 4, 2, 2, seed=3), requires_grad=True)
    node = _input_gradient(kind)(x, weight, gy).grad_fn
    if kind == "group":                 # x, gy and dx as (N, G, C/G, H W): views around it
        node = node.inputs[0].grad_fn
    assert node.name == "NormalizeBackward"
    if kind != "group":
        assert node.inputs[0] is gy and node.inputs[2] is weight


@settings(max_examples=8, deadline=None)
@given(kind=st.sampled_from(NORM_KINDS), shape=NORM_SHAPES, affine=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_the_input_gradient_node_passes_gradcheck_and_gradgradcheck(kind, shape, affine,
                                                                    seed):
    """The second and third derivatives of every norm: NormalizeBackward's own gradient
    (the module docstring's formulas) with respect to gy, x and the weight, and the
    gradient of that, against central differences in float64."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.uniform(-2, 2, shape), requires_grad=True)
    weight = mg.tensor(rng.uniform(0.5, 2, _affine_shape(kind, shape)),
                       requires_grad=True) if affine else None
    gy = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    gradcheck(_input_gradient(kind), [x, weight, gy])
    gradgradcheck(_input_gradient(kind), [x, weight, gy])


@settings(max_examples=15)
@given(kind=st.sampled_from(NORM_KINDS), shape=NORM_SHAPES, affine=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_the_second_derivatives_are_the_same_recorded_or_not(kind, shape, affine, seed):
    """NormalizeBackward's gradient is array code under a plain backward and Tensor ops,
    with x̂ and invstd rebuilt from x, when a graph is recorded (which the gradgradcheck
    above differentiates but never compares with the array code): the same numbers."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.uniform(-2, 2, shape), requires_grad=True)
    weight = mg.tensor(rng.uniform(0.5, 2, _affine_shape(kind, shape)),
                       requires_grad=True) if affine else None
    gy = mg.tensor(rng.standard_normal(shape), requires_grad=True)
    v = mg.tensor(rng.standard_normal(shape))
    wrt = [t for t in (x, weight, gy) if t is not None]
    plain = mg.grad(_input_gradient(kind)(x, weight, gy), wrt, v, allow_unused=True)
    recorded = mg.grad(_input_gradient(kind)(x, weight, gy), wrt, v, create_graph=True,
                       allow_unused=True)
    for a, b in zip(plain, recorded):
        assert (a is None) == (b is None)
        if a is not None:
            assert not a.requires_grad
            assert_close(a, b, rtol=1e-11, atol=1e-11)


@settings(max_examples=10)
@given(kind=st.sampled_from(["batch", "instance", "layer", "group"]), shape=NORM_SHAPES,
       seed=st.integers(0, 2 ** 16))
def test_the_input_gradient_is_orthogonal_to_shifts_and_scales_of_x(kind, shape, seed):
    """y is unchanged by x -> x + c along the statistics' axes, and (eps = 0) by
    x -> (1 + c) x: dx has zero mean and no component along x̂ over those axes."""
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.uniform(-2, 2, shape), requires_grad=True)
    if kind == "batch":
        y, axes = F.batch_norm(x, None, None, training=True, eps=0.0), (0, 2, 3)
    elif kind == "instance":
        y, axes = F.instance_norm(x, eps=0.0), (2, 3)
    elif kind == "layer":
        y, axes = F.layer_norm(x, shape[2:], eps=0.0), (2, 3)
    else:
        y, axes = F.group_norm(x, 2, eps=0.0), None
    (dx,) = mg.grad(y, [x], mg.tensor(rng.standard_normal(shape)))
    dx, xhat = dx.numpy(), y.detach().numpy()
    if axes is None:                                # group norm: per example and group
        dx, xhat, axes = dx.reshape(shape[0], 2, -1), xhat.reshape(shape[0], 2, -1), (2,)
    np.testing.assert_allclose(dx.mean(axis=axes), 0, atol=1e-12)
    np.testing.assert_allclose((dx * xhat).mean(axis=axes), 0, atol=1e-12)


@settings(max_examples=4)
@given(shape=st.tuples(st.integers(2, 3), st.integers(1, 3), st.integers(1, 3)),
       seed=st.integers(0, 2 ** 16))
def test_batch_norm_check_op_on_drawn_shapes(shape, seed):
    x, weight, bias = (rng_values(*s, seed=seed + i) for i, s in
                       enumerate((shape, shape[1:2], shape[1:2])))

    def reference(x, weight, bias):
        return standardize(x, (0, 2)) * channel(weight, 3) + channel(bias, 3)
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), reference,
             x, weight, bias)


# ------------------------------------------------------------------------ pixel norm --
@settings(max_examples=10)
@given(x=arrays(st.tuples(st.integers(1, 3), st.integers(1, 4), st.integers(1, 3),
                          st.integers(1, 3))))
def test_pixel_norm_scales_each_pixel_to_unit_rms(x):
    y = F.pixel_norm(mg.tensor(x), eps=0.0).numpy()
    assert_close(y, x / np.sqrt((x ** 2).mean(axis=1, keepdims=True)), rtol=1e-12,
                 atol=1e-12)
    np.testing.assert_allclose((y ** 2).mean(axis=1), 1.0, rtol=1e-12)


def test_pixel_norm_gradients():
    check_op(lambda x: F.pixel_norm(x), lambda x: x / np.sqrt((x ** 2).mean(1, keepdims=True)
                                                             + 1e-8), rng_values(2, 3, 2, 2))


@pytest.mark.parametrize("op", [
    lambda x: F.batch_norm(x, None, None, training=True), F.instance_norm,
    lambda x: F.layer_norm(x, x.shape[1:]), lambda x: F.group_norm(x, 2), F.pixel_norm])
def test_norms_keep_float32(op):
    x = mg.tensor(rng_values(2, 4, 3, 3), dtype=mg.float32)
    assert op(x).dtype == np.float32
