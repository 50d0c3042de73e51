"""Tests for minigan/data/toy.py: mixture parameters, sample statistics, determinism."""
import math

import numpy as np
import pytest

from minigan.data.toy import GaussianMixture, SwissRoll, grid25, ring8, swissroll

NUM_SAMPLES = 40_000


def test_ring8_parameters_are_pacgans():
    angles = [2 * math.pi * k / 8 for k in range(8)]
    expected = np.array([[math.cos(a), math.sin(a)] for a in angles])
    mixture = ring8()
    np.testing.assert_allclose(mixture.modes, expected, rtol=0, atol=1e-15)
    assert mixture.std == 0.01 and mixture.modes.shape == (8, 2)


def test_grid25_parameters_are_pacgans():
    expected = {(x, y) for x in (-4, -2, 0, 2, 4) for y in (-4, -2, 0, 2, 4)}
    mixture = grid25()
    assert {tuple(m) for m in mixture.modes.tolist()} == expected
    assert mixture.std == 0.05 and mixture.modes.shape == (25, 2)


@pytest.mark.parametrize("make", [ring8, grid25], ids=["ring8", "grid25"])
def test_mixture_samples_match_means_stds_and_equal_weights(make):
    mixture = make()
    k, sigma = mixture.modes.shape[0], mixture.std
    x = mixture.sample(NUM_SAMPLES, np.random.default_rng(0)).astype(np.float64)
    assert x.shape == (NUM_SAMPLES, 2)
    distances = np.linalg.norm(x[:, None, :] - mixture.modes[None], axis=2)   # (n, K)
    nearest = distances.argmin(axis=1)
    assert distances.min(axis=1).max() < 6 * sigma        # every point belongs to a mode
    counts = np.bincount(nearest, minlength=k)
    expected = NUM_SAMPLES / k
    assert np.all(np.abs(counts - expected) < 5 * math.sqrt(expected))       # binomial 5σ
    for mode in range(k):
        points = x[nearest == mode]
        n = points.shape[0]
        np.testing.assert_allclose(points.mean(axis=0), mixture.modes[mode],
                                   atol=5 * sigma / math.sqrt(n))
        np.testing.assert_allclose(points.std(axis=0, ddof=1), sigma,
                                   rtol=5 / math.sqrt(2 * (n - 1)))


def test_mixture_sample_is_the_documented_draw():
    mixture = grid25()
    rng = np.random.default_rng(11)
    components = rng.integers(0, 25, size=500)
    expected = mixture.modes[components] + 0.05 * rng.standard_normal((500, 2))
    got = mixture.sample(500, np.random.default_rng(11))
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected.astype(np.float32))


@pytest.mark.parametrize("make", [ring8, grid25, swissroll])
def test_samplers_are_deterministic_given_the_seed(make):
    sampler = make()
    a = sampler.sample(100, np.random.default_rng(3))
    b = sampler.sample(100, np.random.default_rng(3))
    c = sampler.sample(100, np.random.default_rng(4))
    assert a.dtype == np.float32 and a.shape == (100, 2)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_swissroll_without_noise_lies_on_the_scaled_spiral():
    roll = SwissRoll(noise=0.0)
    p = roll.sample(5000, np.random.default_rng(1)).astype(np.float64) / roll.scale
    t = np.linalg.norm(p, axis=1)                 # the radius of (t cos t, t sin t) is t
    assert t.min() >= 1.5 * math.pi - 1e-4 and t.max() <= 4.5 * math.pi + 1e-4
    np.testing.assert_allclose(p, t[:, None] * np.stack([np.cos(t), np.sin(t)], axis=1),
                               atol=1e-4)
    assert abs(t.mean() - 3 * math.pi) < 5 * (math.pi / math.sqrt(3)) / math.sqrt(5000)


def test_swissroll_defaults_fit_in_minus_two_two():
    roll = swissroll()
    x = roll.sample(NUM_SAMPLES, np.random.default_rng(2))
    assert roll.noise == 0.25 and roll.scale == 1 / 7.5
    assert np.abs(x).max() < 2.1 and np.abs(x).max() > 1.7


def test_zero_samples_give_an_empty_array():
    assert ring8().sample(0, np.random.default_rng(0)).shape == (0, 2)


def test_bad_arguments_name_the_sampler():
    with pytest.raises(TypeError, match="ring8.sample: generator must be a numpy.random"):
        ring8().sample(4, 0)
    with pytest.raises(ValueError, match="grid25.sample: n must be a non-negative int"):
        grid25().sample(-1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="std must be a positive number"):
        GaussianMixture(np.zeros((2, 2)), 0.0)
    with pytest.raises(ValueError, match=r"modes must be a non-empty \(K, d\) array"):
        GaussianMixture(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="SwissRoll: noise must be a non-negative number"):
        SwissRoll(noise=-1.0)


def test_modes_are_read_only():
    with pytest.raises(ValueError):
        ring8().modes[0, 0] = 5.0


def test_swissroll_is_sklearns_roll_projected_and_scaled():
    from sklearn.datasets import make_swiss_roll

    reference = make_swiss_roll(20_000, noise=0.0, random_state=0)[0][:, [0, 2]]   # (x, z)
    ours = SwissRoll(noise=0.0).sample(20_000, np.random.default_rng(0)) * 7.5
    for points in (reference, ours.astype(np.float64)):
        t = np.linalg.norm(points, axis=1)
        np.testing.assert_allclose(points, t[:, None] * np.stack([np.cos(t), np.sin(t)], 1),
                                   atol=1e-4)
    quantiles = np.linspace(0.05, 0.95, 10)
    np.testing.assert_allclose(np.quantile(np.linalg.norm(ours, axis=1), quantiles),
                               np.quantile(np.linalg.norm(reference, axis=1), quantiles),
                               atol=0.15)
