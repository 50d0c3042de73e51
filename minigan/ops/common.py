"""Small helpers shared by the op families: argument checks and constant tensors."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minigan.backend import xp
from minigan.tensor import Tensor, get_default_dtype, scalar_dtype


def const(array: Any) -> Tensor:
    """Wrap an array computed in forward (a mask, an index) as a constant tensor."""
    return Tensor._make(array)


def as_tensor(value: Any, like: Tensor, op: str) -> Tensor:
    """Turn a Python scalar or array into a constant tensor on ``like``'s device.

    Python scalars take ``like``'s dtype (see ``scalar_dtype``), so ``x * 2.0`` stays
    float32; they are filled in on the device (on a GPU a fill kernel, not a copy from
    the host).
    """
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.number, np.bool_)):
        return Tensor._make(like.xp.full((), value, dtype=scalar_dtype(like.dtype, value)))
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return Tensor._make(like.xp.asarray(value))
    if isinstance(value, (list, tuple)):
        array = np.asarray(value)
        if array.dtype.kind == "f":
            array = array.astype(like.dtype if like.dtype.kind == "f" else get_default_dtype())
        return Tensor._make(like.xp.asarray(array))
    raise TypeError(f"{op}: cannot combine a tensor with {type(value).__name__}")


def tensor_pair(a: Any, b: Any, op: str) -> tuple[Tensor, Tensor]:
    """Both operands of a binary op as tensors (at least one already is one)."""
    if isinstance(a, Tensor):
        return a, as_tensor(b, a, op)
    return as_tensor(a, b, op), b


def broadcast_shape(op: str, *shapes: tuple[int, ...]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``, or a ValueError that names the op and shapes."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        listed = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {listed} cannot be broadcast together") from None


def value_range(array: Any) -> tuple[Any, Any]:
    """(min, max) of a non-empty NumPy or CuPy array as Python numbers, in one copy to the
    host: an op that checks its integer inputs (labels, indices) makes the GPU wait once
    per call, not once per bound."""
    low, high = xp(array).stack([array.min(), array.max()]).tolist()
    return low, high


def check_floating(op: str, *tensors: Tensor | None) -> None:
    """Differentiable math needs floating-point inputs; say which one is not."""
    for i, t in enumerate(tensors):
        if t is not None and t.dtype.kind not in "fc":
            which = f"input {i}" if len(tensors) > 1 else "a tensor"
            raise TypeError(f"{op}: expected a floating-point tensor, got {which} of dtype "
                            f"{t.dtype} and shape {t.shape}; convert it with .float()")


def normalize_dim(op: str, dim: int, ndim: int) -> int:
    """``dim`` in ``[0, ndim)``, counting negatives from the end."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -max(ndim, 1) <= dim < max(ndim, 1):
        raise IndexError(f"{op}: dim {dim} is out of range for a tensor with {ndim} "
                         "dimensions")
    return int(dim) % max(ndim, 1)


def normalize_dims(op: str, dim: int | Sequence[int] | None, ndim: int) -> tuple[int, ...]:
    """A sorted tuple of distinct non-negative dims; None means all of them.

    A 0-d tensor accepts dim 0 or -1, as in PyTorch, and has no dims to reduce: ().
    """
    if dim is None:
        return tuple(range(ndim))
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = tuple(sorted({normalize_dim(op, d, ndim) for d in dims}))
    if len(out) != len(dims):
        raise ValueError(f"{op}: dim {tuple(dims)} names a dimension twice")
    return out if ndim else ()


IntPair = int | tuple[int, int]


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def int_pair(op: str, name: str, value: IntPair, minimum: int) -> tuple[int, int]:
    """(h, w) from an int or a pair of ints, each at least ``minimum`` (0 or 1)."""
    if type(value) is int and value >= minimum:                  # the usual cases, at once
        return value, value
    if (type(value) is tuple and len(value) == 2 and type(value[0]) is int
            and type(value[1]) is int and min(value) >= minimum):
        return value
    pair = (value, value) if _is_int(value) else (
        tuple(value) if isinstance(value, (tuple, list)) else None)
    if pair is None or len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise TypeError(f"{op}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {name} must be {kind}, got {value!r}")
    return int(pair[0]), int(pair[1])


def keepdim_shape(shape: tuple[int, ...], dims: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``dims`` set to 1 (what keepdim=True returns)."""
    return tuple(1 if i in dims else n for i, n in enumerate(shape))
