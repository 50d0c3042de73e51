"""RMSprop (Hinton's lecture notes), optionally centered (Graves, 2013) and with momentum."""
from __future__ import annotations

from typing import Any

from minigan.optim.optimizer import Optimizer, ParamsT
from minigan.tensor import Tensor

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, with PyTorch's algorithm (γ lr, α alpha, ε eps, λ weight_decay, μ momentum).

    For t = 1, 2, ... and every parameter θ with gradient ∇ (all of θ's shape), starting
    from v_0 = b_0 = g^ave_0 = 0::

        g_t = -∇ if maximize else ∇
        g_t = g_t + λ θ_{t-1}                        if λ != 0
        v_t = α v_{t-1} + (1 - α) g_t^2
        ṽ_t = v_t
        if centered:
            g^ave_t = α g^ave_{t-1} + (1 - α) g_t
            ṽ_t = ṽ_t - (g^ave_t)^2
        if μ > 0:
            b_t = μ b_{t-1} + g_t / (sqrt(ṽ_t) + ε)
            θ_t = θ_{t-1} - γ b_t
        else:
            θ_t = θ_{t-1} - γ g_t / (sqrt(ṽ_t) + ε)

    State: ``"step"`` (t), ``"square_avg"`` (v), ``"grad_avg"`` (g^ave, when centered) and
    ``"momentum_buffer"`` (b, when μ > 0), each of θ's shape. WGAN's critic and generator
    use it with lr 5e-5 and no momentum.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered,
                                      maximize=maximize))

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_nonnegative(group, "lr", "eps", "weight_decay", "momentum")
        if not 0 <= group["alpha"] <= 1:
            raise ValueError(f"RMSprop: invalid alpha {group['alpha']!r}; it must be in [0, 1]")

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        xp, theta = param.xp, param.data
        alpha, momentum, weight_decay = group["alpha"], group["momentum"], group["weight_decay"]
        if not state:
            state["step"] = 0
            state["square_avg"] = Tensor._make(xp.zeros_like(theta))
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = Tensor._make(xp.zeros_like(theta))
        if momentum > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._make(xp.zeros_like(theta))
        state["step"] += 1

        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        v = state["square_avg"].data
        v *= alpha
        v += (1 - alpha) * (g * g)
        v_tilde = v
        if group["centered"]:
            g_ave = state["grad_avg"].data
            g_ave *= alpha
            g_ave += (1 - alpha) * g
            v_tilde = v - g_ave * g_ave
        step = g / (xp.sqrt(v_tilde) + group["eps"])
        if momentum > 0:
            b = state["momentum_buffer"].data
            b *= momentum
            b += step
            step = b
        theta -= group["lr"] * step
