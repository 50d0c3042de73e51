"""minigan/metrics/mixture.py: mode coverage, high-quality share and mode KL."""
import math

import numpy as np
import pytest

import minigan as mg
from minigan.data import load_dataset
from minigan.metrics import STANDARD_NUM_SAMPLES, mixture_metrics


def ring_centers(num_modes=8, radius=2.0):
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return np.stack([radius * np.cos(angles), radius * np.sin(angles)], axis=1)


def grid_centers():
    return np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], dtype=float)


def brute_force(samples, centers, std, num_std=3.0):
    """Per-sample loops with math.dist: (HQ share, per-mode counts)."""
    counts = [0] * len(centers)
    high_quality = 0
    for x in samples:
        distances = [math.dist(x, c) for c in centers]
        nearest = min(range(len(centers)), key=distances.__getitem__)
        if distances[nearest] < num_std * std:
            counts[nearest] += 1
            high_quality += 1
    return high_quality / len(samples), np.array(counts)


def test_samples_at_every_mode_cover_all_modes_with_full_quality():
    centers = grid_centers()
    m = mixture_metrics(np.repeat(centers, 3, axis=0), centers, std=0.05)
    assert (m.modes_covered, m.num_modes, m.high_quality_fraction) == (25, 25, 1.0)
    np.testing.assert_array_equal(m.mode_counts, np.full(25, 3))
    assert m.mode_kl == pytest.approx(0.0, abs=1e-15)


def test_samples_at_one_mode_cover_one_mode_and_kl_is_log_k():
    centers = ring_centers()
    m = mixture_metrics(np.tile(centers[5], (100, 1)), centers, std=0.02)
    assert (m.modes_covered, m.high_quality_fraction) == (1, 1.0)
    np.testing.assert_array_equal(m.mode_counts, np.eye(8, dtype=np.int64)[5] * 100)
    assert m.mode_kl == pytest.approx(math.log(8), rel=1e-15)


def test_samples_far_from_every_mode_are_neither_good_nor_covering():
    centers = ring_centers()
    samples = np.array([[0.0, 0.0], [10.0, 10.0], [-7.0, 3.0]])
    m = mixture_metrics(samples, centers, std=0.02)
    assert (m.modes_covered, m.high_quality_fraction) == (0, 0.0)
    np.testing.assert_array_equal(m.mode_counts, np.zeros(8))
    assert math.isnan(m.mode_kl)


def test_boundary_at_exactly_three_std_is_not_high_quality():
    centers = np.array([[0.0, 0.0], [10.0, 0.0]])
    samples = np.array([[1.5, 0.0], [0.0, -1.5], [1.4999, 0.0], [10.0, 1.49999]])
    m = mixture_metrics(samples, centers, std=0.5)                   # 3σ = 1.5 exactly
    assert m.high_quality_fraction == 0.5
    np.testing.assert_array_equal(m.mode_counts, [1, 1])


def test_num_std_moves_the_quality_threshold():
    centers = np.array([[0.0, 0.0]])
    samples = np.array([[0.9, 0.0], [1.1, 0.0]])
    assert mixture_metrics(samples, centers, std=0.5, num_std=2.0).high_quality_fraction == 0.5


def test_kl_of_a_partial_histogram_matches_hand_computation():
    centers = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0]])
    samples = np.array([[0.1, 0.0], [0.0, 0.1], [4.0, 0.1], [0.1, 4.0], [9.0, 9.0]])
    m = mixture_metrics(samples, centers, std=0.1)
    np.testing.assert_array_equal(m.mode_counts, [2, 1, 1, 0])
    assert m.modes_covered == 3
    assert m.high_quality_fraction == pytest.approx(0.8)
    # q = (1/2, 1/4, 1/4, 0): KL(q || 1/4) = 1/2 log 2 + 1/4 log 1 + 1/4 log 1
    assert m.mode_kl == pytest.approx(0.5 * math.log(2), rel=1e-14)


def test_counts_match_a_per_sample_loop_on_noisy_samples():
    rng = np.random.default_rng(0)
    centers = ring_centers()
    samples = centers[rng.integers(0, 8, 300)] + rng.normal(0, 0.5, (300, 2))
    m = mixture_metrics(samples, centers, std=0.1)
    fraction, counts = brute_force(samples, centers, 0.1)
    assert m.high_quality_fraction == fraction
    np.testing.assert_array_equal(m.mode_counts, counts)
    assert m.modes_covered == int((counts > 0).sum())


def test_standard_protocol_on_true_mixture_samples_matches_rayleigh_probability():
    # In 2-D, ||x - c|| / σ is Rayleigh: P(||x - c|| < 3σ) = 1 - exp(-9/2) ≈ 0.98889.
    rng = np.random.default_rng(1)
    centers, std = ring_centers(), 0.02
    n = STANDARD_NUM_SAMPLES
    samples = centers[rng.integers(0, 8, n)] + rng.normal(0, std, (n, 2))
    m = mixture_metrics(samples, centers, std)
    p = 1 - math.exp(-4.5)
    assert abs(m.high_quality_fraction - p) < 4 * math.sqrt(p * (1 - p) / n)
    assert m.modes_covered == 8
    assert m.mode_kl < 0.01


def test_accepts_tensors():
    centers = ring_centers()
    m = mixture_metrics(mg.tensor(centers.astype(np.float32)), mg.tensor(centers), std=0.02)
    assert (m.modes_covered, m.high_quality_fraction) == (8, 1.0)


@pytest.mark.parametrize("samples, centers, std, message", [
    (np.zeros((4, 2)), np.zeros((3, 3)), 0.1,
     r"samples \(4, 2\) and centers \(3, 3\) differ in dimension"),
    (np.zeros(4), np.zeros((3, 2)), 0.1, r"samples must be a matrix \(n, d\), got shape \(4,\)"),
    (np.zeros((4, 2)), np.zeros((3, 2)), 0.0, "std must be a positive number, got 0.0"),
    (np.full((4, 2), np.nan), np.zeros((3, 2)), 0.1, r"samples of shape \(4, 2\) holds NaN"),
])
def test_bad_input_names_the_metric_and_shapes(samples, centers, std, message):
    with pytest.raises(ValueError, match="^mixture_metrics: " + message):
        mixture_metrics(samples, centers, std)


@pytest.mark.parametrize("name, num_modes", [("ring8", 8), ("grid25", 25)])
def test_the_data_samplers_score_as_a_perfect_generator(name, num_modes):
    mixture = load_dataset(name)
    samples = mixture.sample(STANDARD_NUM_SAMPLES, np.random.default_rng(2))
    m = mixture_metrics(samples, mixture.modes, mixture.std)
    p = 1 - math.exp(-4.5)
    assert (m.modes_covered, m.num_modes) == (num_modes, num_modes)
    assert abs(m.high_quality_fraction - p) < 4 * math.sqrt(p * (1 - p) / STANDARD_NUM_SAMPLES)
