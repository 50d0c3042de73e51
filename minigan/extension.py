"""The compiled extension ``minigan._C``, when it was built, and why not otherwise."""
from __future__ import annotations

import importlib
from typing import Any

from minigan import threads  # sets OMP_WAIT_POLICY before the OpenMP runtime loads


def load() -> tuple[Any | None, str | None]:
    """(module, None) when ``minigan._C`` imports, else (None, the reason)."""
    try:
        return importlib.import_module("minigan._C"), None
    except ImportError as err:
        return None, (f"minigan._C was not built ({err}); a C++ compiler and CMake at install "
                      "time build it")


C, WHY_NOT_BUILT = load()
OPENMP = bool(getattr(C, "openmp", False))
CUDA = bool(getattr(C, "cuda", False))
CUDA_STATUS = str(getattr(C, "cuda_status", "minigan._C was not built"))
THREADS = threads.STATUS


def why_unavailable() -> str | None:
    """For the implementation registry: None when the C++ kernels can run."""
    return WHY_NOT_BUILT
