"""Attention on a GPU against PyTorch, in the same run.

minigan's fused Triton attention (kernels/attention.py, through
``minigan.ops.attention.scaled_dot_product_attention``) against
``torch.nn.functional.scaled_dot_product_attention`` (which picks its own kernel: flash,
memory-efficient, cuDNN or plain matmuls), at the shapes of SAGAN's self-attention block:
B images with a C-channel feature map of N = side^2 positions, one head, queries and keys
of C/8 channels, values of C/2. "fwd" is the attention alone; "f+b" adds the gradients of
q, k and v through each framework's autograd (``backward`` of the output with a fixed
random gradient).

float32 lets both sides use TF32 tensor cores (minigan's ``ALLOW_TF32``, PyTorch's
``allow_tf32`` flags); float16 is float16 on both. Each cell is the median over timed
blocks of calls, measured with CUDA events after a warm-up (which also compiles Triton's
kernels), blocks alternating between frameworks. A ratio above 1 means minigan is slower.

    python bench/gpu_attention.py [--repeats 20] [--rounds 3] [--dtypes float32 float16]
"""
from __future__ import annotations

import argparse
import statistics
from typing import Callable

import numpy as np

import minigan as mg
from minigan.ops.attention import scaled_dot_product_attention

from gpu import cuda_time                   # bench/gpu.py: CUDA events around a block

SHAPES = [  # B, C, side  ->  N = side^2, D = C/8, Dv = C/2
    (64, 64, 16), (64, 256, 16), (32, 64, 32), (32, 128, 32), (32, 256, 32),
    (16, 64, 64), (16, 128, 64), (16, 256, 64),
]


def median_times(calls: dict[str, Callable[[], None]], syncs: dict[str, Callable[[], None]],
                 repeats: int, rounds: int) -> dict[str, float]:
    """Seconds per call for each framework: the median of ``rounds`` timed blocks, each
    after three warm-up calls, the frameworks taking turns."""
    samples: dict[str, list[float]] = {key: [] for key in calls}
    for _ in range(rounds):
        for key, call in calls.items():
            for _ in range(3):
                call()
            samples[key].append(cuda_time(call, repeats, syncs[key]))
    return {key: statistics.median(values) for key, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16"],
                        choices=["float32", "float16"], help="precisions to measure")
    args = parser.parse_args()
    import cupy
    import torch
    from minigan.kernels import attention as kernels
    kernels.ALLOW_TF32 = True
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    impl = mg.backend.implementation("attention", "cuda").name
    print(f"{torch.cuda.get_device_name()}; minigan attention on CUDA: {impl}; PyTorch "
          f"{torch.__version__}; float32 with TF32 on both sides")
    print(f"{'dtype':<8}{'B':>4}{'C':>5}{'N':>6}{'D':>4}{'Dv':>5}{'fwd mg':>9}{'fwd pt':>9}"
          f"{'ratio':>7}{'f+b mg':>9}{'f+b pt':>9}{'ratio':>7}")
    syncs = {"mg": cupy.cuda.Device().synchronize, "pt": torch.cuda.synchronize}
    rng = np.random.default_rng(0)
    for dtype in args.dtypes:
        for b, c, side in SHAPES:
            n, d, dv = side * side, c // 8, c // 2
            arrays = [rng.standard_normal(s).astype(dtype)
                      for s in [(b, 1, n, d), (b, 1, n, d), (b, 1, n, dv), (b, 1, n, dv)]]
            qm, km, vm = (mg.tensor(a, device="cuda", requires_grad=True) for a in arrays[:3])
            gm = mg.tensor(arrays[3], device="cuda")
            qt, kt, vt = (torch.tensor(a, device="cuda", requires_grad=True)
                          for a in arrays[:3])
            gt = torch.tensor(arrays[3], device="cuda")

            def mg_call(backward: bool) -> None:
                out = scaled_dot_product_attention(qm, km, vm)
                if backward:
                    out.backward(gm)
                    qm.grad = km.grad = vm.grad = None

            def pt_call(backward: bool) -> None:
                out = torch.nn.functional.scaled_dot_product_attention(qt, kt, vt)
                if backward:
                    out.backward(gt)
                    qt.grad = kt.grad = vt.grad = None

            fwd, both = [median_times({"mg": lambda: mg_call(backward),
                                       "pt": lambda: pt_call(backward)},
                                      syncs, args.repeats, args.rounds)
                         for backward in (False, True)]
            print(f"{dtype:<8}{b:>4}{c:>5}{n:>6}{d:>4}{dv:>5}{1e3 * fwd['mg']:>9.3f}"
                  f"{1e3 * fwd['pt']:>9.3f}{fwd['mg'] / fwd['pt']:>7.2f}"
                  f"{1e3 * both['mg']:>9.3f}{1e3 * both['pt']:>9.3f}"
                  f"{both['mg'] / both['pt']:>7.2f}")


if __name__ == "__main__":
    main()
