"""Linear, Embedding and the shape layers: values against float64 NumPy formulas (and
PyTorch where installed), gradients of every order w.r.t. input and parameters."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck


def double(module):
    return module.to(mg.float64)


def randn(*shape, seed=0, requires_grad=True):
    values = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(values, dtype=mg.float64, requires_grad=requires_grad)


def host(t):
    return t.detach().numpy()


@settings(max_examples=10)
@given(batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
       in_features=st.integers(1, 5), out_features=st.integers(1, 4), bias=st.booleans())
def test_linear_matches_numpy_formula(batch, in_features, out_features, bias):
    layer = double(nn.Linear(in_features, out_features, bias=bias))
    x = randn(*batch, in_features)
    expected = host(x) @ host(layer.weight).T + (host(layer.bias) if bias else 0)
    y = layer(x)
    assert y.shape == (*batch, out_features)
    assert_close(y, expected)


def test_linear_gradcheck_and_gradgradcheck_wrt_input_and_parameters():
    layer = double(nn.Linear(3, 2))

    def f(x, weight, bias):
        return layer(x)
    inputs = [randn(2, 3), layer.weight, layer.bias]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    for p in (layer.weight, layer.bias):
        assert np.abs(host(p)).max() <= bound
    # U(-b, b) has std b / sqrt(3); 120,000 samples pin it to about 0.2%.
    assert host(layer.weight).std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_linear_keeps_the_requested_dtype():
    layer = nn.Linear(2, 2, dtype=mg.float64)
    assert layer.weight.dtype == np.float64 and layer.bias.dtype == np.float64


def test_linear_repr():
    assert repr(nn.Linear(2, 3, bias=False)) == \
        "Linear(in_features=2, out_features=3, bias=False)"


def test_linear_matches_torch():
    torch = pytest.importorskip("torch")
    layer = double(nn.Linear(4, 3))
    reference = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        reference.weight.copy_(torch.from_numpy(host(layer.weight)))
        reference.bias.copy_(torch.from_numpy(host(layer.bias)))
    x = randn(2, 5, 4)
    xt = torch.from_numpy(host(x)).requires_grad_()
    reference(xt).pow(2).sum().backward()
    (layer(x) ** 2).sum().backward()
    assert_close(layer(x), reference(xt).detach().numpy())
    assert_close(x.grad, xt.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    assert_close(layer.bias.grad, reference.bias.grad.numpy())


def test_embedding_looks_up_rows():
    table = double(nn.Embedding(5, 3))
    index = mg.tensor([[4, 0], [0, 2]])
    assert_close(table(index), host(table.weight)[[[4, 0], [0, 2]]])


def test_embedding_gradcheck_wrt_weight_adds_repeated_rows():
    table = double(nn.Embedding(4, 2))
    index = mg.tensor([1, 3, 1])
    gradcheck(lambda weight: table(index) * mg.tensor([[1.0], [2.0], [3.0]],
                                                        dtype=mg.float64), [table.weight])
    table(index).sum().backward()
    assert_close(table.weight.grad, np.array([[0, 0], [2, 2], [0, 0], [1, 1]], np.float64))


def test_embedding_default_init_is_standard_normal():
    values = host(nn.Embedding(1000, 100).weight)
    assert abs(values.mean()) < 0.02 and values.std() == pytest.approx(1.0, rel=0.02)


def test_embedding_rejects_out_of_range_indices():
    with pytest.raises(IndexError, match=r"\[0, 3\)"):
        nn.Embedding(3, 2)(mg.tensor([3]))


def test_identity_flatten_unflatten():
    x = randn(2, 3, 4, 5, requires_grad=False)
    assert nn.Identity()(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 1)(x).shape == (6, 4, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    assert nn.Unflatten(-1, (5, 1))(x).shape == (2, 3, 4, 5, 1)
    assert_close(nn.Unflatten(1, (3, 4, 5))(nn.Flatten()(x)), x)
