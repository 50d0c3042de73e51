"""Autograd overhead: a WGAN-GP critic step of a 4-layer MLP, minigan vs PyTorch CPU.

The critic is 2 -> 512 -> 512 -> 512 -> 1 with ReLU, batch 256 of 2-D points. One step:

    x_hat = eps * real + (1 - eps) * fake                    eps ~ U(0, 1), one per example
    g     = grad(D(x_hat).sum(), x_hat, create_graph=True)   (a graph of the gradient)
    loss  = mean D(fake) - mean D(real) + 10 * mean (||g||_2 - 1)^2
    loss.backward(); w -= lr * dw for each weight

Work per step (multiply-adds of the three 512x512 layers dominate): forward of D three
times and the double backward of the penalty, about 14 GEMMs of 256x512x512, i.e. ~1 GFLOP;
the rest is elementwise. Both frameworks run on all cores in the same process, in timed
blocks (warm-up steps, then ``--repeats`` steps) that alternate over ``--rounds`` rounds:
block timing keeps one framework's idle threads from being counted against the other's
single steps. The table prints the median step time and the ratio minigan / PyTorch.

    python bench/autograd_overhead.py [--repeats 10] [--rounds 3]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigan as mg
import minigan.nn.functional as F

from ratio_table import print_rows  # bench/ratio_table.py

WIDTHS = [2, 512, 512, 512, 1]
BATCH = 256
LR = 1e-4


def make_weights(rng: np.random.Generator) -> list[np.ndarray]:
    arrays = []
    for fan_in, fan_out in zip(WIDTHS[:-1], WIDTHS[1:]):
        arrays.append((rng.standard_normal((fan_out, fan_in)) / np.sqrt(fan_in))
                      .astype(np.float32))
        arrays.append(np.zeros(fan_out, np.float32))
    return arrays


def minigan_step(params: list[mg.Tensor], real: mg.Tensor, fake: mg.Tensor,
                 eps: mg.Tensor, penalty: bool) -> float:
    def critic(x: mg.Tensor) -> mg.Tensor:
        for i in range(0, len(params) - 2, 2):
            x = F.relu(F.linear(x, params[i], params[i + 1]))
        return F.linear(x, params[-2], params[-1])

    loss = critic(fake).mean() - critic(real).mean()
    if penalty:
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_()
        (g,) = mg.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        loss = loss + 10 * ((F.vector_norm(g, dim=1) - 1) ** 2).mean()
    loss.backward()
    with mg.no_grad():
        for p in params:
            p.data -= LR * p.grad.data
            p.grad = None
    return loss.item()


def torch_step(torch, params, real, fake, eps, penalty: bool) -> float:
    def critic(x):
        for i in range(0, len(params) - 2, 2):
            x = torch.relu(torch.nn.functional.linear(x, params[i], params[i + 1]))
        return torch.nn.functional.linear(x, params[-2], params[-1])

    loss = critic(fake).mean() - critic(real).mean()
    if penalty:
        x_hat = (eps * real + (1 - eps) * fake).requires_grad_()
        (g,) = torch.autograd.grad(critic(x_hat).sum(), x_hat, create_graph=True)
        loss = loss + 10 * ((g.norm(dim=1) - 1) ** 2).mean()
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= LR * p.grad
            p.grad = None
    return loss.item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=10, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    weights = make_weights(rng)
    real_np = rng.standard_normal((BATCH, 2)).astype(np.float32)
    fake_np = rng.standard_normal((BATCH, 2)).astype(np.float32)
    eps_np = rng.uniform(size=(BATCH, 1)).astype(np.float32)

    runners = {"minigan": lambda penalty: minigan_step(
        mg_params, mg_real, mg_fake, mg_eps, penalty)}
    mg_params = [mg.tensor(w, requires_grad=True) for w in weights]
    mg_real, mg_fake, mg_eps = mg.tensor(real_np), mg.tensor(fake_np), mg.tensor(eps_np)
    try:
        import torch
        t_params = [torch.tensor(w, requires_grad=True) for w in weights]
        t_real, t_fake, t_eps = (torch.tensor(a) for a in (real_np, fake_np, eps_np))
        runners["pytorch"] = lambda penalty: torch_step(
            torch, t_params, t_real, t_fake, t_eps, penalty)
        peer = f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads"
    except ImportError:
        peer = "PyTorch not installed: no ratio"

    print(f"WGAN-GP critic step, MLP {'-'.join(map(str, WIDTHS))}, batch {BATCH}; {peer}")
    print(f"{'case':<26}{'framework':<10}{'median ms':>11}{'min ms':>9}{'ratio':>8}")
    for case, penalty in [("critic step with penalty", True), ("critic step, no penalty", False)]:
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                for _ in range(3):
                    run(penalty)                                     # warm-up
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    run(penalty)
                    times[name].append(time.perf_counter() - start)
        print_rows(case, times, 26, 1e3)


if __name__ == "__main__":
    main()
