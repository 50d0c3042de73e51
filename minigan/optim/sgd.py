"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Any

from minigan.optim.optimizer import Optimizer, ParamsT
from minigan.tensor import Tensor

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD, with PyTorch's algorithm (γ lr, λ weight_decay, μ momentum, τ dampening).

    For t = 1, 2, ... and every parameter θ with gradient ∇ (all of θ's shape)::

        g_t = -∇ if maximize else ∇
        g_t = g_t + λ θ_{t-1}                          if λ != 0
        if μ != 0:
            b_t = g_t                                  if t = 1
            b_t = μ b_{t-1} + (1 - τ) g_t              if t > 1
            g_t = g_t + μ b_t    if nesterov  else  b_t
        θ_t = θ_{t-1} - γ g_t

    State: ``"momentum_buffer"`` (b, θ's shape) when μ != 0. Nesterov needs μ > 0 and
    τ = 0 (Sutskever et al., 2013, in the form PyTorch uses).
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize))

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        self._check_nonnegative(group, "lr", "momentum", "weight_decay")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(f"SGD: nesterov momentum needs momentum > 0 and dampening 0, "
                             f"got momentum {group['momentum']!r} and dampening "
                             f"{group['dampening']!r}")

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        momentum, weight_decay = group["momentum"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        if weight_decay != 0:
            g = g + weight_decay * param.data
        if momentum != 0:
            if "momentum_buffer" not in state:
                buf = g.copy()
                state["momentum_buffer"] = Tensor._make(buf)
            else:
                buf = state["momentum_buffer"].data
                buf *= momentum
                buf += (1 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        param.data -= group["lr"] * g
