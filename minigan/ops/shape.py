"""Movement ops: they rearrange, copy or broadcast elements and never compute new values.

Each backward is the adjoint movement: reshape <-> reshape back, permute <-> inverse
permute, expand <-> sum_to, cat <-> slices, pad <-> fold the border back in.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from minigan.autograd import Function
from minigan.backend import Device, device_of, to_device as array_to_device, xp
from minigan.ops.common import normalize_dim, normalize_dims
from minigan.tensor import Tensor


def _along(axis: int, start: int, stop: int) -> tuple[slice, ...]:
    """The index that selects ``start:stop`` of dim ``axis`` and all of the others."""
    return (slice(None),) * axis + (slice(start, stop),)


class Reshape(Function):
    """y = x with a new shape and the same elements in row-major order."""

    def forward(ctx, x, shape):
        return x.reshape(shape)

    def backward(ctx, gy):
        return gy.reshape(ctx.inputs[0].shape)


class Permute(Function):
    """y = x with its dims reordered: y.shape[i] = x.shape[dims[i]]."""

    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp(x).transpose(x, dims)

    def backward(ctx, gy):
        inverse = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inverse[d] = i
        return gy.permute(tuple(inverse))


class Expand(Function):
    """y = x broadcast to ``shape`` (a view, no copy);  dx = gy summed back to x's shape."""

    def forward(ctx, x, shape):
        return xp(x).broadcast_to(x, shape)

    def backward(ctx, gy):
        return gy.sum_to(ctx.inputs[0].shape)


class SumTo(Function):
    """y = x summed over the dims that broadcasting added or stretched, down to ``shape``;
    dx = gy expanded back to x's shape. (The adjoint of ``expand``.)"""

    def forward(ctx, x, shape):
        lead = x.ndim - len(shape)
        stretched = tuple(lead + i for i, n in enumerate(shape)
                          if n == 1 and x.shape[lead + i] != 1)
        return x.sum(axis=tuple(range(lead)) + stretched, keepdims=True).reshape(shape)

    def backward(ctx, gy):
        return gy.expand(ctx.inputs[0].shape)


class Flip(Function):
    """y = x reversed along ``dims``;  dx = gy reversed along the same dims."""

    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp(x).flip(x, dims)

    def backward(ctx, gy):
        return gy.flip(ctx.dims)


class Cat(Function):
    """y = the inputs joined along ``dim``;  each input's gradient is its slice of gy."""

    def forward(ctx, *xs, dim):
        ctx.dim = dim
        return xp(xs[0]).concatenate(xs, axis=dim)

    def backward(ctx, gy):
        grads = []
        start = 0
        for t, wanted in zip(ctx.inputs, ctx.needs_input_grad):
            stop = start + t.shape[ctx.dim]
            grads.append(gy[_along(ctx.dim, start, stop)] if wanted else None)
            start = stop
        return tuple(grads)


class Pad(Function):
    """y = x with ``width[d] = (before, after)`` elements added on each side of dim d.

    mode ``constant`` fills with ``value``; ``reflect`` mirrors without repeating the
    edge (x2 x1 | x0 x1 x2 ... ); ``replicate`` repeats the edge (x0 x0 | x0 x1 ...).
    Backward: constant -> the central slice of gy; the others -> ``PadAdjoint``.
    """

    def forward(ctx, x, width, mode, value):
        ctx.width, ctx.mode = width, mode
        if mode == "constant":
            return xp(x).pad(x, width, mode="constant", constant_values=value)
        return xp(x).pad(x, width, mode="reflect" if mode == "reflect" else "edge")

    def backward(ctx, gy):
        if ctx.mode == "constant":
            return gy[tuple(slice(lo, lo + n) for (lo, _), n in
                            zip(ctx.width, ctx.inputs[0].shape))]
        return PadAdjoint.apply(gy, width=ctx.width, mode=ctx.mode)


class PadAdjoint(Function):
    """The adjoint of reflect/replicate padding: each padded element's value is added back
    onto the element it copied. y: x.shape minus the padding. Its backward is ``Pad``."""

    def forward(ctx, g, width, mode):
        ctx.width, ctx.mode = width, mode
        mod = xp(g)
        for axis, (lo, hi) in enumerate(width):
            if lo == 0 and hi == 0:
                continue
            n = g.shape[axis] - lo - hi
            out = g[_along(axis, lo, lo + n)].copy()
            before, after = g[_along(axis, 0, lo)], g[_along(axis, lo + n, lo + n + hi)]
            if mode == "reflect":
                # padded[lo - i] copied x[i] (i = 1..lo); padded[lo + n - 1 + i] x[n - 1 - i]
                out[_along(axis, 1, lo + 1)] += mod.flip(before, axis)
                out[_along(axis, n - 1 - hi, n - 1)] += mod.flip(after, axis)
            else:
                out[_along(axis, 0, 1)] += before.sum(axis=axis, keepdims=True)
                out[_along(axis, n - 1, n)] += after.sum(axis=axis, keepdims=True)
            g = out
        return g

    def backward(ctx, gy):
        return Pad.apply(gy, width=ctx.width, mode=ctx.mode, value=0)


class ToDevice(Function):
    """y = x copied to another device;  dx = gy copied back."""

    def forward(ctx, x, target):
        ctx.source = device_of(x)
        return array_to_device(x, target)

    def backward(ctx, gy):
        return to_device(gy, ctx.source)


def reshape(x: Tensor, shape: Sequence[int]) -> Tensor:
    shape = tuple(int(n) for n in shape)
    known = math.prod(n for n in shape if n != -1)
    # with a -1, the other sizes must be nonzero: (0, -1) leaves the -1 undetermined
    fits = (shape.count(-1) == 0 and known == x.numel()) or (
        shape.count(-1) == 1 and known > 0 and x.numel() % known == 0)
    if not fits or any(n < -1 for n in shape):
        raise ValueError(f"reshape: cannot view shape {x.shape} ({x.numel()} elements) "
                         f"as {shape}")
    if shape == x.shape:
        return x
    return Reshape.apply(x, shape=shape)


def flatten(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one."""
    if x.ndim == 0:
        return x.reshape(1)
    start = normalize_dim("flatten", start_dim, x.ndim)
    end = normalize_dim("flatten", end_dim, x.ndim)
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    return x.reshape(x.shape[:start] + (math.prod(x.shape[start:end + 1]),) + x.shape[end + 1:])


def permute(x: Tensor, dims: Sequence[int]) -> Tensor:
    norm = tuple(normalize_dim("permute", d, x.ndim) for d in dims)
    if sorted(norm) != list(range(x.ndim)):
        raise ValueError(f"permute: dims {tuple(dims)} are not a permutation of the "
                         f"{x.ndim} dims of shape {x.shape}")
    if norm == tuple(range(x.ndim)):
        return x
    return Permute.apply(x, dims=norm)


def transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims (a 0-d tensor, whose only valid dims are 0 and -1, is returned)."""
    dims = list(range(x.ndim))
    a, b = normalize_dim("transpose", dim0, x.ndim), normalize_dim("transpose", dim1, x.ndim)
    if x.ndim == 0:
        return x
    dims[a], dims[b] = dims[b], dims[a]
    return permute(x, dims)


def movedim(x: Tensor, source: int, destination: int) -> Tensor:
    """Move dim ``source`` to position ``destination``, keeping the others in order."""
    src = normalize_dim("movedim", source, x.ndim)
    dst = normalize_dim("movedim", destination, x.ndim)
    dims = [d for d in range(x.ndim) if d != src]
    dims.insert(dst, src)
    return permute(x, dims)


def squeeze(x: Tensor, dim: int | None = None) -> Tensor:
    """Remove size-1 dims (only ``dim`` when given; a no-op if its size is not 1)."""
    if dim is None:
        return x.reshape(tuple(n for n in x.shape if n != 1))
    if x.ndim == 0:
        return x
    d = normalize_dim("squeeze", dim, x.ndim)
    if x.shape[d] != 1:
        return x
    return x.reshape(x.shape[:d] + x.shape[d + 1:])


def unsqueeze(x: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (in ``[-ndim-1, ndim]``)."""
    d = normalize_dim("unsqueeze", dim, x.ndim + 1)
    return x.reshape(x.shape[:d] + (1,) + x.shape[d:])


def expand(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """Broadcast ``x`` to ``sizes`` without copying; -1 keeps a dim's size."""
    sizes = tuple(int(n) for n in sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: cannot expand shape {x.shape} to fewer dims {sizes}")
    target = []
    for i, n in enumerate(sizes):
        own = x.shape[i - lead] if i >= lead else None
        if n == -1:
            if own is None:
                raise ValueError(f"expand: -1 is not allowed for the new leading dim {i} "
                                 f"in {sizes}")
            n = own
        if n < 0:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes} (dim {i}: "
                             f"negative size {n})")
        if own is not None and own != 1 and own != n:
            raise ValueError(f"expand: cannot expand shape {x.shape} to {sizes} (dim {i}: "
                             f"{own} -> {n}; only size-1 dims can grow)")
        target.append(n)
    target = tuple(target)
    if target == x.shape:
        return x
    return Expand.apply(x, shape=target)


def broadcast_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    return expand(x, shape)


def sum_to(x: Tensor, shape: Sequence[int]) -> Tensor:
    """Sum ``x`` down to ``shape``, which must broadcast to ``x.shape``."""
    shape = tuple(shape)
    if shape == x.shape:
        return x
    lead = x.ndim - len(shape)
    if lead < 0 or any(n not in (1, x.shape[lead + i]) for i, n in enumerate(shape)):
        raise ValueError(f"sum_to: shape {shape} does not broadcast to {x.shape}")
    return SumTo.apply(x, shape=shape)


def flip(x: Tensor, dims: int | Sequence[int]) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    dims = normalize_dims("flip", dims, x.ndim)
    if not dims:
        return x
    return Flip.apply(x, dims=dims)


def repeat(x: Tensor, sizes: Sequence[int]) -> Tensor:
    """Tile ``x``: dim i is repeated ``sizes[i]`` times (``sizes`` may add leading dims).

    Built from movement ops: (s0, s1) -> (1, s0, 1, s1) -> expand (r0, s0, r1, s1)
    -> reshape (r0 s0, r1 s1), so its gradient is a sum over the copies.
    """
    sizes = tuple(int(r) for r in sizes)
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} repeat counts for a tensor of {x.ndim} dims "
                         f"(shape {x.shape})")
    if any(r < 0 for r in sizes):
        raise ValueError(f"repeat: repeat counts must be non-negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    interleaved = tuple(v for n in shape for v in (1, n))
    stretched = tuple(v for r, n in zip(sizes, shape) for v in (r, n))
    return x.reshape(interleaved).expand(stretched).reshape(
        tuple(r * n for r, n in zip(sizes, shape)))


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other dims must match."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    if first.ndim == 0:
        shapes = ", ".join(str(u.shape) for u in tensors)
        raise ValueError(f"cat: zero-dimensional tensors (shapes {shapes}) cannot be "
                         "concatenated; use stack")
    d = normalize_dim("cat", dim, first.ndim)
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(
                a != b for i, (a, b) in enumerate(zip(t.shape, first.shape)) if i != d):
            shapes = ", ".join(str(u.shape) for u in tensors)
            raise ValueError(f"cat: shapes {shapes} differ outside dim {d}")
    if len({t.dtype for t in tensors}) > 1:
        dtypes = ", ".join(f"{t.dtype} {t.shape}" for t in tensors)
        raise TypeError(f"cat: tensors have different dtypes ({dtypes})")
    return Cat.apply(*tensors, dim=d)


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    if len({t.shape for t in tensors}) > 1:
        shapes = ", ".join(str(t.shape) for t in tensors)
        raise ValueError(f"stack: all tensors need the same shape, got {shapes}")
    if len({t.dtype for t in tensors}) > 1:
        dtypes = ", ".join(f"{t.dtype} {t.shape}" for t in tensors)
        raise TypeError(f"stack: tensors have different dtypes ({dtypes})")
    d = normalize_dim("stack", dim, tensors[0].ndim + 1)
    return cat([t.unsqueeze(d) for t in tensors], d)


def split(x: Tensor, split_size_or_sections: int | Sequence[int], dim: int = 0
          ) -> tuple[Tensor, ...]:
    """Pieces of ``x`` along ``dim``: of ``split_size`` each (the last may be smaller), or of
    the listed sizes, which must add up to the dim's size."""
    d = normalize_dim("split", dim, x.ndim)
    n = x.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        size = int(split_size_or_sections)
        if size <= 0:
            raise ValueError(f"split: split size must be positive, got {size}")
        sections = [min(size, n - start) for start in range(0, n, size)] or [0]
    else:
        sections = [int(s) for s in split_size_or_sections]
        if sum(sections) != n or any(s < 0 for s in sections):
            raise ValueError(f"split: sections {sections} do not add up to size {n} of dim "
                             f"{d} (shape {x.shape})")
    pieces = []
    start = 0
    for s in sections:
        pieces.append(x[_along(d, start, start + s)])
        start += s
    return tuple(pieces)


def chunk(x: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of ceil(n / chunks) (fewer if n is small)."""
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = x.shape[normalize_dim("chunk", dim, x.ndim)]
    return split(x, max(1, -(-n // chunks)), dim)


def pad(x: Tensor, pad: Sequence[int], mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad with PyTorch's convention: ``pad = (left, right, top, bottom, ...)`` pads the
    last dim first. Modes: ``constant`` (with ``value``), ``reflect``, ``replicate``."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) > 2 * x.ndim:
        raise ValueError(f"pad: pad {pad} must have an even length of at most 2 * {x.ndim} "
                         f"for shape {x.shape}")
    if any(p < 0 for p in pad):
        raise ValueError(f"pad: negative padding {pad} is not supported (shape {x.shape})")
    if mode not in ("constant", "reflect", "replicate"):
        raise ValueError(f"pad: mode must be 'constant', 'reflect' or 'replicate', got "
                         f"{mode!r} (shape {x.shape})")
    width = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        width[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    for axis, (lo, hi) in enumerate(width):
        n = x.shape[axis]
        if mode == "reflect" and (lo or hi) and max(lo, hi) >= n:
            raise ValueError(f"pad: reflect padding {(lo, hi)} must be smaller than dim "
                             f"{axis} of size {n} (shape {x.shape})")
        if mode == "replicate" and (lo or hi) and n == 0:
            raise ValueError(f"pad: cannot replicate-pad empty dim {axis} (shape {x.shape})")
    return Pad.apply(x, width=tuple(width), mode=mode, value=value)


def to_device(x: Tensor, target: Device) -> Tensor:
    """``x`` on ``target`` (itself when already there; a bare ``"cuda"`` matches any GPU)."""
    if x.device == target:
        return x
    return ToDevice.apply(x, target=target)
