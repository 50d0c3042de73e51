"""Hand NumPy and CuPy arrays to Triton kernels, and launch them.

A Triton kernel takes pointers; its launcher accepts any object with ``data_ptr()`` and a
``dtype`` whose name ("float32") it maps to a pointer type. Under ``TRITON_INTERPRET=1``
the interpreter also copies each argument to the host through a small part of PyTorch's
tensor interface (``untyped_storage()``, ``new_empty``, ``set_``, ``copy_``). A NumPy array
already lives on the host, so for it those are no-ops on the same memory.

On a GPU, Triton launches on its driver's current stream: PyTorch's current stream when
PyTorch is imported, else the device's default stream. minigan's other GPU work (CuPy's
array calls, the CUDA C++ kernels) runs on CuPy's current stream. Usually both are the
legacy default stream, which orders everything; when they differ (a
``cupy.cuda.Stream(non_blocking=True)`` in use, say), ``launch`` fences each Triton launch
between the two: Triton's stream waits for the work already queued on CuPy's (the inputs,
and arrays filled or copied just before), and CuPy's waits for the kernel before any later
array call reads its output or reuses its memory.

Every launch asks for floating-point fusion (``FP_FUSION``): a * b + c compiled as one
fused multiply-add, one rounding instead of two and one instruction instead of two.
Triton fuses by default up to 3.9 and announces the opposite default for 3.10; asking
keeps the kernels' code, speed and rounding the same across those versions (the
tolerances of their tests were set with fusion).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from triton.runtime import driver
from triton.runtime.errors import OutOfResources

from minigan.backend import cupy_module

FP_FUSION = True


class KernelArg:
    """A NumPy (interpreter) or CuPy (GPU) array seen as a Triton pointer argument."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.dtype = array.dtype            # str(dtype) == "float32": what Triton reads
        self.host = isinstance(array, np.ndarray)

    def data_ptr(self) -> int:
        return self.array.ctypes.data if self.host else self.array.data.ptr

    # The interpreter's host copy: the memory is already on the host.
    def untyped_storage(self) -> KernelArg:
        return self

    def cpu(self) -> KernelArg:
        return self

    def new_empty(self, *args: Any, **kwargs: Any) -> KernelArg:
        return self

    def set_(self, *args: Any) -> KernelArg:
        return self

    def copy_(self, other: Any) -> KernelArg:
        return self

    def storage_offset(self) -> int:
        return 0

    def size(self) -> tuple[int, ...]:
        return tuple(self.array.shape)

    def stride(self) -> tuple[int, ...]:
        return tuple(s // self.array.itemsize for s in self.array.strides)


def streams_apart() -> tuple[Any, Any] | None:
    """(CuPy's current stream, Triton's as a CuPy ``ExternalStream``) when Triton would
    launch on another stream than CuPy's current one, else None."""
    cp = cupy_module()
    ours = cp.cuda.get_current_stream()
    active = driver.active
    theirs = active.get_current_stream(active.get_current_device())
    if theirs == ours.ptr:
        return None
    return ours, cp.cuda.ExternalStream(theirs)


def launch(op: str, kernel: Any, grid: tuple[int, ...], tiles: dict) -> Callable[..., None]:
    """``kernel[grid]``, whose call raises ValueError when the tile sizes ``tiles`` do not
    fit the GPU (shared memory or registers for this dtype): a refusal of these inputs,
    which autotuning (minigan.backend) passes over, rather than a failure. On CuPy arrays
    (the first argument decides) the launch is ordered after the work queued on CuPy's
    current stream, and that stream's later work after the launch; always with
    floating-point fusion (module docstring)."""
    def run(*args: Any, **meta: Any) -> None:
        streams = None if args[0].host else streams_apart()
        if streams is not None:
            ours, theirs = streams
            theirs.wait_event(ours.record())
        try:
            kernel[grid](*args, enable_fp_fusion=FP_FUSION, **meta)
        except OutOfResources as err:
            raise ValueError(f"{op} (triton): tiles {tiles} do not fit this GPU: {err}"
                             ) from err
        if streams is not None:
            ours.wait_event(theirs.record())
    return run


def cdiv(a: int, b: int) -> int:
    """ceil(a / b) for the grid, in plain Python: ``triton.cdiv`` costs microseconds a call
    from Python, and a launcher computes several."""
    return -(-a // b)


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n for n >= 1, and 0 for 0, as
    ``triton.next_power_of_2``."""
    return 1 << (n - 1).bit_length() if n > 0 else 0
