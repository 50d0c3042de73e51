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

Triton's own launch path, ``kernel[grid](*args)``, costs about 20 µs of host time per
launch (bench/launch_overhead.py): it binds every argument to the kernel's signature,
works out how to specialise the kernel for them (each integer's divisibility by 16, each
pointer's 16-byte alignment), builds a cache key and looks the compiled kernel up. A
training step launches a kernel for every convolution, and most launches repeat one of a
few calls. So ``launch`` goes through Triton's path once per *launch signature* (the
kernel, the device, every integer argument's value, every array's dtype and alignment,
the type of every float, the meta-parameters) and keeps the compiled kernel Triton chose;
later launches with the same signature hand the arguments straight to it
(``compiled[grid](*args, stream=...)``, Triton's launcher for a compiled kernel). The
signature holds at least everything Triton specialises on, so the kernel kept is the one
Triton would choose again (tests/kernels/test_arrays.py checks this against Triton's own
dispatch). ``REUSE_COMPILED = False`` sends every launch through Triton's path.

Every launch asks for floating-point fusion (``FP_FUSION``): a * b + c compiled as one
fused multiply-add, one rounding instead of two and one instruction instead of two.
Triton fuses by default up to 3.9 and announces the opposite default for 3.10; asking
keeps the kernels' code, speed and rounding the same across those versions (the
tolerances of their tests were set with fusion).
"""
from __future__ import annotations

import inspect
from typing import Any, Callable

import numpy as np
from triton.compiler import CompiledKernel
from triton.runtime import driver
from triton.runtime.errors import OutOfResources
from triton.runtime.jit import JITFunction

from minigan.backend import cupy_module

FP_FUSION = True
REUSE_COMPILED = True
MAX_SIGNATURES = 512   # compiled kernels kept per kernel; past that the kernel's are dropped


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


def streams_apart(theirs: int | None = None) -> tuple[Any, Any] | None:
    """(CuPy's current stream, Triton's as a CuPy ``ExternalStream``) when Triton would
    launch on another stream than CuPy's current one, else None. ``theirs``: Triton's
    current stream, when already looked up."""
    cp = cupy_module()
    ours = cp.cuda.get_current_stream()
    if theirs is None:
        active = driver.active
        theirs = active.get_current_stream(active.get_current_device())
    if theirs == ours.ptr:
        return None
    return ours, cp.cuda.ExternalStream(theirs)


# kernel -> launch signature -> (Triton's compiled kernel, the kernel's remaining
# arguments after the positional ones, in its parameter order)
_COMPILED: dict[Any, dict[tuple, tuple[Any, list]]] = {}


def signature(device: int, args: tuple, meta: dict) -> tuple:
    """What a launch's compiled kernel depends on: the device, each array by dtype and
    whether its address is a multiple of 16 bytes, each Python float by type only (Triton
    passes it as an fp32 value, unspecialised), every other argument (integers, bools,
    None) by value, and the meta-parameters. At least as fine as what Triton specialises
    a kernel on, which for an integer depends on its value only, and for an array on its
    dtype and address."""
    return (device, tuple(
        (a.dtype, a.data_ptr() % 16 == 0) if type(a) is KernelArg
        else float if type(a) is float else a
        for a in args), tuple(meta.items()))


def _remaining_arguments(kernel: Any, args: tuple, meta: dict) -> list:
    """The values of the kernel's parameters after the positional ``args`` (its
    constexprs), from ``meta`` or their defaults, in parameter order: what Triton's
    launcher takes after the positional arguments."""
    parameters = list(inspect.signature(kernel.fn).parameters.values())[len(args):]
    return [meta[p.name] if p.name in meta else p.default for p in parameters]


def fenced(op: str, tiles: dict, streams: tuple[Any, Any] | None,
           launch_it: Callable[[], Any]) -> Any:
    """``launch_it()`` between the two fences when ``streams`` (``streams_apart``) is not
    None; Triton's OutOfResources becomes the ValueError of ``launch``."""
    if streams is not None:
        ours, theirs = streams
        theirs.wait_event(ours.record())
    try:
        result = launch_it()
    except OutOfResources as err:
        raise ValueError(f"{op} (triton): tiles {tiles} do not fit this GPU: {err}") from err
    if streams is not None:
        ours.wait_event(theirs.record())
    return result


def launch(op: str, kernel: Any, grid: tuple[int, ...], tiles: dict) -> Callable[..., None]:
    """``kernel[grid]``, whose call raises ValueError when the tile sizes ``tiles`` do not
    fit the GPU (shared memory or registers for this dtype): a refusal of these inputs,
    which autotuning (minigan.backend) passes over, rather than a failure. On CuPy arrays
    (the first argument decides) the launch is ordered after the work queued on CuPy's
    current stream, and that stream's later work after the launch; always with
    floating-point fusion; a compiled kernel's launch reuses what Triton chose for the
    same launch signature (module docstring)."""
    def run(*args: Any, **meta: Any) -> None:
        meta["enable_fp_fusion"] = FP_FUSION
        # Triton's own dispatch at every launch: with reuse off, and for what is not a
        # compiled kernel (the interpreter's, or a stand-in in tests)
        if not (REUSE_COMPILED and isinstance(kernel, JITFunction)):
            streams = None if args[0].host else streams_apart()
            fenced(op, tiles, streams, lambda: kernel[grid](*args, **meta))
            return
        active = driver.active
        device = active.get_current_device()
        stream = active.get_current_stream(device)
        streams = None if args[0].host else streams_apart(stream)
        kept = _COMPILED.setdefault(kernel, {})
        key = signature(device, args, meta)
        entry = kept.get(key)
        if entry is not None:
            compiled, remaining = entry
            grid3 = (*grid, 1, 1)[:3]
            fenced(op, tiles, streams,
                   lambda: compiled[grid3](*args, *remaining, stream=stream))
            return
        compiled = fenced(op, tiles, streams, lambda: kernel[grid](*args, **meta))
        if not isinstance(compiled, CompiledKernel):    # compiling in the background
            return
        if len(kept) >= MAX_SIGNATURES:
            kept.clear()
        kept[key] = compiled, _remaining_arguments(kernel, args, meta)
    return run


def cdiv(a: int, b: int) -> int:
    """ceil(a / b) for the grid, in plain Python: ``triton.cdiv`` costs microseconds a call
    from Python, and a launcher computes several."""
    return -(-a // b)


def next_power_of_2(n: int) -> int:
    """The smallest power of two >= n for n >= 1, and 0 for 0, as
    ``triton.next_power_of_2``."""
    return 1 << (n - 1).bit_length() if n > 0 else 0
