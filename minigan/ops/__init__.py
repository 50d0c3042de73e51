"""Differentiable ops, one module per family. Each op is a ``Function`` (forward on raw
arrays, backward in Tensor ops) plus a public function that checks its arguments."""
from minigan.ops import (activation, arithmetic, attention, conv, dropout, indexing, linalg,
                         loss, norm, normalization, pointwise, pool, reduction, resample,
                         shape, spectral)

__all__ = ["activation", "arithmetic", "attention", "conv", "dropout", "indexing", "linalg",
           "loss", "norm", "normalization", "pointwise", "pool", "reduction", "resample",
           "shape", "spectral"]
