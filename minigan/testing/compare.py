"""``assert_close``: compare tensors or arrays with tolerances chosen by dtype."""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.tensor import Tensor

__all__ = ["assert_close", "default_tolerances"]

# (rtol, atol) per dtype: about a few units in the last place, as PyTorch chooses.
_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
}


def default_tolerances(*dtypes: Any) -> tuple[float, float]:
    """(rtol, atol) for comparing values of these dtypes: the loosest of them."""
    pairs = [_TOLERANCES.get(np.dtype(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _array(x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x.detach()._host()
    if hasattr(x, "get") and not isinstance(x, np.ndarray):
        return x.get()
    return np.asarray(x)


def assert_close(actual: Any, expected: Any, *, rtol: float | None = None,
                 atol: float | None = None, equal_nan: bool = False, msg: str = "") -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    Shapes must match exactly. Without tolerances, those of the less precise dtype are
    used (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7, 1e-7; integers: exact). The
    error reports how many elements differ and the worst absolute and relative errors.
    """
    a, e = _array(actual), _array(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{msg}shapes differ: actual {a.shape}, expected {e.shape}")
    if rtol is None or atol is None:
        d_rtol, d_atol = default_tolerances(a.dtype, e.dtype)
        rtol = d_rtol if rtol is None else rtol
        atol = d_atol if atol is None else atol
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    with np.errstate(invalid="ignore"):
        error = np.abs(a64 - e64)
        ok = error <= atol + rtol * np.abs(e64)
    ok |= (a64 == e64)                                   # equal infinities
    if equal_nan:
        ok |= np.isnan(a64) & np.isnan(e64)
    if ok.all():
        return
    bad = ~ok
    error = np.where(np.isnan(error), np.inf, error)
    worst = np.unravel_index(np.argmax(np.where(bad, error, -1)), a.shape) if a.ndim else ()
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(bad, error / np.abs(e64), 0)
    raise AssertionError(
        f"{msg}values are not close: {int(bad.sum())} of {bad.size} elements differ "
        f"({100 * bad.mean():.1f}%); worst at index {tuple(int(i) for i in worst)}: actual "
        f"{a64[worst]!r}, expected {e64[worst]!r}, absolute difference {error[worst]:.3g} "
        f"(allowed {atol:.3g} + {rtol:.3g} * |expected|); greatest relative difference "
        f"{float(np.max(relative)):.3g}")
