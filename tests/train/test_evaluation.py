"""Tests for minigan/train/evaluation.py: what a run measures on 2-D mixtures and on images
(the image scores on a tiny two-class dataset, so its classifier trains in a second)."""
import numpy as np
import pytest

from minigan.data import ImageDataset, ring8, swissroll
from minigan.metrics.mixture import STANDARD_NUM_SAMPLES
from minigan.train.evaluation import Evaluator

IMAGE_KEYS = {"frechet", "precision", "recall", "classes_covered", "class_kl",
              "classifier_accuracy"}


def _at_modes(modes, which, n):
    """n points placed exactly on the modes listed in ``which``, in turn."""
    return modes[np.resize(np.asarray(which), n)].astype(np.float32)


@pytest.mark.parametrize("which, covered, quality", [
    (range(8), 8, 1.0), ([3], 1, 1.0), ([0, 5], 2, 1.0)])
def test_mixture_scores_count_the_modes_reached(which, covered, quality):
    data = ring8()
    sizes = []

    def sample(n):
        sizes.append(n)
        return _at_modes(data.modes, list(which), n)
    assert Evaluator(data).evaluate(sample) == {
        "modes_covered": covered, "num_modes": 8, "high_quality": quality}
    assert sizes == [STANDARD_NUM_SAMPLES]


def test_mixture_scores_are_zero_far_from_every_mode():
    scores = Evaluator(ring8(), num_samples=100).evaluate(
        lambda n: np.full((n, 2), 5.0, np.float32))
    assert scores == {"modes_covered": 0, "num_modes": 8, "high_quality": 0.0}


def test_swiss_roll_has_no_scores():
    assert Evaluator(swissroll(), num_samples=10).evaluate(
        lambda n: np.zeros((n, 2), np.float32)) == {}


@pytest.fixture(scope="module")
def bars():
    """48 noisy 8 x 8 images of two classes: a horizontal bar (0) or a vertical one (1)."""
    rng = np.random.default_rng(0)
    images = np.full((48, 1, 8, 8), -1.0, np.float32)
    labels = np.arange(48) % 2
    images[labels == 0, 0, 3:5, :] = 1.0
    images[labels == 1, 0, :, 3:5] = 1.0
    images += rng.normal(0, 0.1, images.shape).astype(np.float32)
    return ImageDataset(np.clip(images, -1, 1), labels.astype(np.int64), ["h", "v"], "bars")


@pytest.fixture(scope="module")
def bars_evaluator(bars):
    return Evaluator(bars)


def test_image_scores_of_the_data_itself_are_perfect(bars, bars_evaluator):
    assert bars_evaluator.num_samples == len(bars)
    scores = bars_evaluator.evaluate(lambda n: bars.images[:n])
    assert set(scores) == IMAGE_KEYS
    assert scores["classifier_accuracy"] == 1.0
    assert scores["frechet"] == pytest.approx(0.0, abs=1e-6)
    assert scores["precision"] == scores["recall"] == 1.0
    assert scores["classes_covered"] == 2
    assert scores["class_kl"] == pytest.approx(0.0, abs=1e-12)


def test_image_scores_of_a_collapsed_generator_are_poor(bars, bars_evaluator):
    one_class = bars.images[bars.labels == 0]
    scores = bars_evaluator.evaluate(lambda n: np.resize(one_class, (n, 1, 8, 8)))
    assert scores["classes_covered"] == 1
    assert scores["class_kl"] == pytest.approx(np.log(2), rel=1e-6)  # KL(one class || 1/2, 1/2)
    assert scores["recall"] <= 0.5
    assert scores["frechet"] > 1e-3
