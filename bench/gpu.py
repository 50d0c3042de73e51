"""GPU kernels against PyTorch on the same device, in the same run.

Convolutions: minigan's implementations on CUDA (the Triton implicit GEMMs of kernels/,
the CUDA C++ ones of csrc/cuda) vs cuDNN through PyTorch, for the layers of a 32x32 DCGAN
at batch 64 and the 3x3 convolutions of BigGAN-128's blocks at batch 16. "fwd" is conv2d
alone; "f+b" adds the input and the weight gradient through each framework's autograd
(``backward`` of the output with a ones gradient). One row per minigan implementation,
each against the same PyTorch measurement: the Triton kernels at each of their tile shapes
and operand layouts ("triton" is the default; "-nhwc" copies the operands to channels-last
orders first; minigan.kernels.CONV_IMPLEMENTATIONS), the CUDA C++ kernels, and "auto",
minigan with autotuning on (each of the three ops on the implementation it timed fastest
for the layer, as ``--autotune`` does in training).

Precision: ``--precision tf32`` (default) lets Triton and cuDNN use TF32 tensor cores
(PyTorch's default for cuDNN convolutions); ``--precision float32`` turns TF32 off on both.
The CUDA C++ kernels always multiply in full float32 (FMA), so compare them with cuDNN
under ``--precision float32``.

Each cell is the median over timed blocks of calls, measured with CUDA events after a
warm-up (which also compiles Triton's kernels), blocks alternating between frameworks.
Expected work: f+b is three GEMM-sized products, 3 x 2 N O Ho Wo (C/g) kh kw FLOPs.

    python bench/gpu.py [--repeats 20] [--rounds 3] [--impls triton cuda auto ...]
                        [--precision tf32]
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import statistics
from typing import Callable

import numpy as np

import minigan as mg
import minigan.nn.functional as F

LAYERS = [  # name, N, C, O, H, kernel, stride, padding, transposed
    ("DCGAN D 3->64 32->16", 64, 3, 64, 32, 4, 2, 1, False),
    ("DCGAN D 64->128 16->8", 64, 64, 128, 16, 4, 2, 1, False),
    ("DCGAN D 128->256 8->4", 64, 128, 256, 8, 4, 2, 1, False),
    ("DCGAN G 256->128 4->8", 64, 256, 128, 4, 4, 2, 1, True),
    ("DCGAN G 128->64 8->16", 64, 128, 64, 8, 4, 2, 1, True),
    ("DCGAN G 64->3 16->32", 64, 64, 3, 16, 4, 2, 1, True),
    ("BigGAN 768 3x3 16x16", 16, 768, 768, 16, 3, 1, 1, False),
    ("BigGAN 384 3x3 32x32", 16, 384, 384, 32, 3, 1, 1, False),
    ("BigGAN 192 3x3 64x64", 16, 192, 192, 64, 3, 1, 1, False),
    ("BigGAN 96 3x3 128x128", 16, 96, 96, 128, 3, 1, 1, False),
]


def flops(n: int, c: int, o: int, h: int, k: int, s: int, p: int, transposed: bool) -> float:
    if transposed:
        return 2.0 * n * c * h * h * o * k * k
    out = (h + 2 * p - k) // s + 1
    return 2.0 * n * o * out * out * c * k * k


def cuda_time(run: Callable[[], None], repeats: int, sync: Callable[[], None]) -> float:
    """Seconds per call of ``run``: CUDA events around ``repeats`` calls."""
    import cupy
    start, stop = cupy.cuda.Event(), cupy.cuda.Event()
    sync()
    start.record()
    for _ in range(repeats):
        run()
    stop.record()
    stop.synchronize()
    sync()
    return cupy.cuda.get_elapsed_time(start, stop) / 1e3 / repeats


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


def available_impls(op: str, wanted: list[str]) -> list[str]:
    """The implementations of ``wanted`` that can run ``op`` on CUDA here ("auto" always)."""
    impls = mg.backend.implementations(op)
    return [name for name in wanted
            if name == "auto" or name in impls and impls[name].available("cuda")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=20, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    parser.add_argument("--impls", nargs="+",
                        default=["triton", "triton-128x128", "triton-128x16", "triton-nhwc",
                                 "triton-128x128-nhwc", "cuda", "auto"],
                        help="minigan's conv implementations to time (those available), "
                             "auto: autotuning")
    parser.add_argument("--precision", choices=["tf32", "float32"], default="tf32",
                        help="TF32 tensor cores for Triton and cuDNN, or full float32")
    args = parser.parse_args()
    import cupy
    import torch
    from minigan.kernels import conv as triton_conv
    tf32 = args.precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    triton_conv.ALLOW_TF32 = tf32
    torch.backends.cudnn.benchmark = True
    impls = available_impls("conv2d", args.impls)
    print(f"{torch.cuda.get_device_name()}; minigan conv on CUDA: {', '.join(impls)}; "
          f"PyTorch {torch.__version__}, cuDNN {torch.backends.cudnn.version()}; "
          f"float32, {'TF32 on' if tf32 else 'TF32 off'} (CUDA C++: full float32)")
    print(f"{'layer':<24}{'impl':>20}{'fwd mg':>9}{'fwd pt':>9}{'ratio':>7}{'f+b mg':>9}"
          f"{'f+b pt':>9}{'ratio':>7}{'mg TF/s':>9}")
    rng = np.random.default_rng(0)
    for name, n, c, o, h, k, s, p, transposed in LAYERS:
        x = rng.standard_normal((n, c, h, h)).astype(np.float32)
        w = (rng.standard_normal((c, o, k, k) if transposed else (o, c, k, k)) * 0.05
             ).astype(np.float32)
        xm = mg.tensor(x, device="cuda", requires_grad=True)
        wm = mg.tensor(w, device="cuda", requires_grad=True)
        xt = torch.tensor(x, device="cuda", requires_grad=True)
        wt = torch.tensor(w, device="cuda", requires_grad=True)

        def mg_call(impl: str, backward: bool) -> None:
            with contextlib.ExitStack() as chosen:
                if impl == "auto":
                    chosen.enter_context(mg.backend.autotuning())
                else:
                    for op in ("conv2d", "conv_transpose2d", "conv2d_weight"):
                        chosen.enter_context(mg.backend.use_implementation(op, impl))
                y = (F.conv_transpose2d(xm, wm, stride=s, padding=p) if transposed
                     else F.conv2d(xm, wm, stride=s, padding=p))
                if backward:
                    y.backward(mg.ones(y.shape, device="cuda"))
                    xm.grad = wm.grad = None

        def pt_call(backward: bool) -> None:
            fn = torch.nn.functional
            y = (fn.conv_transpose2d(xt, wt, stride=s, padding=p) if transposed
                 else fn.conv2d(xt, wt, stride=s, padding=p))
            if backward:
                y.backward(torch.ones_like(y))
                xt.grad = wt.grad = None

        calls = {impl: functools.partial(mg_call, impl) for impl in impls}
        calls["pt"] = pt_call
        syncs = {key: cupy.cuda.Device().synchronize for key in impls}
        syncs["pt"] = torch.cuda.synchronize
        results = {}
        for backward in (False, True):
            samples: dict[str, list[float]] = {key: [] for key in calls}
            for _ in range(args.rounds):
                for key, call in calls.items():
                    for _ in range(3):
                        call(backward)                               # warm-up, compile
                    samples[key].append(cuda_time(lambda: call(backward), args.repeats,
                                                  syncs[key]))
            results[backward] = {key: statistics.median(v) for key, v in samples.items()}
        fwd, both = results[False], results[True]
        for impl in impls:
            rate = 3 * flops(n, c, o, h, k, s, p, transposed) / both[impl] / 1e12
            print(f"{name:<24}{impl:>20}{1e3 * fwd[impl]:>9.3f}{1e3 * fwd['pt']:>9.3f}"
                  f"{fwd[impl] / fwd['pt']:>7.2f}{1e3 * both[impl]:>9.3f}"
                  f"{1e3 * both['pt']:>9.3f}{both[impl] / both['pt']:>7.2f}{rate:>9.1f}")
    for tuning in mg.backend.tuning_results():                # what "auto" chose
        print(tuning)


if __name__ == "__main__":
    main()
