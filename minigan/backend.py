"""Devices, array modules and the registry of op implementations.

A tensor's storage is a NumPy array (device ``"cpu"``) or a CuPy array (device
``"cuda"``). Op code never imports either module directly: it asks ``xp(array)`` for the
module that owns the array, so one ``forward`` serves both devices. CuPy is imported
only when a CUDA tensor is made (or when ``minigan.info()`` is asked about GPUs).

The hot ops (convolution, transposed convolution, spectral-norm power iteration,
attention) have several implementations behind one name: the NumPy reference, C++ on the
CPU, Triton and CUDA on the GPU. ``register`` adds one, ``implementation`` returns the
one an op will use on a device (the forced one, else the first available in the device's
preference order), and ``use_implementation`` forces a choice for a block of code.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "Device", "device", "xp", "device_of", "cupy_module", "cuda_is_available",
    "register", "implementation", "implementations", "use_implementation",
    "set_implementation", "registered_ops",
]


@dataclass(frozen=True)
class Device:
    """Where a tensor lives: ``Device("cpu")`` or ``Device("cuda", 0)``.

    Compares equal to its string form; ``"cuda"`` without an index matches any GPU.
    """

    type: str
    index: int | None = None

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self) -> str:
        return f"device('{self}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            other = device(other)
        if not isinstance(other, Device):
            return NotImplemented
        if self.type != other.type:
            return False
        return self.index is None or other.index is None or self.index == other.index

    def __hash__(self) -> int:
        return hash(self.type)


CPU = Device("cpu")


def device(spec: str | Device | None) -> Device:
    """Parse ``"cpu"``, ``"cuda"`` or ``"cuda:N"`` into a :class:`Device`."""
    if spec is None:
        return CPU
    if isinstance(spec, Device):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got {spec!r}")
    kind, _, index = spec.partition(":")
    if kind == "cpu" and not index:
        return CPU
    if kind == "cuda":
        if not index:
            return Device("cuda")
        if index.isdigit():
            return Device("cuda", int(index))
    raise ValueError(f"device: unknown device {spec!r}; expected 'cpu', 'cuda' or 'cuda:N'")


def cupy_module() -> Any:
    """Import CuPy on first use, with a clear error when it is missing."""
    try:
        return importlib.import_module("cupy")
    except ImportError as err:
        raise RuntimeError(
            "CUDA tensors need CuPy; install it with `pip install minigan[gpu]` "
            f"on a machine with an NVIDIA GPU ({err})"
        ) from err


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU. Imports CuPy if present."""
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        return cupy_module().cuda.runtime.getDeviceCount() > 0
    except Exception:  # a missing driver or runtime, whatever CuPy raises: no usable GPU
        return False


def _is_numpy(array: Any) -> bool:
    return type(array).__module__ == "numpy" or isinstance(array, (np.ndarray, np.generic))


def xp(array: Any) -> Any:
    """The array module (``numpy`` or ``cupy``) that owns ``array``."""
    if _is_numpy(array):
        return np
    return cupy_module()


def device_of(array: Any) -> Device:
    """The device of a raw NumPy or CuPy array."""
    if _is_numpy(array):
        return CPU
    return Device("cuda", int(array.device.id))


def to_device(array: Any, target: Device) -> Any:
    """Copy ``array`` to ``target`` (no copy when it is already there; a bare ``"cuda"``
    means GPU 0)."""
    source = device_of(array)
    index = target.index or 0
    if source.type == target.type and (source.type == "cpu" or source.index == index):
        return array
    if target.type == "cpu":
        return array.get()
    cp = cupy_module()
    with cp.cuda.Device(index):
        return cp.asarray(array)


# --------------------------------------------------------------------------------------
# Implementation registry
# --------------------------------------------------------------------------------------

@dataclass
class Implementation:
    """One way to compute an op: a callable on raw arrays, and where it can run."""

    op: str
    name: str
    fn: Callable[..., Any]
    devices: tuple[str, ...]
    why_unavailable: Callable[[], str | None] = field(default=lambda: None)

    def available(self, device_type: str) -> bool:
        return device_type in self.devices and self.why_unavailable() is None


# Default choice per device type when nothing is forced: the first available wins. The
# order follows the measurements of BENCHMARKS.md: Triton's kernels were timed on an H100;
# the CUDA C++ kernels (csrc/cuda) are not yet timed on a GPU, so they come second. Adam's
# step has no Triton kernel: on a GPU it takes csrc/cuda/adam.cuh when minigan._C has it
# (one launch per parameter instead of about 14 CuPy kernels; not yet timed either).
PREFERENCE: dict[str, list[str]] = {
    "cpu": ["cpp", "numpy"],
    "cuda": ["triton", "cuda", "numpy"],
}

_REGISTRY: dict[str, dict[str, Implementation]] = {}
_forced = threading.local()


def register(op: str, name: str, devices: tuple[str, ...] = ("cpu", "cuda"),
             why_unavailable: Callable[[], str | None] | None = None) -> Callable:
    """Decorator: register ``fn`` as implementation ``name`` of ``op``.

    ``why_unavailable()`` returns None when the implementation can run here, else a short
    reason (``"minigan._C was not built: no C++ compiler"``) that ``minigan.info()`` shows.
    """
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        impl = Implementation(op, name, fn, tuple(devices), why_unavailable or (lambda: None))
        _REGISTRY.setdefault(op, {})[name] = impl
        return fn
    return decorate


def registered_ops() -> list[str]:
    return sorted(_REGISTRY)


def implementations(op: str) -> dict[str, Implementation]:
    """All registered implementations of ``op``, by name (a copy)."""
    return dict(_registered(op))


def _registered(op: str) -> dict[str, Implementation]:
    if op not in _REGISTRY:
        raise KeyError(f"no implementations registered for op {op!r}; known: {registered_ops()}")
    return _REGISTRY[op]


def _forced_map() -> dict[str, str]:
    if not hasattr(_forced, "map"):
        _forced.map = {}
    return _forced.map


def implementation(op: str, device_type: str) -> Implementation:
    """The implementation ``op`` uses on ``device_type`` right now (called on every launch
    of a hot op, so it reads the registry without copying it)."""
    impls = _registered(op)
    forced = _forced_map().get(op)
    if forced is not None:
        impl = impls.get(forced)
        if impl is None:
            raise KeyError(f"{op}: implementation {forced!r} is not registered; "
                           f"registered: {sorted(impls)}")
        if device_type not in impl.devices:
            raise RuntimeError(f"{op}: implementation {forced!r} does not run on "
                               f"{device_type} (it runs on {', '.join(impl.devices)})")
        reason = impl.why_unavailable()
        if reason is not None:
            raise RuntimeError(f"{op}: implementation {forced!r} is unavailable: {reason}")
        return impl
    for name in PREFERENCE.get(device_type, []) + sorted(impls):
        impl = impls.get(name)
        if impl is not None and impl.available(device_type):
            return impl
    raise RuntimeError(f"{op}: no implementation runs on {device_type}; registered: "
                       f"{sorted(impls)}")


def set_implementation(op: str, name: str | None) -> None:
    """Force ``op`` to use implementation ``name`` (None restores the default choice)."""
    _registered(op)
    if name is None:
        _forced_map().pop(op, None)
    else:
        _forced_map()[op] = name


@contextlib.contextmanager
def use_implementation(op: str, name: str) -> Iterator[None]:
    """Within the block, ``op`` runs implementation ``name``::

        with mg.backend.use_implementation("conv2d", "numpy"):
            y_ref = F.conv2d(x, w)
    """
    previous = _forced_map().get(op)
    set_implementation(op, name)
    try:
        yield
    finally:
        set_implementation(op, previous)
