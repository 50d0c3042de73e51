"""Class coverage and class-histogram KL of generated samples, from a classifier's output.

A classifier trained on the dataset labels n generated samples with one of C classes
(hard labels (n,), or probabilities (n, C) reduced to their argmax, so that both forms of
the same prediction score the same). With count_c the samples predicted as class c:

    p_gen_c   = count_c / n                                      (C,)
    covered_c = count_c >= 1  and  p_gen_c >= min_fraction       default min_fraction = 0:
                                                                 predicted at least once
    coverage  = #{c : covered_c} / C
    KL        = KL(p_gen || p_data) = Σ_c p_gen_c log(p_gen_c / p_data_c),  0 log 0 = 0

p_data is the data's class histogram (uniform by default: balanced datasets such as MNIST,
digits, Stacked MNIST's 1,000 modes). The direction puts the generator first: a dropped
class (p_gen_c = 0) contributes exactly 0 and needs no smoothing, while mass on a class
the data never shows gives +inf. With ``smoothing`` = ε > 0 both histograms become
(p_c + ε) / (1 + C ε) before the KL, which keeps it finite; the default is ε = 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minigan.metrics.common import host_array


@dataclass(frozen=True)
class ClassMetrics:
    """coverage: share of the C classes that are covered (see the module docstring).
    classes_covered: how many classes are covered.
    num_classes: C.
    kl: KL(p_gen || p_data) in nats (+inf when p_gen puts mass where p_data has none).
    counts: (C,) int64, generated samples predicted as each class."""
    coverage: float
    classes_covered: int
    num_classes: int
    kl: float
    counts: np.ndarray


def predicted_labels(predictions: Any, num_classes: int | None = None) -> np.ndarray:
    """Hard labels (n,) int64 from labels (n,) of an integer dtype, or from class
    probabilities or logits (n, C) by argmax. Labels must lie in [0, num_classes)."""
    return _labels_and_num_classes(predictions, num_classes, "predicted_labels")[0]


def class_histogram(labels: Any, num_classes: int | None = None) -> np.ndarray:
    """Share of each class among ``labels`` (n,) or the argmax of probabilities (n, C):
    (C,) float64 summing to 1."""
    hard, size = _labels_and_num_classes(labels, num_classes, "class_histogram")
    return np.bincount(hard, minlength=size) / hard.size


def _labels_and_num_classes(predictions: Any, num_classes: int | None,
                            op: str) -> tuple[np.ndarray, int]:
    """Hard labels (n,) int64, n >= 1, and C (from ``num_classes`` or the columns of
    probabilities (n, C))."""
    array = host_array(predictions, dtype=None)
    if array.ndim == 2:
        if num_classes is not None and array.shape[1] != num_classes:
            raise ValueError(f"{op}: probabilities of shape {array.shape} do not have "
                             f"num_classes={num_classes} columns")
        labels, num_classes = array.argmax(axis=1), array.shape[1]
    elif array.ndim == 1 and array.dtype.kind in "iu":
        if num_classes is None:
            raise ValueError(f"{op}: labels of shape {array.shape} need num_classes")
        if array.size and (array.min() < 0 or array.max() >= num_classes):
            raise ValueError(f"{op}: labels must lie in [0, {num_classes}), got values in "
                             f"[{array.min()}, {array.max()}]")
        labels = array
    else:
        raise ValueError(f"{op}: expected integer labels (n,) or probabilities (n, C), got "
                         f"shape {array.shape} of dtype {array.dtype}")
    if labels.size == 0:
        raise ValueError(f"{op}: no predictions (shape {array.shape})")
    return labels.astype(np.int64), int(num_classes)


def class_metrics(predictions: Any, num_classes: int | None = None,
                  data_distribution: Any = None, min_fraction: float = 0.0,
                  smoothing: float = 0.0) -> ClassMetrics:
    """Coverage and KL(p_gen || p_data) of generated samples' predicted classes.

    predictions: labels (n,) or probabilities (n, C) of the generated samples.
    num_classes: C; taken from the probabilities or from ``data_distribution`` if omitted.
    data_distribution: (C,) class counts or shares of the data (normalised here), e.g.
        ``class_histogram(data_labels, C)``; uniform 1/C when omitted.
    min_fraction: a class is covered when predicted at least once and for at least this
        share of the n samples.
    smoothing: ε added to every bin of both histograms (then renormalised) before the KL.
    """
    op = "class_metrics"
    if data_distribution is not None:
        p_data = host_array(data_distribution)
        if p_data.ndim != 1 or not np.isfinite(p_data).all() or (p_data < 0).any() \
                or p_data.sum() <= 0:
            raise ValueError(f"{op}: data_distribution must be non-negative finite counts "
                             f"or shares (C,) with a positive sum, got shape {p_data.shape}, "
                             f"min {p_data.min(initial=np.inf)}, sum {p_data.sum()}")
        if num_classes is not None and p_data.shape[0] != num_classes:
            raise ValueError(f"{op}: data_distribution of shape {p_data.shape} does not have "
                             f"num_classes={num_classes} entries")
        num_classes = p_data.shape[0]
        p_data = p_data / p_data.sum()
    hard, num_classes = _labels_and_num_classes(predictions, num_classes, op)
    if data_distribution is None:
        p_data = np.full(num_classes, 1.0 / num_classes)
    if not (0.0 <= min_fraction <= 1.0):
        raise ValueError(f"{op}: min_fraction must lie in [0, 1], got {min_fraction!r}")
    if not (np.isfinite(smoothing) and smoothing >= 0.0):
        raise ValueError(f"{op}: smoothing must be a finite number >= 0, got {smoothing!r}")
    counts = np.bincount(hard, minlength=num_classes).astype(np.int64)
    p_gen = counts / hard.size
    covered = (counts >= 1) & (p_gen >= min_fraction)
    return ClassMetrics(
        coverage=float(covered.mean()),
        classes_covered=int(covered.sum()),
        num_classes=num_classes,
        kl=kl_divergence(p_gen, p_data, smoothing),
        counts=counts,
    )


def kl_divergence(p: np.ndarray, q: np.ndarray, smoothing: float = 0.0) -> float:
    """KL(p || q) = Σ_c p_c log(p_c / q_c) of two histograms (C,) summing to 1, with
    0 log 0 = 0 and +inf where p_c > 0 = q_c; with ``smoothing`` ε > 0 both are first
    replaced by (h_c + ε) / (1 + C ε)."""
    if smoothing > 0.0:
        p = (p + smoothing) / (1.0 + p.size * smoothing)
        q = (q + smoothing) / (1.0 + q.size * smoothing)
    support = p > 0
    if (q[support] == 0).any():
        return float("inf")
    return float((p[support] * np.log(p[support] / q[support])).sum())
