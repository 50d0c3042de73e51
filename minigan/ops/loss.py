"""Loss functions. ``reduction`` is ``'mean'`` (default), ``'sum'`` or ``'none'``.

Each loss is written with differentiable ops, so it can sit inside a gradient penalty
and be differentiated twice.
"""
from __future__ import annotations

import contextlib

import numpy as np

from minigan.autograd import Function
from minigan.backend import xp
from minigan.ops.activation import log_softmax, softplus
from minigan.ops.common import broadcast_shape, check_floating
from minigan.tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: Tensor, reduction: str, op: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _same_shape(op: str, input: Tensor, target: Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(f"{op}: input shape {input.shape} and target shape {target.shape} "
                         "differ; reshape one of them (silent broadcasting here is a "
                         "classic bug)")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """l = -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], p = pos_weight.

    Computed as (1 - t) x + (1 + (p - 1) t) softplus(-x), which is exact and finite for
    any logit (|x| = 100 included): log sigmoid(x) = -softplus(-x) never overflows.
    input, target: (*) with the same shape; weight broadcasts to it; pos_weight to (C,).
    """
    op = "binary_cross_entropy_with_logits"
    check_floating(op, input, target)
    _same_shape(op, input, target)
    _check_reduction(op, reduction)
    if pos_weight is None:
        loss = (1 - target) * input + softplus(-input)
    else:
        broadcast_shape(op, input.shape, pos_weight.shape)
        loss = (1 - target) * input + (1 + (pos_weight - 1) * target) * softplus(-input)
    if weight is not None:
        broadcast_shape(op, input.shape, weight.shape)
        loss = loss * weight
    return _reduce(loss, reduction, op)


class BinaryCrossEntropy(Function):
    """l = -[t log p + (1 - t) log(1 - p)], each log clamped at -100 (PyTorch's numerics);
    dl/dp = (p - t) / max(p (1 - p), 1e-12),  dl/dt = log(1 - p) - log(p) (clamped)."""

    def forward(ctx, p, t):
        mod = xp(p)
        # log(0) = -inf is expected here; the clamp turns it into -100.
        with np.errstate(divide="ignore") if mod is np else contextlib.nullcontext():
            log_p = mod.maximum(mod.log(p), -100)
            log_q = mod.maximum(mod.log1p(-p), -100)
        return -(t * log_p + (1 - t) * log_q)

    def backward(ctx, gy):
        p, t = ctx.inputs
        gp = gt = None
        if ctx.needs_input_grad[0]:
            gp = gy * (p - t) / (p * (1 - p)).clamp(min=1e-12)
        if ctx.needs_input_grad[1]:
            gt = gy * ((-p).log1p().clamp(min=-100) - p.log().clamp(min=-100))
        return gp, gt


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities in [0, 1]. Prefer the ``_with_logits`` form: it is exact for
    saturated outputs, where this one clamps log(0) to -100."""
    op = "binary_cross_entropy"
    check_floating(op, input, target)
    _same_shape(op, input, target)
    _check_reduction(op, reduction)
    data = input.data
    if data.size and (float(data.min()) < 0 or float(data.max()) > 1):
        raise ValueError(f"{op}: input values must lie in [0, 1], got values from "
                         f"{float(data.min())} to {float(data.max())}; pass logits to "
                         "binary_cross_entropy_with_logits instead")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        broadcast_shape(op, input.shape, weight.shape)
        loss = loss * weight
    return _reduce(loss, reduction, op)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """l = (x - t)^2.   input, target: (*) with the same shape."""
    check_floating("mse_loss", input, target)
    _same_shape("mse_loss", input, target)
    _check_reduction("mse_loss", reduction)
    diff = input - target
    return _reduce(diff * diff, reduction, "mse_loss")


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """l = |x - t| (gradient sign(x - t), 0 where they are equal)."""
    check_floating("l1_loss", input, target)
    _same_shape("l1_loss", input, target)
    _check_reduction("l1_loss", reduction)
    return _reduce((input - target).abs(), reduction, "l1_loss")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of integer class targets.

    input: (N, C) or (N, C, d1, ...) log-probabilities; target: (N,) or (N, d1, ...)
    integers in [0, C) or ``ignore_index``. l_n = -w[t_n] input[n, t_n]; 'mean' divides by
    the sum of the weights of the non-ignored targets (PyTorch's definition).
    """
    op = "nll_loss"
    check_floating(op, input)
    _check_reduction(op, reduction)
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, ...), got shape {input.shape}")
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: target shape {target.shape} does not match input shape "
                         f"{input.shape} (expected {expected})")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    classes = input.shape[1]
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.shape}")
    mod = input.xp
    labels = target.data.reshape(-1)
    valid = labels != ignore_index
    if bool(((labels[valid] < 0) | (labels[valid] >= classes)).any()):
        raise IndexError(f"{op}: target values must lie in [0, {classes}) or equal "
                         f"ignore_index={ignore_index}")
    safe = mod.where(valid, labels, 0)
    flat = input.movedim(1, -1).reshape(-1, classes)                 # (N*d, C)
    picked = flat[mod.arange(flat.shape[0]), safe]                  # (N*d,)
    w = mod.asarray(valid, dtype=input.dtype)
    if weight is None:
        w_t = Tensor._make(w)
    else:
        w_t = weight[safe] * Tensor._make(w)
    loss = -picked * w_t
    if reduction == "none":
        return loss.reshape(target.shape)
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w_t.sum()


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits against class indices (or class probabilities).

    input: (N, C) or (N, C, d1, ...) logits. target: integer classes of shape (N, d1, ...)
    (then ``nll_loss(log_softmax(input, 1), target)``), or probabilities of input's shape
    (then l_n = -sum_c t_nc log_softmax(x)_nc). ``label_smoothing`` e mixes the target with
    the uniform distribution: (1 - e) t + e / C.
    """
    op = "cross_entropy"
    check_floating(op, input)
    _check_reduction(op, reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{op}: label_smoothing must lie in [0, 1], got {label_smoothing}")
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, ...), got shape {input.shape}")
    logp = log_softmax(input, 1)
    classes = input.shape[1]
    if target.dtype.kind == "f":
        _same_shape(op, input, target)
        probs = target * (1 - label_smoothing) + label_smoothing / classes
        if weight is not None:
            probs = probs * weight.reshape((1, classes) + (1,) * (input.ndim - 2))
        return _reduce(-(probs * logp).sum(1), reduction, op)
    nll = nll_loss(logp, target, weight, ignore_index, reduction)
    if label_smoothing == 0:
        return nll
    if weight is not None:
        raise ValueError(f"{op}: label_smoothing with class weights is not supported; "
                         "pass smoothed probability targets instead")
    valid = Tensor._make(input.xp.asarray(target.data != ignore_index, dtype=input.dtype))
    uniform = -logp.mean(1) * valid                                  # (N, d1, ...)
    if reduction == "mean":
        uniform = uniform.sum() / valid.sum()
    elif reduction == "sum":
        uniform = uniform.sum()
    return (1 - label_smoothing) * nll + label_smoothing * uniform


def gaussian_kl_divergence(mu: Tensor, logvar: Tensor, reduction: str = "mean") -> Tensor:
    """KL( N(mu, exp(logvar)) || N(0, I) ) of a VAE's encoder, per example.

    mu, logvar: (N, D). Per element: -(1 + logvar - mu^2 - exp(logvar)) / 2; summed over D
    to one value per example, then 'mean' averages over N, 'sum' adds, 'none' gives (N,).
    """
    op = "gaussian_kl_divergence"
    check_floating(op, mu, logvar)
    _same_shape(op, mu, logvar)
    _check_reduction(op, reduction)
    per_element = -0.5 * (1 + logvar - mu * mu - logvar.exp())
    per_example = per_element.reshape(mu.shape[0], -1).sum(1) if mu.ndim else per_element
    return _reduce(per_example, reduction, op)
