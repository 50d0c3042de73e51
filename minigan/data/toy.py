"""Two-dimensional toy distributions for GANs: Gaussian mixtures and the Swiss roll.

Each is a sampler: ``sample(n, generator)`` draws ``n`` points as a float32 (n, 2) array
from a seeded ``numpy.random.Generator``, so the same seed gives the same points.

The mixtures are equal-weight mixtures of K isotropic Gaussians,

    p(x) = (1 / K) Σ_k N(x; c_k, σ² I),   c: (K, 2),

drawn as k ~ Uniform{0, ..., K-1}, ε ~ N(0, I), x = c_k + σ ε. ``ring8`` and ``grid25``
use the parameters of the PacGAN authors' code (Lin, Khetan, Fanti and Oh, "PacGAN: The
power of two samples in generative adversarial networks", NeurIPS 2018), which are also
those of VEEGAN (Srivastava et al. 2017), so mode coverage and high-quality-sample scores
(``minigan.metrics.mixture``) compare with the numbers in the literature.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["GaussianMixture", "SwissRoll", "ring8", "grid25", "swissroll"]


def _check_draw(owner: str, n: int, generator: np.random.Generator) -> None:
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 0:
        raise ValueError(f"{owner}.sample: n must be a non-negative int, got {n!r}")
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"{owner}.sample: generator must be a numpy.random.Generator "
                        f"(e.g. numpy.random.default_rng(seed)), got "
                        f"{type(generator).__name__}")


class GaussianMixture:
    """Equal-weight mixture of K Gaussians N(c_k, σ² I) in d dimensions.

    modes: (K, d) centres c_k (float64, read-only).  std: σ > 0, the same for every mode.
    """

    def __init__(self, modes: np.ndarray, std: float, name: str = "GaussianMixture") -> None:
        centres = np.array(modes, dtype=np.float64)
        if centres.ndim != 2 or centres.shape[0] < 1 or centres.shape[1] < 1:
            raise ValueError(f"{name}: modes must be a non-empty (K, d) array, got shape "
                             f"{centres.shape}")
        if not (math.isfinite(std) and std > 0):
            raise ValueError(f"{name}: std must be a positive number, got {std!r}")
        centres.setflags(write=False)
        self.modes = centres
        self.std = float(std)
        self.name = name

    @property
    def dim(self) -> int:
        return self.modes.shape[1]

    def sample(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """n points (n, d) float32: k ~ Uniform{0..K-1}, then c_k + σ N(0, I)."""
        _check_draw(self.name, n, generator)
        components = generator.integers(0, self.modes.shape[0], size=n)   # (n,)
        noise = generator.standard_normal((n, self.dim))                  # (n, d)
        return (self.modes[components] + self.std * noise).astype(np.float32)

    def __repr__(self) -> str:
        return f"{self.name}(num_modes={self.modes.shape[0]}, std={self.std})"


class SwissRoll:
    """The Swiss roll seen from its axis: scikit-learn's ``make_swiss_roll`` projected on
    its (x, z) plane, written out here so that it draws from a NumPy Generator.

        t ~ Uniform[1.5π, 4.5π),   ε ~ N(0, I₂)
        x = scale · ((t cos t, t sin t) + noise · ε)                   (n, 2)

    The defaults (noise 0.25, scale 1 / 7.5) are the preprocessing of the WGAN-GP toy
    experiments (Gulrajani et al. 2017): the spiral's outer radius 4.5π / 7.5 ≈ 1.88 puts
    the points in roughly [-2, 2]².
    """

    name = "swissroll"

    def __init__(self, noise: float = 0.25, scale: float = 1 / 7.5) -> None:
        if not (math.isfinite(noise) and noise >= 0):
            raise ValueError(f"SwissRoll: noise must be a non-negative number, got {noise!r}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"SwissRoll: scale must be a positive number, got {scale!r}")
        self.noise = float(noise)
        self.scale = float(scale)

    def sample(self, n: int, generator: np.random.Generator) -> np.ndarray:
        """n points (n, 2) float32 on the noisy spiral (see the class docstring)."""
        _check_draw("SwissRoll", n, generator)
        t = 1.5 * math.pi * (1.0 + 2.0 * generator.random(n))              # (n,)
        spiral = np.stack([t * np.cos(t), t * np.sin(t)], axis=1)          # (n, 2)
        noise = self.noise * generator.standard_normal((n, 2))
        return (self.scale * (spiral + noise)).astype(np.float32)

    def __repr__(self) -> str:
        return f"SwissRoll(noise={self.noise}, scale={self.scale})"


def ring8() -> GaussianMixture:
    """8 Gaussians with centres on the unit circle at angles 2πk/8, k = 0..7, std 0.01
    (PacGAN's and VEEGAN's 2-D ring)."""
    angles = 2 * np.pi * np.arange(8) / 8
    return GaussianMixture(np.stack([np.cos(angles), np.sin(angles)], axis=1), 0.01,
                           name="ring8")


def grid25() -> GaussianMixture:
    """25 Gaussians with centres on the grid {-4, -2, 0, 2, 4}², std 0.05 (PacGAN's and
    VEEGAN's 2-D grid). Centres are ordered row-major: (x_i, y_j) at index 5i + j."""
    axis = np.array([-4.0, -2.0, 0.0, 2.0, 4.0])
    xs, ys = np.meshgrid(axis, axis, indexing="ij")
    return GaussianMixture(np.stack([xs.ravel(), ys.ravel()], axis=1), 0.05, name="grid25")


def swissroll(noise: float = 0.25) -> SwissRoll:
    """The 2-D Swiss roll of ``SwissRoll`` with the WGAN-GP scale 1 / 7.5."""
    return SwissRoll(noise=noise)
