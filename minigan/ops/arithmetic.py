"""Binary arithmetic with NumPy broadcasting, comparisons, where, casts.

Broadcasting rule for every binary op: the output has shape ``broadcast(a.shape,
b.shape)``; in backward each input's gradient is summed back to the input's own shape
with ``sum_to`` (the adjoint of broadcasting).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.common import as_tensor, broadcast_shape, const, tensor_pair
from minigan.tensor import Tensor, get_default_dtype


def _reduce_to(g: Tensor, like: Tensor) -> Tensor:
    return g if g.shape == like.shape else g.sum_to(like.shape)


def _promote(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """An integer or bool operand next to a floating one takes the floating dtype, as in
    PyTorch: ``int64 * 2.5`` is float32, where NumPy would promote int64 with float32 to
    float64. Integer tensors never require grad, so the cast is a constant."""
    floating_a, floating_b = a.dtype.kind in "fc", b.dtype.kind in "fc"
    if floating_a and not floating_b:
        b = Tensor._make(b.data.astype(a.dtype))
    elif floating_b and not floating_a:
        a = Tensor._make(a.data.astype(b.dtype))
    return a, b


class Add(Function):
    """y = a + b;  dy/da = 1, dy/db = 1.   a: (*A), b: (*B) -> y: broadcast(A, B)"""

    def forward(ctx, a, b):
        return a + b

    def backward(ctx, gy):
        a, b = ctx.inputs
        return (_reduce_to(gy, a) if ctx.needs_input_grad[0] else None,
                _reduce_to(gy, b) if ctx.needs_input_grad[1] else None)


class Sub(Function):
    """y = a - b;  dy/da = 1, dy/db = -1."""

    def forward(ctx, a, b):
        return a - b

    def backward(ctx, gy):
        a, b = ctx.inputs
        return (_reduce_to(gy, a) if ctx.needs_input_grad[0] else None,
                _reduce_to(-gy, b) if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """y = a * b;  dy/da = b, dy/db = a."""

    def forward(ctx, a, b):
        return a * b

    def backward(ctx, gy):
        a, b = ctx.inputs
        return (_reduce_to(gy * b, a) if ctx.needs_input_grad[0] else None,
                _reduce_to(gy * a, b) if ctx.needs_input_grad[1] else None)


class Div(Function):
    """y = a / b;  dy/da = 1 / b, dy/db = -a / b^2 = -y / b."""

    def forward(ctx, a, b):
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            return (a / b).astype(get_default_dtype())
        return a / b

    def backward(ctx, gy):
        a, b = ctx.inputs
        ga = _reduce_to(gy / b, a) if ctx.needs_input_grad[0] else None
        gb = _reduce_to(-gy * ctx.saved_output / b, b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = a ** b;  dy/da = b * a^(b-1), dy/db = y * log(a).

    As in PyTorch, dy/da is 0 where b = 0 (not 0 * 0^-1 = nan at a = 0), and dy/db is 0
    where a = 0 and b >= 0 (the limit of a^b log a, not 0 * log 0 = nan).
    """

    def forward(ctx, a, b):
        return a ** b

    def backward(ctx, gy):
        a, b = ctx.inputs
        ga = gb = None
        if ctx.needs_input_grad[0]:
            exponent = where(const(b.data == 0), 1, b - 1)     # b * a^1 = 0 where b = 0
            ga = _reduce_to(gy * b * a ** exponent, a)
        if ctx.needs_input_grad[1]:
            zero_base = const((a.data == 0) & (b.data >= 0))
            gb = _reduce_to(gy * ctx.saved_output * where(zero_base, 1, a).log(), b)
        return ga, gb


# A Python number next to a floating tensor is a parameter of the node, not a second
# tensor: the array code takes it as it is (``x * 2.0`` stays float32, as the NumPy and
# CuPy rules for Python scalars say), so no array is made from it (on a GPU, a copy from
# the host) and its gradient is never asked for.

class AddScalar(Function):
    """y = x + s for a number s (x - s is x + (-s), equal in floating point);  dx = gy."""

    def forward(ctx, x, s):
        return x + s

    def backward(ctx, gy):
        return gy


class RSubScalar(Function):
    """y = s - x;  dx = -gy."""

    def forward(ctx, x, s):
        return s - x

    def backward(ctx, gy):
        return -gy


class MulScalar(Function):
    """y = x * s;  dx = gy * s."""

    def forward(ctx, x, s):
        ctx.s = s
        return x * s

    def backward(ctx, gy):
        return MulScalar.apply(gy, s=ctx.s)


class DivScalar(Function):
    """y = x / s;  dx = gy / s."""

    def forward(ctx, x, s):
        ctx.s = s
        return x / s

    def backward(ctx, gy):
        return DivScalar.apply(gy, s=ctx.s)


class RDivScalar(Function):
    """y = s / x;  dx = -gy s / x^2 = -gy y / x."""

    def forward(ctx, x, s):
        return s / x

    def backward(ctx, gy):
        return -gy * ctx.saved_output / ctx.inputs[0]


class PowScalar(Function):
    """y = x ** p for a number p;  dx = gy p x^(p-1), and 0 at p = 0 (as ``Pow``)."""

    def forward(ctx, x, p):
        ctx.p = p
        return x ** p

    def backward(ctx, gy):
        p = ctx.p
        if p == 0:
            return gy * 0
        x = ctx.inputs[0]
        return gy * (x if p == 2 else x ** (p - 1)) * p


_TENSOR_SCALAR = {"add": lambda x, s: AddScalar.apply(x, s=s),
                  "sub": lambda x, s: AddScalar.apply(x, s=-s),
                  "mul": lambda x, s: MulScalar.apply(x, s=s),
                  "div": lambda x, s: DivScalar.apply(x, s=s),
                  "pow": lambda x, s: PowScalar.apply(x, p=s)}
_SCALAR_TENSOR = {"add": lambda s, x: AddScalar.apply(x, s=s),
                  "sub": lambda s, x: RSubScalar.apply(x, s=s),
                  "mul": lambda s, x: MulScalar.apply(x, s=s),
                  "div": lambda s, x: RDivScalar.apply(x, s=s)}


def _number(value: Any, like: Tensor) -> int | float | None:
    """``value`` as a Python int or float when it is a real number next to a floating
    tensor (the result keeps the tensor's dtype); else None. NumPy's scalars become Python
    numbers: an np.float64 next to a float32 array would make the result float64."""
    if like.dtype.kind != "f" or isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    return None


class Neg(Function):
    """y = -x."""

    def forward(ctx, x):
        return -x

    def backward(ctx, gy):
        return -gy


class Maximum(Function):
    """y = max(a, b) elementwise; the gradient goes to the larger, split evenly on ties."""

    def forward(ctx, a, b):
        ctx.save(share_a=((a > b) + 0.5 * (a == b)).astype(np.result_type(a, b)))
        return xp(a).maximum(a, b)

    def backward(ctx, gy):
        a, b = ctx.inputs
        share = const(ctx.share_a)
        return (_reduce_to(gy * share, a) if ctx.needs_input_grad[0] else None,
                _reduce_to(gy * (1 - share), b) if ctx.needs_input_grad[1] else None)


class Minimum(Function):
    """y = min(a, b) elementwise; the gradient goes to the smaller, split evenly on ties."""

    def forward(ctx, a, b):
        ctx.save(share_a=((a < b) + 0.5 * (a == b)).astype(np.result_type(a, b)))
        return xp(a).minimum(a, b)

    def backward(ctx, gy):
        a, b = ctx.inputs
        share = const(ctx.share_a)
        return (_reduce_to(gy * share, a) if ctx.needs_input_grad[0] else None,
                _reduce_to(gy * (1 - share), b) if ctx.needs_input_grad[1] else None)


class Where(Function):
    """y = cond ? a : b;  dy/da = cond, dy/db = not cond.   cond is a boolean constant."""

    def forward(ctx, cond, a, b):
        return xp(a).where(cond, a, b)

    def backward(ctx, gy):
        cond, a, b = ctx.inputs
        mask = cond.to(gy.dtype)
        return (None,
                _reduce_to(gy * mask, a) if ctx.needs_input_grad[1] else None,
                _reduce_to(gy * (1 - mask), b) if ctx.needs_input_grad[2] else None)


class Cast(Function):
    """y = x converted to ``dtype``; the gradient is converted back."""

    def forward(ctx, x, dtype):
        return x.astype(dtype)

    def backward(ctx, gy):
        return gy.to(ctx.inputs[0].dtype)


class Clone(Function):
    """y = a copy of x (own storage); dy/dx = 1."""

    def forward(ctx, x):
        return x.copy()

    def backward(ctx, gy):
        return gy


def _binary(cls: type[Function], a: Any, b: Any, op: str) -> Tensor:
    if not isinstance(b, Tensor):
        s = _number(b, a) if isinstance(a, Tensor) else None
        if s is not None and op in _TENSOR_SCALAR:
            return _TENSOR_SCALAR[op](a, s)
    elif not isinstance(a, Tensor):
        s = _number(a, b)
        if s is not None and op in _SCALAR_TENSOR:
            return _SCALAR_TENSOR[op](s, b)
    a, b = _promote(*tensor_pair(a, b, op))
    if a.shape != b.shape:
        broadcast_shape(op, a.shape, b.shape)
    return cls.apply(a, b)


def add(a: Any, b: Any) -> Tensor:
    return _binary(Add, a, b, "add")


def sub(a: Any, b: Any) -> Tensor:
    return _binary(Sub, a, b, "sub")


def mul(a: Any, b: Any) -> Tensor:
    return _binary(Mul, a, b, "mul")


def div(a: Any, b: Any) -> Tensor:
    return _binary(Div, a, b, "div")


def pow(a: Any, b: Any) -> Tensor:
    return _binary(Pow, a, b, "pow")


def neg(x: Tensor) -> Tensor:
    return Neg.apply(x)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum of two tensors (or a tensor and a scalar)."""
    return _binary(Maximum, a, b, "maximum")


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum of two tensors (or a tensor and a scalar)."""
    return _binary(Minimum, a, b, "minimum")


def where(condition: Tensor, a: Any, b: Any) -> Tensor:
    """``a`` where ``condition`` holds, else ``b``; all three broadcast together."""
    if not isinstance(condition, Tensor) or condition.dtype.kind != "b":
        kind = condition.dtype if isinstance(condition, Tensor) else type(condition).__name__
        raise TypeError(f"where: condition must be a bool tensor, got {kind}")
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = as_tensor(a, Tensor._make(condition.xp.zeros((), get_default_dtype())), "where")
    a, b = _promote(*tensor_pair(a, b, "where"))
    broadcast_shape("where", condition.shape, a.shape, b.shape)
    return Where.apply(condition, a, b)


def cast(x: Tensor, dtype: np.dtype) -> Tensor:
    """``x`` as ``dtype``. Casting to a non-floating dtype leaves the graph."""
    if x.dtype == dtype:
        return x
    if dtype.kind not in "fc":
        return Tensor._make(x.data.astype(dtype))
    return Cast.apply(x, dtype=dtype)


def clone(x: Tensor) -> Tensor:
    return Clone.apply(x)


# Comparisons and logic make boolean tensors, which carry no gradient.

def _compare(a: Any, b: Any, op: str, fn: Any) -> Tensor:
    if isinstance(a, Tensor) and not isinstance(b, Tensor):
        s = _number(b, a)
        if s is not None:
            return Tensor._make(fn(a.data, s))
    elif not isinstance(a, Tensor):
        s = _number(a, b)
        if s is not None:
            return Tensor._make(fn(s, b.data))
    a, b = tensor_pair(a, b, op)
    broadcast_shape(op, a.shape, b.shape)
    return Tensor._make(fn(a.data, b.data))


def lt(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "lt", lambda x, y: x < y)


def le(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "le", lambda x, y: x <= y)


def gt(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "gt", lambda x, y: x > y)


def ge(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "ge", lambda x, y: x >= y)


def eq(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "eq", lambda x, y: x == y)


def ne(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "ne", lambda x, y: x != y)


# Logical, not bitwise: nonzero numbers count as True (``&`` on int64 would give 2 & 1 = 0).

def logical_and(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "logical_and", lambda x, y: xp(x).logical_and(x, y))


def logical_or(a: Any, b: Any) -> Tensor:
    return _compare(a, b, "logical_or", lambda x, y: xp(x).logical_or(x, y))


def logical_not(x: Tensor) -> Tensor:
    return Tensor._make(~x.data if x.dtype.kind == "b" else x.data == 0)
