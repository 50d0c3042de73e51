"""Hypothesis strategies for op tests: shapes, broadcast-compatible shapes, arrays kept away
from an op's kinks, and the settings profiles used by minigan's own suite.

Values are drawn from a seeded NumPy generator (the seed is what hypothesis draws), which
is fast at any size and still lets hypothesis shrink the shapes of a failing example.
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.extra import numpy as hnp

__all__ = ["shapes", "broadcastable_shapes", "arrays", "register_profiles"]


def shapes(min_dims: int = 1, max_dims: int = 4, min_side: int = 1, max_side: int = 5
           ) -> st.SearchStrategy[tuple[int, ...]]:
    """Array shapes, e.g. ``(3,)``, ``(1, 4, 2)``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         min_side: int = 1, max_side: int = 5
                         ) -> st.SearchStrategy[tuple[tuple[int, ...], ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together, e.g. ``((3, 1), (4,))``."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda result: tuple(result.input_shapes))


def keep_away(values: np.ndarray, points: Sequence[float], margin: float) -> np.ndarray:
    """Move every value closer than ``margin`` to one of ``points`` out to that distance."""
    for p in points:
        near = np.abs(values - p) < margin
        values = np.where(near, p + np.where(values >= p, margin, -margin), values)
    return values


def arrays(shape: tuple[int, ...] | st.SearchStrategy, dtype: Any = np.float64,
           low: float = -2.0, high: float = 2.0, avoid: Sequence[float] = (),
           margin: float = 0.05) -> st.SearchStrategy[np.ndarray]:
    """Uniform arrays on [low, high) of ``shape`` (a shape or a strategy of shapes), with
    values kept at least ``margin`` away from the points in ``avoid`` (an op's kinks)."""
    shape_strategy = shape if isinstance(shape, st.SearchStrategy) else st.just(tuple(shape))

    def build(shape: tuple[int, ...], seed: int) -> np.ndarray:
        values = np.random.default_rng(seed).uniform(low, high, size=shape)
        return keep_away(values, avoid, margin).astype(dtype)

    return st.builds(build, shape_strategy, st.integers(0, 2 ** 32 - 1))


def register_profiles() -> None:
    """Profiles ``ci`` (derandomized: the same examples on every run) and ``dev``; the
    one named by $HYPOTHESIS_PROFILE is loaded, else ``ci`` when $CI is set, else ``dev``."""
    common = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    settings.register_profile("ci", derandomize=True, max_examples=15, print_blob=True,
                              **common)
    settings.register_profile("dev", max_examples=30, **common)
    default = "ci" if os.environ.get("CI") else "dev"
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", default))
