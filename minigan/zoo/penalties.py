"""Gradient penalties on the critic, each written once. Each differentiates the critic's
output with respect to its input with ``create_graph=True``, so the penalty's own
gradient reaches the critic's weights through the double backward.
"""
from __future__ import annotations

from minigan import creation
from minigan.autograd import grad
from minigan.nn.module import Module
from minigan.ops.norm import vector_norm
from minigan.random import Generator
from minigan.tensor import Tensor


def _input_gradient(critic: Module, x: Tensor) -> Tensor:
    """d sum_b D(x)_b / dx, recorded so it can be differentiated again.  x: (B, *)
    -> (B, *); each example's row is the gradient of its own output (D acts per
    example, batch norm excepted)."""
    x = x.detach().requires_grad_()
    (g,) = grad(critic(x).sum(), x, create_graph=True)
    return g


def per_example_norm(g: Tensor) -> Tensor:
    """||g_b||_2 over every axis but the first.   (B, *) -> (B,)"""
    return vector_norm(g.reshape(g.shape[0], -1), dim=1)


def interpolate(real: Tensor, fake: Tensor, generator: Generator | None = None) -> Tensor:
    """x̂ = eps x + (1 - eps) x̃ with one eps ~ U[0, 1] per example, shaped (B, 1, ...,
    1) to broadcast over the example's axes."""
    if real.shape != fake.shape:
        raise ValueError(f"gradient penalty: real {real.shape} and fake {fake.shape} "
                         f"batches must have the same shape")
    eps = creation.rand(real.shape[0], *([1] * (real.ndim - 1)), dtype=real.dtype,
                        device=real.device, generator=generator)
    return eps * real.detach() + (1 - eps) * fake.detach()


def gradient_penalty(critic: Module, real: Tensor, fake: Tensor,
                     generator: Generator | None = None, target: float = 1.0) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E_x̂[(||grad_x̂ D(x̂)||_2 - target)^2] on random
    interpolates x̂ between real and fake examples (``interpolate``). Multiply by the
    paper's lambda = 10 in the loss."""
    g = _input_gradient(critic, interpolate(real, fake, generator))
    return ((per_example_norm(g) - target) ** 2).mean()


def wgan_div_penalty(critic: Module, real: Tensor, fake: Tensor, k: float = 2.0,
                     p: float = 6.0) -> Tensor:
    """WGAN-div (Wu et al. 2018): k E_x[||grad_x D(x)||^p] over real and fake examples
    alike (the mean of the two batches' terms), with the paper's k = 2, p = 6.

    ||g||^p is computed as (||g||^2)^(p/2), smooth at g = 0 for p >= 2.
    """
    def term(x: Tensor) -> Tensor:
        g = _input_gradient(critic, x)
        squared = (g * g).reshape(g.shape[0], -1).sum(1)
        return (squared ** (p / 2)).mean()
    return k * 0.5 * (term(real) + term(fake))


def r1_penalty(critic: Module, real: Tensor, gamma: float = 10.0) -> Tensor:
    """R1 (Mescheder et al. 2018): gamma / 2 E_x[||grad_x D(x)||^2] on real data."""
    g = _input_gradient(critic, real)
    return gamma / 2 * (g * g).reshape(g.shape[0], -1).sum(1).mean()
