"""Fréchet distance between Gaussians fitted to two feature sets (the distance behind FID).

For N(μ1, Σ1) and N(μ2, Σ2) in R^d (Dowson & Landau 1982; Heusel et al. 2017):

    FD = ||μ1 - μ2||² + Tr(Σ1) + Tr(Σ2) - 2 Tr((Σ1 Σ2)^{1/2})

Σ1 Σ2 is not symmetric, but it is similar to the symmetric PSD matrix
M = Σ1^{1/2} Σ2 Σ1^{1/2}  (Σ1 Σ2 = Σ1^{1/2} M Σ1^{-1/2} when Σ1 is invertible, and by
continuity otherwise), so both have the same eigenvalues λ_i >= 0 and

    Tr((Σ1 Σ2)^{1/2}) = Σ_i sqrt(λ_i(M)).

Σ1^{1/2} = V diag(sqrt(w)) V^T from ``eigh`` (eigenvalues w clipped at 0: a covariance
estimated from few samples is PSD only up to roundoff), M's eigenvalues from ``eigvalsh``,
all in float64. No general matrix square root (``scipy.linalg.sqrtm``) is needed, and
there is no complex part to discard.

With features of a classifier this is "FID" only in form: the numbers depend on the
network and are not comparable with Inception-v3 FID reported in papers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.metrics.common import feature_matrix, host_array


def feature_statistics(features: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean μ: (d,) and unbiased covariance Σ: (d, d) (divided by n - 1) of ``features``
    (n, d), n >= 2, in float64."""
    x = feature_matrix(features, "feature_statistics", "features", min_rows=2)
    mu = x.mean(axis=0)
    centred = x - mu                                                  # (n, d)
    sigma = centred.T @ centred / (x.shape[0] - 1)                    # (d, d)
    return mu, sigma


def frechet_distance(features_a: Any, features_b: Any) -> float:
    """Fréchet distance between Gaussians fitted to ``features_a`` (n_a, d) and
    ``features_b`` (n_b, d), n_a, n_b >= 2 (see the module docstring)."""
    mu1, sigma1 = feature_statistics(features_a)
    mu2, sigma2 = feature_statistics(features_b)
    return frechet_distance_from_stats(mu1, sigma1, mu2, sigma2)


def frechet_distance_from_stats(mu1: Any, sigma1: Any, mu2: Any, sigma2: Any) -> float:
    """||μ1 - μ2||² + Tr(Σ1) + Tr(Σ2) - 2 Σ_i sqrt(λ_i(Σ1^{1/2} Σ2 Σ1^{1/2})).

    mu1, mu2: (d,);  sigma1, sigma2: (d, d) symmetric PSD.  The exact value is >= 0; the
    result is clipped at 0 so that roundoff (about 1e-15 Tr(Σ) for equal inputs) never
    shows as a negative distance.
    """
    op = "frechet_distance_from_stats"
    mu1, mu2 = host_array(mu1), host_array(mu2)
    sigma1, sigma2 = host_array(sigma1), host_array(sigma2)
    d = mu1.shape[0] if mu1.ndim == 1 else -1
    if mu1.shape != (d,) or mu2.shape != (d,) or sigma1.shape != (d, d) \
            or sigma2.shape != (d, d):
        raise ValueError(f"{op}: expected mu1, mu2 of shape (d,) and sigma1, sigma2 of shape "
                         f"(d, d); got {mu1.shape}, {mu2.shape}, {sigma1.shape}, "
                         f"{sigma2.shape}")
    for name, array in (("mu1", mu1), ("sigma1", sigma1), ("mu2", mu2), ("sigma2", sigma2)):
        if not np.isfinite(array).all():
            raise ValueError(f"{op}: {name} of shape {array.shape} holds NaN or Inf")
    sqrt_sigma1 = _psd_sqrt(sigma1)
    m = sqrt_sigma1 @ sigma2 @ sqrt_sigma1                            # (d, d)
    eigenvalues = np.linalg.eigvalsh((m + m.T) / 2)                   # (d,)
    trace_sqrt_product = np.sqrt(np.clip(eigenvalues, 0.0, None)).sum()
    diff = mu1 - mu2
    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product
    return float(max(value, 0.0))


def _psd_sqrt(sigma: np.ndarray) -> np.ndarray:
    """Symmetric square root V diag(sqrt(max(w, 0))) V^T of a symmetric PSD matrix (d, d)."""
    w, v = np.linalg.eigh((sigma + sigma.T) / 2)
    return (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
