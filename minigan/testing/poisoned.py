"""``Poisoned``: an array module whose ``empty`` fills with NaN, for testing kernels.

A kernel launcher allocates its outputs and scratch buffers with ``xp.empty`` and then
relies on the kernel to write every element. ``empty`` hands back whatever the memory held
before, often a correct result of an earlier call, so an element the kernel forgets to
write (a partial tile's edge, a slab's partial sum), or an output read before the kernel
has written it, can go unseen. Passed as the launcher's ``xp``, ``Poisoned(xp)`` makes
each such element NaN, which any comparison catches.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Poisoned"]


class Poisoned:
    """``xp`` (NumPy or CuPy), except that ``empty(shape, dtype)`` returns an array of
    ``shape`` filled with NaN (a floating ``dtype``)."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def empty(self, shape: Any, dtype: Any = float) -> Any:
        if not np.issubdtype(np.dtype(dtype), np.floating):
            raise TypeError(f"Poisoned.empty: NaN needs a floating dtype, got {dtype}")
        return self.xp.full(shape, np.nan, dtype=dtype)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.xp, name)
