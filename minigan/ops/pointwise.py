"""Elementwise math: exp, log, log1p, sqrt, abs, sign, clamp, erf.   x: (*) -> y: (*)"""
from __future__ import annotations

import math
from typing import Any

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.common import check_floating, const
from minigan.tensor import Tensor


class Exp(Function):
    """y = e^x;  dy/dx = y."""

    def forward(ctx, x):
        return xp(x).exp(x)

    def backward(ctx, gy):
        return gy * ctx.saved_output


class Log(Function):
    """y = ln x;  dy/dx = 1 / x."""

    def forward(ctx, x):
        return xp(x).log(x)

    def backward(ctx, gy):
        return gy / ctx.inputs[0]


class Log1p(Function):
    """y = ln(1 + x), accurate for small x;  dy/dx = 1 / (1 + x)."""

    def forward(ctx, x):
        return xp(x).log1p(x)

    def backward(ctx, gy):
        return gy / (1 + ctx.inputs[0])


class Sqrt(Function):
    """y = sqrt(x);  dy/dx = 1 / (2 y)  (infinite at 0, as in PyTorch)."""

    def forward(ctx, x):
        return xp(x).sqrt(x)

    def backward(ctx, gy):
        return gy / (2 * ctx.saved_output)


class Abs(Function):
    """y = |x|;  dy/dx = sign(x), taken as 0 at x = 0."""

    def forward(ctx, x):
        return xp(x).abs(x)

    def backward(ctx, gy):
        return gy * const(xp(gy.data).sign(ctx.inputs[0].data).astype(gy.dtype))


class Clamp(Function):
    """y = min(max(x, lo), hi);  dy/dx = 1 where lo <= x <= hi, else 0."""

    def forward(ctx, x, lo, hi):
        inside = xp(x).ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.save(inside=inside)
        # A NumPy float64 bound (not a weak Python float) would widen float32 x: cast back.
        return xp(x).clip(x, lo, hi).astype(x.dtype, copy=False)

    def backward(ctx, gy):
        return gy * const(ctx.inside.astype(gy.dtype))


def erf_array(x: Any) -> Any:
    """The error function on a NumPy or CuPy array, to about 2e-15 absolute error.

    NumPy has no erf, so it is computed here from two expansions that need no
    cancellation:

    * |x| < 2.5: erf(x) = 2/sqrt(pi) * e^(-x^2) * sum_n 2^n x^(2n+1) / (1*3*...*(2n+1)),
      a series of positive terms (40 of them);
    * |x| >= 2.5: erfc(x) = e^(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
      Laplace's continued fraction evaluated bottom-up from depth 30.
    """
    mod = xp(x)
    x64 = x.astype("float64")
    small = mod.clip(x64, -2.5, 2.5)
    term = small.copy()
    total = small.copy()
    twice_square = 2 * small * small
    for n in range(40):
        term = term * twice_square / (2 * n + 3)
        total = total + term
    series = total * mod.exp(-small * small) * (2 / math.sqrt(math.pi))
    big = mod.maximum(mod.abs(x64), 2.5)
    fraction = big.copy()
    for k in range(30, 0, -1):
        fraction = big + (k / 2) / fraction
    erfc = mod.exp(-big * big) / (math.sqrt(math.pi) * fraction)
    tail = mod.sign(x64) * (1 - erfc)
    return mod.where(mod.abs(x64) < 2.5, series, tail).astype(x.dtype)


class Erf(Function):
    """y = erf(x) = 2/sqrt(pi) * int_0^x e^(-t^2) dt;  dy/dx = 2/sqrt(pi) * e^(-x^2)."""

    def forward(ctx, x):
        return erf_array(x)

    def backward(ctx, gy):
        x = ctx.inputs[0]
        return gy * (2 / math.sqrt(math.pi)) * (-(x * x)).exp()


def exp(x: Tensor) -> Tensor:
    check_floating("exp", x)
    return Exp.apply(x)


def log(x: Tensor) -> Tensor:
    check_floating("log", x)
    return Log.apply(x)


def log1p(x: Tensor) -> Tensor:
    check_floating("log1p", x)
    return Log1p.apply(x)


def sqrt(x: Tensor) -> Tensor:
    check_floating("sqrt", x)
    return Sqrt.apply(x)


def abs(x: Tensor) -> Tensor:
    if x.dtype.kind not in "fc":
        return Tensor._make(x.xp.abs(x.data))
    return Abs.apply(x)


def sign(x: Tensor) -> Tensor:
    """-1, 0 or 1 elementwise; a step function, so it carries no gradient."""
    return Tensor._make(x.xp.sign(x.data))


def clamp(x: Tensor, min: float | None = None, max: float | None = None) -> Tensor:
    """Clip ``x`` into ``[min, max]`` (either bound may be None)."""
    check_floating("clamp", x)
    if min is None and max is None:
        raise ValueError("clamp: at least one of min and max must be given")
    if min is not None and max is not None and min > max:
        raise ValueError(f"clamp: min {min} is larger than max {max}")
    return Clamp.apply(x, lo=min, hi=max)


def erf(x: Tensor) -> Tensor:
    check_floating("erf", x)
    return Erf.apply(x)
