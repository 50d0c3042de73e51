"""One GAN training step, shared by every variant of the first family:

    for t in 1..n_critic:                                    (the critic's turn)
        x ~ data, z ~ N(0, I)
        L_D = d_loss(D(x), D(G(z))) + weight * penalty(D, x, G(z))
        update D; clip D's weights to [-c, c] (WGAN)
    z ~ N(0, I)
    L_G = g_loss(D(G(z)))                                   (the generator's turn)
    update G

The recipe (``minigan.zoo.recipe``) says which loss, penalty, schedule and optimiser.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from minigan import creation, nn, optim
from minigan.autograd import no_grad
from minigan.ops.shape import stack
from minigan.random import Generator
from minigan.tensor import Tensor
from minigan.zoo.losses import LOSSES
from minigan.zoo.networks import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator
from minigan.zoo.penalties import gradient_penalty, r1_penalty, wgan_div_penalty
from minigan.zoo.recipe import Recipe


@dataclass
class GAN:
    """A generator, a critic, their optimisers and the recipe that trains them."""

    generator: nn.Module
    critic: nn.Module
    opt_g: optim.Optimizer
    opt_d: optim.Optimizer
    recipe: Recipe
    latent_dim: int

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.state_dict(), "critic": self.critic.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.load_state_dict(state["generator"])
        self.critic.load_state_dict(state["critic"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])


def _optimizer(recipe: Recipe, params: Any, lr: float) -> optim.Optimizer:
    if recipe.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    return optim.Adam(params, lr=lr, betas=recipe.betas)


def build_gan(recipe: Recipe, data_shape: Sequence[int], latent_dim: int | None = None,
              width: int | None = None, device: str = "cpu") -> GAN:
    """Networks for ``data_shape``: (2,) points get the MLP pair (width 256 by default),
    (C, S, S) images the DCGAN pair (base width 32 for 16-pixel images, 64 above) with the
    recipe's norms, spectral norm and attention (at S / 2 in G, S / 4 in D: SAGAN puts it
    at the middle resolutions)."""
    shape = tuple(data_shape)
    if len(shape) == 1:
        latent_dim = latent_dim or 2
        width = width or 256
        g: nn.Module = MLPGenerator(latent_dim, shape[0], width, spectral=recipe.spectral)
        d: nn.Module = MLPCritic(shape[0], width, spectral=recipe.spectral)
    elif len(shape) == 3 and shape[1] == shape[2]:
        latent_dim = latent_dim or 100
        size = shape[1]
        width = width or (32 if size <= 16 else 64)
        g = DCGANGenerator(latent_dim, shape[0], size, width, recipe.g_norm, recipe.spectral,
                           size // 2 if recipe.attention else None)
        d = DCGANCritic(shape[0], size, width, recipe.d_norm, recipe.spectral,
                        size // 4 if recipe.attention else None)
    else:
        raise ValueError(f"build_gan: data must be points (D,) or square images (C, S, S), "
                         f"got shape {shape}")
    g.to(device=device)
    d.to(device=device)
    return GAN(g, d, _optimizer(recipe, g.parameters(), recipe.lr_g),
               _optimizer(recipe, d.parameters(), recipe.lr_d), recipe, latent_dim)


def sample_latent(gan: GAN, n: int, generator: Generator | None = None,
                  device: Any = None) -> Tensor:
    """z ~ N(0, I), (n, latent_dim), on the generator's device."""
    device = device or next(gan.generator.parameters()).device
    return creation.randn(n, gan.latent_dim, device=device, generator=generator)


def _penalty(gan: GAN, real: Tensor, fake: Tensor, generator: Generator | None) -> Tensor:
    """The recipe's penalty with its weight applied: lambda * GP, WGAN-div with k, or R1
    with gamma (all three are ``penalty_weight``)."""
    recipe = gan.recipe
    if recipe.penalty == "gradient":
        return recipe.penalty_weight * gradient_penalty(gan.critic, real, fake, generator)
    if recipe.penalty == "div":
        return wgan_div_penalty(gan.critic, real, fake, k=recipe.penalty_weight,
                                p=recipe.penalty_power)
    return r1_penalty(gan.critic, real, gamma=recipe.penalty_weight)


def _critic_update(gan: GAN, real: Tensor, generator: Generator | None) -> dict[str, Tensor]:
    """One critic update on a real batch; its losses as detached 0-d tensors, still on the
    device (``_floats`` copies them to the host)."""
    recipe, loss = gan.recipe, LOSSES[gan.recipe.loss]
    with no_grad():
        fake = gan.generator(sample_latent(gan, real.shape[0], generator, real.device))
    d_real, d_fake = gan.critic(real), gan.critic(fake)
    adversarial = loss.d_loss(d_real, d_fake)
    total = adversarial
    out = {"d_loss": adversarial.detach()}
    if recipe.penalty is not None:
        penalty = _penalty(gan, real, fake, generator)
        total = total + penalty
        out["penalty"] = penalty.detach()
    gan.opt_d.zero_grad()
    total.backward()
    gan.opt_d.step()
    if recipe.weight_clip is not None:
        optim.clip_weights_(gan.critic.parameters(), recipe.weight_clip)
    if recipe.loss == "wasserstein":
        with no_grad():
            out["wasserstein"] = d_real.mean() - d_fake.mean()
    return out


def _generator_update(gan: GAN, batch_size: int, generator: Generator | None
                      ) -> dict[str, Tensor]:
    """One generator update; the critic's weights are frozen meanwhile, so the backward
    pass skips their gradients. Its loss as a detached 0-d tensor."""
    gan.critic.requires_grad_(False)
    try:
        fake = gan.generator(sample_latent(gan, batch_size, generator))
        g_loss = LOSSES[gan.recipe.loss].g_loss(gan.critic(fake))
        gan.opt_g.zero_grad()
        g_loss.backward()
        gan.opt_g.step()
    finally:
        gan.critic.requires_grad_(True)
    return {"g_loss": g_loss.detach()}


def _floats(losses: dict[str, Tensor]) -> dict[str, float]:
    """The 0-d tensors of ``losses`` as Python floats, in one copy to the host. On a GPU
    that copy waits for the work queued before it: asked once, after the update is queued,
    it lets the host queue the whole update ahead of the GPU; asked per loss, or before
    the backward pass, it would stall the host at each."""
    values = stack(list(losses.values())).tolist()
    return dict(zip(losses, map(float, values)))


def critic_step(gan: GAN, real: Tensor, generator: Generator | None = None
                ) -> dict[str, float]:
    """One critic update on a real batch; returns the losses as floats."""
    return _floats(_critic_update(gan, real, generator))


def generator_step(gan: GAN, batch_size: int, generator: Generator | None = None
                   ) -> dict[str, float]:
    """One generator update; the critic's weights are frozen meanwhile, so the backward
    pass skips their gradients. Returns its loss as a float."""
    return _floats(_generator_update(gan, batch_size, generator))


def train_step(gan: GAN, real_batches: Sequence[Tensor], generator: Generator | None = None
               ) -> dict[str, float]:
    """n_critic critic updates (one per real batch), then one generator update. Returns
    the last critic update's losses and the generator's, copied to the host once, after
    the whole step is queued."""
    if len(real_batches) != gan.recipe.n_critic:
        raise ValueError(f"train_step: {gan.recipe.name} takes {gan.recipe.n_critic} real "
                         f"batches per step, got {len(real_batches)}")
    losses: dict[str, Tensor] = {}
    for real in real_batches:
        losses = _critic_update(gan, real, generator)
    losses.update(_generator_update(gan, real_batches[-1].shape[0], generator))
    out = _floats(losses)                         # the step's one copy to the host
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        raise FloatingPointError(f"non-finite {', '.join(bad)}: {out}")
    return out
