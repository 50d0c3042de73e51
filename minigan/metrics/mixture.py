"""Mode coverage and sample quality on Gaussian mixtures (the 2-D ring and grid benchmarks).

The synthetic benchmarks of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018)
train a GAN on a mixture of K isotropic Gaussians N(c_k, σ² I), centres c: (K, 2) on a ring
(K = 8) or a 5 x 5 grid (K = 25), and score 2,500 generated samples x: (n, 2) by assigning
each one to its nearest centre:

    k(x)      = argmin_k ||x - c_k||_2                       nearest mode (Euclidean)
    HQ(x)     = ||x - c_k(x)||_2 < 3σ                        a high-quality sample
    count_k   = #{i : HQ(x_i) and k(x_i) = k}                (K,)
    covered   = #{k : count_k >= 1}                          modes captured, out of K
    HQ share  = Σ_k count_k / n

The boundary is strict: a sample at exactly 3σ from its nearest centre is not high quality
(as in the PacGAN authors' evaluation code). PacGAN's tables also report a KL divergence of
the generated mode histogram from the target's uniform mode weights; here it is

    q_k       = count_k / Σ_j count_j                        histogram of the HQ samples
    mode_kl   = KL(q || u) = Σ_k q_k log(q_k K),  0 log 0 = 0,   in [0, log K]

the "reverse" direction (generator first), taken over the high-quality samples as the
authors' code builds its histogram. A generator that puts all its HQ samples on one mode
scores log K; it is NaN when no sample is of high quality. The metrics are defined the
same way in any dimension d; the papers use d = 2.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from minigan.metrics.common import feature_matrix

STANDARD_NUM_SAMPLES = 2500
"""How many generated samples VEEGAN and PacGAN score on the ring and grid mixtures."""


@dataclass(frozen=True)
class MixtureMetrics:
    """Scores of n samples against a K-mode mixture (see the module docstring).

    modes_covered: modes that are the nearest mode of at least one high-quality sample.
    num_modes: K.
    high_quality_fraction: share of the n samples within 3σ of their nearest mode.
    mode_counts: (K,) int64, high-quality samples assigned to each mode.
    mode_kl: KL(q || uniform) of the high-quality histogram q, in nats; NaN without any
        high-quality sample.
    """
    modes_covered: int
    num_modes: int
    high_quality_fraction: float
    mode_counts: np.ndarray
    mode_kl: float


def mixture_metrics(samples: Any, centers: Any, std: float,
                    num_std: float = 3.0) -> MixtureMetrics:
    """Mode coverage, high-quality share and mode KL of ``samples`` (n, d) against mixture
    centres ``centers`` (K, d) of isotropic standard deviation ``std``.

    A sample is of high quality when ||x - c_k(x)||_2 < num_std * std (strict), c_k(x) its
    nearest centre. The standard protocol scores 2,500 samples (``STANDARD_NUM_SAMPLES``).
    Distances are exact differences in float64, so a point placed on the boundary lands on
    it.
    """
    op = "mixture_metrics"
    x = feature_matrix(samples, op, "samples")
    c = feature_matrix(centers, op, "centers")
    if x.shape[1] != c.shape[1]:
        raise ValueError(f"{op}: samples {x.shape} and centers {c.shape} differ in "
                         f"dimension")
    if not (np.isfinite(std) and std > 0):
        raise ValueError(f"{op}: std must be a positive number, got {std!r}")
    if not (np.isfinite(num_std) and num_std > 0):
        raise ValueError(f"{op}: num_std must be a positive number, got {num_std!r}")
    num_modes = c.shape[0]
    squared = ((x[:, None, :] - c[None, :, :]) ** 2).sum(axis=2)     # (n, K)
    nearest = squared.argmin(axis=1)                                  # (n,)
    nearest_squared = squared[np.arange(x.shape[0]), nearest]         # (n,)
    high_quality = nearest_squared < (num_std * std) ** 2             # (n,)
    counts = np.bincount(nearest[high_quality], minlength=num_modes).astype(np.int64)
    return MixtureMetrics(
        modes_covered=int((counts > 0).sum()),
        num_modes=num_modes,
        high_quality_fraction=float(high_quality.mean()),
        mode_counts=counts,
        mode_kl=_kl_from_uniform(counts),
    )


def _kl_from_uniform(counts: np.ndarray) -> float:
    """KL(q || u) = Σ_k q_k log(q_k K) for q = counts / Σ counts; NaN for an empty histogram."""
    total = counts.sum()
    if total == 0:
        return float("nan")
    q = counts[counts > 0] / total
    return float((q * np.log(q * counts.size)).sum())
