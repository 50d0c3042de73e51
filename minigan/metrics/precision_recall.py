"""Improved precision and recall of generative models (Kynkäänniemi et al. 2019).

Each set of feature vectors approximates the support of its distribution by the union of
k-NN balls around its points. For a set Φ: (n, d) and φ' in Φ, NN_k(φ', Φ) is the k-th
nearest neighbour of φ' among the other points of Φ, and

    f(φ, Φ) = 1  if ||φ - φ'||_2 <= ||φ' - NN_k(φ', Φ)||_2 for at least one φ' in Φ,
              0  otherwise
    precision(Φ_r, Φ_g) = mean over φ_g in Φ_g of f(φ_g, Φ_r)    fakes inside the real support
    recall(Φ_r, Φ_g)    = mean over φ_r in Φ_r of f(φ_r, Φ_g)    reals inside the fake support

with k = 3 as in the paper. The ball is closed (<=), so every point lies in its own ball:
a set against itself scores precision = recall = 1.

Squared distances are ||a||² + ||b||² - 2 a·b in float64, computed for ``batch_size`` rows
at a time (a (batch_size, n) block), so 10,000 x 10,000 points of dimension 2,048 run in
about 80 MB per block. Their roundoff is about 1e-16 (||a||² + ||b||²), far below the gaps
between neighbour distances of real feature sets, but a point that coincides with a ball's
boundary to that precision may fall either side.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from minigan.metrics.common import feature_matrix


@dataclass(frozen=True)
class PrecisionRecall:
    """precision: share of fake samples inside the real k-NN support, in [0, 1].
    recall: share of real samples inside the fake k-NN support, in [0, 1]."""
    precision: float
    recall: float


def precision_recall(real: Any, fake: Any, k: int = 3,
                     batch_size: int = 1024) -> PrecisionRecall:
    """Improved precision and recall of ``fake`` (n_g, d) against ``real`` (n_r, d), each
    with more than ``k`` rows (see the module docstring)."""
    op = "precision_recall"
    real_features = feature_matrix(real, op, "real")
    fake_features = feature_matrix(fake, op, "fake")
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"{op}: real {real_features.shape} and fake {fake_features.shape} "
                         f"differ in feature dimension")
    _check_k(op, k, real_features.shape, "real")
    _check_k(op, k, fake_features.shape, "fake")
    _check_batch_size(op, batch_size)
    real_radii = knn_radii(real_features, k, batch_size)
    fake_radii = knn_radii(fake_features, k, batch_size)
    return PrecisionRecall(
        precision=float(_inside_balls(fake_features, real_features, real_radii,
                                      batch_size).mean()),
        recall=float(_inside_balls(real_features, fake_features, fake_radii,
                                   batch_size).mean()),
    )


def knn_radii(features: Any, k: int = 3, batch_size: int = 1024) -> np.ndarray:
    """Distance of each row of ``features`` (n, d) to its k-th nearest other row: (n,).

    A row's distance to itself is 0, the smallest in its row of the distance matrix, so
    the k-th nearest other row is order statistic k (counting from 0) of that row.
    """
    op = "knn_radii"
    x = feature_matrix(features, op, "features")
    _check_k(op, k, x.shape, "features")
    _check_batch_size(op, batch_size)
    squared_norms = (x * x).sum(axis=1)                               # (n,)
    radii = np.empty(x.shape[0])
    for rows, block in _squared_distance_blocks(x, x, squared_norms, batch_size):
        radii[rows] = np.partition(block, k, axis=1)[:, k]            # (b, n) -> (b,)
    return np.sqrt(radii)


def _inside_balls(points: np.ndarray, centres: np.ndarray, radii: np.ndarray,
                  batch_size: int) -> np.ndarray:
    """(m,) bool: whether each of ``points`` (m, d) lies in at least one closed ball of
    centre ``centres`` (n, d) and radius ``radii`` (n,)."""
    inside = np.empty(points.shape[0], dtype=bool)
    squared_radii = radii ** 2                                        # (n,)
    centre_norms = (centres * centres).sum(axis=1)                    # (n,)
    for rows, block in _squared_distance_blocks(points, centres, centre_norms, batch_size):
        inside[rows] = (block <= squared_radii).any(axis=1)           # (b, n) -> (b,)
    return inside


def _squared_distance_blocks(a: np.ndarray, b: np.ndarray, b_squared_norms: np.ndarray,
                             batch_size: int) -> Iterator[tuple[slice, np.ndarray]]:
    """Yield (rows, ||a[rows] - b||²) for consecutive blocks of ``batch_size`` rows of a;
    a: (m, d), b: (n, d), each block (b, n), clipped at 0 against roundoff."""
    for start in range(0, a.shape[0], batch_size):
        rows = slice(start, min(start + batch_size, a.shape[0]))
        block_a = a[rows]                                             # (b, d)
        squared = (block_a * block_a).sum(axis=1)[:, None] + b_squared_norms[None, :] \
            - 2.0 * (block_a @ b.T)                                   # (b, n)
        yield rows, np.maximum(squared, 0.0, out=squared)


def _check_k(op: str, k: int, shape: tuple[int, ...], name: str) -> None:
    if not (isinstance(k, (int, np.integer)) and 1 <= k < shape[0]):
        raise ValueError(f"{op}: k must be an integer in [1, n) for {name} of shape {shape}, "
                         f"got {k!r}")


def _check_batch_size(op: str, batch_size: int) -> None:
    if not (isinstance(batch_size, (int, np.integer)) and batch_size >= 1):
        raise ValueError(f"{op}: batch_size must be a positive integer, got {batch_size!r}")
