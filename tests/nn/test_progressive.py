"""PGGAN's layers: MinibatchStdDev against the formula in float64 NumPy (example i in
group i % M), equalized learning rate (N(0, 1) storage, scale applied at run time), and
gradient checks w.r.t. input and parameters."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck


def values(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def tensor(array, requires_grad=False):
    return mg.tensor(array, dtype=mg.float64, requires_grad=requires_grad)


def host(t):
    return t.detach().numpy()


def minibatch_stddev_oracle(x, group_size, eps=1e-8):
    """PGGAN: G = min(group_size, N), M = N / G; example i belongs to group i % M; per
    group s = mean over (C, H, W) of sqrt(biased var over the group's G examples + eps);
    example i gets s[i % M] as one extra feature map."""
    n, c, h, w = x.shape
    g = min(group_size, n)
    m = n // g
    stats = np.empty(m)
    for group in range(m):
        members = x[[i for i in range(n) if i % m == group]]          # (G, C, H, W)
        stats[group] = np.sqrt(members.var(axis=0) + eps).mean()
    extra = np.stack([np.full((1, h, w), stats[i % m]) for i in range(n)])
    return np.concatenate([x, extra], axis=1)


@settings(max_examples=12)
@given(group_size=st.integers(1, 4), m=st.integers(1, 3), c=st.integers(1, 3),
       h=st.integers(1, 3), w=st.integers(1, 3), seed=st.integers(0, 1000))
def test_minibatch_stddev_matches_pggan_formula(group_size, m, c, h, w, seed):
    x = values(group_size * m, c, h, w, seed=seed)
    y = nn.MinibatchStdDev(group_size)(tensor(x))
    assert y.shape == (group_size * m, c + 1, h, w)
    assert_close(y, minibatch_stddev_oracle(x, group_size), rtol=1e-12, atol=1e-12)


def test_minibatch_stddev_groups_strided_examples():
    """Examples 0 and 2 form one group, 1 and 3 the other: only the second group varies."""
    x = np.zeros((4, 1, 1, 1))
    x[1], x[3] = 1.0, 3.0
    s = host(nn.MinibatchStdDev(2, eps=0.0)(tensor(x)))[:, 1, 0, 0]
    assert_close(s, np.array([0.0, 1.0, 0.0, 1.0]), rtol=0, atol=1e-15)


def test_minibatch_stddev_uses_the_whole_batch_when_smaller_than_the_group():
    x = values(3, 2, 2, 2)
    assert_close(nn.MinibatchStdDev(4)(tensor(x)), minibatch_stddev_oracle(x, 3), rtol=1e-12,
                 atol=1e-12)


def test_minibatch_stddev_gradcheck_and_gradgradcheck():
    layer = nn.MinibatchStdDev(2)
    x = tensor(values(4, 2, 2, 1), True)
    gradcheck(layer, [x])
    gradgradcheck(layer, [x])


def test_minibatch_stddev_rejects_bad_shapes():
    with pytest.raises(ValueError, match=r"MinibatchStdDev: group size 4.*\(6, 3, 2, 2\)"):
        nn.MinibatchStdDev(4)(mg.zeros(6, 3, 2, 2))
    with pytest.raises(ValueError, match=r"MinibatchStdDev.*\(4, 3, 2\)"):
        nn.MinibatchStdDev(4)(mg.zeros(4, 3, 2))


# ------------------------------------------------------------------ equalized layers --
def test_equalized_linear_applies_the_scale_at_run_time():
    layer = nn.EqualizedLinear(8, 3, gain=2.0, dtype=mg.float64)
    with mg.no_grad():
        layer.bias.copy_(values(3, seed=1))
    assert layer.scale == pytest.approx(2.0 / math.sqrt(8))
    x = values(5, 8)
    expected = x @ (host(layer.weight) * layer.scale).T + host(layer.bias)
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    with mg.no_grad():                 # the scale is not baked into the stored weight
        layer.weight.copy_(host(layer.weight) * 2)
    assert_close(layer(tensor(x)), 2 * expected - host(layer.bias), rtol=1e-12, atol=1e-12)


def test_equalized_linear_lr_multiplier_scales_storage_and_use():
    mg.manual_seed(0)
    layer = nn.EqualizedLinear(200, 300, lr_multiplier=0.01, dtype=mg.float64)
    assert host(layer.weight).std() == pytest.approx(100.0, rel=0.02)
    assert layer.scale == pytest.approx(math.sqrt(2) / math.sqrt(200) * 0.01)
    with mg.no_grad():
        layer.bias.copy_(np.full(300, 5.0))
    x = values(2, 200)
    expected = x @ (host(layer.weight) * layer.scale).T + 0.05
    assert_close(layer(tensor(x)), expected, rtol=1e-10, atol=1e-10)


def test_equalized_weights_are_stored_as_standard_normal_whatever_the_fan_in():
    mg.manual_seed(0)
    for layer in (nn.EqualizedLinear(512, 256), nn.EqualizedConv2d(64, 128, 3)):
        w = host(layer.weight)
        assert abs(w.mean()) < 0.02 and w.std() == pytest.approx(1.0, rel=0.02)
        assert not host(layer.bias).any()


def test_equalized_conv_applies_the_scale_at_run_time():
    layer = nn.EqualizedConv2d(3, 2, 3, padding=1, dtype=mg.float64)
    plain = nn.Conv2d(3, 2, 3, padding=1, dtype=mg.float64)
    with mg.no_grad():
        layer.bias.copy_(values(2, seed=2))
        plain.weight.copy_(host(layer.weight) * math.sqrt(2) / math.sqrt(27))
        plain.bias.copy_(layer.bias)
    x = tensor(values(2, 3, 4, 4))
    assert_close(layer(x), plain(x), rtol=1e-12, atol=1e-12)


def test_equalized_gradient_of_the_stored_weight_is_scaled():
    """d loss / d W_stored = c * d loss / d W_used: the point of equalized learning rate."""
    layer = nn.EqualizedLinear(4, 2, dtype=mg.float64)
    x = tensor(values(3, 4))
    layer(x).sum().backward()
    expected = layer.scale * np.ones((3, 2)).T @ host(x)
    assert_close(layer.weight.grad, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.EqualizedLinear(3, 2, lr_multiplier=0.5, dtype=mg.float64), (2, 3)),
    (lambda: nn.EqualizedConv2d(2, 2, 3, padding=1, dtype=mg.float64), (1, 2, 3, 3))])
def test_equalized_layers_gradcheck_wrt_input_and_parameters(make, shape):
    layer = make()

    def f(x, weight, bias):
        return layer(x)
    inputs = [tensor(values(*shape), True), layer.weight, layer.bias]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)


def test_equalized_reprs_show_the_scale():
    assert repr(nn.EqualizedLinear(4, 2, gain=1.0)) == \
        "EqualizedLinear(in_features=4, out_features=2, scale=0.5)"
    assert "scale=0.04167" in repr(nn.EqualizedConv2d(64, 8, 3, gain=1.0))
