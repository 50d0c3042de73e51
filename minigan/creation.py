"""Making tensors: from data, filled with constants, ranges, and random draws.

Signatures follow PyTorch: sizes as ``zeros(2, 3)`` or ``zeros((2, 3))``, and keywords
``dtype``, ``device``, ``requires_grad``; random functions also take ``generator``.
Floats default to float32 (``mg.set_default_dtype`` changes it); NumPy arrays keep their
dtype.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minigan.backend import Device, cuda_device, cupy_module, device as parse_device, to_device
from minigan.random import Generator, default_generator
from minigan.tensor import Tensor, as_dtype, get_default_dtype, int64

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "arange", "linspace", "eye", "randn",
           "rand", "randint", "randn_like", "rand_like", "randperm"]


def _finish(array: np.ndarray, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    if dtype is not None:
        array = array.astype(as_dtype(dtype), copy=False)
    target: Device = parse_device(device)
    return Tensor(to_device(array, target), requires_grad=requires_grad)


def _size(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    if any(not isinstance(n, (int, np.integer)) or n < 0 for n in size):
        raise ValueError(f"sizes must be non-negative ints, got {size}")
    return tuple(int(n) for n in size)


def tensor(data: Any, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays or a tensor).

    Python floats become the default float dtype, Python ints int64, NumPy arrays keep
    their dtype.
    """
    source_device = None
    if isinstance(data, Tensor):
        source_device = data.device
        array = data._host().copy()
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
    elif hasattr(data, "__cuda_array_interface__"):                 # a CuPy array
        source_device = f"cuda:{data.device.id}"
        array = data.get()
    else:                                                           # Python data
        array = np.array(data)
        if array.dtype == np.float64:
            array = array.astype(get_default_dtype())
        elif array.dtype.kind in "iu":
            array = array.astype(int64)
    return _finish(array, dtype, device if device is not None else source_device,
                   requires_grad)


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an array on the same device when it can."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    if isinstance(data, np.ndarray) and dtype in (None, data.dtype) and device in (None, "cpu"):
        return Tensor(data)
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A CPU tensor sharing ``array``'s memory and dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def _filled(size: tuple, value: Any, dtype: Any, device: Any, requires_grad: bool) -> Tensor:
    dtype = as_dtype(dtype) if dtype is not None else (
        get_default_dtype() if isinstance(value, float) else np.asarray(value).dtype)
    target = parse_device(device)
    if target.type == "cpu":
        return Tensor(np.full(_size(size), value, dtype=dtype), requires_grad=requires_grad)
    with cuda_device(target.index or 0):
        return Tensor(cupy_module().full(_size(size), value, dtype=dtype),
                      requires_grad=requires_grad)


def zeros(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    return _filled(size, 0.0, dtype, device, requires_grad)


def ones(*size: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _filled(size, 1.0, dtype, device, requires_grad)


def empty(*size: Any, dtype: Any = None, device: Any = None,
          requires_grad: bool = False) -> Tensor:
    """Uninitialised in PyTorch; zero-filled here (reading garbage helps nobody)."""
    return _filled(size, 0.0, dtype, device, requires_grad)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    return _filled((tuple(size),), fill_value, dtype, device, requires_grad)


def zeros_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return zeros(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t: Tensor, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return ones(t.shape, dtype=dtype or t.dtype, device=t.device, requires_grad=requires_grad)


def full_like(t: Tensor, fill_value: Any, dtype: Any = None,
              requires_grad: bool = False) -> Tensor:
    return full(t.shape, fill_value, dtype=dtype or t.dtype, device=t.device,
                requires_grad=requires_grad)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           device: Any = None, requires_grad: bool = False) -> Tensor:
    """[start, end) in steps; int64 for integer arguments, else the default float."""
    if end is None:
        start, end = 0, start
    integral = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    array = np.arange(start, end, step, dtype=np.int64 if integral else get_default_dtype())
    return _finish(array, dtype, device, requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    array = np.linspace(start, end, steps, dtype=np.float64)
    return _finish(array, dtype or get_default_dtype(), device, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m), dtype or get_default_dtype(), device, requires_grad)


def randn(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
          generator: Generator | None = None) -> Tensor:
    """Samples of the standard normal N(0, 1)."""
    gen = generator or default_generator
    array = gen.normal(_size(size), as_dtype(dtype or get_default_dtype()))
    return _finish(array, None, device, requires_grad)


def rand(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
         generator: Generator | None = None) -> Tensor:
    """Samples of the uniform distribution on [0, 1)."""
    gen = generator or default_generator
    array = gen.uniform(_size(size), as_dtype(dtype or get_default_dtype()))
    return _finish(array, None, device, requires_grad)


def randint(low: int, high: int | None = None, size: Sequence[int] = (), dtype: Any = None,
            device: Any = None, generator: Generator | None = None) -> Tensor:
    """Integers in [low, high) (or [0, low) when ``high`` is None), int64 by default."""
    if high is None:
        low, high = 0, low
    if high <= low:
        raise ValueError(f"randint: empty range [{low}, {high})")
    gen = generator or default_generator
    return _finish(gen.integers(low, high, _size((tuple(size),))), dtype, device, False)


def randperm(n: int, device: Any = None, generator: Generator | None = None) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    gen = generator or default_generator
    return _finish(gen.permutation(n).astype(np.int64), None, device, False)


def randn_like(t: Tensor, generator: Generator | None = None) -> Tensor:
    return randn(t.shape, dtype=t.dtype, device=t.device, generator=generator)


def rand_like(t: Tensor, generator: Generator | None = None) -> Tensor:
    return rand(t.shape, dtype=t.dtype, device=t.device, generator=generator)
