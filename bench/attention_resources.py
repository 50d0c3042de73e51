"""What the Triton attention kernels cost an H100 in registers and shared memory, without
a GPU.

Each kernel of kernels/attention.py (the forward, and the backward's dQ and dK/dV)
is compiled ahead of time for sm_90 at each tile shape of ``minigan.kernels.ATTENTION_TILES``
(the default "triton" takes ``config``'s sizes for the head widths), each dtype and each
head width D, Dv, and its cubin read (bench/sm90.py: regs, stack, STL / LDL spill
instructions and how many of them are in a loop, instrs, smem). The widths default to SAGAN's (queries and keys of C/8
channels, values of C/2 for C = 64, 256, 512) and the widest the kernels take (256, 256).
A tile that takes more than an H100's shared memory is refused at launch (ValueError)
and passed over by autotuning; the table marks it.

    python bench/attention_resources.py [--tiles triton triton-128x64]
                                        [--dtypes float32 float64 float16]
                                        [--kernels forward dq dkdv]
                                        [--widths 8x32 32x128 64x256 256x256]
"""
from __future__ import annotations

import argparse

from sm90 import COLUMNS, cells, refuse_the_interpreter, resources  # bench/sm90.py

KERNELS = ("forward", "dq", "dkdv")
DTYPES = ("float32", "float64", "float16")
WIDTHS = ("8x32", "32x128", "64x256", "256x256")
POINTER = {"float32": "*fp32", "float64": "*fp64", "float16": "*fp16"}


def tiles_for(name: str, d: int, dv: int, dtype: str) -> dict:
    """The meta-parameters and warps the launcher takes for tile shape ``name``."""
    import numpy as np

    from minigan.kernels import ATTENTION_TILES
    from minigan.kernels import attention
    return dict(attention.config(d, dv, np.dtype(dtype).itemsize),
                **(ATTENTION_TILES[name] or {}))


def compile_for_sm90(kernel_name: str, tiles: dict, dtype: str) -> dict:
    """Compile one attention kernel for sm_90 with ``tiles`` (BLOCK_* and num_warps) and
    read its resources."""
    from minigan.kernels import attention
    kernel = getattr(attention, f"attention_{kernel_name}_kernel")
    accumulator = "*fp64" if dtype == "float64" else "*fp32"
    types = {name: accumulator if name in ("lse_ptr", "delta_ptr") else POINTER[dtype]
             for name in kernel.arg_names if name.endswith("_ptr")}
    types.update(scale_hi="fp32", scale_lo="fp32")
    constants = dict(attention._meta(dtype), EVEN_M=False, EVEN_N=False,   # masked tiles
                     SCALE_SIGN=1,                                         # a positive scale
                     **{k: v for k, v in tiles.items() if k.startswith("BLOCK")})
    return resources(kernel, types, constants, tiles["num_warps"])


def main() -> None:
    from minigan.kernels import ATTENTION_TILES
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiles", nargs="+", default=list(ATTENTION_TILES),
                        choices=ATTENTION_TILES)
    parser.add_argument("--dtypes", nargs="+", default=list(DTYPES), choices=DTYPES)
    parser.add_argument("--kernels", nargs="+", default=list(KERNELS), choices=KERNELS)
    parser.add_argument("--widths", nargs="+", default=list(WIDTHS),
                        help="head widths DxDv (at most 256 each)")
    args = parser.parse_args()
    refuse_the_interpreter()
    print(f"{'tiles':<15}{'dtype':<9}{'D':>4}{'Dv':>5}  {'kernel':<9}{'blocks':<13}"
          f"{'warps':>5}{COLUMNS}")
    for name in args.tiles:
        for dtype in args.dtypes:
            for width in args.widths:
                d, dv = (int(s) for s in width.split("x"))
                tiles = tiles_for(name, d, dv, dtype)
                blocks = f"{tiles['BLOCK_M']}x{tiles['BLOCK_N']}"
                for kernel_name in args.kernels:
                    r = compile_for_sm90(kernel_name, tiles, dtype)
                    print(f"{name:<15}{dtype:<9}{d:>4}{dv:>5}  {kernel_name:<9}{blocks:<13}"
                          f"{tiles['num_warps']:>5}{cells(r)}", flush=True)


if __name__ == "__main__":
    main()
