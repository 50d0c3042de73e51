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
from minigan.ops.common import broadcast_shape, check_floating, value_range
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


def _same_shape(op: str, input: Tensor, target: Tensor,
                names: tuple[str, str] = ("input", "target")) -> None:
    if input.shape != target.shape:
        raise ValueError(f"{op}: {names[0]} shape {input.shape} and {names[1]} shape "
                         f"{target.shape} differ; reshape one of them (silent broadcasting "
                         "here is a classic bug)")


def _broadcasts_to(op: str, name: str, value: Tensor, shape: tuple[int, ...]) -> None:
    """``value`` must broadcast to ``shape`` without enlarging it (a (3, 1) weight on a (4,)
    input would silently turn 4 losses into 12)."""
    if broadcast_shape(op, shape, value.shape) != tuple(shape):
        raise ValueError(f"{op}: {name} shape {value.shape} does not broadcast to input "
                         f"shape {tuple(shape)}")


def _class_weight(op: str, weight: Tensor | None, classes: int) -> None:
    if weight is not None and weight.shape != (classes,):
        raise ValueError(f"{op}: weight must have shape ({classes},), got {weight.shape}")


def _check_reduction(op: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None,
                                     reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """l = -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], p = pos_weight.

    Computed as p t softplus(-x) + (1 - t) softplus(x), since log sigmoid(x) =
    -softplus(-x) and log(1 - sigmoid(x)) = -softplus(x): finite for any logit, and
    accurate to rounding even where the loss is tiny (t = 0, x = -100 gives e^-100, not 0),
    because for targets in [0, 1] both terms are non-negative and nothing cancels.
    input, target: (*) with the same shape; weight and pos_weight (typically (C,), one per
    class of the last dimension) broadcast to it.
    """
    op = "binary_cross_entropy_with_logits"
    check_floating(op, input, target)
    _same_shape(op, input, target)
    _check_reduction(op, reduction)
    positive = target * softplus(-input)
    if pos_weight is not None:
        _broadcasts_to(op, "pos_weight", pos_weight, input.shape)
        positive = pos_weight * positive
    loss = positive + (1 - target) * softplus(input)
    if weight is not None:
        _broadcasts_to(op, "weight", weight, input.shape)
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
            with np.errstate(divide="ignore") if p.xp is np else contextlib.nullcontext():
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
    low, high = value_range(data) if data.size else (0.0, 1.0)
    if low < 0 or high > 1:
        raise ValueError(f"{op}: input values must lie in [0, 1], got values from "
                         f"{low} to {high}; pass logits to "
                         "binary_cross_entropy_with_logits instead")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        _broadcasts_to(op, "weight", weight, input.shape)
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
    check_floating("nll_loss", input)
    _check_reduction("nll_loss", reduction)
    return _nll("nll_loss", input, target, weight, ignore_index, reduction)


def _nll(op: str, input: Tensor, target: Tensor, weight: Tensor | None, ignore_index: int,
         reduction: str) -> Tensor:
    """nll_loss, with errors that name ``op`` (the public function the user called)."""
    if input.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, ...), got shape {input.shape}")
    expected = (input.shape[0],) + input.shape[2:]
    if target.shape != expected:
        raise ValueError(f"{op}: target shape {target.shape} does not match input shape "
                         f"{input.shape} (expected {expected})")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got {target.dtype}")
    classes = input.shape[1]
    _class_weight(op, weight, classes)
    mod = input.xp
    labels = target.data.reshape(-1)
    valid = labels != ignore_index
    bad = valid & ((labels < 0) | (labels >= classes))
    if bool(bad.any()):                        # the op's one copy to the host
        raise IndexError(f"{op}: target values must lie in [0, {classes}) or equal "
                         f"ignore_index={ignore_index}, got {int(labels[bad].min())} (target "
                         f"shape {target.shape}, input shape {input.shape})")
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
    classes = input.shape[1]
    _class_weight(op, weight, classes)
    if target.dtype.kind == "f" and target.shape != input.shape:
        hint = ""
        if target.shape == (input.shape[0],) + input.shape[2:]:
            hint = ("; float targets are class probabilities of input's shape, class "
                    "indices must be an integer tensor (.long())")
        raise ValueError(f"{op}: input shape {input.shape} and target shape "
                         f"{target.shape} differ{hint}")
    logp = log_softmax(input, 1)
    if target.dtype.kind == "f":
        probs = target * (1 - label_smoothing) + label_smoothing / classes
        if weight is not None:
            probs = probs * weight.reshape((1, classes) + (1,) * (input.ndim - 2))
        return _reduce(-(probs * logp).sum(1), reduction, op)
    nll = _nll(op, logp, target, weight, ignore_index, reduction)
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
    _same_shape(op, mu, logvar, ("mu", "logvar"))
    _check_reduction(op, reduction)
    per_element = -0.5 * (1 + logvar - mu * mu - logvar.exp())
    per_example = per_element.reshape(mu.shape[0], -1).sum(1) if mu.ndim else per_element
    return _reduce(per_example, reduction, op)
