"""minigan/metrics/classes.py: class coverage and KL(p_gen || p_data) of predicted labels."""
import math

import numpy as np
import pytest

import minigan as mg
from minigan.metrics import class_histogram, class_metrics, kl_divergence, predicted_labels

# counts (2, 4, 2, 0) out of 8: p_gen = (1/4, 1/2, 1/4, 0)
LABELS = np.array([0, 0, 1, 1, 1, 1, 2, 2])


def test_uniform_data_kl_and_coverage_match_hand_computation():
    m = class_metrics(LABELS, num_classes=4)
    # KL = 1/4 log(1) + 1/2 log(2) + 1/4 log(1) + 0 (the dropped class adds nothing)
    assert m.kl == pytest.approx(0.5 * math.log(2), rel=1e-15)
    assert (m.coverage, m.classes_covered, m.num_classes) == (0.75, 3, 4)
    np.testing.assert_array_equal(m.counts, [2, 4, 2, 0])


def test_data_counts_are_normalised_and_set_the_number_of_classes():
    m = class_metrics(LABELS, data_distribution=[10, 20, 10, 0])
    # p_data = (1/4, 1/2, 1/4, 0) = p_gen
    assert m.kl == 0.0
    assert m.num_classes == 4


def test_non_uniform_data_kl_matches_hand_computation():
    m = class_metrics(LABELS, data_distribution=[0.5, 0.25, 0.125, 0.125])
    expected = 0.25 * math.log(0.5) + 0.5 * math.log(2) + 0.25 * math.log(2)
    assert m.kl == pytest.approx(expected, rel=1e-15)


def test_mass_on_a_class_absent_from_the_data_gives_infinity_without_smoothing():
    assert class_metrics(LABELS, data_distribution=[1, 1, 0, 1]).kl == math.inf


def test_smoothing_adds_epsilon_to_both_histograms():
    eps = 0.1
    m = class_metrics(LABELS, data_distribution=[1, 1, 0, 1], smoothing=eps)
    p = (np.array([0.25, 0.5, 0.25, 0.0]) + eps) / 1.4
    q = (np.array([1 / 3, 1 / 3, 0.0, 1 / 3]) + eps) / 1.4
    assert m.kl == pytest.approx(float(np.sum(p * np.log(p / q))), rel=1e-14)


def test_min_fraction_counts_only_classes_with_that_share():
    m = class_metrics(LABELS, num_classes=4, min_fraction=0.3)
    assert (m.classes_covered, m.coverage) == (1, 0.25)
    assert class_metrics(LABELS, num_classes=4, min_fraction=0.25).classes_covered == 3


def test_a_collapsed_generator_covers_one_class_with_kl_log_c():
    m = class_metrics(np.full(50, 7), num_classes=10)
    assert (m.classes_covered, m.coverage) == (1, 0.1)
    assert m.kl == pytest.approx(math.log(10), rel=1e-15)


def test_probabilities_score_as_their_argmax():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(200, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    from_probabilities = class_metrics(mg.tensor(probabilities))
    from_labels = class_metrics(probabilities.argmax(axis=1), num_classes=10)
    np.testing.assert_array_equal(from_probabilities.counts, from_labels.counts)
    assert (from_probabilities.kl, from_probabilities.coverage, from_probabilities.num_classes) \
        == (from_labels.kl, from_labels.coverage, from_labels.num_classes)


def test_class_histogram_and_predicted_labels():
    np.testing.assert_allclose(class_histogram(LABELS, 4), [0.25, 0.5, 0.25, 0.0])
    np.testing.assert_array_equal(predicted_labels(np.eye(3)[[2, 0, 1]]), [2, 0, 1])


def test_kl_divergence_is_zero_for_equal_histograms_and_positive_otherwise():
    p = np.array([0.2, 0.3, 0.5])
    assert kl_divergence(p, p) == 0.0
    assert kl_divergence(p, np.full(3, 1 / 3)) > 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(predictions=LABELS), r"labels of shape \(8,\) need num_classes"),
    (dict(predictions=LABELS, num_classes=2),
     r"labels must lie in \[0, 2\), got values in \[0, 2\]"),
    (dict(predictions=np.zeros((5, 3)), num_classes=4), r"probabilities of shape \(5, 3\)"),
    (dict(predictions=LABELS, data_distribution=[1, -1, 1]),
     r"data_distribution must be non-negative .* got shape \(3,\), min -1.0, sum 1.0"),
    (dict(predictions=LABELS, num_classes=3, data_distribution=[1, 1]),
     r"data_distribution of shape \(2,\) does not have num_classes=3"),
    (dict(predictions=LABELS.astype(float), num_classes=4), "expected integer labels"),
    (dict(predictions=np.zeros(0, dtype=int), num_classes=4), "no predictions"),
])
def test_bad_input_names_the_metric_and_values(kwargs, message):
    with pytest.raises(ValueError, match="^class_metrics: " + message):
        class_metrics(**kwargs)
