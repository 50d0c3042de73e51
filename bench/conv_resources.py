"""What the Triton convolutions cost an H100 in registers and shared memory, without a GPU.

Each kernel of kernels/conv.py is compiled ahead of time for sm_90 (Triton's own compiler
and ptxas; no GPU or driver needed) at each tile shape of ``minigan.kernels.CONV_TILES``
and each dtype, and its cubin read back with the cuobjdump that ships with Triton:

* regs: registers per thread (255 is the most a thread can have);
* stack: bytes of local memory per thread, where values that did not fit in registers
  are spilled; STL / LDL count the spill stores and loads in the machine code;
* smem: shared memory per program (an H100 gives a block at most 227 KB);
* instrs: machine instructions in the kernel (prologue, pipelined loop and epilogue; a
  static count, not the number executed).

A spill costs a round trip through L1 (and beyond, if evicted) every time the value is
needed, so the kernels aim for no stack. The numbers hold for this Triton version and
kernel code; a GPU run (bench/gpu.py) tells what they cost in time.

    python bench/conv_resources.py [--tiles triton ...] [--dtypes float32 float64 float16]
                                   [--kernels conv2d conv_transpose2d conv2d_weight]
                                   [--kernel-size 4]
"""
from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import tempfile

KERNELS = ("conv2d", "conv_transpose2d", "conv2d_weight")
DTYPES = ("float32", "float64", "float16")
POINTER = {"float32": "*fp32", "float64": "*fp64", "float16": "*fp16"}
SIZES = {"N", "C_G", "H", "W", "O_G", "Ho", "Wo", "GROUPS", "PIXELS_PER_SPLIT"}
H100_SHARED_MEMORY = 227 * 1024


def compile_for_sm90(kernel_name: str, tiles: dict, dtype: str, taps_outer: bool = True,
                     kernel_size: int = 4) -> dict:
    """Compile one conv kernel for sm_90 (kernel_size x kernel_size taps) and read its
    resources."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from minigan.kernels import conv
    kernel = getattr(conv, f"{kernel_name}_kernel")
    signature = {name: POINTER[dtype] if name.endswith("_ptr") else
                 "i32" if name in SIZES or not name.isupper() else "constexpr"
                 for name in kernel.arg_names}
    if kernel_name == "conv2d_weight":                       # partial sums: accumulator
        signature["part_ptr"] = "*fp64" if dtype == "float64" else "*fp32"
    meta = conv._meta(dtype)
    k_pow2 = triton.next_power_of_2(kernel_size)
    constants = dict(KH=kernel_size, KW=kernel_size, KH_POW2=k_pow2, KW_POW2=k_pow2,
                     ACC=meta["ACC"],
                     PRECISION=meta["PRECISION"], TAPS_OUTER=taps_outer,
                     **{k: v for k, v in tiles.items() if k.startswith("BLOCK")})
    names = list(signature)
    source = ASTSource(kernel, signature, {(names.index(k),): v for k, v in constants.items()
                                           if k in signature})
    compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32),
                              options=dict(num_warps=tiles["num_warps"]))
    cuobjdump = pathlib.Path(triton.__file__).parent / "backends/nvidia/bin/cuobjdump"
    with tempfile.TemporaryDirectory() as folder:
        cubin = pathlib.Path(folder) / "kernel.cubin"
        cubin.write_bytes(compiled.asm["cubin"])
        usage = subprocess.run([cuobjdump, "--dump-resource-usage", cubin], check=True,
                               capture_output=True, text=True).stdout
        sass = subprocess.run([cuobjdump, "-sass", cubin], check=True, capture_output=True,
                              text=True).stdout
    return dict(regs=int(re.search(r"REG:(\d+)", usage).group(1)),
                stack=int(re.search(r"STACK:(\d+)", usage).group(1)),
                stl=len(re.findall(r"\bSTL", sass)), ldl=len(re.findall(r"\bLDL", sass)),
                instrs=len(re.findall(r"/\*[0-9a-f]{4,}\*/", sass)), smem=compiled.metadata.shared)


def main() -> None:
    from minigan.kernels import CONV_TILES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", nargs="+", default=list(CONV_TILES), choices=CONV_TILES)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=KERNELS)
    parser.add_argument("--kernel-size", type=int, default=4,
                        help="taps a side: 4 (DCGAN's layers), 3 (BigGAN's)")
    args = parser.parse_args()
    if os.environ.get("TRITON_INTERPRET") == "1":
        raise SystemExit("unset TRITON_INTERPRET: the kernels must be compiled")
    print(f"{'tiles':<16}{'dtype':<9}{'kernel':<18}{'walk':<8}{'regs':>5}{'stack':>7}"
          f"{'STL':>6}{'LDL':>6}{'instrs':>8}{'smem':>8}")
    for name in args.tiles:
        for dtype in args.dtypes:
            for kernel_name in args.kernels:
                walks = ("-",) if kernel_name == "conv_transpose2d" else ("taps", "flat")
                for walk in walks:
                    r = compile_for_sm90(kernel_name, CONV_TILES[name], dtype, walk != "flat",
                                         args.kernel_size)
                    fits = "" if r["smem"] <= H100_SHARED_MEMORY else "  too much shared memory"
                    print(f"{name:<16}{dtype:<9}{kernel_name:<18}{walk:<8}{r['regs']:>5}"
                          f"{r['stack']:>7}{r['stl']:>6}{r['ldl']:>6}{r['instrs']:>8}"
                          f"{r['smem']:>8}{fits}",
                          flush=True)


if __name__ == "__main__":
    main()
