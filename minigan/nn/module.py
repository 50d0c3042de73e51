"""``Module``: a tree of layers holding parameters, buffers and sub-modules.

Assigning a :class:`Parameter` or a ``Module`` to an attribute registers it, so
``parameters()``, ``state_dict()``, ``train()``/``eval()`` and ``to()`` reach the whole
tree. A state dict maps dotted names (``"block.0.weight"``) to tensors; loading one copies
values into the existing storage, so optimizers that hold the parameters keep working.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterable, Iterator, Mapping

import numpy as np

from minigan.autograd import no_grad
from minigan.backend import Device, to_device
from minigan.backend import device as as_device
from minigan.nn.parameter import Parameter
from minigan.tensor import Tensor, as_dtype

__all__ = ["Module", "Sequential", "ModuleList", "ModuleDict", "StateDictError"]


class StateDictError(KeyError):
    """``load_state_dict`` found missing, unexpected or mis-shaped entries."""

    def __str__(self) -> str:            # KeyError would print the message in quotes
        return str(self.args[0])


class Module:
    """Base class of every layer and network. Subclasses define ``forward``."""

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", [])

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in self._forward_pre_hooks:
            hook(self, args)
        return self.forward(*args, **kwargs)

    def register_forward_pre_hook(self, hook: Callable[[Module, tuple], None]) -> Callable:
        """Call ``hook(module, args)`` before every forward; returns a remover."""
        self._forward_pre_hooks.append(hook)
        hooks = self._forward_pre_hooks
        return lambda: hooks.remove(hook) if hook in hooks else None

    # ------------------------------------------------------------ registration --
    def _check_init(self, name: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"in {type(self).__name__}")

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            self._check_init(name)
            self._discard(name)
            params[name] = value
        elif isinstance(value, Module):
            self._check_init(name)
            self._discard(name)
            self._modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a parameter: assign a "
                                f"Parameter or None, not {type(value).__name__}")
            params[name] = None
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"{type(self).__name__}.{name} is a buffer: assign a Tensor "
                                f"or None, not {type(value).__name__}")
            self._buffers[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"{type(self).__name__}.{name} is a sub-module: assign a "
                                f"Module or None, not {type(value).__name__}")
            self._modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _discard(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            table.pop(name, None)
        self.__dict__.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for table in ("_parameters", "_buffers", "_modules"):
            if table in d and name in d[table]:
                return d[table][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._buffers, self._modules):
            if name in table:
                del table[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, "
                            f"got {type(param).__name__}")
        self._check_init(name)
        self._discard(name)
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """State that is not trained (running statistics, spectral-norm vectors). A
        persistent buffer is part of ``state_dict``."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, "
                            f"got {type(tensor).__name__}")
        self._check_init(name)
        self._discard(name)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, "
                            f"got {type(module).__name__}")
        self._check_init(name)
        self._discard(name)
        self._modules[name] = module

    # --------------------------------------------------------------- traversal --
    def named_modules(self, prefix: str = "", memo: set[int] | None = None
                      ) -> Iterator[tuple[str, Module]]:
        """Every module of the tree once (depth first, self first)."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(f"{prefix}.{name}" if prefix else name, memo)

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_children(self) -> Iterator[tuple[str, Module]]:
        for name, child in self._modules.items():
            if child is not None:
                yield name, child

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def _named_members(self, table: str, prefix: str, recurse: bool
                       ) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """(name, parameter) pairs; a parameter shared by two layers is listed once."""
        yield from self._named_members("_parameters", prefix, recurse)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def num_parameters(self, trainable_only: bool = False) -> int:
        """The number of scalar parameters (shared ones counted once)."""
        return sum(p.numel() for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    # ------------------------------------------------------------------- modes --
    def train(self, mode: bool = True) -> Module:
        """Training mode (batch statistics, dropout, spectral-norm updates) for the tree."""
        for module in self.modules():
            object.__setattr__(module, "training", bool(mode))
        return self

    def eval(self) -> Module:
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor._make(p.xp.zeros_like(p.grad.data))

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """``fn(m)`` for every sub-module, children first, then self (as PyTorch)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------ device, dtype --
    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Module:
        """Move floating-point parameters and buffers to ``device`` and/or cast them to
        ``dtype``, in place: the Parameter objects stay the same."""
        for arg in args:
            if isinstance(arg, Device) or (isinstance(arg, str)
                                           and arg.split(":")[0] in ("cpu", "cuda")):
                device = arg
            else:
                dtype = arg
        target = as_dtype(dtype) if dtype is not None else None
        device = as_device(device) if device is not None else None

        def convert(t: Tensor) -> None:
            data = t.data
            if target is not None and data.dtype.kind == "f":
                data = data.astype(target)
            if device is not None:
                data = to_device(data, device)
            t.data = data
            if t.grad is not None:
                t.grad = Tensor._make(to_device(t.grad.data, device or t.device)
                                      .astype(data.dtype, copy=False))
        for t in list(self.parameters()) + list(self.buffers()):
            convert(t)
        return self

    def cpu(self) -> Module:
        return self.to(device="cpu")

    def cuda(self, index: int = 0) -> Module:
        return self.to(device=f"cuda:{index}")

    def float(self) -> Module:
        return self.to(dtype=np.float32)

    def double(self) -> Module:
        return self.to(dtype=np.float64)

    # -------------------------------------------------------------- state dicts --
    def state_dict(self, prefix: str = "") -> OrderedDict[str, Tensor]:
        """Parameters and persistent buffers by dotted name, detached, sharing storage."""
        out: OrderedDict[str, Tensor] = OrderedDict()
        for module_prefix, module in self.named_modules(prefix.rstrip(".")):
            dot = f"{module_prefix}." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    out[dot + name] = p.detach()
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    out[dot + name] = b.detach()
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> tuple[list[str], list[str]]:
        """Copy values into this tree's parameters and buffers.

        With ``strict`` every key must match; otherwise matching keys load and the lists
        ``(missing, unexpected)`` are returned. A shape mismatch is always an error. The
        error names every missing, unexpected and mis-shaped key. Nothing is written unless
        the whole dict passes the checks.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        misshaped = []
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(np.shape(_array_of(state_dict[key])))
                if shape != target.shape:
                    misshaped.append(f"{key}: checkpoint {shape}, model {target.shape}")
        problems = []
        if strict and missing:
            problems.append(f"missing keys: {', '.join(missing)}")
        if strict and unexpected:
            problems.append(f"unexpected keys: {', '.join(unexpected)}")
        if misshaped:
            problems.append(f"shape mismatches: {'; '.join(misshaped)}")
        if problems:
            raise StateDictError(f"load_state_dict into {type(self).__name__}: "
                                 + " | ".join(problems))
        targets = dict(self._state_tensors())
        with no_grad():
            for key in own:
                if key in state_dict:
                    target = targets[key]
                    values = _array_of(state_dict[key])
                    target.data[...] = to_device(
                        np.asarray(values) if not hasattr(values, "dtype") else values,
                        target.device).astype(target.dtype, copy=False)
        return missing, unexpected

    def _state_tensors(self) -> Iterator[tuple[str, Tensor]]:
        """The live tensors behind ``state_dict``'s keys (not detached copies)."""
        for module_prefix, module in self.named_modules():
            dot = f"{module_prefix}." if module_prefix else ""
            for name, p in module._parameters.items():
                if p is not None:
                    yield dot + name, p
            for name, b in module._buffers.items():
                if b is not None and name not in module._non_persistent:
                    yield dot + name, b

    def __getstate__(self) -> dict[str, Any]:
        """For copy.deepcopy (an EMA of a generator): tensors that a forward computed
        from parameters (spectral norm's ``weight``) are copied detached."""
        state = dict(self.__dict__)
        for key, value in state.items():
            if isinstance(value, Tensor) and not value.is_leaf:
                state[key] = value.detach()
        return state

    # -------------------------------------------------------------------- repr --
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        """``Name(extra)`` for a leaf; with children, the extra line (if any) and one
        indented ``(name): child`` line per child, as PyTorch prints them."""
        extra = self.extra_repr()
        lines = [extra] if extra else []
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"({name}): {child_repr}")
        head = f"{type(self).__name__}("
        if not self._modules:
            return head + extra + ")"
        return head + "\n  " + "\n  ".join(lines) + "\n)"

    def summary(self) -> str:
        """The repr followed by the parameter count."""
        total = self.num_parameters()
        trainable = self.num_parameters(trainable_only=True)
        return f"{self!r}\nparameters: {total:,} ({trainable:,} trainable)"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))


def _array_of(value: Any) -> Any:
    return value.data if isinstance(value, Tensor) else value


class Sequential(Module):
    """Modules applied in order: ``Sequential(a, b, c)(x) == c(b(a(x)))``; also from an
    ordered dict of names to modules."""

    def __init__(self, *modules: Module | Mapping[str, Module]) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            for name, module in modules[0].items():
                self.add_module(name, module)
        else:
            for index, module in enumerate(modules):
                self.add_module(str(index), module)  # type: ignore[arg-type]

    def forward(self, x: Any) -> Any:
        for module in self._modules.values():
            x = module(x)
        return x

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        items = list(self._modules.items())
        if isinstance(index, slice):
            return Sequential(OrderedDict(items[index]))
        return items[index][1]

    def append(self, module: Module) -> Sequential:
        self.add_module(str(len(self)), module)
        return self


class ModuleList(Module):
    """A list of sub-modules, registered under their indices."""

    def __init__(self, modules: Iterable[Module] = ()) -> None:
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module: Module) -> ModuleList:
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules: Iterable[Module]) -> ModuleList:
        for module in modules:
            self.append(module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Module:
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]


class ModuleDict(Module):
    """A dict of sub-modules, registered under their keys."""

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        for name, module in (modules or {}).items():
            self.add_module(name, module)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __contains__(self, key: str) -> bool:
        return key in self._modules

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def keys(self) -> Iterable[str]:
        return self._modules.keys()

    def values(self) -> Iterable[Module]:
        return self._modules.values()

    def items(self) -> Iterable[tuple[str, Module]]:
        return self._modules.items()
