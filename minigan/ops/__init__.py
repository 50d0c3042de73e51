"""Differentiable ops, one module per family. Each op is a ``Function`` (forward on raw
arrays, backward in Tensor ops) plus a public function that checks its arguments."""
from minigan.ops import (activation, arithmetic, dropout, indexing, linalg, loss, norm,
                         pointwise, reduction, shape)

__all__ = ["activation", "arithmetic", "dropout", "indexing", "linalg", "loss", "norm",
           "pointwise", "reduction", "shape"]
