"""Matrix products: ``matmul`` (NumPy's batching and broadcasting) and ``linear``."""
from __future__ import annotations

import math
from typing import Any

from minigan.autograd import Function
from minigan.ops.common import broadcast_shape, check_floating, tensor_pair
from minigan.tensor import Tensor


class Matmul(Function):
    """y = a @ b.   a: (*A, n, k), b: (*B, k, m) -> y: (broadcast(A, B), n, m)

    A 1-D ``a`` is a row (1, k) and a 1-D ``b`` a column (k, 1); the added dim is removed
    from the result, as in NumPy. Backward:  da = gy @ b^T,  db = a^T @ gy, each summed
    over the batch dims that were broadcast.
    """

    def forward(ctx, a, b):
        return a @ b

    def backward(ctx, gy):
        a, b = ctx.inputs
        if a.ndim == 1 and b.ndim == 1:                      # dot product: y is a scalar
            return (gy * b if ctx.needs_input_grad[0] else None,
                    gy * a if ctx.needs_input_grad[1] else None)
        a2 = a.unsqueeze(0) if a.ndim == 1 else a            # (k,) -> (1, k)
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b           # (k,) -> (k, 1)
        g2 = gy
        if a.ndim == 1:
            g2 = g2.unsqueeze(-2)                            # restore the n = 1 dim
        if b.ndim == 1:
            g2 = g2.unsqueeze(-1)                            # restore the m = 1 dim
        ga = gb = None
        if ctx.needs_input_grad[0]:
            ga = (g2 @ b2.mT).sum_to(a2.shape).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            gb = (a2.mT @ g2).sum_to(b2.shape).reshape(b.shape)
        return ga, gb


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with NumPy's rules for 1-D operands and batch broadcasting."""
    a, b = tensor_pair(a, b, "matmul")
    check_floating("matmul", a, b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: both operands need at least one dimension, got shapes "
                         f"{a.shape} and {b.shape}")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied "
                         f"({k_a} != {k_b})")
    if a.ndim > 2 or b.ndim > 2:
        try:
            broadcast_shape("matmul", a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} cannot be multiplied: "
                             f"batch dims {a.shape[:-2]} and {b.shape[:-2]} do not "
                             "broadcast") from None
    return Matmul.apply(a, b)


class Linear(Function):
    """y = x W^T + b, one node.   x: (*, in), W: (out, in), b: (out,) or absent -> (*, out)

    Backward, with the batch dims of x flattened into rows (x2: (rows, in), g2: (rows,
    out)):  dx = gy @ W,  dW = g2^T @ x2,  db = sum of g2 over the rows. One node instead
    of a transpose, a matrix product and a broadcast add keeps the host's work per layer
    small; the products are the same GEMMs (W^T is a view, never a copy).
    """

    def forward(ctx, x, weight, bias):
        y = x @ weight.T
        return y if bias is None else y + bias

    def backward(ctx, gy):
        x, weight, _ = ctx.inputs
        needs = ctx.needs_input_grad
        out, in_ = weight.shape
        rows = math.prod(x.shape[:-1])
        g2 = gy.reshape(rows, out)
        return (gy @ weight if needs[0] else None,
                g2.mT @ x.reshape(rows, in_) if needs[1] else None,
                g2.sum(0) if needs[2] else None)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """y = x W^T + b.   x: (*, in), weight: (out, in), bias: (out,) -> y: (*, out)"""
    check_floating("linear", x, weight, bias)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be 2-D (out, in), got shape {weight.shape}")
    if x.ndim == 0 or x.shape[-1] != weight.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape "
                         f"{weight.shape} (expected last dim {weight.shape[1]})")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear: bias must have shape ({weight.shape[0]},), got "
                         f"{bias.shape}")
    return Linear.apply(x, weight, bias)
