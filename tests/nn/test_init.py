"""Initialisers: the moments of each distribution on large tensors (bounds of several
standard errors, so a correct sampler passes for any seed), exact properties (bounds,
orthogonality), DCGAN's scheme, and determinism under a seeded Generator."""
import math

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.nn import init

SHAPE = (256, 128, 3, 3)             # fan_in 1152, fan_out 2304: 294,912 samples


def weight(shape=SHAPE, dtype=mg.float64):
    return mg.zeros(*shape, dtype=dtype)


def assert_moments(values, mean, std, n_sigma=6.0):
    """Sample mean within n_sigma standard errors of ``mean``; sample std within a
    relative 1% + n_sigma standard errors (std of the sample std ~ std / sqrt(2n))."""
    values = np.asarray(values, np.float64).ravel()
    n = values.size
    assert abs(values.mean() - mean) <= n_sigma * std / math.sqrt(n)
    assert abs(values.std() - std) <= 0.01 * std + n_sigma * std / math.sqrt(2 * n)


def test_uniform_stays_in_range_with_uniform_moments():
    w = init.uniform_(weight(), -0.5, 1.5, generator=mg.Generator(0)).numpy()
    assert w.min() >= -0.5 and w.max() < 1.5
    assert_moments(w, 0.5, 2 / math.sqrt(12))


def test_normal_has_the_requested_moments():
    w = init.normal_(weight(), 3.0, 0.5, generator=mg.Generator(1)).numpy()
    assert_moments(w, 3.0, 0.5)


def test_initialisers_keep_dtype_and_return_the_tensor():
    w = mg.zeros(4, 5)
    assert init.normal_(w) is w and w.dtype == np.float32
    assert init.constant_(w, 2.5) is w and (w.numpy() == 2.5).all()
    assert (init.zeros_(w).numpy() == 0).all() and (init.ones_(w).numpy() == 1).all()


def test_fan_in_and_fan_out_follow_pytorch():
    assert init.fan_in_and_fan_out(mg.zeros(8, 3, 5, 5)) == (75, 200)
    assert init.fan_in_and_fan_out(mg.zeros(8, 3)) == (3, 8)
    with pytest.raises(ValueError, match=r"2 or more dimensions, got shape \(4,\)"):
        init.fan_in_and_fan_out(mg.zeros(4))


@pytest.mark.parametrize("name, param, gain", [
    ("linear", None, 1.0), ("conv2d", None, 1.0), ("sigmoid", None, 1.0),
    ("tanh", None, 5 / 3), ("relu", None, math.sqrt(2)), ("selu", None, 0.75),
    ("leaky_relu", None, math.sqrt(2 / (1 + 0.01 ** 2))),
    ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
])
def test_calculate_gain_values(name, param, gain):
    assert init.calculate_gain(name, param) == pytest.approx(gain)


def test_calculate_gain_rejects_unknown_nonlinearity():
    with pytest.raises(ValueError, match="'swish'"):
        init.calculate_gain("swish")


def test_xavier_uniform_bound_and_std():
    gain = 1.5
    w = init.xavier_uniform_(weight(), gain=gain, generator=mg.Generator(2)).numpy()
    bound = gain * math.sqrt(6 / (1152 + 2304))
    assert np.abs(w).max() <= bound
    assert_moments(w, 0.0, bound / math.sqrt(3))


def test_xavier_normal_std():
    w = init.xavier_normal_(weight(), generator=mg.Generator(3)).numpy()
    assert_moments(w, 0.0, math.sqrt(2 / (1152 + 2304)))


@pytest.mark.parametrize("mode, fan", [("fan_in", 1152), ("fan_out", 2304)])
@pytest.mark.parametrize("nonlinearity, a, gain", [
    ("relu", 0.0, math.sqrt(2)), ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
    ("linear", 0.0, 1.0)])
def test_kaiming_normal_std_per_mode(mode, fan, nonlinearity, a, gain):
    w = init.kaiming_normal_(weight(), a=a, mode=mode, nonlinearity=nonlinearity,
                             generator=mg.Generator(4)).numpy()
    assert_moments(w, 0.0, gain / math.sqrt(fan))


@pytest.mark.parametrize("mode, fan", [("fan_in", 1152), ("fan_out", 2304)])
def test_kaiming_uniform_bound_and_std_per_mode(mode, fan):
    w = init.kaiming_uniform_(weight(), mode=mode, nonlinearity="relu",
                              generator=mg.Generator(5)).numpy()
    std = math.sqrt(2) / math.sqrt(fan)
    assert np.abs(w).max() <= math.sqrt(3) * std
    assert_moments(w, 0.0, std)


def test_kaiming_rejects_unknown_mode():
    with pytest.raises(ValueError, match="'fan_avg'"):
        init.kaiming_normal_(weight((3, 3)), mode="fan_avg")


@pytest.mark.parametrize("shape", [(40, 7), (7, 40), (12, 12), (6, 2, 3, 3), (30, 2, 2, 2)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    gain = 2.0
    w = init.orthogonal_(weight(shape), gain=gain, generator=mg.Generator(6)).numpy()
    m = w.reshape(shape[0], -1) / gain
    rows, cols = m.shape
    gram = m @ m.T if rows <= cols else m.T @ m        # the smaller side is orthonormal
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_is_not_biased_towards_positive_diagonals():
    """Without the sign fix from diag(R), QR (Householder) gives Q[0, 0] one fixed sign."""
    diagonals = [init.orthogonal_(weight((3, 3)), generator=mg.Generator(s)).numpy()[0, 0]
                 for s in range(200)]
    assert 60 < sum(d > 0 for d in diagonals) < 140


def test_orthogonal_needs_two_dimensions():
    with pytest.raises(ValueError, match="orthogonal_"):
        init.orthogonal_(mg.zeros(5))


def truncated_normal_moments(mean, std, a, b):
    """Mean and std of N(mean, std^2) restricted to [a, b] (textbook formulas)."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    def pdf(z):
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    def cdf(z):
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))
    z = cdf(beta) - cdf(alpha)
    shift = (pdf(alpha) - pdf(beta)) / z
    var = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / z - shift ** 2
    return mean + std * shift, std * math.sqrt(var)


def test_trunc_normal_stays_in_bounds_with_truncated_moments():
    mean, std, a, b = 0.5, 1.0, -0.5, 3.0
    w = init.trunc_normal_(weight(), mean, std, a, b, generator=mg.Generator(7)).numpy()
    assert w.min() >= a and w.max() <= b
    assert_moments(w, *truncated_normal_moments(mean, std, a, b))


@pytest.mark.parametrize("a, b", [(1.0, 1.0), (2.0, -2.0), (10.0, 11.0)])
def test_trunc_normal_refuses_empty_or_far_intervals(a, b):
    with pytest.raises(ValueError, match="trunc_normal_"):
        init.trunc_normal_(weight((3, 3)), 0.0, 1.0, a, b)


@pytest.mark.parametrize("fill", [
    lambda w, g: init.uniform_(w, generator=g), lambda w, g: init.normal_(w, generator=g),
    lambda w, g: init.xavier_uniform_(w, generator=g),
    lambda w, g: init.kaiming_normal_(w, generator=g),
    lambda w, g: init.orthogonal_(w, generator=g),
    lambda w, g: init.trunc_normal_(w, generator=g)])
def test_seeded_generator_is_deterministic(fill):
    first = fill(weight((8, 5)), mg.Generator(11)).numpy()
    again = fill(weight((8, 5)), mg.Generator(11)).numpy()
    other = fill(weight((8, 5)), mg.Generator(12)).numpy()
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def test_default_generator_follows_manual_seed():
    mg.manual_seed(3)
    first = nn.Linear(4, 3).weight.detach().numpy()
    mg.manual_seed(3)
    np.testing.assert_array_equal(nn.Linear(4, 3).weight.detach().numpy(), first)


def test_dcgan_init_sets_weights_to_n_0_002_and_bn_gains_near_1():
    model = nn.Sequential(nn.ConvTranspose2d(64, 64, 4), nn.BatchNorm2d(2048),
                          nn.Conv2d(64, 64, 4), nn.Linear(512, 256), nn.BatchNorm1d(2048),
                          nn.Tanh())
    model.to(mg.float64)
    model.apply(init.dcgan_init_)
    for index in (0, 2, 3):
        assert_moments(model[index].weight.detach().numpy(), 0.0, 0.02)
        assert not model[index].bias.detach().numpy().any()
    for index in (1, 4):
        assert_moments(model[index].weight.detach().numpy(), 1.0, 0.02)
        assert not model[index].bias.detach().numpy().any()


def test_dcgan_init_reaches_the_trained_weight_under_spectral_norm():
    layer = nn.spectral_norm(nn.Conv2d(64, 64, 4))
    init.dcgan_init_(layer, generator=mg.Generator(0))
    assert_moments(layer.weight_orig.detach().numpy(), 0.0, 0.02)


def test_dcgan_init_with_a_generator_is_deterministic():
    def make():
        model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        generator = mg.Generator(9)
        model.apply(lambda m: init.dcgan_init_(m, generator))
        return model.state_dict()
    first, second = make(), make()
    for key in first:
        np.testing.assert_array_equal(first[key].numpy(), second[key].numpy())
