"""Convolutions on the CPU: minigan vs PyTorch, per layer, forward and forward+backward.

Layers: a 32x32 DCGAN at batch 64 (critic convs 3->64->128->256, kernel 4, stride 2,
padding 1; the generator's mirror with conv_transpose2d) and a CycleGAN ResNet-block conv
(256 channels, reflect padding 1 then a 3x3 conv, 64x64, batch 1).

FLOPs per layer: forward 2 N O Ho Wo (C/g) kh kw; forward+backward three times that (the
input and the weight gradient are each one more GEMM of the same size). The last column
is minigan's forward+backward rate as a share of this machine's float32 GEMM rate,
measured here on a 2048^3 product: the ceiling for any im2col convolution. The two
frameworks are timed in alternating blocks of calls (see ``timed``).

Peak memory: two DCGAN critic steps (four convs with leaky ReLU, BCE on a real and a fake
batch of 64, backward) in a fresh process per framework; a thread samples the resident
set every millisecond and the peak above the level before the first step is shown, so
memory a framework keeps between steps (minigan's im2col workspace) counts. glibc's mmap
threshold is fixed at 64 KiB so that freed memory leaves the resident set.

    python bench/conv_cpu.py [--repeats 5] [--rounds 3] [--impl cpp|numpy]
"""
from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import threading
import time
from typing import Callable, Iterator

import numpy as np

import minigan as mg
import minigan.nn.functional as F
from minigan.backend import use_implementation

CONV_OPS = ("conv2d", "conv_transpose2d", "conv2d_weight")


def layers() -> list[dict]:
    def conv(name, n, c, o, size, k, s, p, transpose=False, reflect=0):
        return dict(name=name, n=n, c=c, o=o, size=size, k=k, s=s, p=p,
                    transpose=transpose, reflect=reflect)
    return [
        conv("D conv1 3->64 32->16", 64, 3, 64, 32, 4, 2, 1),
        conv("D conv2 64->128 16->8", 64, 64, 128, 16, 4, 2, 1),
        conv("D conv3 128->256 8->4", 64, 128, 256, 8, 4, 2, 1),
        conv("G convT 256->128 4->8", 64, 256, 128, 4, 4, 2, 1, transpose=True),
        conv("G convT 128->64 8->16", 64, 128, 64, 8, 4, 2, 1, transpose=True),
        conv("G convT 64->3 16->32", 64, 64, 3, 16, 4, 2, 1, transpose=True),
        conv("ResNet 256 3x3 64x64", 1, 256, 256, 64, 3, 1, 0, reflect=1),
    ]


def flops(layer: dict) -> float:
    """Forward multiply-adds x 2, counted on the dense (non-transposed) side."""
    n, c, o, k = layer["n"], layer["c"], layer["o"], layer["k"]
    size = layer["size"] + 2 * layer["reflect"]
    if layer["transpose"]:
        return 2.0 * n * c * layer["size"] ** 2 * o * k * k
    out = (size + 2 * layer["p"] - k) // layer["s"] + 1
    return 2.0 * n * o * out * out * c * k * k


def weight_shape(layer: dict) -> tuple[int, ...]:
    if layer["transpose"]:
        return (layer["c"], layer["o"], layer["k"], layer["k"])
    return (layer["o"], layer["c"], layer["k"], layer["k"])


def minigan_layer(layer: dict, x: np.ndarray, w: np.ndarray) -> Callable[[bool], None]:
    xt, wt = mg.tensor(x, requires_grad=True), mg.tensor(w, requires_grad=True)

    def run(backward: bool) -> None:
        h = F.pad(xt, (layer["reflect"],) * 4, mode="reflect") if layer["reflect"] else xt
        if layer["transpose"]:
            y = F.conv_transpose2d(h, wt, stride=layer["s"], padding=layer["p"])
        else:
            y = F.conv2d(h, wt, stride=layer["s"], padding=layer["p"])
        if backward:
            y.backward(mg.ones(y.shape, dtype=y.dtype))
            xt.grad = wt.grad = None
    return run


def torch_layer(torch, layer: dict, x: np.ndarray, w: np.ndarray) -> Callable[[bool], None]:
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(w, requires_grad=True)
    fn = torch.nn.functional

    def run(backward: bool) -> None:
        h = fn.pad(xt, (layer["reflect"],) * 4, mode="reflect") if layer["reflect"] else xt
        if layer["transpose"]:
            y = fn.conv_transpose2d(h, wt, stride=layer["s"], padding=layer["p"])
        else:
            y = fn.conv2d(h, wt, stride=layer["s"], padding=layer["p"])
        if backward:
            y.backward(torch.ones_like(y))
            xt.grad = wt.grad = None
    return run


def gemm_rate(repeats: int = 5) -> float:
    a = np.random.default_rng(0).standard_normal((2048, 2048)).astype(np.float32)
    a @ a
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - start)
    return 2 * 2048 ** 3 / min(times)


def timed(runs: dict[str, Callable[[bool], None]], backward: bool, repeats: int,
          rounds: int) -> dict[str, float]:
    """Median time per call of each runner, timed in blocks that alternate over rounds."""
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            run(backward)                                            # warm-up
            for _ in range(repeats):
                start = time.perf_counter()
                run(backward)
                samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    parser.add_argument("--impl", default=None, help="force an implementation (cpp, numpy)")
    parser.add_argument("--memory-of", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_of:
        print(critic_step_memory(args.memory_of))
        return
    try:
        import torch
        peer = f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch, peer = None, "PyTorch not installed: no ratios"
    impl = args.impl or mg.backend.implementation("conv2d", "cpu").name
    peak = gemm_rate()
    print(f"minigan conv implementation: {impl}; {peer}; float32 GEMM rate "
          f"{peak / 1e9:.0f} GFLOP/s")
    print(f"{'layer':<24}{'fwd mg':>9}{'fwd pt':>9}{'ratio':>7}{'f+b mg':>9}{'f+b pt':>9}"
          f"{'ratio':>7}{'mg % GEMM':>10}")
    rng = np.random.default_rng(0)
    for layer in layers():
        x = rng.standard_normal((layer["n"], layer["c"], layer["size"], layer["size"]))
        w = rng.standard_normal(weight_shape(layer)) * 0.05
        x, w = x.astype(np.float32), w.astype(np.float32)
        runs = {"minigan": minigan_layer(layer, x, w)}
        if torch is not None:
            runs["pytorch"] = torch_layer(torch, layer, x, w)
        with _forced(impl):
            forward = timed(runs, False, args.repeats, args.rounds)
            both = timed(runs, True, args.repeats, args.rounds)
        mg_fwd, mg_both = forward["minigan"], both["minigan"]
        pt_fwd, pt_both = forward.get("pytorch"), both.get("pytorch")
        share = 3 * flops(layer) / mg_both / peak

        def fmt(value: float | None) -> str:
            return f"{1e3 * value:>9.2f}" if value is not None else f"{'-':>9}"

        def ratio(a: float, b: float | None) -> str:
            return f"{a / b:>7.2f}" if b else f"{'-':>7}"

        print(f"{layer['name']:<24}{fmt(mg_fwd)}{fmt(pt_fwd)}{ratio(mg_fwd, pt_fwd)}"
              f"{fmt(mg_both)}{fmt(pt_both)}{ratio(mg_both, pt_both)}{100 * share:>9.0f}%")
    memory_table(["minigan"] + (["pytorch"] if torch is not None else []))


CRITIC = [(3, 64, 2, 1), (64, 128, 2, 1), (128, 256, 2, 1), (256, 1, 1, 0)]  # c, o, s, p


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_during(step: Callable[[], None]) -> int:
    """Peak resident bytes above the starting level while ``step`` runs (1 ms sampling)."""
    start, peak, done = _resident_bytes(), [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _resident_bytes())
            time.sleep(0.001)

    sampler = threading.Thread(target=sample)
    sampler.start()
    step()
    done.set()
    sampler.join()
    return max(peak[0], _resident_bytes()) - start


def critic_step_memory(framework: str) -> int:
    """Peak extra bytes of two DCGAN critic steps in ``framework`` (in its own process)."""
    rng = np.random.default_rng(0)
    shapes = [(o, c, 4, 4) for c, o, _, _ in CRITIC]
    weights = [(rng.standard_normal(s) * 0.02).astype(np.float32) for s in shapes]
    real, fake = (rng.standard_normal((64, 3, 32, 32)).astype(np.float32) for _ in range(2))
    if framework == "minigan":
        params = [mg.tensor(w, requires_grad=True) for w in weights]
        images = [mg.tensor(real), mg.tensor(fake)]
        targets = [mg.ones(64, 1, 1, 1), mg.zeros(64, 1, 1, 1)]
        conv, act, loss_fn = F.conv2d, F.leaky_relu, F.binary_cross_entropy_with_logits
    else:
        import torch
        params = [torch.tensor(w, requires_grad=True) for w in weights]
        images = [torch.tensor(real), torch.tensor(fake)]
        targets = [torch.ones(64, 1, 1, 1), torch.zeros(64, 1, 1, 1)]
        fn = torch.nn.functional
        conv, act, loss_fn = fn.conv2d, fn.leaky_relu, fn.binary_cross_entropy_with_logits

    def step() -> None:
        loss = 0
        for x, t in zip(images, targets):
            for (_, _, s, p), w in zip(CRITIC, params):
                x = conv(x, w, stride=s, padding=p)
                if w is not params[-1]:
                    x = act(x, 0.2)
            loss = loss + loss_fn(x, t)
        loss.backward()
        for w in params:
            w.grad = None

    return _peak_during(lambda: (step(), step()))


def memory_table(frameworks: list[str]) -> None:
    print("\nPeak memory of DCGAN critic steps above the level before them (MiB)")
    results = {}
    # A fixed mmap threshold makes glibc return every freed block of 64 KiB or more to the
    # system at once, so the resident set follows live memory in both frameworks alike.
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="65536")
    for name in frameworks:
        out = subprocess.run([sys.executable, __file__, "--memory-of", name], env=env,
                             capture_output=True, text=True, check=True).stdout
        results[name] = int(out.strip().splitlines()[-1]) / 2 ** 20
    for name, mib in results.items():
        ratio = f"  ratio {mib / results['pytorch']:.2f}" if "pytorch" in results else ""
        print(f"  {name:<8}{mib:>8.1f}{ratio if name == 'minigan' else ''}")


@contextlib.contextmanager
def _forced(name: str) -> Iterator[None]:
    """Force all three conv ops to one implementation for a block."""
    with contextlib.ExitStack() as stack:
        for op in CONV_OPS:
            stack.enter_context(use_implementation(op, name))
        yield


if __name__ == "__main__":
    main()
