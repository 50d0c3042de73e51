"""Hand-written Triton kernels, one file per op family, installed as ``minigan.kernels``.

Each kernel file is a lesson: the algorithm in its docstring, the kernel, and a thin
launcher (check, allocate, grid, launch). The kernels register here, under the op names
of their NumPy references, as the ``triton`` implementation for CUDA tensors. Triton is
imported on the first launch, not when minigan is imported. On a machine without a GPU
the tests run the same kernels under ``TRITON_INTERPRET=1`` on NumPy arrays.
"""
from __future__ import annotations

import importlib
import importlib.util
from typing import Any, Callable

from minigan.backend import register, xp


def why_no_triton() -> str | None:
    if importlib.util.find_spec("triton") is None:
        return "triton is not installed (pip install minigan[gpu])"
    return None


def _launcher(module: str, name: str) -> Callable[..., Any]:
    """The launcher ``minigan.kernels.<module>.<name>``, imported when first called."""
    def run(first: Any, *args: Any) -> Any:
        kernels = importlib.import_module(f"minigan.kernels.{module}")
        return getattr(kernels, name)(first, *args, xp(first))
    return run


for _op in ("conv2d", "conv_transpose2d", "conv2d_weight"):
    register(_op, "triton", ("cuda",), why_no_triton)(_launcher("conv", _op))
register("attention", "triton", ("cuda",), why_no_triton)(_launcher("attention", "attention"))
register("attention_backward", "triton", ("cuda",), why_no_triton)(
    _launcher("attention", "attention_backward"))
register("spectral_norm_power_iteration", "triton", ("cuda",), why_no_triton)(
    _launcher("spectral_norm", "spectral_norm_power_iteration"))
