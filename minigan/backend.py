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
``run`` computes an op through that choice, or, with autotuning on, through the
implementation measured fastest on inputs of the same shapes (``set_autotune``).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.util
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "Device", "device", "xp", "device_of", "dtype_name", "cupy_module", "cuda_is_available",
    "why_no_cuda", "cuda_device", "register", "implementation", "implementations",
    "use_implementation", "set_implementation", "registered_ops", "run", "set_autotune",
    "autotune_enabled", "autotuning", "tuning_results", "clear_tuning", "Tuning",
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
    """Import CuPy on first use, with a clear error when it is missing. (Every array op
    on a GPU asks for the module: once imported, it is one dictionary lookup.)"""
    module = sys.modules.get("cupy")
    if module is not None:
        return module
    try:
        return importlib.import_module("cupy")
    except ImportError as err:
        raise RuntimeError(
            "CUDA tensors need CuPy; install it with `pip install minigan[gpu]` "
            f"on a machine with an NVIDIA GPU ({err})"
        ) from err


def why_no_cuda() -> str | None:
    """None when CuPy is installed and sees at least one GPU, else why not: CuPy missing,
    no GPU, or CuPy's own error (a driver older than CuPy's CUDA runtime, say). Imports
    CuPy if present."""
    if importlib.util.find_spec("cupy") is None:
        return "CuPy is not installed"
    try:
        count = cupy_module().cuda.runtime.getDeviceCount()
    except Exception as err:  # a missing driver or runtime, whatever CuPy raises
        return f"CuPy sees no usable GPU ({type(err).__name__}: {err})"
    return None if count > 0 else "CuPy sees no GPU"


def cuda_is_available() -> bool:
    """True when CuPy is installed and sees at least one GPU. Imports CuPy if present."""
    return why_no_cuda() is None


_CHECKED_GPUS: set[int] = set()


def cuda_device(index: int) -> Any:
    """CuPy's ``Device(index)``, to make arrays on GPU ``index`` inside ``with``. The first
    time an index is asked for, it is checked: where CuPy sees no such GPU, the error says
    so and why (CuPy's own error would come from deep inside CuPy, at the first
    allocation)."""
    cp = cupy_module()
    if index not in _CHECKED_GPUS:
        why = why_no_cuda()
        if why is not None:
            raise RuntimeError(f"device cuda:{index}: no GPU available: {why}")
        count = cp.cuda.runtime.getDeviceCount()
        if not 0 <= index < count:
            raise RuntimeError(f"device cuda:{index}: CuPy sees {count} GPU"
                               f"{'' if count == 1 else 's'}, cuda:0 to cuda:{count - 1}")
        _CHECKED_GPUS.add(index)
    return cp.cuda.Device(index)


def _is_numpy(array: Any) -> bool:
    return type(array).__module__ == "numpy" or isinstance(array, (np.ndarray, np.generic))


def xp(array: Any) -> Any:
    """The array module (``numpy`` or ``cupy``) that owns ``array``."""
    if _is_numpy(array):
        return np
    return cupy_module()


_DTYPE_NAMES: dict[Any, str] = {}


def dtype_name(dtype: Any) -> str:
    """``str(dtype)``, e.g. "float32", remembered per dtype: NumPy builds a dtype's name in
    Python (about 3 µs), and a kernel launcher asks for it several times per launch."""
    name = _DTYPE_NAMES.get(dtype)
    if name is None:
        name = _DTYPE_NAMES[dtype] = str(dtype)
    return name


def device_of(array: Any) -> Device:
    """The device of a raw NumPy or CuPy array."""
    if _is_numpy(array):
        return CPU
    return Device("cuda", int(array.device.id))


def device_index(array: Any) -> int:
    """-1 for a raw NumPy array, else the CuPy array's GPU: ``device_of`` as a key that is
    cheap to compare, for checks that run at every launch (a ``Device`` costs about a
    microsecond to build and print)."""
    return -1 if isinstance(array, (np.ndarray, np.generic)) else array.device.id


def to_device(array: Any, target: Device) -> Any:
    """Copy ``array`` to ``target`` (no copy when it is already there; a bare ``"cuda"``
    means GPU 0)."""
    source = device_of(array)
    index = target.index or 0
    if source.type == target.type and (source.type == "cpu" or source.index == index):
        return array
    if target.type == "cpu":
        return array.get()
    with cuda_device(index):
        return cupy_module().asarray(array)


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
# step, batch, instance and layer norm, leaky ReLU and softplus have no Triton kernel: on a
# GPU they take csrc/cuda/adam.cuh (one launch per 32 parameters instead of about 14 CuPy
# kernels per parameter), csrc/cuda/normalization.cuh (one launch each way instead of
# about 21 and 13) and csrc/cuda/activation.cuh (one launch each way instead of 2 and 5
# for leaky ReLU, 8 and 10 for softplus) when minigan._C has them; not yet timed either.
# With autotuning on (below), the order only breaks ties: each shape gets its measured
# fastest.
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
    for name in PREFERENCE.get(device_type, ()):    # the usual answer, without a sort
        impl = impls.get(name)
        if impl is not None and impl.available(device_type):
            return impl
    impl = next(_available(op, device_type), None)
    if impl is None:
        raise RuntimeError(f"{op}: no implementation runs on {device_type}; registered: "
                           f"{sorted(impls)}")
    return impl


def _available(op: str, device_type: str) -> Iterator[Implementation]:
    """The implementations of ``op`` that can run on ``device_type``, in preference order
    (the device's PREFERENCE, then the others by name), each checked when reached."""
    impls = _registered(op)
    for name in dict.fromkeys(PREFERENCE.get(device_type, []) + sorted(impls)):
        impl = impls.get(name)
        if impl is not None and impl.available(device_type):
            yield impl


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


# --------------------------------------------------------------------------------------
# Autotuning: the implementation measured fastest on inputs of the same shapes
# --------------------------------------------------------------------------------------
#
# The preference order above is one order per device, set from benchmarks on one machine
# and a few shapes. Which implementation is fastest depends on the shapes (on a GPU, a
# small layer is bound by launch cost, a large one by the kernel) and on the machine.
# With autotuning on, the first call of an op on inputs of a new signature (shapes,
# dtypes, strides, device, and the values of the other arguments) times every available
# implementation on those very inputs and keeps the fastest for later calls with the same
# signature, as cuDNN's benchmark mode does for its convolution algorithms. Off by
# default: which implementation wins can change from run to run when two are close, and
# implementations differ in rounding, so a run with autotuning is not reproducible bit
# for bit.

TUNING_REPEATS = 3      # timed calls per candidate, after one warm-up call; the best counts


@dataclass(frozen=True)
class Tuning:
    """What autotuning measured for ``op`` on one signature of inputs: each candidate's
    best time in seconds, the candidates that refused the inputs and why, and the choice."""

    op: str
    device: str
    inputs: str                      # the arrays' shapes and dtypes, for reading
    chosen: str
    seconds: dict[str, float]
    refused: dict[str, str]

    def __str__(self) -> str:
        times = ", ".join(f"{name} {1e3 * t:.3f} ms" for name, t in self.seconds.items())
        refused = "".join(f"; {name} refused: {why}" for name, why in self.refused.items())
        return f"{self.op} on {self.device} [{self.inputs}]: {times} -> {self.chosen}{refused}"


class _Autotune:
    enabled = False
    results: dict[tuple, Tuning] = {}


def _from_environment() -> bool:
    value = os.environ.get("MINIGAN_AUTOTUNE", "0")
    if value not in ("0", "1", ""):
        raise ValueError(f"MINIGAN_AUTOTUNE must be 0 or 1, got {value!r}")
    return value == "1"


_Autotune.enabled = _from_environment()


def set_autotune(enabled: bool) -> None:
    """Turn autotuning on or off for the whole process (``MINIGAN_AUTOTUNE=1`` turns it on
    at import). Measurements already made are kept; ``clear_tuning`` forgets them."""
    _Autotune.enabled = bool(enabled)


def autotune_enabled() -> bool:
    return _Autotune.enabled


@contextlib.contextmanager
def autotuning(enabled: bool = True) -> Iterator[None]:
    """Within the block, autotuning is ``enabled`` (on by default)."""
    previous = _Autotune.enabled
    set_autotune(enabled)
    try:
        yield
    finally:
        set_autotune(previous)


def tuning_results() -> list[Tuning]:
    """Every measurement autotuning made in this process, oldest first."""
    return list(_Autotune.results.values())


def clear_tuning() -> None:
    """Forget the measurements: the next call of each signature is timed again."""
    _Autotune.results.clear()


def _is_array(value: Any) -> bool:
    return hasattr(value, "shape") and hasattr(value, "dtype") and hasattr(value, "strides")


def _signature(args: tuple) -> tuple:
    """What decides an implementation's speed: each array's shape, dtype, strides and
    device; every other argument (sizes, a Geometry, a scale) by value."""
    return tuple((tuple(a.shape), str(a.dtype), tuple(a.strides), str(device_of(a)))
                 if _is_array(a) else a for a in args)


def _synchronize(device_type: str) -> None:
    """Wait for the device's queued work, so that a timing covers the kernels themselves."""
    if device_type == "cuda":
        cupy_module().cuda.get_current_stream().synchronize()


def _tune(op: str, device_type: str, args: tuple) -> Tuning:
    """Time each available implementation of ``op`` on ``args``: one warm-up call (it may
    compile a kernel), then the best of TUNING_REPEATS synchronized calls. A candidate that
    raises TypeError or ValueError refuses these inputs (the CUDA kernels take no float16,
    a Triton tile shape may not fit the GPU in float64), and one that runs out of memory
    (the NumPy reference's N x N attention matrices, on a long sequence) cannot take them:
    either is skipped; when every candidate is, the first one's error is raised, as it
    would be without autotuning. Any other error is a failure and propagates."""
    seconds: dict[str, float] = {}
    refused: dict[str, str] = {}
    first_refusal: Exception | None = None
    for impl in _available(op, device_type):
        try:
            impl.fn(*args)
        except (TypeError, ValueError, MemoryError) as err:   # CuPy's OOM is a MemoryError
            refused[impl.name] = str(err)
            first_refusal = first_refusal or err
            continue
        _synchronize(device_type)
        best = math.inf
        for _ in range(TUNING_REPEATS):
            start = time.perf_counter()
            impl.fn(*args)
            _synchronize(device_type)
            best = min(best, time.perf_counter() - start)
        seconds[impl.name] = best
    if not seconds:
        if first_refusal is None:
            raise RuntimeError(f"{op}: no implementation runs on {device_type}; "
                               f"registered: {sorted(_registered(op))}")
        raise first_refusal
    inputs = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in args if _is_array(a))
    chosen = min(seconds, key=seconds.__getitem__)      # a tie goes to the preferred one
    return Tuning(op, str(device_of(args[0])), inputs, chosen, seconds, refused)


def run(op: str, *args: Any) -> Any:
    """``op`` computed on raw arrays (the first one decides the device) by the forced
    implementation; else, with autotuning on, by the one measured fastest on inputs of
    the same signature; else by the first available in the device's preference order.

    For ops that return new arrays and leave their inputs unchanged (autotuning calls an
    implementation several times on the same inputs); an op that updates its arguments in
    place, such as ``adam_step``, calls ``implementation(op, device).fn`` itself.
    """
    device_type = "cpu" if _is_numpy(args[0]) else "cuda"
    if not _Autotune.enabled or op in _forced_map():
        return implementation(op, device_type).fn(*args)
    key = (op, _signature(args))
    tuning = _Autotune.results.get(key)
    if tuning is None:
        tuning = _Autotune.results[key] = _tune(op, device_type, args)
    return _registered(op)[tuning.chosen].fn(*args)
