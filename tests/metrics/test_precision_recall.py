"""minigan/metrics/precision_recall.py: improved precision and recall (k-NN supports)."""
import numpy as np
import pytest

import minigan as mg
from minigan.metrics import PrecisionRecall, knn_radii, precision_recall


def radii_oracle(x, k):
    """k-th nearest other point by exact differences and a full sort, one point at a time."""
    radii = []
    for i in range(len(x)):
        others = np.delete(x, i, axis=0)
        radii.append(np.sort(np.sqrt(((others - x[i]) ** 2).sum(axis=1)))[k - 1])
    return np.array(radii)


def coverage_oracle(points, centres, k):
    radii = radii_oracle(centres, k)
    inside = [any(np.linalg.norm(p - c) <= r for c, r in zip(centres, radii)) for p in points]
    return float(np.mean(inside))


def test_identical_sets_have_precision_and_recall_one():
    x = np.random.default_rng(0).normal(size=(300, 8))
    assert precision_recall(x, x.copy()) == PrecisionRecall(1.0, 1.0)


def test_far_apart_sets_have_precision_and_recall_zero():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(200, 4)), rng.normal(size=(150, 4)) + 100.0
    result = precision_recall(real, fake)
    assert (result.precision, result.recall) == (0.0, 0.0)


def test_a_subset_of_the_reals_has_full_precision_and_partial_recall():
    rng = np.random.default_rng(2)
    real = rng.normal(size=(200, 3))
    fake = real[:40]
    result = precision_recall(real, fake)
    assert result.precision == 1.0
    assert result.recall == pytest.approx(coverage_oracle(real, fake, 3), abs=1e-15)
    assert 40 / 200 <= result.recall < 1.0


def test_a_collapsed_generator_keeps_precision_and_loses_recall():
    rng = np.random.default_rng(3)
    real = rng.normal(size=(400, 2))
    fake = rng.normal(size=(400, 2)) * 0.1                            # one narrow blob
    result = precision_recall(real, fake)
    assert result.precision > 0.95
    assert result.recall < 0.2


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_a_per_point_loop(k):
    rng = np.random.default_rng(4 + k)
    real = rng.normal(size=(120, 5))
    fake = rng.normal(size=(90, 5)) * 1.3 + 0.4
    result = precision_recall(real, fake, k=k)
    assert result.precision == pytest.approx(coverage_oracle(fake, real, k), abs=1e-15)
    assert result.recall == pytest.approx(coverage_oracle(real, fake, k), abs=1e-15)


def test_knn_radii_match_a_full_sort():
    x = np.random.default_rng(8).normal(size=(60, 7))
    np.testing.assert_allclose(knn_radii(x, 3), radii_oracle(x, 3), rtol=1e-10)


@pytest.mark.parametrize("batch_size", [1, 7, 64, 10_000])
def test_batch_size_does_not_change_the_result(batch_size):
    rng = np.random.default_rng(9)
    real, fake = rng.normal(size=(150, 6)), rng.normal(size=(130, 6)) + 0.3
    assert precision_recall(real, fake, batch_size=batch_size) == precision_recall(real, fake)


def test_accepts_float32_tensors():
    x = np.random.default_rng(10).normal(size=(50, 3)).astype(np.float32)
    assert precision_recall(mg.tensor(x), x) == PrecisionRecall(1.0, 1.0)


@pytest.mark.parametrize("real, fake, k, message", [
    (np.zeros((10, 3)), np.zeros((10, 4)), 3,
     r"real \(10, 3\) and fake \(10, 4\) differ in feature dimension"),
    (np.zeros((10, 3)), np.zeros((3, 3)), 3, r"k must be an integer in \[1, n\) for fake of shape"),
    (np.zeros((10, 3)), np.zeros((10, 3)), 0, r"k must be an integer in \[1, n\)"),
])
def test_bad_input_names_the_metric_and_shapes(real, fake, k, message):
    with pytest.raises(ValueError, match="^precision_recall: " + message):
        precision_recall(real, fake, k=k)
