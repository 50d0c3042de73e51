"""GAN training steps on the CPU, minigan vs PyTorch in the same process.

Two cases on 32x32x3 images, batch 64, nz 100, 64 base channels (by default), Adam:

* DCGAN step: one discriminator update (BCE on D(x) and D(G(z)), batch norm in both
  networks), then one generator update (non-saturating BCE; D frozen).
* WGAN-GP critic step: the same critic without batch norm; E D(G(z)) - E D(x) plus
  10 E (||grad D(x̂)||_2 - 1)^2 on per-example interpolates, one Adam update.

Work: the critic is conv 3->64->128->256 (stride 2, kernel 4) and a 4x4 conv to 1; the
generator its mirror from 100 -> 256x4x4. A forward of G is about 0.42 GFLOP per batch
of 64 (multiply-adds x 2), D about 0.19; the DCGAN step runs G once, D three times plus
their backward passes (x2 each): about 3 GFLOP. The WGAN-GP critic step adds the penalty's
double backward through D: about 2.5 GFLOP. PyTorch gets the same weights and inputs.
Steps are timed in blocks that alternate between the frameworks (see
bench/autograd_overhead.py for why); the table prints median times and the ratio.

    python bench/train_step.py [--repeats 5] [--rounds 3] [--device cuda] [--autotune]
                               [--triton-dispatch] [--batch 64] [--width 64]

With ``--device cuda`` both frameworks run on the GPU (minigan on CuPy with its default
kernels, PyTorch eager with cuDNN); every timed step ends with a synchronisation. With
``--autotune`` minigan times its implementations of each hot op on the first call with
each shape (in the untimed warm-up) and keeps the fastest; the measurements are printed.
``--triton-dispatch`` sends every Triton launch through Triton's own dispatch instead of
the compiled kernel kept for its launch signature (``REUSE_COMPILED`` of
kernels/arrays.py): the difference between the two runs is what keeping them saves per
step. A tiny ``--batch 2 --width 4`` leaves almost no arithmetic: what is timed is the work per
op on the host (dispatch, autograd, launches), the regime of a GPU step at small sizes.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import minigan as mg
from minigan import zoo

from ratio_table import print_rows  # bench/ratio_table.py

BATCH, NZ, WIDTH, SIZE = 64, 100, 64, 32


def minigan_case(recipe: zoo.Recipe, real: np.ndarray, device: str):
    mg.manual_seed(0)
    gan = zoo.build_gan(recipe, (3, SIZE, SIZE), NZ, WIDTH, device)
    x = mg.tensor(real, device=device)
    gen = mg.Generator(0)

    def step() -> None:
        if recipe.penalty is None:
            zoo.train_step(gan, [x], gen)
        else:
            zoo.critic_step(gan, x, gen)
        if device == "cuda":
            mg.cuda.synchronize()
    return gan, step


def torch_models(torch, gan: zoo.GAN, batch_norm: bool):
    """PyTorch copies of minigan's DCGAN pair (same layers, same weights)."""
    nn, w = torch.nn, WIDTH

    def norm(c: int):
        return nn.BatchNorm2d(c) if batch_norm else nn.Identity()
    g = nn.Sequential(
        nn.Unflatten(1, (NZ, 1, 1)),
        nn.ConvTranspose2d(NZ, 4 * w, 4, 1, 0, bias=False), nn.BatchNorm2d(4 * w), nn.ReLU(),
        nn.ConvTranspose2d(4 * w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU(),
        nn.ConvTranspose2d(2 * w, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU(),
        nn.ConvTranspose2d(w, 3, 4, 2, 1), nn.Tanh())
    d = nn.Sequential(
        nn.Conv2d(3, w, 4, 2, 1), nn.LeakyReLU(0.2),
        nn.Conv2d(w, 2 * w, 4, 2, 1, bias=not batch_norm), norm(2 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(2 * w, 4 * w, 4, 2, 1, bias=not batch_norm), norm(4 * w), nn.LeakyReLU(0.2),
        nn.Conv2d(4 * w, 1, 4, 1, 0), nn.Flatten())
    for torch_net, mg_net in ((g, gan.generator), (d, gan.critic)):
        state = {k.removeprefix("net."): torch.tensor(v.cpu().numpy())
                 for k, v in mg_net.state_dict().items()}
        torch_net.load_state_dict(state, strict=True)
    return g, d


def torch_case(torch, gan: zoo.GAN, recipe: zoo.Recipe, real: np.ndarray, device: str):
    g, d = torch_models(torch, gan, batch_norm=recipe.d_norm == "batch")
    g, d = g.to(device), d.to(device)
    opt_g = torch.optim.Adam(g.parameters(), lr=recipe.lr_g, betas=recipe.betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=recipe.lr_d, betas=recipe.betas)
    x = torch.tensor(real, device=device)
    F = torch.nn.functional

    def randn(*shape):
        return torch.randn(*shape, device=device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    def dcgan_step():
        with torch.no_grad():
            fake = g(randn(BATCH, NZ))
        loss_d = F.softplus(-d(x)).mean() + F.softplus(d(fake)).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        d.requires_grad_(False)
        loss_g = F.softplus(-d(g(randn(BATCH, NZ)))).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        d.requires_grad_(True)
        sync()

    def wgan_gp_critic_step():
        with torch.no_grad():
            fake = g(randn(BATCH, NZ))
        loss = d(fake).mean() - d(x).mean()
        eps = torch.rand(BATCH, 1, 1, 1, device=device)
        x_hat = (eps * x + (1 - eps) * fake).requires_grad_()
        (grad,) = torch.autograd.grad(d(x_hat).sum(), x_hat, create_graph=True)
        loss = loss + 10 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        sync()
    return dcgan_step if recipe.penalty is None else wgan_gp_critic_step


def main() -> None:
    global BATCH, WIDTH
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per block")
    parser.add_argument("--rounds", type=int, default=3, help="blocks per framework")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--batch", type=int, default=BATCH, help="examples per batch")
    parser.add_argument("--width", type=int, default=WIDTH, help="base channels of the nets")
    parser.add_argument("--autotune", action="store_true",
                        help="minigan picks each hot op's implementation by timing them "
                             "on the first call with each shape (minigan.backend)")
    parser.add_argument("--triton-dispatch", action="store_true",
                        help="every Triton launch through Triton's own dispatch, no kept "
                             "compiled kernels (kernels/arrays.py)")
    args = parser.parse_args()
    BATCH, WIDTH = args.batch, args.width
    mg.backend.set_autotune(args.autotune)
    if args.triton_dispatch:
        from minigan.kernels import arrays
        arrays.REUSE_COMPILED = False
    real = np.random.default_rng(0).uniform(-1, 1, (BATCH, 3, SIZE, SIZE)).astype(np.float32)
    try:
        import torch
        peer = (f"PyTorch {torch.__version__} eager on {torch.cuda.get_device_name()}"
                if args.device == "cuda" else
                f"PyTorch {torch.__version__} CPU, {torch.get_num_threads()} threads")
    except ImportError:
        torch, peer = None, "PyTorch not installed: no ratio"
    cases = {"DCGAN step": zoo.RECIPES["dcgan"],
             "WGAN-GP critic step": zoo.RECIPES["wgan_gp"].with_overrides(d_norm="none")}
    print(f"32x32x3, batch {BATCH}, nz {NZ}, width {WIDTH}, Adam; {peer}")
    print(f"{'case':<22}{'framework':<10}{'median ms':>11}{'min ms':>9}{'ratio':>8}")
    for case, recipe in cases.items():
        gan, mg_step = minigan_case(recipe, real, args.device)
        runners = {"minigan": mg_step}
        if torch is not None:
            runners["pytorch"] = torch_case(torch, gan, recipe, real, args.device)
        times: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(args.rounds):
            for name, run in runners.items():
                run()                                                   # warm-up
                for _ in range(args.repeats):
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
        print_rows(case, times, 22, 1e3)
    for tuning in mg.backend.tuning_results():
        print(tuning)


if __name__ == "__main__":
    main()
