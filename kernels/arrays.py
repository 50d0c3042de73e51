"""Hand NumPy and CuPy arrays to Triton kernels, and launch them.

A Triton kernel takes pointers; its launcher accepts any object with ``data_ptr()`` and a
``dtype`` whose name ("float32") it maps to a pointer type. Under ``TRITON_INTERPRET=1``
the interpreter also copies each argument to the host through a small part of PyTorch's
tensor interface (``untyped_storage()``, ``new_empty``, ``set_``, ``copy_``). A NumPy array
already lives on the host, so for it those are no-ops on the same memory.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from triton.runtime.errors import OutOfResources


class KernelArg:
    """A NumPy (interpreter) or CuPy (GPU) array seen as a Triton pointer argument."""

    def __init__(self, array: Any) -> None:
        self.array = array
        self.dtype = array.dtype            # str(dtype) == "float32": what Triton reads
        self._host = isinstance(array, np.ndarray)

    def data_ptr(self) -> int:
        return self.array.ctypes.data if self._host else self.array.data.ptr

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


def launch(op: str, kernel: Any, grid: tuple[int, ...], tiles: dict) -> Callable[..., None]:
    """``kernel[grid]``, whose call raises ValueError when the tile sizes ``tiles`` do not
    fit the GPU (shared memory or registers for this dtype): a refusal of these inputs,
    which autotuning (minigan.backend) passes over, rather than a failure."""
    def run(*args: Any, **meta: Any) -> None:
        try:
            kernel[grid](*args, **meta)
        except OutOfResources as err:
            raise ValueError(f"{op} (triton): tiles {tiles} do not fit this GPU: {err}"
                             ) from err
    return run


def cdiv(a: int, b: int) -> int:
    """ceil(a / b) for the grid, in plain Python: ``triton.cdiv`` costs microseconds a call
    from Python, and a launcher computes several."""
    return -(-a // b)


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n for n >= 1, and 0 for 0, as
    ``triton.next_power_of_2``."""
    return 1 << (n - 1).bit_length() if n > 0 else 0
