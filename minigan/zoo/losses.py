"""The adversarial losses of the GAN literature, each written once.

``d_*`` are critic/discriminator losses and ``g_*`` generator losses, both to be
minimised. Inputs are the critic's raw outputs (logits for the BCE family):
d_real = D(x), d_fake = D(G(z)), shape (B, 1) or (B,).

| name            | critic loss                                   | generator loss          |
|-----------------|-----------------------------------------------|-------------------------|
| minimax         | -E log s(D(x)) - E log(1 - s(D(G(z))))        | E log(1 - s(D(G(z))))   |
| non-saturating  | as minimax                                    | -E log s(D(G(z)))       |
| least squares   | 1/2 E (D(x) - 1)^2 + 1/2 E D(G(z))^2          | 1/2 E (D(G(z)) - 1)^2   |
| wasserstein     | E D(G(z)) - E D(x)                            | -E D(G(z))              |
| hinge           | E relu(1 - D(x)) + E relu(1 + D(G(z)))         | -E D(G(z))              |

with s the sigmoid; log s(t) = -softplus(-t) and log(1 - s(t)) = -softplus(t) keep the
BCE losses exact for logits of any size.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from minigan.ops.activation import relu, softplus
from minigan.tensor import Tensor


def minimax_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Goodfellow et al. (2014): the discriminator's binary cross-entropy, real = 1."""
    return softplus(-d_real).mean() + softplus(d_fake).mean()


def minimax_g_loss(d_fake: Tensor) -> Tensor:
    """The saturating generator loss E log(1 - s(D(G(z)))) of the minimax game."""
    return -softplus(d_fake).mean()


def nonsaturating_g_loss(d_fake: Tensor) -> Tensor:
    """-E log s(D(G(z))): the same fixed point, strong gradients early in training."""
    return softplus(-d_fake).mean()


def least_squares_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Mao et al. (2017), with the 0-1 coding a = 0, b = 1."""
    return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()


def least_squares_g_loss(d_fake: Tensor) -> Tensor:
    """Mao et al. (2017), c = 1."""
    return 0.5 * ((d_fake - 1) ** 2).mean()


def wasserstein_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Arjovsky et al. (2017): minus the critic's estimate of W(P_data, P_G)."""
    return d_fake.mean() - d_real.mean()


def wasserstein_g_loss(d_fake: Tensor) -> Tensor:
    return -d_fake.mean()


def hinge_d_loss(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Lim & Ye (2017), Miyato et al. (2018); SAGAN and BigGAN."""
    return relu(1 - d_real).mean() + relu(1 + d_fake).mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """A critic loss and the generator loss played against it."""

    name: str
    d_loss: Callable[[Tensor, Tensor], Tensor]
    g_loss: Callable[[Tensor], Tensor]


LOSSES = {
    "minimax": AdversarialLoss("minimax", minimax_d_loss, minimax_g_loss),
    "non-saturating": AdversarialLoss("non-saturating", minimax_d_loss, nonsaturating_g_loss),
    "least-squares": AdversarialLoss("least-squares", least_squares_d_loss,
                                     least_squares_g_loss),
    "wasserstein": AdversarialLoss("wasserstein", wasserstein_d_loss, wasserstein_g_loss),
    "hinge": AdversarialLoss("hinge", hinge_d_loss, wasserstein_g_loss),
}
