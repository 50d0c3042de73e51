"""Attention on a GPU against PyTorch, in the same run.

minigan's fused attentions (the Triton kernels of kernels/attention.py and the CUDA C++
ones of csrc/cuda/attention.cuh, through ``minigan.ops.attention.scaled_dot_product_attention``
with the implementation forced; one row per implementation: each registered Triton tile
shape, the CUDA C++ kernels, and "auto", autotuning's pick) against
``torch.nn.functional.scaled_dot_product_attention`` (which picks its own kernel: flash,
memory-efficient, cuDNN or plain matmuls), at the shapes of SAGAN's self-attention block:
B images with a C-channel feature map of N = side^2 positions, one head, queries and keys
of C/8 channels, values of C/2. "fwd" is the attention alone; "f+b" adds the gradients of
q, k and v through each framework's autograd (``backward`` of the output with a fixed
random gradient).

float32 lets Triton and PyTorch use TF32 tensor cores (minigan's ``ALLOW_TF32``,
PyTorch's ``allow_tf32`` flags) unless ``--no-tf32``; float16 is float16 on both. The CUDA
C++ kernels take float32 and float64 only and multiply in full float32: compare them under
``--no-tf32``. Each cell is the median over timed
blocks of calls, measured with CUDA events after a warm-up (which also compiles Triton's
kernels), blocks alternating between frameworks. A ratio above 1 means minigan is slower.

``--sagan-views`` hands both frameworks q, k, v and the output gradient as SAGAN's block
makes them: views of (B, C', N) arrays, the outputs of its 1x1 convolutions, as
(B, 1, N, C'), positions innermost. Without it they are contiguous (B, 1, N, C') arrays.

    python bench/gpu_attention.py [--repeats 20] [--rounds 3] [--dtypes float32 float16]
                                  [--impls triton triton-128x64 cuda auto] [--no-tf32]
                                  [--sagan-views]
"""
from __future__ import annotations

import argparse
import contextlib
import functools

import numpy as np

import minigan as mg
from minigan.ops.attention import scaled_dot_product_attention

from gpu import available_impls, median_times  # bench/gpu.py: CUDA-event timings

SHAPES = [  # B, C, side  ->  N = side^2, D = C/8, Dv = C/2
    (64, 64, 16), (64, 256, 16), (32, 64, 32), (32, 128, 32), (32, 256, 32),
    (16, 64, 64), (16, 128, 64), (16, 256, 64),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16"],
                        choices=["float32", "float16"], help="precisions to measure")
    parser.add_argument("--impls", nargs="+",
                        default=["triton", "triton-128x64", "cuda", "auto"],
                        help="minigan's attention implementations to time (those available), "
                             "auto: autotuning")
    parser.add_argument("--no-tf32", action="store_true",
                        help="full float32 products in Triton and PyTorch")
    parser.add_argument("--sagan-views", action="store_true",
                        help="inputs as views with the positions innermost, as SAGAN's")
    args = parser.parse_args()
    import cupy
    import torch
    from minigan.kernels import attention as kernels
    tf32 = not args.no_tf32
    kernels.ALLOW_TF32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    impls = available_impls("attention", args.impls)
    print(f"{torch.cuda.get_device_name()}; minigan attention on CUDA: {', '.join(impls)}; "
          f"PyTorch {torch.__version__}; float32 with TF32 {'on' if tf32 else 'off'} "
          "(CUDA C++: full float32)")
    print(f"{'dtype':<8}{'B':>4}{'C':>5}{'N':>6}{'D':>4}{'Dv':>5}{'impl':>15}{'fwd mg':>9}"
          f"{'fwd pt':>9}{'ratio':>7}{'f+b mg':>9}{'f+b pt':>9}{'ratio':>7}")
    def as_used(*tensors):
        """q, k, v or a gradient as the attention takes it: with ``--sagan-views`` the
        stored (B, 1, C', N) arrays seen as (B, 1, N, C'), else as stored."""
        return [t.transpose(2, 3) for t in tensors] if args.sagan_views else tensors

    rng = np.random.default_rng(0)
    for dtype in args.dtypes:
        for b, c, side in SHAPES:
            n, d, dv = side * side, c // 8, c // 2
            shapes = [(b, 1, n, d), (b, 1, n, d), (b, 1, n, dv), (b, 1, n, dv)]
            if args.sagan_views:                   # stored (B, 1, C', N), used transposed
                shapes = [(b, 1, width, n) for *_, width in shapes]
            arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
            qm, km, vm = (mg.tensor(a, device="cuda", requires_grad=True) for a in arrays[:3])
            gm = mg.tensor(arrays[3], device="cuda")
            qt, kt, vt = (torch.tensor(a, device="cuda", requires_grad=True)
                          for a in arrays[:3])
            gt = torch.tensor(arrays[3], device="cuda")
            def mg_call(impl: str, backward: bool) -> None:
                with contextlib.ExitStack() as chosen:
                    if impl == "auto":
                        chosen.enter_context(mg.backend.autotuning())
                    else:
                        for op in ("attention", "attention_backward"):
                            chosen.enter_context(mg.backend.use_implementation(op, impl))
                    out = scaled_dot_product_attention(*as_used(qm, km, vm))
                    if backward:
                        out.backward(*as_used(gm))
                        qm.grad = km.grad = vm.grad = None

            def pt_call(backward: bool) -> None:
                out = torch.nn.functional.scaled_dot_product_attention(*as_used(qt, kt, vt))
                if backward:
                    out.backward(*as_used(gt))
                    qt.grad = kt.grad = vt.grad = None

            runnable = []
            for impl in impls:
                try:
                    mg_call(impl, True)
                    runnable.append(impl)
                except (TypeError, ValueError) as refusal:    # a dtype, a tile too large
                    print(f"{dtype:<8}{b:>4}{c:>5}{n:>6}{d:>4}{dv:>5}{impl:>15}  refused: "
                          f"{str(refusal)[:120]}")
            syncs = {key: cupy.cuda.Device().synchronize for key in runnable}
            syncs["pt"] = torch.cuda.synchronize
            fwd, both = [median_times({**{impl: functools.partial(mg_call, impl, backward)
                                          for impl in runnable},
                                       "pt": functools.partial(pt_call, backward)},
                                      syncs, args.repeats, args.rounds)
                         for backward in (False, True)]
            for impl in runnable:
                print(f"{dtype:<8}{b:>4}{c:>5}{n:>6}{d:>4}{dv:>5}{impl:>15}"
                      f"{1e3 * fwd[impl]:>9.3f}{1e3 * fwd['pt']:>9.3f}"
                      f"{fwd[impl] / fwd['pt']:>7.2f}{1e3 * both[impl]:>9.3f}"
                      f"{1e3 * both['pt']:>9.3f}{both[impl] / both['pt']:>7.2f}")


if __name__ == "__main__":
    main()
