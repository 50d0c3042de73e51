"""Activation modules: each against its formula in float64 NumPy, first and second
derivatives, and its repr. (The ops themselves are tested in tests/ops/test_activation.py.)"""
import math

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck


def erf(x):
    return np.vectorize(math.erf)(x)


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


CASES = [  # (module, formula, smooth enough for a second derivative)
    (nn.ReLU(), lambda x: np.maximum(x, 0), False),
    (nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x), False),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)), False),
    (nn.GELU(), lambda x: x * 0.5 * (1 + erf(x / math.sqrt(2))), True),
    (nn.GELU("tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
     True),
    (nn.SiLU(), lambda x: x / (1 + np.exp(-x)), True),
    (nn.Softplus(2.0), lambda x: np.log1p(np.exp(2 * x)) / 2, True),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x)), True),
    (nn.Tanh(), np.tanh, True),
    (nn.Softmax(1), lambda x: softmax(x, 1), True),
    (nn.LogSoftmax(-1), lambda x: np.log(softmax(x, -1)), True),
]
IDS = [f"{type(m).__name__}-{i}" for i, (m, _, _) in enumerate(CASES)]


def values(seed=0):
    """(2, 3, 4) values in [-2, 2] at least 0.05 away from 0 (the kinks)."""
    x = np.random.default_rng(seed).uniform(0.05, 2.0, size=(2, 3, 4))
    return x * np.where(np.arange(24).reshape(2, 3, 4) % 2, 1.0, -1.0)


@pytest.mark.parametrize("module, formula, smooth", CASES, ids=IDS)
def test_activation_matches_formula(module, formula, smooth):
    x = values()
    assert_close(module(mg.tensor(x)), formula(x), rtol=1e-12, atol=1e-12)
    y32 = module(mg.tensor(x, dtype=mg.float32))
    assert y32.dtype == np.float32
    assert_close(y32, formula(x.astype(np.float32).astype(np.float64)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("module, formula, smooth", CASES, ids=IDS)
def test_activation_gradients(module, formula, smooth):
    x = mg.tensor(values(1)[:1, :2], requires_grad=True)
    gradcheck(module, [x])
    if smooth:
        gradgradcheck(module, [x])


def test_activation_reprs():
    assert repr(nn.ReLU()) == "ReLU()"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.ELU()) == "ELU(alpha=1.0)"
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0)"
    assert repr(nn.Softmax(-1)) == "Softmax(dim=-1)"
    assert repr(nn.LogSoftmax(1)) == "LogSoftmax(dim=1)"


def test_activations_have_no_parameters():
    assert all(list(module.parameters()) == [] for module, _, _ in CASES)
