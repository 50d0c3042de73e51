"""``EMA``: an exponential moving average of a network's weights (the generator that
BigGAN, PGGAN and StyleGAN sample from and evaluate)."""
from __future__ import annotations

import copy
from typing import Any

from minigan.autograd import no_grad
from minigan.backend import to_device

__all__ = ["EMA"]


class EMA:
    """A copy of ``module`` whose weights follow the trained ones as a moving average.

    ``ema.module`` is ``copy.deepcopy(module)``, in eval mode, with ``requires_grad`` off
    and no gradients. After each optimizer step, ``ema.update(module)`` does, for every
    parameter θ (matched by name, any shape)::

        d = min(decay, (1 + n) / (10 + n))   if warmup   else   decay
        θ_ema <- d θ_ema + (1 - d) θ

    with n the number of earlier updates (0 at the first), and copies every buffer
    (running statistics, spectral-norm vectors, counters) verbatim. The warmup is
    TensorFlow's ``ExponentialMovingAverage(num_updates=n)``: d = 0.1, 0.18, 0.25, ... at
    n = 0, 1, 2, ..., reaching ``decay`` after about 10 / (1 - decay) updates, so the
    average is not dominated by the random initialization; ``warmup=False`` uses ``decay``
    from the first update on.

    ``state_dict()`` is ``{"module": the averaged module's state dict, "decay": decay,
    "num_updates": n, "warmup": warmup}``.
    """

    def __init__(self, module: Any, decay: float = 0.999, warmup: bool = True) -> None:
        if not 0 <= decay <= 1:
            raise ValueError(f"EMA: decay must be in [0, 1], got {decay!r}")
        self.decay = decay
        self.warmup = bool(warmup)
        self.num_updates = 0
        self.module = copy.deepcopy(module)
        self.module.eval()
        self.module.requires_grad_(False)
        for p in self.module.parameters():
            p.grad = None

    def effective_decay(self) -> float:
        """The d the next ``update`` will use."""
        if not self.warmup:
            return self.decay
        n = self.num_updates
        return min(self.decay, (1 + n) / (10 + n))

    def update(self, module: Any) -> None:
        """Move the averaged parameters towards ``module``'s and copy its buffers.

        Raises ValueError naming the entries when ``module``'s parameter or buffer names
        or shapes differ from the averaged copy's.
        """
        params = dict(self.module.named_parameters())
        buffers = dict(self.module.named_buffers())
        new_params = dict(module.named_parameters())
        new_buffers = dict(module.named_buffers())
        _check_same_entries("parameters", params, new_params)
        _check_same_entries("buffers", buffers, new_buffers)
        d = self.effective_decay()
        with no_grad():
            for name, average in params.items():
                theta = to_device(new_params[name].data, average.device).astype(average.dtype,
                                                                                copy=False)
                average.data *= d
                average.data += (1 - d) * theta
            for name, buffer in buffers.items():
                buffer.data[...] = to_device(new_buffers[name].data, buffer.device)
        self.num_updates += 1

    def state_dict(self) -> dict[str, Any]:
        return {"module": self.module.state_dict(), "decay": self.decay,
                "num_updates": self.num_updates, "warmup": self.warmup}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore the averaged weights (strictly: every name and shape must match), the
        decay, the update count and the warmup flag."""
        expected = {"module", "decay", "num_updates", "warmup"}
        if set(state_dict) != expected:
            raise ValueError(f"EMA.load_state_dict: expected keys {sorted(expected)}, got "
                             f"{sorted(state_dict)}")
        self.module.load_state_dict(state_dict["module"])
        self.decay = float(state_dict["decay"])
        self.num_updates = int(state_dict["num_updates"])
        self.warmup = bool(state_dict["warmup"])


def _check_same_entries(kind: str, averaged: dict[str, Any], source: dict[str, Any]) -> None:
    missing = sorted(set(averaged) - set(source))
    extra = sorted(set(source) - set(averaged))
    misshaped = [f"{name}: {source[name].shape} vs {averaged[name].shape}"
                 for name in averaged if name in source and source[name].shape !=
                 averaged[name].shape]
    if missing or extra or misshaped:
        raise ValueError(f"EMA.update: the module's {kind} differ from the averaged copy's: "
                         f"missing {missing}, unexpected {extra}, shape mismatches "
                         f"{misshaped}")
