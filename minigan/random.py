"""Seedable random numbers whose whole state can be saved and restored.

Every random draw in minigan (initial weights, latent vectors, dropout masks, data
shuffles) goes through a :class:`Generator`, by default ``mg.default_generator``. Numbers
are drawn on the CPU with NumPy's PCG64 and copied to the tensor's device, so one seed
gives the same numbers on every device. ``get_state()`` returns plain JSON-ready data:
saving it with a checkpoint and calling ``set_state`` on resume continues the exact
stream.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Generator", "default_generator", "manual_seed", "seed", "get_rng_state",
           "set_rng_state", "pcg64_state", "set_pcg64_state"]


class Generator:
    """A PCG64 stream: ``Generator(seed)``; ``seed=None`` draws a seed from the OS."""

    def __init__(self, seed: int | None = None) -> None:
        self.manual_seed(seed)

    def manual_seed(self, seed: int | None) -> Generator:
        """Restart the stream from ``seed``."""
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"manual_seed: seed must be a non-negative int, got {seed!r}")
        self._rng = np.random.Generator(np.random.PCG64(seed))
        self.initial_seed = seed
        return self

    def get_state(self) -> dict[str, Any]:
        """The complete state as JSON-ready data (ints as decimal strings)."""
        return {"bit_generator": "PCG64", **pcg64_state(self._rng)}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore a state from ``get_state``; the stream continues exactly."""
        if state.get("bit_generator") != "PCG64":
            raise ValueError(f"set_state: expected a PCG64 state, got {state!r:.80}")
        set_pcg64_state(self._rng, state)

    # Draws, as NumPy arrays on the CPU.
    def normal(self, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """Standard normal samples."""
        dtype = np.dtype(dtype)
        if dtype in (np.float32, np.float64):
            return self._rng.standard_normal(shape, dtype=dtype)
        return self._rng.standard_normal(shape).astype(dtype)

    def uniform(self, shape: tuple[int, ...], dtype: Any = np.float32) -> np.ndarray:
        """Uniform samples in [0, 1)."""
        dtype = np.dtype(dtype)
        if dtype in (np.float32, np.float64):
            return self._rng.random(shape, dtype=dtype)
        return self._rng.random(shape).astype(dtype)

    def integers(self, low: int, high: int, shape: tuple[int, ...]) -> np.ndarray:
        """Integers in [low, high)."""
        return self._rng.integers(low, high, size=shape, dtype=np.int64)

    def permutation(self, n: int) -> np.ndarray:
        """A random permutation of range(n)."""
        return self._rng.permutation(n)


def pcg64_state(rng: np.random.Generator) -> dict[str, Any]:
    """The state of a NumPy PCG64 generator as JSON-ready data (its 128-bit integers as
    decimal strings)."""
    state = rng.bit_generator.state
    return {"state": str(state["state"]["state"]), "inc": str(state["state"]["inc"]),
            "has_uint32": int(state["has_uint32"]), "uinteger": int(state["uinteger"])}


def set_pcg64_state(rng: np.random.Generator, state: dict[str, Any]) -> None:
    """Restore a ``pcg64_state`` into a NumPy PCG64 generator."""
    rng.bit_generator.state = {
        "bit_generator": "PCG64",
        "state": {"state": int(state["state"]), "inc": int(state["inc"])},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


default_generator = Generator(0)


def manual_seed(seed: int) -> Generator:
    """Seed the default generator (as ``torch.manual_seed``)."""
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the OS and return the seed used."""
    value = int(np.random.SeedSequence().entropy % (2 ** 63))
    default_generator.manual_seed(value)
    return value


def get_rng_state() -> dict[str, Any]:
    return default_generator.get_state()


def set_rng_state(state: dict[str, Any]) -> None:
    default_generator.set_state(state)
