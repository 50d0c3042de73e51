"""Indexing: ``x[index]`` and its adjoint, the scatter-add; one-hot codes; embeddings.

``x[index]`` accepts what NumPy accepts: ints, slices, None, Ellipsis, integer arrays and
boolean masks (as tensors, arrays or lists). Its gradient puts ``gy`` back where the
elements came from, adding where an integer index repeats an element (``index_add``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.common import value_range
from minigan.tensor import Tensor, int64


def normalize_index(index: Any, like: Tensor | None = None) -> Any:
    """Turn tensors and lists inside an index into arrays on ``like``'s device."""
    if isinstance(index, tuple):
        return tuple(normalize_index(i, like) for i in index)
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, list):
        # an empty list selects nothing, as in NumPy (np.asarray([]) would be float64)
        index = np.asarray(index) if index else np.zeros(0, dtype=np.intp)
    if hasattr(index, "dtype") and hasattr(index, "shape"):
        if index.dtype.kind not in "iub":
            raise IndexError(f"getitem: index arrays must hold integers or booleans, got "
                             f"{index.dtype}")
        if like is not None:
            index = like.xp.asarray(index)
    return index


def _has_integer_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "dtype") and p.dtype.kind in "iu" and p.ndim > 0 for p in parts)


class Getitem(Function):
    """y = x[index];  dx = index_add(zeros like x, index, gy)."""

    def forward(ctx, x, index):
        ctx.index = index
        return x[index]

    def backward(ctx, gy):
        return IndexAdd.apply(gy, index=ctx.index, shape=ctx.inputs[0].shape)


class IndexAdd(Function):
    """y = zeros(shape) with y[index] += g, adding over repeated indices;  dg = gy[index].

    Slices, ints and boolean masks never repeat an element, so a plain assignment does;
    integer arrays may, so they take the unbuffered ``add.at`` (NumPy and CuPy alike).
    """

    def forward(ctx, g, index, shape):
        ctx.index = index
        mod = xp(g)
        out = mod.zeros(shape, dtype=g.dtype)
        if _has_integer_array(index):
            mod.add.at(out, index, g)
        else:
            out[index] = g
        return out

    def backward(ctx, gy):
        return Getitem.apply(gy, index=ctx.index)


def getitem(x: Tensor, index: Any) -> Tensor:
    try:
        index = normalize_index(index, x)
    except IndexError as err:
        raise IndexError(f"{err} (tensor of shape {x.shape})") from None
    try:
        return Getitem.apply(x, index=index)
    except IndexError as err:
        raise IndexError(f"getitem: {err} (tensor of shape {x.shape})") from None


def index_add(shape: tuple[int, ...], index: Any, values: Tensor) -> Tensor:
    """A tensor of zeros of ``shape`` with ``values`` added at ``index`` (repeats add up).

    ``values`` must have exactly the shape of ``zeros(shape)[index]``: a broadcast in
    forward would have no matching backward."""
    shape = tuple(int(n) for n in shape)
    try:
        index = normalize_index(index, values)
        # the indexed region's shape, from a zero-stride view (no allocation of ``shape``)
        region = values.xp.broadcast_to(values.xp.zeros((), dtype=bool), shape)[index].shape
    except IndexError as err:
        message = str(err).removeprefix("getitem: ")
        raise IndexError(f"index_add: {message} (target shape {shape})") from None
    if tuple(region) != values.shape:
        raise ValueError(f"index_add: values of shape {values.shape} do not match the indexed "
                         f"region of shape {tuple(region)} (target shape {shape})")
    return IndexAdd.apply(values, index=index, shape=shape)


def one_hot(labels: Tensor, num_classes: int = -1) -> Tensor:
    """(*,) integer labels -> (*, num_classes) int64 one-hot codes (no gradient)."""
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got {labels.dtype}")
    data = labels.data
    low, high = value_range(data) if data.size else (0, -1)
    if low < 0:
        raise ValueError(f"one_hot: labels must be non-negative, got {low}")
    top = high + 1
    if num_classes == -1:
        num_classes = top
    elif top > num_classes:
        raise ValueError(f"one_hot: label {top - 1} does not fit num_classes={num_classes}")
    mod = labels.xp
    return Tensor._make((data[..., None] == mod.arange(num_classes)).astype(int64))


def embedding(indices: Tensor, weight: Tensor) -> Tensor:
    """Rows of ``weight`` picked by ``indices``.   indices: (*), weight: (V, D) -> (*, D)

    The gradient of ``weight`` adds up the rows' gradients (a scatter-add)."""
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: indices must be integers, got {indices.dtype}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-D (num_embeddings, dim), got shape "
                         f"{weight.shape}")
    data = indices.data
    low, high = value_range(data) if data.size else (0, -1)
    if low < 0 or high >= weight.shape[0]:
        raise IndexError(f"embedding: indices must lie in [0, {weight.shape[0]}), got "
                         f"values from {low} to {high}")
    return Getitem.apply(weight, index=data)
