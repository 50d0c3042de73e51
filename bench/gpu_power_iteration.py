"""Spectral norm's power iteration on a GPU: the fused Triton step against its peers.

One step plus sigma (``--steps`` to change), float32, on conv and linear weights of DCGAN,
SAGAN and BigGAN reshaped to (M, N) = (C_out, C_in kh kw):

    fused   minigan's Triton kernel (kernels/spectral_norm.py): one launch per step
    cuda    minigan's CUDA C++ kernel (csrc/cuda/spectral_norm.cuh): one launch per step,
            when minigan._C was built with it
    cupy    the same math as separate CuPy calls: minigan's NumPy reference on CuPy arrays
            (products, norms, maxima, divisions: about ten launches per step)
    torch   torch.nn.utils.spectral_norm's iteration, no grad: v = normalize(W^T u),
            u = normalize(W v), then sigma = u . (W v) with a third product, as it does

Each cell is the median over timed blocks of calls, measured with CUDA events after a
warm-up (which also compiles the kernel), blocks alternating between implementations.
Times are microseconds per call; a ratio is the peer's time over the fused Triton
kernel's (> 1: fused is faster); GB/s is the fused step's reading of W twice per step.

    python bench/gpu_power_iteration.py [--repeats 50] [--rounds 5] [--steps 1]
"""
from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

from gpu import median_times       # bench/gpu.py: CUDA-event timings, frameworks alternating
from minigan.ops.spectral import power_iteration_numpy

WEIGHTS = [  # name, M, N
    ("DCGAN D 4x4 3->64", 64, 48),
    ("DCGAN D 4x4 64->128", 128, 1024),
    ("DCGAN D 4x4 128->256", 256, 2048),
    ("DCGAN D 4x4 256->512", 512, 4096),
    ("SAGAN 3x3 256->256", 256, 2304),
    ("SAGAN/BigGAN 3x3 512->512", 512, 4608),
    ("BigGAN 3x3 768->768", 768, 6912),
    ("BigGAN 1x1 768->192", 192, 768),
    ("BigGAN 3x3 96->3", 3, 864),
    ("linear 1024x1024", 1024, 1024),
    ("BigGAN G linear 20->24576", 24576, 20),
]
EPS = 1e-12


def torch_iteration(torch: Any, w: Any, u: Any, steps: int) -> tuple[Any, Any, Any]:
    """torch.nn.utils.spectral_norm's compute_weight, without the weight division."""
    normalize = torch.nn.functional.normalize
    with torch.no_grad():
        for _ in range(steps):
            v = normalize(torch.mv(w.t(), u), dim=0, eps=EPS)
            u = normalize(torch.mv(w, v), dim=0, eps=EPS)
        return u, v, torch.dot(u, torch.mv(w, v))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per implementation")
    parser.add_argument("--steps", type=int, default=1, help="power-iteration steps per call")
    args = parser.parse_args()
    import cupy
    import torch
    import triton

    from minigan.kernels.spectral_norm import spectral_norm_power_iteration as fused
    print(f"{torch.cuda.get_device_name()}; Triton {triton.__version__}, CuPy "
          f"{cupy.__version__}, PyTorch {torch.__version__}; float32, {args.steps} step(s) "
          "+ sigma per call; microseconds per call")
    from minigan import cuda_kernels
    with_cuda = cuda_kernels.why_unavailable() is None
    print(f"{'weight':<27}{'M':>6}{'N':>6}{'fused':>9}{'cupy':>9}{'ratio':>7}{'torch':>9}"
          f"{'ratio':>7}{'GB/s':>7}" + (f"{'cuda':>9}{'ratio':>7}" if with_cuda else ""))
    rng = np.random.default_rng(0)
    for name, m, n in WEIGHTS:
        w_host = (rng.standard_normal((m, n)) / np.sqrt(n)).astype(np.float32)
        u_host = rng.standard_normal(m).astype(np.float32)
        w, u = cupy.asarray(w_host), cupy.asarray(u_host)
        wt, ut = torch.from_numpy(w_host).cuda(), torch.from_numpy(u_host).cuda()
        calls: dict[str, Callable[[], Any]] = {
            "fused": lambda: fused(w, u, args.steps, EPS, cupy),
            "cupy": lambda: power_iteration_numpy(w, u, args.steps, EPS),
            "torch": lambda: torch_iteration(torch, wt, ut, args.steps),
        }
        if with_cuda:
            calls["cuda"] = lambda: cuda_kernels.power_iteration(w, u, args.steps, EPS)
        sigmas = {key: float(call()[2]) for key, call in calls.items()}
        for key, value in sigmas.items():
            assert abs(value - sigmas["cupy"]) <= 1e-4 * sigmas["cupy"], (name, sigmas)
        syncs = {key: cupy.cuda.Device().synchronize for key in calls}
        syncs["torch"] = torch.cuda.synchronize
        t = {key: 1e6 * seconds for key, seconds in
             median_times(calls, syncs, args.repeats, args.rounds).items()}
        rate = 2 * args.steps * m * n * 4 / (t["fused"] * 1e-6) / 1e9
        print(f"{name:<27}{m:>6}{n:>6}{t['fused']:>9.1f}{t['cupy']:>9.1f}"
              f"{t['cupy'] / t['fused']:>7.2f}{t['torch']:>9.1f}{t['torch'] / t['fused']:>7.2f}"
              f"{rate:>7.0f}"
              + (f"{t['cuda']:>9.1f}{t['cuda'] / t['fused']:>7.2f}" if with_cuda else ""))


if __name__ == "__main__":
    main()
