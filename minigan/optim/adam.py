"""Adam (Kingma & Ba, 2015) and AdamW (Loshchilov & Hutter, 2019), with AMSGrad."""
from __future__ import annotations

from typing import Any, Sequence

from minigan.backend import implementation, register, xp
from minigan.optim.optimizer import Optimizer, ParamsT
from minigan.tensor import Tensor

__all__ = ["Adam", "AdamW", "adam_step_array", "adam_step_arrays"]


def adam_step_array(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any,
                    max_exp_avg_sq: Any, lr: float, beta1: float, beta2: float, eps: float,
                    weight_decay: float, bias_correction1: float, bias_correction2: float,
                    decoupled_weight_decay: bool, maximize: bool) -> None:
    """One step of :class:`Adam`'s algorithm on arrays of one shape, in place: ``param``
    (θ), ``exp_avg`` (m), ``exp_avg_sq`` (v) and, with amsgrad, ``max_exp_avg_sq`` (v^max,
    else None) are overwritten; ``grad`` (∇) is only read. ``bias_correction1`` and
    ``bias_correction2`` are 1 - β1^t and 1 - β2^t.

    NumPy or CuPy arrays: about 14 elementwise kernels per parameter on a GPU;
    csrc/cuda/adam.cuh does the same in one launch for up to 32 parameters.
    """
    g = -grad if maximize else grad
    if weight_decay != 0 and decoupled_weight_decay:
        param *= 1 - lr * weight_decay
    elif weight_decay != 0:
        g = g + weight_decay * param
    exp_avg *= beta1
    exp_avg += (1 - beta1) * g
    exp_avg_sq *= beta2
    exp_avg_sq += (1 - beta2) * (g * g)
    v = exp_avg_sq
    if max_exp_avg_sq is not None:
        v = xp(param).maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    m_hat = exp_avg / bias_correction1
    v_hat = v / bias_correction2
    param -= lr * m_hat / (xp(param).sqrt(v_hat) + eps)


@register("adam_step", "numpy")
def adam_step_arrays(params: Sequence[Any], grads: Sequence[Any], exp_avgs: Sequence[Any],
                     exp_avg_sqs: Sequence[Any], max_exp_avg_sqs: Sequence[Any],
                     bias_corrections1: Sequence[float], bias_corrections2: Sequence[float],
                     lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
                     decoupled_weight_decay: bool, maximize: bool) -> None:
    """One step of :class:`Adam` for K parameters of one group, in place: entry k of each
    list (K entries each; ``max_exp_avg_sqs[k]`` None without amsgrad) is parameter k's
    array, and ``bias_corrections1[k]``, ``bias_corrections2[k]`` are 1 - β1^t_k and
    1 - β2^t_k for its own step count t_k. The hyperparameters are the group's.

    The ``numpy`` implementation of the registered op ``"adam_step"``: ``adam_step_array``
    on each parameter in turn (NumPy or CuPy arrays).
    """
    for k, param in enumerate(params):
        adam_step_array(param, grads[k], exp_avgs[k], exp_avg_sqs[k], max_exp_avg_sqs[k], lr,
                        beta1, beta2, eps, weight_decay, bias_corrections1[k],
                        bias_corrections2[k], decoupled_weight_decay, maximize)


class Adam(Optimizer):
    """Adam, with PyTorch's algorithm (γ lr, β1 β2 betas, ε eps, λ weight_decay).

    For t = 1, 2, ... and every parameter θ with gradient ∇ (all of θ's shape), starting
    from m_0 = v_0 = v_0^max = 0::

        g_t = -∇ if maximize else ∇
        g_t = g_t + λ θ_{t-1}                   if λ != 0 (L2 penalty, Adam)
        θ_{t-1} = θ_{t-1} (1 - γ λ)             if λ != 0 (decoupled, AdamW; no L2 term)
        m_t = β1 m_{t-1} + (1 - β1) g_t
        v_t = β2 v_{t-1} + (1 - β2) g_t^2
        v_t^max = max(v_{t-1}^max, v_t)         if amsgrad (then v_t^max replaces v_t below)
        m̂_t = m_t / (1 - β1^t),   v̂_t = v_t / (1 - β2^t)
        θ_t = θ_{t-1} - γ m̂_t / (sqrt(v̂_t) + ε)

    State: ``"step"`` (t, an int), ``"exp_avg"`` (m), ``"exp_avg_sq"`` (v) and, with
    amsgrad, ``"max_exp_avg_sq"`` (v^max), each of θ's shape, dtype and device.
    ``decoupled_weight_decay=True`` is AdamW.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        self._check_nonnegative(group, "lr", "eps", "weight_decay")
        betas = group["betas"]
        if len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if not 0 <= beta < 1:
                raise ValueError(f"{name}: invalid beta at index {i}: {beta!r}; it must be in "
                                 "[0, 1)")

    def _update_group(self, params: list[Tensor], group: dict[str, Any]) -> None:
        """Create or advance each parameter's state, then run the registered op
        ``"adam_step"`` once for each device and dtype among ``params``: one call for a
        usual network, which on a GPU is one launch per 32 parameters."""
        beta1, beta2 = group["betas"]
        amsgrad = group["amsgrad"]
        together: dict[tuple[Any, Any], list[Tensor]] = {}
        for p in params:
            state = self.state[p]
            if not state:
                state["step"] = 0
                state["exp_avg"] = Tensor._make(p.xp.zeros_like(p.data))
                state["exp_avg_sq"] = Tensor._make(p.xp.zeros_like(p.data))
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = Tensor._make(p.xp.zeros_like(p.data))
            state["step"] += 1
            together.setdefault((p.device, p.dtype), []).append(p)
        for (device, _), members in together.items():
            states = [self.state[p] for p in members]
            implementation("adam_step", device.type).fn(
                [p.data for p in members], [p.grad.data for p in members],
                [state["exp_avg"].data for state in states],
                [state["exp_avg_sq"].data for state in states],
                [state["max_exp_avg_sq"].data if amsgrad else None for state in states],
                [1 - beta1 ** state["step"] for state in states],
                [1 - beta2 ** state["step"] for state in states],
                group["lr"], beta1, beta2, group["eps"], group["weight_decay"],
                group["decoupled_weight_decay"], group["maximize"])


class AdamW(Adam):
    """Adam with decoupled weight decay: θ shrinks by the factor (1 - γ λ) before the Adam
    step, and λ never enters m or v (see :class:`Adam` for the algorithm). λ = 1e-2."""

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
