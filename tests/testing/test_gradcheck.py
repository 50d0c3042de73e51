"""Tests for minigan/testing/gradcheck.py: it passes right gradients and catches wrong ones."""
import numpy as np
import pytest

import minigan as mg
from minigan.testing import GradcheckError, gradcheck, gradgradcheck


class WrongSquare(mg.Function):
    """y = x^2 with the wrong derivative 3x (instead of 2x)."""

    def forward(ctx, x):
        return x * x

    def backward(ctx, gy):
        return 3 * gy * ctx.inputs[0]


class FrozenSquare(mg.Function):
    """y = x^2 whose backward uses a raw array: right first order, wrong second order."""

    def forward(ctx, x):
        ctx.save(x_array=x)
        return x * x

    def backward(ctx, gy):
        return gy * mg.Tensor(2 * ctx.x_array)


def x64(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return mg.tensor(rng.standard_normal(shape), dtype=mg.float64, requires_grad=True)


def test_gradcheck_passes_correct_gradients_full_and_projected():
    assert gradcheck(lambda a, b: (a @ b).tanh(), [x64(3, 4), x64(4, 2, seed=1)])
    assert gradcheck(lambda a: a.exp().sum(1), [x64(40, 30)], max_full=100)


def test_gradcheck_reports_where_full_jacobian_differs():
    with pytest.raises(GradcheckError, match=r"input 0 \(2, 3\): 6 of 36 Jacobian entries "
                                             r"differ; worst d output 0\[.*\] / d x\[.*\]: "
                                             r"numerical .*, analytical"):
        gradcheck(WrongSquare.apply, [x64(2, 3)])


def test_gradcheck_catches_wrong_gradient_by_projection():
    with pytest.raises(GradcheckError, match=r"projection \d: v\^T J u numerical"):
        gradcheck(WrongSquare.apply, [x64(30, 30)], max_full=10)
    assert not gradcheck(WrongSquare.apply, [x64(3)], raise_exception=False)


def test_gradgradcheck_catches_a_backward_that_is_not_differentiable():
    gradcheck(FrozenSquare.apply, [x64(4)])                   # first order is right
    with pytest.raises(GradcheckError):
        gradgradcheck(FrozenSquare.apply, [x64(4)])
    gradgradcheck(lambda x: x * x, [x64(4)])


def test_gradgradcheck_with_given_grad_outputs_and_non_tensor_arguments():
    v = mg.tensor(np.ones(3), requires_grad=True)
    assert gradgradcheck(lambda x, k: (x * k).sigmoid(), [x64(3), 2.0], grad_outputs=[v])


def test_gradcheck_needs_float64():
    x = mg.randn(3, requires_grad=True)
    with pytest.raises(TypeError, match="gradcheck: input 0 is float32; central differences "
                                        "need float64"):
        gradcheck(lambda t: t * 2, [x])
    with pytest.raises(TypeError, match="output 0 is float32"):
        gradcheck(lambda t: (t * 2).float(), [x64(3)])
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(lambda t: t * 2, [mg.zeros(3, dtype=mg.float64)])


def test_gradcheck_handles_unused_inputs_and_constant_outputs():
    assert gradcheck(lambda a, b: a * 2, [x64(3), x64(2)])
    assert gradgradcheck(lambda a: a * 2, [x64(3)])
