"""Learning-rate schedules: ``StepLR``, ``ExponentialLR``, ``LambdaLR`` and CycleGAN's
``LinearDecayLR``.

A scheduler owns an epoch counter ``last_epoch`` (e) and writes ``lr = base_lr * f(e)``
into every parameter group of its optimizer, where ``base_lr`` is the group's
``"initial_lr"`` (its lr when the first scheduler was built). As in PyTorch, building a
scheduler sets e = 0 and the e = 0 learning rate, and each ``step()`` (called once per
epoch, after that epoch's ``optimizer.step()`` calls) sets e += 1::

    scheduler = LinearDecayLR(opt, constant_epochs=100, decay_epochs=100)
    for epoch in range(200):
        train_one_epoch(opt)          # runs at scheduler.get_last_lr()
        scheduler.step()

Every rate is computed in closed form from ``base_lr`` and e (no product of per-step
factors, so no rounding drift, and a resumed run gets the very same numbers). The group's
``"lr"`` is overwritten on each step, so two schedulers on one optimizer do not compose:
use one ``LambdaLR`` whose factor is the product. ``state_dict()`` holds plain numbers
only (no callables); ``load_state_dict`` restores the counter and writes the saved last
rates into the groups, so optimizer and scheduler may be loaded in either order.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

from minigan.optim.optimizer import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "LambdaLR", "LinearDecayLR"]


class LRScheduler:
    """Base class: subclasses define ``lr_factor(group_index, epoch)`` (or override
    ``get_lr()``, the rates at ``last_epoch``) and list their hyperparameters in
    ``_hyperparameters`` so that ``state_dict`` saves them.

    ``last_epoch=-1`` starts a new schedule; another value resumes one, and then every
    group must already hold ``"initial_lr"`` (written by the first scheduler).
    """

    _hyperparameters: tuple[str, ...] = ()

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: expected a minigan Optimizer, got "
                            f"{type(optimizer).__name__}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: resuming at last_epoch={last_epoch}, but param "
                                   f"group {i} has no 'initial_lr'; build the scheduler with "
                                   "last_epoch=-1 first")
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``last_epoch``."""
        return [base_lr * self.lr_factor(i, self.last_epoch)
                for i, base_lr in enumerate(self.base_lrs)]

    def lr_factor(self, group_index: int, epoch: int) -> float:
        """f(e): the multiple of the group's base lr used at epoch ``epoch``."""
        raise NotImplementedError(f"{type(self).__name__} must define lr_factor or get_lr")

    def step(self) -> None:
        """Advance one epoch and write the new rates into the optimizer's groups."""
        self.last_epoch += 1
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr

    def get_last_lr(self) -> list[float]:
        """The rates the last ``step()`` (or the constructor) set, one per group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """``{"last_epoch": e, "base_lrs": [...], "last_lr": [...], <hyperparameters>}``."""
        state = {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs),
                 "last_lr": list(self._last_lr)}
        state.update({key: getattr(self, key) for key in self._hyperparameters})
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        name = f"{type(self).__name__}.load_state_dict"
        expected = {"last_epoch", "base_lrs", "last_lr", *self._hyperparameters}
        if set(state_dict) != expected:
            raise ValueError(f"{name}: expected keys {sorted(expected)}, got "
                             f"{sorted(state_dict)}")
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "last_lr"):
            if len(state_dict[key]) != groups:
                raise ValueError(f"{name}: {key!r} has {len(state_dict[key])} entries, the "
                                 f"optimizer has {groups} parameter groups")
        self.last_epoch = int(state_dict["last_epoch"])
        self.base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        self._last_lr = [float(lr) for lr in state_dict["last_lr"]]
        for key in self._hyperparameters:
            setattr(self, key, state_dict[key])
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group["lr"] = lr


def _check_gamma(name: str, gamma: float) -> None:
    if not gamma >= 0:
        raise ValueError(f"{name}: gamma must be >= 0, got {gamma!r}")


def _check_epochs(name: str, **values: int) -> None:
    for key, value in values.items():
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: {key} must be an int >= 0, got {value!r}")


class StepLR(LRScheduler):
    """lr = base_lr * gamma^floor(e / step_size): decay by ``gamma`` every ``step_size``
    epochs."""

    _hyperparameters = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        _check_epochs("StepLR", step_size=step_size)
        if step_size == 0:
            raise ValueError("StepLR: step_size must be >= 1, got 0")
        _check_gamma("StepLR", gamma)
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, group_index: int, epoch: int) -> float:
        return self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr = base_lr * gamma^e."""

    _hyperparameters = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        _check_gamma("ExponentialLR", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, group_index: int, epoch: int) -> float:
        return self.gamma ** epoch


class LambdaLR(LRScheduler):
    """lr = base_lr * lr_lambda(e): one function for all groups, or one per group.

    The functions are not saved in ``state_dict`` (only the counter and the rates): build
    the scheduler with the same functions before loading.
    """

    def __init__(self, optimizer: Optimizer,
                 lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
                 last_epoch: int = -1) -> None:
        groups = len(optimizer.param_groups)
        if callable(lr_lambda):
            self.lr_lambdas = [lr_lambda] * groups
        else:
            self.lr_lambdas = list(lr_lambda)
            if len(self.lr_lambdas) != groups:
                raise ValueError(f"LambdaLR: got {len(self.lr_lambdas)} lr_lambdas for "
                                 f"{groups} parameter groups")
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, group_index: int, epoch: int) -> float:
        return self.lr_lambdas[group_index](epoch)


class LinearDecayLR(LRScheduler):
    """CycleGAN's schedule: ``constant_epochs`` (C) epochs at base_lr, then a linear decay
    over ``decay_epochs`` (D) epochs that would reach 0 at e = C + D::

        lr(e) = base_lr * max(0, 1 - max(0, e + 1 - C) / (D + 1))

    e = 0 .. C-1 train at base_lr, e = C .. C+D-1 at base_lr * D/(D+1), ..., base_lr/(D+1),
    and from e = C + D on the rate is 0. This is CycleGAN's ``lambda_rule`` (``epoch_count``
    1, ``n_epochs`` C, ``n_epochs_decay`` D) with the scheduler stepped after each epoch.
    """

    _hyperparameters = ("constant_epochs", "decay_epochs")

    def __init__(self, optimizer: Optimizer, constant_epochs: int, decay_epochs: int,
                 last_epoch: int = -1) -> None:
        _check_epochs("LinearDecayLR", constant_epochs=constant_epochs,
                      decay_epochs=decay_epochs)
        self.constant_epochs, self.decay_epochs = constant_epochs, decay_epochs
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, group_index: int, epoch: int) -> float:
        decayed = max(0, epoch + 1 - self.constant_epochs)
        return max(0.0, 1.0 - decayed / (self.decay_epochs + 1))
