"""``Optimizer``: parameter groups, per-parameter state, and the update loop.

An optimizer holds

* ``param_groups``: a list of dicts, each with ``"params"`` (a list of leaf tensors) and
  its own hyperparameters (``lr``, ``weight_decay``, ...). Keys a group leaves out take the
  optimizer's ``defaults``. Two groups with different learning rates in one optimizer, or
  two optimizers with different learning rates (TTUR: D faster than G), both work;
* ``state``: per-parameter state (momentum buffers, moment estimates), a dict keyed by the
  parameter tensor itself. Each value is a dict of minigan Tensors of the parameter's shape,
  dtype and device, plus Python numbers such as the ``"step"`` count.

``step()`` runs under ``no_grad()`` and, for every group, calls the subclass's
``_update_group(params, group)`` with the group's parameters whose ``.grad`` is not None;
by default that calls ``_update(param, grad, state, group)`` on each, which writes the new
values into ``param.data`` in place with the array's own module (NumPy on the CPU, CuPy on
the GPU), so one update serves both devices. An optimizer that updates many parameters in
one call (Adam: one GPU launch for up to 32 of them) overrides ``_update_group``.
Parameters without a gradient are skipped and their state is left untouched.

``state_dict()`` has PyTorch's layout::

    {"state": {0: {"step": 3, "exp_avg": Tensor, ...}, 1: {...}},
     "param_groups": [{"lr": 1e-3, ..., "params": [0, 1]}, {"lr": 4e-3, ..., "params": [2]}]}

parameters are numbered in the order of the groups and, within a group, of ``"params"``.
As in PyTorch, the state tensors are the optimizer's own (not copies): write them out or
``copy.deepcopy`` the dict to keep a snapshot. ``load_state_dict`` checks the layout
against this optimizer's groups before changing anything and copies every state tensor to
its parameter's device and dtype.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Any, Callable, Iterable

import numpy as np

from minigan.autograd import enable_grad, no_grad
from minigan.backend import to_device
from minigan.tensor import Tensor

__all__ = ["Optimizer", "ParamsT"]

ParamsT = Iterable[Tensor] | Iterable[dict[str, Any]]


class Optimizer:
    """Base class: subclasses set ``defaults`` and implement ``_update`` (one parameter's
    step) or ``_update_group`` (a group's), and ``_check_hyperparameters`` (raise
    ValueError on a bad group).

    ``params``: an iterable of tensors (one group) or of dicts (several groups), e.g.
    ``[{"params": g.parameters()}, {"params": head.parameters(), "lr": 1e-2}]``.
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        name = type(self).__name__
        self.defaults = dict(defaults)
        self._check_hyperparameters(self.defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of Tensors or dicts, got a "
                            f"single Tensor of shape {params.shape}; pass [tensor]")
        groups = list(params)
        if not groups:
            raise ValueError(f"{name}: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups --
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Append a group: its ``"params"`` plus any hyperparameters that differ from the
        defaults (e.g. a new layer added while training, with its own ``lr``)."""
        name = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError(f"{name}: a parameter group needs a 'params' entry, got keys "
                             f"{sorted(param_group)}")
        params = param_group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        for p in params:
            self._check_param(p)
        if len({id(p) for p in params}) != len(params):
            raise ValueError(f"{name}: a parameter group holds the same parameter twice")
        taken = {id(p) for group in self.param_groups for p in group["params"]}
        if any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear in more than one parameter "
                             "group")
        group = {**self.defaults, **param_group, "params": params}
        self._check_hyperparameters(group)
        self.param_groups.append(group)

    def _check_param(self, p: Any) -> None:
        name = type(self).__name__
        if not isinstance(p, Tensor):
            raise TypeError(f"{name} can only optimize Tensors, got {type(p).__name__}")
        if not p.is_leaf:
            raise ValueError(f"{name} can't optimize a non-leaf Tensor (shape {p.shape}, made "
                             f"by {p.grad_fn.name}); optimize the leaf it was computed from")
        if p.dtype.kind != "f":
            raise ValueError(f"{name} can only optimize floating-point Tensors, got dtype "
                             f"{p.dtype} (shape {p.shape})")

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError naming the optimizer and the value when ``group`` is invalid."""
        raise NotImplementedError(f"{type(self).__name__} must define _check_hyperparameters")

    def _check_nonnegative(self, group: dict[str, Any], *keys: str) -> None:
        for key in keys:
            if not group[key] >= 0:                     # also rejects NaN
                raise ValueError(f"{type(self).__name__}: invalid {key} {group[key]!r}; it "
                                 "must be >= 0")

    # ------------------------------------------------------------------- steps --
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or fill them with zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.detach_()
                    p.grad.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One update of every parameter that has a gradient.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        gradients on, before the update, and its loss is returned.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                params = [p for p in group["params"] if p.grad is not None]
                for p in params:
                    if p.grad.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}.step: gradient of shape "
                                         f"{p.grad.shape} for a parameter of shape {p.shape}")
                self._update_group(params, group)
        return loss

    def _update_group(self, params: list[Tensor], group: dict[str, Any]) -> None:
        """One step of ``params``, the parameters of ``group`` that have a gradient (in the
        group's order): ``_update`` on each, unless the optimizer updates them together."""
        for p in params:
            self._update(p, p.grad.data, self.state[p], group)

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Write one step into ``param.data`` in place; ``grad`` is the raw gradient array
        (never modified), ``state`` this parameter's state dict, ``group`` its group."""
        raise NotImplementedError(f"{type(self).__name__} must define _update")

    # ------------------------------------------------------------------- state --
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}``."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index[id(p)] = len(index)
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {index[id(p)]: dict(self.state[p])
                 for group in self.param_groups for p in group["params"] if p in self.state}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore groups' hyperparameters and the state from ``state_dict()``'s output.

        Raises ValueError (and changes nothing) when the number of groups, a group's number
        of parameters or a state tensor's shape differs from this optimizer's, or when a
        saved hyperparameter is invalid; keys a saved group lacks keep their current values.
        Tensors are
        copied to the parameter's device and dtype; index keys may be ints or digit strings
        (as after a JSON round trip).
        """
        name = f"{type(self).__name__}.load_state_dict"
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        by_index: dict[int, Tensor] = {}
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {i} has {len(saved['params'])} "
                                 f"parameters in the state dict, {len(group['params'])} in "
                                 "the optimizer")
            by_index.update({int(k): p for k, p in zip(saved["params"], group["params"])})
        state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        for key, values in state_dict["state"].items():
            if int(key) not in by_index:
                raise ValueError(f"{name}: state for parameter index {key}, but the groups "
                                 f"hold indices {sorted(by_index)}")
            p = by_index[int(key)]
            state[p] = {k: self._state_value(p, v, f"{name}: state {k!r} of parameter {key}")
                        for k, v in values.items()}
        groups = [{**group, **saved, "params": group["params"]}
                  for saved, group in zip(saved_groups, self.param_groups)]
        for group in groups:
            self._check_hyperparameters(group)
        self.state = state
        self.param_groups = groups

    @staticmethod
    def _state_value(p: Tensor, value: Any, where: str) -> Any:
        """A saved state value made ready for ``p``: numbers stay Python numbers; arrays and
        tensors must have ``p``'s shape and are copied to its device and dtype."""
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, Tensor):
            value = value.data
        if not hasattr(value, "shape"):
            return value
        if tuple(value.shape) != p.shape:
            raise ValueError(f"{where} has shape {tuple(value.shape)}, the parameter has "
                             f"shape {p.shape}")
        return Tensor._make(p.xp.array(to_device(value, p.device), dtype=p.dtype, copy=True))

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])
