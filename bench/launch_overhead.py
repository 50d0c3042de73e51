"""Host time of minigan's Triton launchers, without a GPU, in three columns:

* "launcher": each kernel's launch replaced by a no-op, so what is timed is the Python
  around it (argument checks, strides, the grid, the pointer adapters, the
  meta-parameters, outputs allocated with NumPy);
* "+ dispatch": the same launchers with Triton's own launch path at every launch:
  ``kernel[grid](...)`` runs Triton's dispatch (binding and specialising every argument,
  the compiled-kernel cache lookup, the launch metadata) against a driver that stands for
  an H100's (``NoGpuDriver``: each kernel compiled for sm_90 on its first call, then
  "loaded" and "launched" by no-ops), as with ``kernels/arrays.py``'s
  ``REUSE_COMPILED = False``;
* "+ kept": the launchers as they run by default, each launch handed to the compiled
  kernel kept for its launch signature (kernels/arrays.py), Triton's dispatch having run
  once per signature.

Left out of both: the argument packing of Triton's C launcher and the CUDA driver's launch
call itself, and CuPy's allocator. All three are the work that precedes every kernel
launch on a GPU. The columns are timed in alternating blocks.

The launchers of the CUDA C++ kernels too (minigan/cuda_kernels.py, rows "(cuda)", in the
first column): the convolutions and attention at the same shapes, and Adam's step on the
21 parameters of bench/train_step.py's DCGAN pair (one call per optimizer step), each
with its binding replaced by a no-op, on the stand-in CuPy arrays of
bench/host_instructions.py, whose attributes are plain values and whose allocations
are free. Left out there, as in the Triton column: the binding's argument conversion and
the CUDA launch.

Shapes: a DCGAN layer (64 x 64 x 16 x 16 -> 128 channels, 4x4 stride 2), SAGAN attention
at N = 256 (64 images, queries and keys of 8 channels, values of 32), a 128 x 1024
spectral-norm weight. conv2d_weight also sums its split partials, a real NumPy reduction
here (a CuPy kernel on a GPU), so its row is mostly that sum. Triton reads each pointer
argument's ``data_ptr()``: CuPy's ``data.ptr`` on a GPU, two attribute reads, where NumPy's
``ctypes.data`` costs about 1.5 µs; so ``KernelArg.data_ptr`` answers a constant here
(the kernels never run), as cheaply as CuPy would. The outputs of the no-op launches are
left as NumPy allocated them: conv2d_weight sums uninitialised partial sums, with NumPy's
floating-point warnings off.

    python bench/launch_overhead.py [--calls 500] [--rounds 7]
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.pop("TRITON_INTERPRET", None)   # compiled kernels, launched by NoGpuDriver

import contextlib  # noqa: E402
import types  # noqa: E402

import numpy as np  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.runtime import driver  # noqa: E402

from minigan import cuda_kernels, extension, zoo  # noqa: E402
from minigan.kernels import arrays, attention, conv, spectral_norm  # noqa: E402
from minigan.ops.conv import Geometry  # noqa: E402
from host_instructions import StandInGpuArray  # noqa: E402  (bench/host_instructions.py)

KERNELS = {
    conv: ("conv2d_kernel", "conv_transpose2d_kernel", "conv2d_weight_kernel"),
    attention: ("attention_forward_kernel", "attention_dq_kernel", "attention_dkdv_kernel"),
    spectral_norm: ("power_iteration_step_kernel",),
}


class NoLaunch:
    """Stands for a @triton.jit kernel: ``kernel[grid](*args, **meta)`` does nothing."""

    def __getitem__(self, grid: tuple) -> object:
        return lambda *args, **meta: None


class NoGpuDriver:
    """Stands for Triton's CUDA driver on an H100 (sm_90, 227 KB of shared memory a
    block): what ``JITFunction.run`` and ``CompiledKernel`` ask of it, with loading a
    binary and launching it no-ops."""

    class utils:
        @staticmethod
        def get_device_properties(device: int) -> dict:
            return dict(max_shared_mem=227 * 1024, multiprocessor_count=132,
                        max_num_regs=65536, warpSize=32)

        @staticmethod
        def load_binary(name: str, kernel: bytes, shared: int, device: int) -> tuple:
            return "module", "function", 0, 0, 1024  # module, function, regs, spills, threads

    class launcher_cls:
        """Triton builds one launcher per compiled kernel and calls it with the grid, the
        stream and the arguments; here it keeps nothing and launches nothing, so that the
        time measured ends where the CUDA driver's launch would begin."""

        def __init__(self, src: object, metadata: object) -> None:
            """Nothing to build: there is no binary to launch."""

        def __call__(self, *args: object) -> None:
            """The launch itself, left out of the measurement (module docstring)."""

    def is_active(self) -> bool:
        return True

    def get_current_device(self) -> int:
        return 0

    def get_current_stream(self, device: int) -> int:
        return 0

    def get_current_target(self) -> GPUTarget:
        return GPUTarget("cuda", 90, 32)


def cases() -> dict:
    f32 = np.float32
    x, w = np.zeros((64, 64, 16, 16), f32), np.zeros((128, 64, 4, 4), f32)
    dy, geo = np.zeros((64, 128, 8, 8), f32), Geometry((2, 2), (1, 1), (1, 1), 1)
    y, dx = np.empty((64, 128, 8, 8), f32), np.empty_like(x)
    q, v = np.zeros((64, 1, 256, 8), f32), np.zeros((64, 1, 256, 32), f32)
    out, lse = np.empty_like(v), np.empty((64, 1, 256), f32)
    weight, u = np.zeros((128, 1024), f32), np.zeros(128, f32)
    return {
        "conv2d": lambda: conv.conv2d(x, w, geo, (8, 8), np, out=y),
        "conv_transpose2d": lambda: conv.conv_transpose2d(dy, w, geo, (16, 16), np, out=dx),
        "conv2d_weight": lambda: conv.conv2d_weight(x, dy, geo, (4, 4), np),
        "attention": lambda: attention.attention(q, q, v, 0.3, np, out=out, lse=lse),
        "attention_backward": lambda: attention.attention_backward(
            q, q, v, out, lse, out, 0.3, np, np.empty_like(q), np.empty_like(q),
            np.empty_like(v)),
        "spectral_norm_power_iteration": lambda: spectral_norm.spectral_norm_power_iteration(
            weight, u, 1, 1e-12, np),
    }


def cuda_cases() -> dict:
    """The CUDA launchers' cases, with CuPy and minigan._C replaced by stand-ins: the
    convolutions and attention at the shapes of ``cases``, and Adam."""
    cuda_kernels.cupy_module = lambda: types.SimpleNamespace(
        ascontiguousarray=lambda a: a,
        empty=lambda shape, dtype: StandInGpuArray(shape if isinstance(shape, tuple)
                                                   else (shape,)),
        cuda=types.SimpleNamespace(Device=lambda index: contextlib.nullcontext(),
                                   get_current_stream=lambda: types.SimpleNamespace(ptr=0)))
    binding = lambda *args: None                                 # noqa: E731
    extension.C = types.SimpleNamespace(
        cuda_conv2d=binding, cuda_conv_transpose2d=binding, cuda_conv2d_weight=binding,
        cuda_conv2d_weight_workspace=lambda sizes: 1 << 20, cuda_attention=binding,
        cuda_attention_backward=binding, cuda_adam_step=binding)
    x, w = StandInGpuArray((64, 64, 16, 16)), StandInGpuArray((128, 64, 4, 4))
    dy, geo = StandInGpuArray((64, 128, 8, 8)), Geometry((2, 2), (1, 1), (1, 1), 1)
    q, v = StandInGpuArray((64, 1, 256, 8)), StandInGpuArray((64, 1, 256, 32))
    lse = StandInGpuArray((64, 1, 256))
    gan = zoo.build_gan(zoo.RECIPES["dcgan"], (3, 32, 32), 100, 64, "cpu")
    shapes = [p.shape for net in (gan.generator, gan.critic) for p in net.parameters()]
    lists = [[StandInGpuArray(shape) for shape in shapes] for _ in range(4)]
    n = len(shapes)
    return {
        "conv2d(cuda)": lambda: cuda_kernels.conv2d(x, w, geo, (8, 8)),
        "conv_transpose2d(cuda)": lambda: cuda_kernels.conv_transpose2d(dy, w, geo, (16, 16)),
        "conv2d_weight(cuda)": lambda: cuda_kernels.conv2d_weight(x, dy, geo, (4, 4)),
        "attention(cuda)": lambda: cuda_kernels.attention(q, q, v, 0.3),
        "attention_backward(cuda)": lambda: cuda_kernels.attention_backward(
            q, q, v, v, lse, v, 0.3),
        "adam_step(cuda)": lambda: cuda_kernels.adam_step(
            *lists, [None] * n, [0.1] * n, [0.01] * n, 2e-4, 0.5, 0.999, 1e-8, 0.0, False,
            False),
    }


def per_call(call, calls: int) -> float:
    """µs per call over a block of ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        call()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=500, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=7, help="timed blocks per launcher")
    args = parser.parse_args()
    driver.set_active(NoGpuDriver())
    arrays.KernelArg.data_ptr = lambda self: 1 << 20         # 16-byte aligned, as CuPy's
    np.seterr(all="ignore")
    kernels = {(module, name): getattr(module, name)
               for module, names in KERNELS.items() for name in names}

    def launches(column: str) -> None:
        for (module, name), kernel in kernels.items():
            setattr(module, name, NoLaunch() if column == "launcher" else kernel)
        arrays.REUSE_COMPILED = column == "kept"

    columns = ("launcher", "dispatch", "kept")
    print(f"{'launcher':<32}{'launcher µs':>12}{'+ dispatch µs':>14}{'+ kept µs':>11}")
    for name, call in cases().items():
        launches("dispatch")
        call()                                          # compiles its kernels for sm_90
        samples: dict[str, list[float]] = {column: [] for column in columns}
        for _ in range(args.rounds):
            for column in columns:
                launches(column)
                per_call(call, args.calls // 5)                          # warm-up
                samples[column].append(per_call(call, args.calls))
        alone, dispatch, kept = (statistics.median(samples[column]) for column in columns)
        print(f"{name:<32}{alone:>12.1f}{dispatch:>14.1f}{kept:>11.1f}")
    for name, call in cuda_cases().items():
        per_call(call, args.calls // 5)
        alone = statistics.median(per_call(call, args.calls) for _ in range(args.rounds))
        print(f"{name:<32}{alone:>12.1f}{'-':>14}{'-':>11}")


if __name__ == "__main__":
    main()
