"""Dropout: zero each element with probability p and scale the rest by 1 / (1 - p)."""
from __future__ import annotations

from minigan.ops.common import check_floating, const
from minigan.random import Generator, default_generator
from minigan.tensor import Tensor


def dropout(x: Tensor, p: float = 0.5, training: bool = True,
            generator: Generator | None = None) -> Tensor:
    """y = x * m / (1 - p), m ~ Bernoulli(1 - p) elementwise; the identity when not training.

    The mask is a constant, so dy/dx = m / (1 - p). It is drawn from ``generator`` (the
    default generator when None) on the CPU and copied to x's device, so a seed gives the
    same mask on every device.
    """
    check_floating("dropout", x)
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must lie in [0, 1], got {p}")
    if not training or p == 0:
        return x
    if p == 1:
        return x * 0
    gen = generator or default_generator
    keep = gen.uniform(x.shape, x.dtype) >= p
    mask = x.xp.asarray((keep / (1 - p)).astype(x.dtype))
    return x * const(mask)
