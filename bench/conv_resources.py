"""What the Triton convolutions cost an H100 in registers and shared memory, without a GPU.

Each kernel of kernels/conv.py is compiled ahead of time for sm_90 at each tile shape of
``minigan.kernels.CONV_TILES`` and each dtype, and its cubin read (bench/sm90.py: regs,
stack, STL / LDL spill instructions and how many of them are in a loop, instrs, smem).
The kernels aim for no stack.

    python bench/conv_resources.py [--tiles triton ...] [--dtypes float32 float64 float16]
                                   [--kernels conv2d conv_transpose2d conv2d_weight]
                                   [--kernel-size 4]
"""
from __future__ import annotations

import argparse

from sm90 import COLUMNS, cells, refuse_the_interpreter, resources  # bench/sm90.py

KERNELS = ("conv2d", "conv_transpose2d", "conv2d_weight")
DTYPES = ("float32", "float64", "float16")
POINTER = {"float32": "*fp32", "float64": "*fp64", "float16": "*fp16"}


def compile_for_sm90(kernel_name: str, tiles: dict, dtype: str, taps_outer: bool = True,
                     kernel_size: int = 4) -> dict:
    """Compile one conv kernel for sm_90 (kernel_size x kernel_size taps) and read its
    resources."""
    import triton

    from minigan.kernels import conv
    kernel = getattr(conv, f"{kernel_name}_kernel")
    types = {name: POINTER[dtype] for name in kernel.arg_names if name.endswith("_ptr")}
    if kernel_name == "conv2d_weight":                       # partial sums: accumulator
        types["part_ptr"] = "*fp64" if dtype == "float64" else "*fp32"
    meta = conv._meta(dtype)
    k_pow2 = triton.next_power_of_2(kernel_size)
    constants = dict(KH=kernel_size, KW=kernel_size, KH_POW2=k_pow2, KW_POW2=k_pow2,
                     ACC=meta["ACC"], PRECISION=meta["PRECISION"], TAPS_OUTER=taps_outer,
                     **{k: v for k, v in tiles.items() if k.startswith("BLOCK")})
    return resources(kernel, types, constants, tiles["num_warps"])


def main() -> None:
    from minigan.kernels import CONV_TILES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", nargs="+", default=list(CONV_TILES), choices=CONV_TILES)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=KERNELS)
    parser.add_argument("--kernel-size", type=int, default=4,
                        help="taps a side: 4 (DCGAN's layers), 3 (BigGAN's)")
    args = parser.parse_args()
    refuse_the_interpreter()
    print(f"{'tiles':<16}{'dtype':<9}{'kernel':<18}{'walk':<8}{COLUMNS}")
    for name in args.tiles:
        for dtype in args.dtypes:
            for kernel_name in args.kernels:
                walks = ("-",) if kernel_name == "conv_transpose2d" else ("taps", "flat")
                for walk in walks:
                    r = compile_for_sm90(kernel_name, CONV_TILES[name], dtype, walk != "flat",
                                         args.kernel_size)
                    print(f"{name:<16}{dtype:<9}{kernel_name:<18}{walk:<8}{cells(r)}",
                          flush=True)


if __name__ == "__main__":
    main()
