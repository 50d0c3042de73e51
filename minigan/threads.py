"""Two thread pools on one CPU: NumPy's BLAS and minigan's OpenMP kernels.

A convolution on the CPU alternates data movement (im2col, col2im: minigan's C++ kernels,
OpenMP threads) with GEMMs (NumPy's BLAS, OpenBLAS's own threads). Each pool, left to its
defaults, keeps its threads spinning after its work is done, and the spinning threads of
one pool take the cores that the other pool needs next. On a 2-core machine this doubled
the time of im2col after a GEMM (2.4 -> 4.6 ms for a DCGAN layer) and slowed the GEMM after
an OpenMP region as much.

So minigan asks both pools to wait passively:

* OpenMP: ``OMP_WAIT_POLICY=PASSIVE``, set before ``minigan._C`` loads the OpenMP runtime;
* OpenBLAS: a spin timeout of 2^4 cycles instead of 2^28. OpenBLAS reads
  ``OPENBLAS_THREAD_TIMEOUT`` once, when NumPy loads it, so minigan sets the variable,
  asks OpenBLAS to read its environment again and restarts its (idle) threads.

A setting of yours wins: minigan changes neither variable when it is already set, and
``MINIGAN_BLAS_TUNING=0`` leaves OpenBLAS alone. ``minigan.info()`` reports what was done.
"""
from __future__ import annotations

import ctypes
import os

import numpy as np

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SPIN_TIMEOUT = "4"          # log2 of the cycles an idle OpenBLAS thread spins before sleeping
# openblas_get_parallel(): 0 sequential, 1 pthreads, 2 OpenMP; its name in NumPy's wheels.
_PARALLEL_QUERIES = ("openblas_get_parallel", "scipy_openblas_get_parallel64_",
                     "scipy_openblas_get_parallel")


def _loaded_openblas() -> str | None:
    """Path of the OpenBLAS library this process has loaded (Linux), or None."""
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.split()[-1]
                if "openblas" in os.path.basename(path).lower() and path.endswith(".so"):
                    return path
    except OSError:
        return None
    return None


def tune_openblas() -> str:
    """Shorten OpenBLAS's spin timeout (see the module docstring); returns what happened."""
    if os.environ.get("MINIGAN_BLAS_TUNING") == "0":
        return "BLAS threads: left alone (MINIGAN_BLAS_TUNING=0)"
    if "OPENBLAS_THREAD_TIMEOUT" in os.environ:
        return (f"BLAS threads: OPENBLAS_THREAD_TIMEOUT={os.environ['OPENBLAS_THREAD_TIMEOUT']} "
                "from the environment")
    np.ones((2, 2)) @ np.ones((2, 2))                   # make sure BLAS is loaded
    path = _loaded_openblas()
    if path is None:
        return "BLAS threads: not OpenBLAS, left alone"
    library = ctypes.CDLL(path)
    needed = ("openblas_read_env", "openblas_thread_timeout", "blas_thread_shutdown_",
              "blas_thread_init")
    if not all(hasattr(library, name) for name in needed):
        return f"BLAS threads: {os.path.basename(path)} has no runtime controls, left alone"
    # Only OpenBLAS's own pthreads pool can be restarted like this; an OpenMP build shares
    # the OpenMP runtime with minigan's kernels, and restarting it broke them (seen).
    parallel = next((getattr(library, name) for name in _PARALLEL_QUERIES
                     if hasattr(library, name)), None)
    if parallel is None or parallel() != 1:
        return "BLAS threads: OpenBLAS without its own pthreads pool, left alone"
    os.environ["OPENBLAS_THREAD_TIMEOUT"] = SPIN_TIMEOUT
    library.openblas_read_env()
    library.blas_thread_shutdown_()
    library.blas_thread_init()
    return (f"BLAS threads: OpenBLAS spin timeout 2^{library.openblas_thread_timeout()} cycles "
            "(set by minigan; see minigan/threads.py)")


STATUS = tune_openblas()
