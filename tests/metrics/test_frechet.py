"""minigan/metrics/frechet.py: Fréchet distance between fitted Gaussians."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import minigan as mg
from minigan.metrics import feature_statistics, frechet_distance, frechet_distance_from_stats


def random_covariance(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / (rank or d)


def frechet_oracle(mu1, s1, mu2, s2):
    """Tr((Σ1 Σ2)^{1/2}) from the eigenvalues of the non-symmetric product Σ1 Σ2 itself."""
    eigenvalues = np.linalg.eigvals(s1 @ s2)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0, None)).sum()
    return np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt


def test_identical_sets_are_at_distance_zero():
    x = np.random.default_rng(0).normal(size=(500, 16))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-10)


def test_shifting_the_mean_by_d_gives_squared_norm_of_d():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8))
    d = rng.normal(size=8)
    assert frechet_distance(x, x + d) == pytest.approx(d @ d, rel=1e-9)


def test_diagonal_covariances_match_closed_form():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(0.1, 3, 10), rng.uniform(0.1, 3, 10)
    mu1, mu2 = rng.normal(size=10), rng.normal(size=10)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    value = frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b))
    assert value == pytest.approx(expected, rel=1e-12)


def test_one_dimensional_gaussians_match_closed_form():
    # d = 1: FD = (μ1 - μ2)² + (σ1 - σ2)²
    value = frechet_distance_from_stats([1.0], [[4.0]], [-2.0], [[9.0]])
    assert value == pytest.approx(9.0 + 1.0, rel=1e-14)


def test_full_covariances_match_eigenvalues_of_the_product():
    rng = np.random.default_rng(3)
    mu1, mu2 = rng.normal(size=12), rng.normal(size=12)
    s1, s2 = random_covariance(rng, 12), random_covariance(rng, 12)
    expected = frechet_oracle(mu1, s1, mu2, s2)
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_full_covariances_match_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(4)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = random_covariance(rng, 6), random_covariance(rng, 6)
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2)
                - 2 * np.trace(linalg.sqrtm(s1 @ s2)).real)
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_singular_covariances_from_few_samples_match_the_oracle():
    # n = 5 < d = 20: both covariances have rank 4.
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 0.5
    (mu1, s1), (mu2, s2) = feature_statistics(x), feature_statistics(y)
    value = frechet_distance(x, y)
    assert np.isfinite(value) and value > 0
    assert value == pytest.approx(frechet_oracle(mu1, s1, mu2, s2), rel=1e-7)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(2, 40), d=st.integers(1, 6))
def test_distance_is_symmetric_and_non_negative(seed, n, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 2)
    y = rng.normal(size=(n + 3, d)) + rng.normal(size=d)
    forward, backward = frechet_distance(x, y), frechet_distance(y, x)
    assert forward >= 0.0
    assert forward == pytest.approx(backward, rel=1e-8, abs=1e-10)


def test_feature_statistics_are_mean_and_unbiased_covariance():
    x = np.random.default_rng(6).normal(size=(50, 4))
    mu, sigma = feature_statistics(x)
    np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-14)
    np.testing.assert_allclose(sigma, np.cov(x, rowvar=False), rtol=1e-12)


def test_float32_tensors_are_scored_in_float64():
    x = np.random.default_rng(7).normal(size=(100, 5))
    expected = frechet_distance(x.astype(np.float32).astype(np.float64), x + 1.0)
    assert frechet_distance(mg.tensor(x.astype(np.float32)), x + 1.0) == expected


@pytest.mark.parametrize("args, message", [
    ((np.zeros(3), np.eye(3), np.zeros(2), np.eye(2)), r"got \(3,\), \(2,\), \(3, 3\), \(2, 2\)"),
    ((np.zeros(3), np.eye(3), np.zeros(3), np.full((3, 3), np.inf)), "sigma2 of shape"),
])
def test_bad_statistics_name_the_function_and_shapes(args, message):
    with pytest.raises(ValueError, match="^frechet_distance_from_stats: .*" + message):
        frechet_distance_from_stats(*args)


def test_a_single_sample_is_rejected():
    with pytest.raises(ValueError, match=r"feature_statistics: features needs at least 2 rows"):
        frechet_distance(np.zeros((1, 3)), np.zeros((4, 3)))
