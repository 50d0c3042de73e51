"""The Triton kernels a GPU compiles for the benchmarks' shapes, read without a GPU.

bench/conv_resources.py and bench/attention_resources.py compile each kernel with its
integer arguments as plain int32. A launch on a GPU compiles it for its own arguments:
Triton specialises every integer divisible by 16 and every pointer aligned to 16 bytes
(CuPy's allocations are), and that can decide whether loads are vectorised. This script
runs the launchers themselves at the shapes of bench/gpu.py (the DCGAN and BigGAN-128
convolution layers: the forward and both gradients of each) and bench/gpu_attention.py
(SAGAN attention, forward and backward), against bench/launch_overhead.py's stand-in H100
driver, so each kernel is compiled for sm_90 exactly as the launch would compile it on a
GPU, and reads every compiled kernel's machine code (bench/sm90.py's columns: registers,
spills, shared memory, matrix instructions, asynchronous copies).

    python bench/compiled_kernels.py [--dtypes float32 float16] [--layers N] [--shapes N]
                                     [--channels-last]

``--layers`` / ``--shapes`` keep the first N convolution layers / attention shapes.
``--channels-last`` launches the convolutions as the "-nhwc" implementations do, their
operands first copied to channels-last memory orders (kernels/conv.py). The launches
themselves are no-ops: no kernel runs, and the NumPy outputs stay unwritten.
"""
from __future__ import annotations

import argparse
import os

os.environ.pop("TRITON_INTERPRET", None)   # compiled kernels, launched by NoGpuDriver

import numpy as np  # noqa: E402
from triton.runtime import driver  # noqa: E402

from gpu import LAYERS  # noqa: E402  (bench/gpu.py)
from gpu_attention import SHAPES  # noqa: E402  (bench/gpu_attention.py)
from launch_overhead import NoGpuDriver  # noqa: E402  (bench/launch_overhead.py)
from minigan.kernels import arrays, attention, conv  # noqa: E402
from minigan.ops.conv import Geometry  # noqa: E402
from sm90 import COLUMNS, cells, compiled_resources  # noqa: E402  (bench/sm90.py)


def conv_launches(n: int, c: int, o: int, h: int, k: int, s: int, p: int,
                  transposed: bool, dtype: type, channels_last: bool = False) -> list:
    """The three kernel launches of one layer's forward and backward: (x, w) -> y, the
    input gradient and the weight gradient (a transposed layer's forward is the input
    gradient of the convolution from its output back to its input, and so on)."""
    geo = Geometry((s, s), (p, p), (1, 1), 1)
    if transposed:                       # the convolution that maps the output to x
        c, o, h = o, c, (h - 1) * s - 2 * p + k
    out = (h + 2 * p - k) // s + 1
    x, w = np.zeros((n, c, h, h), dtype), np.zeros((o, c, k, k), dtype)
    y = np.zeros((n, o, out, out), dtype)
    return [lambda: conv.conv2d(x, w, geo, (out, out), np, channels_last=channels_last),
            lambda: conv.conv_transpose2d(y, w, geo, (h, h), np, channels_last=channels_last),
            lambda: conv.conv2d_weight(x, y, geo, (k, k), np, channels_last=channels_last)]


def attention_launches(b: int, c: int, side: int, dtype: type) -> list:
    """SAGAN's attention over a C-channel side x side map: forward and backward."""
    n = side * side
    q, v = np.zeros((b, 1, n, c // 8), dtype), np.zeros((b, 1, n, c // 2), dtype)
    accumulator = np.float64 if dtype is np.float64 else np.float32
    out, lse = np.zeros_like(v), np.zeros((b, 1, n), accumulator)
    return [lambda: attention.attention(q, q, v, 0.125, np, out=out, lse=lse),
            lambda: attention.attention_backward(q, q, v, out, lse, out, 0.125, np)]


def compiled_by(launch) -> list:
    """The compiled kernels that one launcher call launches, by kernel name."""
    arrays._COMPILED.clear()
    launch()
    return [(kernel.__name__, compiled) for kernel, kept in arrays._COMPILED.items()
            for compiled, _ in kept.values()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16"],
                        choices=["float32", "float16", "float64"])
    parser.add_argument("--layers", type=int, default=len(LAYERS))
    parser.add_argument("--shapes", type=int, default=len(SHAPES))
    parser.add_argument("--channels-last", action="store_true",
                        help="the convolutions' operands in channels-last memory orders")
    args = parser.parse_args()
    driver.set_active(NoGpuDriver())
    arrays.REUSE_COMPILED = True                     # the kept kernels are what is read
    np.seterr(all="ignore")
    cases = []
    for dtype in args.dtypes:
        for name, *layer in LAYERS[:args.layers]:
            cases += [(name, dtype, launch) for launch in
                      conv_launches(*layer, np.dtype(dtype).type, args.channels_last)]
        for b, c, side in SHAPES[:args.shapes]:
            cases += [(f"SAGAN B{b} C{c} N={side * side}", dtype, launch)
                      for launch in attention_launches(b, c, side, np.dtype(dtype).type)]
    print(f"{'case':<26}{'dtype':<9}{'kernel':<28}{COLUMNS}")
    for name, dtype, launch in cases:
        for kernel, compiled in compiled_by(launch):
            print(f"{name:<26}{dtype:<9}{kernel:<28}{cells(compiled_resources(compiled))}",
                  flush=True)


if __name__ == "__main__":
    main()
