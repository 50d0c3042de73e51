"""WGAN-GP on the 2-D ring of eight Gaussians, written on the bare engine.

Gulrajani et al. (2017), Algorithm 1, with an MLP generator and critic:

    for each generator step:
        for n_critic steps:
            x ~ data, z ~ N(0, I), eps ~ U(0, 1) per example
            x_hat = eps x + (1 - eps) G(z)
            L_D = D(G(z)) - D(x) + lambda (||grad_x_hat D(x_hat)||_2 - 1)^2     (mean over batch)
            Adam step on D
        L_G = -D(G(z));  Adam step on G

The data are eight Gaussians with means on the unit circle and standard deviation 0.01;
lambda = 0.1, as the paper's authors use for their 2-D toy experiments.
At the end the script reports the modes covered and the share of samples within three
standard deviations of a mode (2,500 samples).

    python examples/wgan_gp.py [--steps 1500] [--seed 0]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

import minigan as mg
import minigan.nn.functional as F

STD = 0.01
MEANS = np.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)]
                  for k in range(8)])


def sample_ring(n: int, rng: np.random.Generator) -> mg.Tensor:
    points = MEANS[rng.integers(0, 8, n)] + STD * rng.standard_normal((n, 2))
    return mg.tensor(points.astype(np.float32))


def mlp(sizes: list[int], rng: np.random.Generator) -> list[mg.Tensor]:
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / math.sqrt(fan_in)
        params.append(mg.tensor(rng.uniform(-bound, bound, (fan_out, fan_in)),
                                dtype=mg.float32, requires_grad=True))
        params.append(mg.zeros(fan_out, requires_grad=True))
    return params


def forward(params: list[mg.Tensor], x: mg.Tensor) -> mg.Tensor:
    for i in range(0, len(params) - 2, 2):
        x = F.relu(F.linear(x, params[i], params[i + 1]))
    return F.linear(x, params[-2], params[-1])


class Adam:
    """Kingma & Ba (2015): m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
    w -= lr * (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) + eps)."""

    def __init__(self, params: list[mg.Tensor], lr: float, betas: tuple[float, float]):
        self.params, self.lr, (self.b1, self.b2) = params, lr, betas
        self.m = [np.zeros_like(p.data) for p in params]
        self.v = [np.zeros_like(p.data) for p in params]
        self.t = 0

    def step(self) -> None:
        self.t += 1
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad.data
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            m_hat = m / (1 - self.b1 ** self.t)
            v_hat = v / (1 - self.b2 ** self.t)
            p.data -= self.lr * m_hat / (np.sqrt(v_hat) + 1e-8)
            p.grad = None


def gradient_penalty(critic: list[mg.Tensor], real: mg.Tensor, fake: mg.Tensor,
                     eps: mg.Tensor) -> mg.Tensor:
    """E[(||grad_x_hat D(x_hat)||_2 - 1)^2], x_hat = eps real + (1 - eps) fake; eps: (B, 1)."""
    x_hat = (eps * real + (1 - eps) * fake).detach().requires_grad_()
    (g,) = mg.grad(forward(critic, x_hat).sum(), x_hat, create_graph=True)
    return ((F.vector_norm(g, dim=1) - 1) ** 2).mean()


def ring_quality(samples: np.ndarray) -> tuple[int, float]:
    """(modes covered, share of high-quality samples): a sample is high quality within
    3 std of its nearest mean; a mode is covered by at least one high-quality sample."""
    distances = np.linalg.norm(samples[:, None, :] - MEANS[None], axis=2)
    nearest = distances.argmin(1)
    good = distances.min(1) <= 3 * STD
    return len(set(nearest[good].tolist())), float(good.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description="WGAN-GP on the 2-D ring of 8 Gaussians")
    parser.add_argument("--steps", type=int, default=1500, help="generator steps")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-critic", type=int, default=5, help="critic steps per G step")
    parser.add_argument("--gp-weight", type=float, default=0.1,
                        help="lambda; the paper uses 10 for images, and its authors' code "
                             "0.1 for these 2-D toy tasks")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    mg.manual_seed(args.seed)
    generator, critic = mlp([2, 256, 256, 256, 2], rng), mlp([2, 256, 256, 256, 1], rng)
    opt_g, opt_d = Adam(generator, args.lr, (0.5, 0.9)), Adam(critic, args.lr, (0.5, 0.9))
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        for _ in range(args.n_critic):
            real = sample_ring(args.batch_size, rng)
            with mg.no_grad():
                fake = forward(generator, mg.randn(args.batch_size, 2))
            eps = mg.rand(args.batch_size, 1)
            loss_d = (forward(critic, fake).mean() - forward(critic, real).mean()
                      + args.gp_weight * gradient_penalty(critic, real, fake, eps))
            loss_d.backward()
            opt_d.step()
        loss_g = -forward(critic, forward(generator, mg.randn(args.batch_size, 2))).mean()
        loss_g.backward()
        opt_g.step()
        for p in critic:
            p.grad = None
        if step % 100 == 0 or step == args.steps:
            rate = step / (time.perf_counter() - start)
            print(f"step {step:>5}/{args.steps}  loss_D {loss_d.item():+.4f}  "
                  f"loss_G {loss_g.item():+.4f}  {rate:.1f} steps/s", flush=True)
    with mg.no_grad():
        samples = forward(generator, mg.randn(2500, 2)).numpy()
    modes, quality = ring_quality(samples)
    print(f"modes covered: {modes}/8, high-quality samples: {100 * quality:.1f}%")


if __name__ == "__main__":
    main()
