"""Compiled launches, without a GPU: run by tests/kernels/test_arrays.py as a script,
because the kernels must be compiled (no TRITON_INTERPRET), which the test process, under
the interpreter, cannot do.

Against a driver that stands for an H100's (bench/launch_overhead.py's ``NoGpuDriver``:
kernels compiled for sm_90; loading and launching are no-ops), whose launchers record
every launch, each case below runs first through Triton's own dispatch
(``arrays.REUSE_COMPILED = False``), then twice through ``arrays.launch``'s reuse of
compiled kernels, all cases in one sequence so that a kernel kept for one case could be
wrongly reused for a later one; then conv2d's cases again with room for one kept kernel
only (``MAX_SIGNATURES``). The conv2d cases differ only in what Triton specialises
on: a pointer off 16-byte alignment, sizes divisible by 16 or not. Then the launches on a stream other than
CuPy's (stand-in streams), reused, must still be fenced. Prints one JSON object:

    {"dispatch": {case: [launch, ...]}, "first": {...}, "again": {...},
     "bounded": [[launch, ...], ...], "kept": n, "fenced": [event, ...]}

where a launch is [the launcher's id, grid, stream, function, packed metadata, arguments
(arrays as [dtype, 16-byte aligned], other values as their text)].
"""
from __future__ import annotations

import json
import os
import pathlib
import sys
import types

os.environ.pop("TRITON_INTERPRET", None)
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "bench"))

import numpy as np  # noqa: E402
from triton.runtime import driver  # noqa: E402

from launch_overhead import NoGpuDriver  # noqa: E402  (bench/launch_overhead.py)
from minigan.kernels import arrays, attention, conv, spectral_norm  # noqa: E402
from minigan.ops.conv import Geometry  # noqa: E402

LAUNCHES: list = []
EVENTS: list = []     # the fence test's stream events and launches, in order


def describe(value: object) -> object:
    if isinstance(value, arrays.KernelArg):
        return [str(value.dtype), value.data_ptr() % 16 == 0]
    return str(value)


class RecordingDriver(NoGpuDriver):
    """NoGpuDriver whose launchers append each launch to LAUNCHES."""

    class launcher_cls:
        def __init__(self, src: object, metadata: object) -> None:
            """One per compiled kernel: its id tells which kernel Triton launched."""

        def __call__(self, gx, gy, gz, stream, function, packed_metadata, launch_metadata,
                     enter_hook, exit_hook, *args) -> None:
            LAUNCHES.append([id(self), [gx, gy, gz], stream, str(function),
                             str(packed_metadata), [describe(a) for a in args]])
            EVENTS.append(["launch", stream])


def misaligned(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A float32 array whose data starts 4 bytes past a 16-byte boundary."""
    size = int(np.prod(shape))
    base = np.empty(size + 4, np.float32)
    skip = (-base.ctypes.data % 16) // 4 + 1
    array = base[skip:skip + size].reshape(shape)
    array[...] = rng.standard_normal(shape)
    assert array.ctypes.data % 16 == 4
    return array


def cases() -> dict:
    rng = np.random.default_rng(0)
    f32 = np.float32
    x = rng.standard_normal((2, 16, 16, 16)).astype(f32)
    w = rng.standard_normal((32, 16, 4, 4)).astype(f32)
    x15 = rng.standard_normal((2, 16, 15, 15)).astype(f32)
    y, y7 = np.empty((2, 32, 8, 8), f32), np.empty((2, 32, 7, 7), f32)
    stride2 = Geometry((2, 2), (1, 1), (1, 1), 1)
    q = rng.standard_normal((1, 2, 20, 8)).astype(f32)
    v = rng.standard_normal((1, 2, 20, 16)).astype(f32)
    out, lse = attention.attention(q, q, v, 0.3, np)
    weight, u = rng.standard_normal((24, 48)).astype(f32), rng.standard_normal(24).astype(f32)
    x_off = misaligned(x.shape, rng)
    return {
        "conv2d": lambda: conv.conv2d(x, w, stride2, (8, 8), np, out=y),
        "conv2d, input off alignment": lambda: conv.conv2d(x_off, w, stride2, (8, 8), np,
                                                           out=y),
        "conv2d, sizes not multiples of 16": lambda: conv.conv2d(x15, w, stride2, (7, 7),
                                                                 np, out=y7),
        "attention_backward": lambda: attention.attention_backward(q, q, v, out, lse, out,
                                                                   0.3, np),
        "spectral_norm_power_iteration": lambda: spectral_norm.spectral_norm_power_iteration(
            weight, u, 2, 1e-12, np),
    }


def recorded(call) -> list:
    LAUNCHES.clear()
    call()
    return list(LAUNCHES)


def fenced_launches() -> list:
    """conv2d on "GPU" arrays with Triton's stream (7) apart from CuPy's (0): the stream
    events and launches, in order, of a first call and a reused one."""
    class Stream:
        def __init__(self, name: str, ptr: int) -> None:
            self.name, self.ptr = name, ptr

        def record(self) -> str:
            EVENTS.append(["record", self.name])
            return f"event of {self.name}"

        def wait_event(self, event: str) -> None:
            EVENTS.append(["wait", self.name, event])

    ours = Stream("cupy", 0)
    arrays.cupy_module = lambda: types.SimpleNamespace(cuda=types.SimpleNamespace(
        get_current_stream=lambda: ours,
        ExternalStream=lambda ptr: Stream(f"external {ptr}", ptr)))
    RecordingDriver.get_current_stream = lambda self, device: 7
    call = cases()["conv2d"]
    init = arrays.KernelArg.__init__

    def gpu_init(self: arrays.KernelArg, array: object) -> None:
        init(self, array)
        self.host = False
    arrays.KernelArg.__init__ = gpu_init
    arrays.KernelArg.data_ptr = lambda self: self.array.ctypes.data   # still NumPy's
    arrays._COMPILED.clear()
    EVENTS.clear()
    call()
    call()
    return list(EVENTS)


def main() -> None:
    driver.set_active(RecordingDriver())
    np.seterr(all="ignore")          # the no-op launches leave their outputs unwritten
    report: dict = {}
    arrays.REUSE_COMPILED = False
    report["dispatch"] = {name: recorded(call) for name, call in cases().items()}
    arrays.REUSE_COMPILED = True
    arrays._COMPILED.clear()
    report["first"], report["again"] = {}, {}
    for name, call in cases().items():
        report["first"][name] = recorded(call)
        report["again"][name] = recorded(call)
    arrays.MAX_SIGNATURES = 1                  # each new signature drops the kept one
    arrays._COMPILED.clear()
    report["bounded"] = [recorded(cases()[name]) for name in (
        "conv2d", "conv2d, input off alignment", "conv2d", "conv2d")]
    report["kept"] = len(arrays._COMPILED[conv.conv2d_kernel])
    report["fenced"] = fenced_launches()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
