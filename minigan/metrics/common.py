"""Helpers shared by the metrics: host float64 copies of features and their shape checks."""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.backend import CPU, to_device
from minigan.tensor import Tensor


def host_array(values: Any, dtype: Any = np.float64) -> np.ndarray:
    """``values`` (a Tensor, a NumPy or CuPy array, or nested lists) as a NumPy array of
    ``dtype`` on the host. Metrics are computed once per evaluation, so they run on the CPU
    in float64 whatever device and precision produced the samples."""
    if isinstance(values, Tensor):
        values = values.detach().data
    if hasattr(values, "shape") and hasattr(values, "dtype"):
        values = to_device(values, CPU)
    return np.asarray(values, dtype=dtype)


def feature_matrix(values: Any, op: str, name: str, min_rows: int = 1) -> np.ndarray:
    """``values`` as a finite float64 matrix (n, d) with n >= ``min_rows``, or a ValueError
    that names ``op``, the argument and its shape."""
    array = host_array(values)
    if array.ndim != 2:
        raise ValueError(f"{op}: {name} must be a matrix (n, d), got shape {array.shape}")
    if array.shape[0] < min_rows:
        raise ValueError(f"{op}: {name} needs at least {min_rows} rows, got shape "
                         f"{array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{op}: {name} of shape {array.shape} holds NaN or Inf")
    return array
