"""Batch, instance and layer norm on a GPU: the CUDA kernels against the array code and
PyTorch.

Forward and backward of each norm (float32, training statistics, weight and bias), at the
batch-norm layers of DCGAN (batch 64, width 64) and BigGAN, the instance norms of
CycleGAN's generator, and the layer norms of the WGAN-GP critic (over (C, H, W)):

    cuda    minigan's csrc/cuda/normalization.cuh through its launchers
            (minigan/cuda_kernels.py): one launch forward, with the running averages,
            and one backward (layer norm: dweight and dbias are array calls)
    arrays  the same math as array calls: minigan's ``numpy`` implementations of
            normalize_forward and normalize_backward on CuPy arrays (about 21 + 13
            kernels)
    torch   torch.nn.functional.batch_norm / instance_norm / layer_norm and their
            autograd backward (cuDNN's kernels for batch norm)

Each cell is the median over timed blocks of forward+backward calls, CUDA events around
each block after a warm-up, blocks alternating between implementations. Times in
microseconds; a ratio is the implementation's time over torch's (< 1: faster than torch).

    python bench/gpu_normalization.py [--repeats 50] [--rounds 5]
"""
from __future__ import annotations

import argparse
from typing import Any, Callable

import numpy as np

from gpu import median_times       # bench/gpu.py: CUDA-event timings, frameworks alternating
from minigan.ops.normalization import normalize_backward, normalize_forward

BATCH = ((0, 2, 3), (1,))          # dims, affine axes
INSTANCE = ((2, 3), (1,))
LAYER = ((1, 2, 3), (1, 2, 3))
LAYOUTS = {"batch": BATCH, "instance": INSTANCE, "layer": LAYER}
LAYERS = [  # name, kind, input shape
    ("DCGAN G 256 4x4", "batch", (64, 256, 4, 4)),
    ("DCGAN G 128 8x8", "batch", (64, 128, 8, 8)),
    ("DCGAN G 64 16x16", "batch", (64, 64, 16, 16)),
    ("DCGAN D 128 8x8", "batch", (64, 128, 8, 8)),
    ("DCGAN D 256 4x4", "batch", (64, 256, 4, 4)),
    ("BigGAN 768 8x8", "batch", (64, 768, 8, 8)),
    ("BigGAN 192 64x64", "batch", (16, 192, 64, 64)),
    ("BigGAN 96 128x128", "batch", (16, 96, 128, 128)),
    ("CycleGAN 64 256x256", "instance", (1, 64, 256, 256)),
    ("CycleGAN 256 64x64", "instance", (1, 256, 64, 64)),
    ("instance 64 32x32 x16", "instance", (16, 64, 32, 32)),
    ("WGAN-GP D 128 8x8", "layer", (64, 128, 8, 8)),
    ("WGAN-GP D 256 4x4", "layer", (64, 256, 4, 4)),
]
EPS, MOMENTUM = 1e-5, 0.1
NEEDS = (True, True, True)


def minigan_calls(cuda_kernels: Any, cupy: Any, kind: str, host: list[np.ndarray]
                  ) -> dict[str, Callable[[], Any]]:
    """Forward+backward by the CUDA launchers and by the array code, on CuPy arrays."""
    x, gy, weight, bias = (cupy.asarray(a) for a in host)
    dims, affine_axes = LAYOUTS[kind]
    c = x.shape[1]
    running = [cupy.zeros(c, np.float32), cupy.ones(c, np.float32)] if kind == "batch" \
        else [None, None]

    def pair(forward: Callable, backward: Callable) -> Callable[[], Any]:
        def call() -> Any:
            _, mean, invstd = forward(x, weight, bias, *running, MOMENTUM, dims, affine_axes,
                                      EPS)
            return backward(gy, x, weight, mean, invstd, dims, affine_axes, True, NEEDS)
        return call

    return {"cuda": pair(cuda_kernels.normalize_forward, cuda_kernels.normalize_backward),
            "arrays": pair(normalize_forward, normalize_backward)}


def torch_call(torch: Any, kind: str, host: list[np.ndarray]) -> Callable[[], Any]:
    """Forward+backward through PyTorch's autograd."""
    x, gy, weight, bias = (torch.from_numpy(a).cuda() for a in host)
    x.requires_grad_(True)
    weight.requires_grad_(True)
    bias.requires_grad_(True)
    c = x.shape[1]
    running = (torch.zeros(c, device="cuda"), torch.ones(c, device="cuda"))
    functional = torch.nn.functional

    def call() -> Any:
        if kind == "batch":
            y = functional.batch_norm(x, *running, weight, bias, training=True,
                                      momentum=MOMENTUM, eps=EPS)
        elif kind == "instance":
            y = functional.instance_norm(x, weight=weight, bias=bias, eps=EPS)
        else:
            y = functional.layer_norm(x, x.shape[1:], weight, bias, eps=EPS)
        return torch.autograd.grad(y, (x, weight, bias), gy)
    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=50, help="calls per timed block")
    parser.add_argument("--rounds", type=int, default=5, help="blocks per implementation")
    args = parser.parse_args()
    import cupy
    import torch

    from minigan import cuda_kernels
    reason = cuda_kernels.why_unavailable()
    if reason is not None:
        raise SystemExit(f"the CUDA kernels are not available: {reason}")
    print(f"{torch.cuda.get_device_name()}; CuPy {cupy.__version__}, PyTorch "
          f"{torch.__version__}; float32, forward + backward, microseconds per call")
    print(f"{'layer':<24}{'kind':>9}{'cuda':>9}{'arrays':>9}{'torch':>9}"
          f"{'cuda/torch':>12}{'arrays/torch':>14}")
    rng = np.random.default_rng(0)
    for name, kind, shape in LAYERS:
        affine = shape[1:] if kind == "layer" else shape[1:2]
        host = [(rng.standard_normal(shape) * 2 + 1).astype(np.float32),
                rng.standard_normal(shape).astype(np.float32),
                rng.uniform(0.5, 1.5, affine).astype(np.float32),
                rng.standard_normal(affine).astype(np.float32)]
        calls = minigan_calls(cuda_kernels, cupy, kind, host)
        calls["torch"] = torch_call(torch, kind, host)
        got, want = calls["cuda"](), calls["arrays"]()
        for g, w in zip(got, want):
            scale = float(cupy.abs(w).max())
            assert float(cupy.abs(g - w).max()) <= 1e-3 * scale, name
        syncs = {key: cupy.cuda.Device().synchronize for key in calls}
        syncs["torch"] = torch.cuda.synchronize
        t = {key: 1e6 * seconds for key, seconds in
             median_times(calls, syncs, args.repeats, args.rounds).items()}
        print(f"{name:<24}{kind:>9}{t['cuda']:>9.1f}{t['arrays']:>9.1f}{t['torch']:>9.1f}"
              f"{t['cuda'] / t['torch']:>12.2f}{t['arrays'] / t['torch']:>14.2f}")


if __name__ == "__main__":
    main()
