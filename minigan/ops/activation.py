"""Activations and softmax.   x: (*) -> y: (*)

Each backward is written with Tensor ops on graph values (the input, or the saved
output), so second derivatives, which a gradient penalty needs, come out right. A mask
(``x > 0``) is a constant: its own derivative is zero almost everywhere.

ReLU's and leaky ReLU's gradient is its own op, ``LeakyReLUBackward`` (gy -> gy where x >
0, else slope gy: linear in gy, so its gradient is the same map), and so is softplus's,
``SoftplusBackward``. Leaky ReLU's and softplus's forwards and gradients are registered
ops (``leaky_relu``, ``leaky_relu_backward``, ``softplus``, ``softplus_backward``): the
array code below on every device, and on a GPU one CUDA launch each
(csrc/cuda/activation.cuh) where the array code makes 2 and 5, and 8 and 10.
"""
from __future__ import annotations

import math

from minigan.autograd import Function
from minigan.backend import register, run, xp
from minigan.ops.common import check_floating, const, normalize_dim
from minigan.ops.pointwise import erf_array
from minigan.tensor import Tensor


def sigmoid_array(x):
    """1 / (1 + e^-x) with full relative accuracy in both tails and no overflow:
    with e = e^-|x|, sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0."""
    mod = xp(x)
    e = mod.exp(-mod.abs(x))
    r = 1 / (1 + e)
    return mod.where(x >= 0, r, e * r)


def leaky_relu_array(x, slope):
    """y = x if x > 0 else slope x, as max(x, slope x) when slope <= 1 and min(x, slope x)
    when slope > 1: one product and one comparison per element, no mask array (NumPy's
    ``where`` over a mask takes several times as long). slope = 0 is max(x, 0), which
    keeps y = inf at x = inf where 0 * inf would be nan."""
    mod = xp(x)
    if slope == 0:
        return mod.maximum(x, 0)
    y = x * slope
    return (mod.maximum if slope <= 1 else mod.minimum)(y, x, out=y)


def leaky_relu_backward_array(gy, x, slope):
    """gx = gy where x > 0, else slope gy: gy times an array of 1 and slope."""
    slopes = (x > 0).astype(gy.dtype)                             # 1 where x > 0, else 0
    if slope != 0:
        slopes *= 1 - slope
        slopes += slope                                          # 1 where x > 0, else slope
    return gy * slopes


register("leaky_relu", "numpy", ("cpu", "cuda"))(leaky_relu_array)
register("leaky_relu_backward", "numpy", ("cpu", "cuda"))(leaky_relu_backward_array)


class ReLU(Function):
    """y = max(x, 0);  dy/dx = [x > 0]."""

    def forward(ctx, x):
        return xp(x).maximum(x, 0)

    def backward(ctx, gy):
        return LeakyReLUBackward.apply(gy, const(ctx.inputs[0].data), slope=0)


class LeakyReLU(Function):
    """y = x if x > 0 else slope * x;  dy/dx = 1 or slope (``leaky_relu_array``)."""

    def forward(ctx, x, slope):
        ctx.slope = slope
        return run("leaky_relu", x, slope)

    def backward(ctx, gy):
        return LeakyReLUBackward.apply(gy, const(ctx.inputs[0].data), slope=ctx.slope)


class LeakyReLUBackward(Function):
    """gx = gy where x > 0, else slope gy.   gy, x: (*) -> gx: (*)

    Linear in gy, so d/dgy of <ggx, gx> is the same map of ggx; x enters through the mask
    only, a constant (its derivative is zero almost everywhere)."""

    def forward(ctx, gy, x, slope):
        ctx.slope = slope
        return run("leaky_relu_backward", gy, x, slope)

    def backward(ctx, ggx):
        return LeakyReLUBackward.apply(ggx, ctx.inputs[1], slope=ctx.slope), None


class ELU(Function):
    """y = x if x > 0 else alpha (e^x - 1);  dy/dx = 1 or alpha e^x = y + alpha."""

    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        mod = xp(x)
        return mod.where(x > 0, x, alpha * mod.expm1(mod.minimum(x, 0)))

    def backward(ctx, gy):
        positive = const((ctx.inputs[0].data > 0).astype(gy.dtype))
        return gy * (positive + (1 - positive) * (ctx.saved_output + ctx.alpha))


class GELU(Function):
    """y = x Phi(x), Phi the standard normal CDF = (1 + erf(x / sqrt 2)) / 2;
    dy/dx = Phi(x) + x phi(x), phi(x) = e^(-x^2/2) / sqrt(2 pi)."""

    def forward(ctx, x):
        return x * 0.5 * (1 + erf_array(x / math.sqrt(2)))

    def backward(ctx, gy):
        x = ctx.inputs[0]
        cdf = 0.5 * (1 + (x / math.sqrt(2)).erf())
        pdf = (-0.5 * x * x).exp() / math.sqrt(2 * math.pi)
        return gy * (cdf + x * pdf)


class SiLU(Function):
    """y = x sigmoid(x);  dy/dx = s (1 + x (1 - s)), s = sigmoid(x)."""

    def forward(ctx, x):
        return x * sigmoid_array(x)

    def backward(ctx, gy):
        x = ctx.inputs[0]
        s = x.sigmoid()
        return gy * s * (1 + x * (1 - s))


def softplus_array(x, beta):
    """y = log(1 + e^(beta x)) / beta as (max(bx, 0) + log1p(e^-|bx|)) / beta: exact and
    overflow-free for any x (e^-|bx| is at most 1). At beta = 1, no product or division."""
    mod = xp(x)
    bx = x if beta == 1 else beta * x
    y = mod.maximum(bx, 0) + mod.log1p(mod.exp(-mod.abs(bx)))
    return y if beta == 1 else y / beta


def softplus_backward_array(gy, x, beta):
    """gx = gy sigmoid(beta x)."""
    return gy * sigmoid_array(x if beta == 1 else beta * x)


register("softplus", "numpy", ("cpu", "cuda"))(softplus_array)
register("softplus_backward", "numpy", ("cpu", "cuda"))(softplus_backward_array)


class Softplus(Function):
    """y = log(1 + e^(beta x)) / beta (``softplus_array``);  dy/dx = sigmoid(beta x)."""

    def forward(ctx, x, beta):
        ctx.beta = beta
        return run("softplus", x, beta)

    def backward(ctx, gy):
        return SoftplusBackward.apply(gy, ctx.inputs[0], beta=ctx.beta)


class SoftplusBackward(Function):
    """gx = gy s, s = sigmoid(beta x).   gy, x: (*) -> gx: (*)

    d/dgy = ggx s (this op again); d/dx = ggx gy beta s (1 - s), in Tensor ops, so that
    third derivatives exist too."""

    def forward(ctx, gy, x, beta):
        ctx.beta = beta
        return run("softplus_backward", gy, x, beta)

    def backward(ctx, ggx):
        gy, x = ctx.inputs
        beta = ctx.beta
        needs = ctx.needs_input_grad
        ggy = SoftplusBackward.apply(ggx, x, beta=beta) if needs[0] else None
        gx = None
        if needs[1]:
            s = (x * beta).sigmoid()
            gx = ggx * gy * s * (1 - s) * beta
        return ggy, gx


class Sigmoid(Function):
    """y = 1 / (1 + e^-x);  dy/dx = y (1 - y)."""

    def forward(ctx, x):
        return sigmoid_array(x)

    def backward(ctx, gy):
        y = ctx.saved_output
        return gy * y * (1 - y)


class Tanh(Function):
    """y = tanh x;  dy/dx = 1 - y^2."""

    def forward(ctx, x):
        return xp(x).tanh(x)

    def backward(ctx, gy):
        y = ctx.saved_output
        return gy * (1 - y * y)


class Softmax(Function):
    """y_i = e^(x_i - m) / sum_j e^(x_j - m) along ``dim`` (m = max, for stability);
    dx = y * (gy - sum_j gy_j y_j)."""

    def forward(ctx, x, dim):
        ctx.dim = dim
        mod = xp(x)
        e = mod.exp(x - x.max(axis=dim, keepdims=True))
        return e / e.sum(axis=dim, keepdims=True)

    def backward(ctx, gy):
        y = ctx.saved_output
        return y * (gy - (gy * y).sum(ctx.dim, keepdim=True))


class LogSoftmax(Function):
    """y = x - m - log sum_j e^(x_j - m) along ``dim``;  dx = gy - e^y * sum_j gy_j."""

    def forward(ctx, x, dim):
        ctx.dim = dim
        mod = xp(x)
        shifted = x - x.max(axis=dim, keepdims=True)
        return shifted - mod.log(mod.exp(shifted).sum(axis=dim, keepdims=True))

    def backward(ctx, gy):
        return gy - ctx.saved_output.exp() * gy.sum(ctx.dim, keepdim=True)


def relu(x: Tensor) -> Tensor:
    check_floating("relu", x)
    return ReLU.apply(x)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    check_floating("leaky_relu", x)
    return LeakyReLU.apply(x, slope=negative_slope)


def elu(x: Tensor, alpha: float = 1.0) -> Tensor:
    check_floating("elu", x)
    return ELU.apply(x, alpha=alpha)


def gelu(x: Tensor, approximate: str = "none") -> Tensor:
    """GELU, exact (``approximate="none"``) or with the tanh approximation
    x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    check_floating("gelu", x)
    if approximate == "none":
        return GELU.apply(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + inner.tanh())
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(x: Tensor) -> Tensor:
    check_floating("silu", x)
    return SiLU.apply(x)


def softplus(x: Tensor, beta: float = 1.0) -> Tensor:
    check_floating("softplus", x)
    if beta <= 0:
        raise ValueError(f"softplus: beta must be positive, got {beta}")
    return Softplus.apply(x, beta=beta)


def sigmoid(x: Tensor) -> Tensor:
    check_floating("sigmoid", x)
    return Sigmoid.apply(x)


def tanh(x: Tensor) -> Tensor:
    check_floating("tanh", x)
    return Tanh.apply(x)


def softmax(x: Tensor, dim: int) -> Tensor:
    check_floating("softmax", x)
    return Softmax.apply(x, dim=normalize_dim("softmax", dim, x.ndim) if x.ndim else None)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    check_floating("log_softmax", x)
    return LogSoftmax.apply(x, dim=normalize_dim("log_softmax", dim, x.ndim) if x.ndim
                            else None)
