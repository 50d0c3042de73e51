"""Gradient checks by central differences, for minigan's ops and for yours.

``gradcheck(fn, inputs)`` compares the analytical derivative of ``fn`` (from the autograd
engine) with the numerical one,

    dF/dx_i  ~=  (F(x + eps e_i) - F(x - eps e_i)) / (2 eps),

in float64, and passes when ``|numerical - analytical| <= atol + rtol * |numerical|``
for every entry. Small problems compare the full Jacobian (one backward pass per output
element, two forward passes per input element); large ones compare random projections
``v^T J u`` with unit vectors u and v, which any wrong entry of J disturbs with
probability one.

``gradgradcheck(fn, inputs)`` is gradcheck of the function that returns the first-order
gradients, computed with ``create_graph=True`` and random ``grad_outputs``: second order
is first order applied twice.

Example::

    from minigan.testing import gradcheck, gradgradcheck
    x = mg.randn(4, 3, dtype=mg.float64, requires_grad=True)
    gradcheck(lambda x: (x * x.sigmoid()).sum(1), [x])
    gradgradcheck(lambda x: (x * x.sigmoid()).sum(1), [x])
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from minigan.autograd import enable_grad, grad
from minigan.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(AssertionError):
    """Numerical and analytical derivatives disagree."""


def _outputs(result: Any) -> list[Tensor]:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return [t for t in items if isinstance(t, Tensor) and t.dtype.kind == "f"]


def _differentiable(inputs: Sequence[Any]) -> list[int]:
    return [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]


def _host(t: Tensor) -> np.ndarray:
    return np.asarray(t._host(), dtype=np.float64)


def _evaluate(fn: Callable, inputs: Sequence[Any]) -> np.ndarray:
    """fn's floating outputs, flattened and joined. Recording stays on: ``fn`` may itself
    differentiate (gradgradcheck's first-order function does)."""
    with enable_grad():
        outs = _outputs(fn(*inputs))
    if not outs:
        return np.zeros(0)
    return np.concatenate([_host(o).ravel() for o in outs])


def _check_dtypes(inputs: Sequence[Any], outputs: Sequence[Tensor], who: str) -> None:
    for i in _differentiable(inputs):
        if inputs[i].dtype != np.float64:
            raise TypeError(f"{who}: input {i} is {inputs[i].dtype}; central differences need "
                            "float64 inputs (use .double())")
    for j, out in enumerate(outputs):
        if out.dtype != np.float64:
            raise TypeError(f"{who}: output {j} is {out.dtype}; the function must compute in "
                            "float64 for a meaningful check")


class _Perturbed:
    """Temporarily replace an input's array by a perturbed copy."""

    def __init__(self, t: Tensor, delta: np.ndarray) -> None:
        self.t, self.delta = t, delta

    def __enter__(self) -> None:
        self.original = self.t.data
        self.t.data = self.t.xp.asarray(self.original + self.t.xp.asarray(self.delta))

    def __exit__(self, *exc: object) -> None:
        self.t.data = self.original


def _analytical_vjp(inputs: Sequence[Any], outs: list[Tensor], weights: list[np.ndarray],
                    wrt: list[int]) -> list[np.ndarray]:
    """sum_j w_j . dF_j/dx for each differentiable input (zeros where unused).

    ``outs`` is one recorded evaluation of ``fn``; its graph is kept for the next call."""
    live = [(o, w) for o, w in zip(outs, weights) if o.requires_grad]
    if not live:
        return [np.zeros(inputs[i].shape) for i in wrt]
    gouts = [Tensor._make(o.xp.asarray(w.reshape(o.shape))) for o, w in live]
    grads = grad([o for o, _ in live], [inputs[i] for i in wrt], gouts, retain_graph=True,
                 allow_unused=True)
    return [np.zeros(inputs[i].shape) if g is None else _host(g) for i, g in zip(wrt, grads)]


def _split(flat: np.ndarray, outs: list[Tensor]) -> list[np.ndarray]:
    pieces, start = [], 0
    for o in outs:
        pieces.append(flat[start:start + o.numel()])
        start += o.numel()
    return pieces


def gradcheck(fn: Callable[..., Any], inputs: Sequence[Any], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, *, raise_exception: bool = True,
              max_full: int = 512, projections: int = 8, seed: int = 0) -> bool:
    """Check ``fn``'s gradients with respect to every input that requires grad.

    Args:
        fn: takes ``*inputs`` and returns a tensor or a tuple of tensors (float64).
        inputs: tensors (float64, ``requires_grad=True`` for those to check) and any other
            arguments, passed to ``fn`` as they are.
        eps: the central-difference step.
        atol, rtol: an entry passes when ``|num - ana| <= atol + rtol * |num|``.
        max_full: the full Jacobian is compared when both the input and the output sizes
            are at most this; otherwise ``projections`` random projections per input.
        raise_exception: raise :class:`GradcheckError` (default) or return False.
    """
    inputs = list(inputs)
    wrt = _differentiable(inputs)
    if not wrt:
        raise ValueError("gradcheck: no input requires grad; nothing to check")
    with enable_grad():
        outs = _outputs(fn(*inputs))
    _check_dtypes(inputs, outs, "gradcheck")
    sizes_in = sum(inputs[i].numel() for i in wrt)
    size_out = sum(o.numel() for o in outs)
    if size_out == 0:
        return True
    if sizes_in <= max_full and size_out <= max_full:
        problems = _full_jacobian(fn, inputs, wrt, outs, eps, atol, rtol)
    else:
        problems = _projected(fn, inputs, wrt, outs, eps, atol, rtol, projections, seed)
    if problems:
        if raise_exception:
            raise GradcheckError("gradcheck failed:\n" + "\n".join(problems))
        return False
    return True


def _full_jacobian(fn: Callable, inputs: list[Any], wrt: list[int], outs: list[Tensor],
                   eps: float, atol: float, rtol: float) -> list[str]:
    size_out = sum(o.numel() for o in outs)
    # Analytical: row j of J is the vector-Jacobian product with the j-th unit vector.
    analytical = {i: np.zeros((size_out, inputs[i].numel())) for i in wrt}
    for j in range(size_out):
        unit = np.zeros(size_out)
        unit[j] = 1.0
        rows = _analytical_vjp(inputs, outs, _split(unit, outs), wrt)
        for i, row in zip(wrt, rows):
            analytical[i][j] = row.ravel()
    problems = []
    for i in wrt:
        t = inputs[i]
        numerical = np.zeros((size_out, t.numel()))
        for k in range(t.numel()):
            step = np.zeros(t.numel())
            step[k] = eps
            step = step.reshape(t.shape)
            with _Perturbed(t, step):
                plus = _evaluate(fn, inputs)
            with _Perturbed(t, -step):
                minus = _evaluate(fn, inputs)
            numerical[:, k] = (plus - minus) / (2 * eps)
        problems += _compare(f"input {i} {t.shape}", numerical, analytical[i], atol, rtol,
                             outs, t.shape)
    return problems


def _compare(label: str, numerical: np.ndarray, analytical: np.ndarray, atol: float,
             rtol: float, outs: list[Tensor], in_shape: tuple[int, ...]) -> list[str]:
    error = np.abs(numerical - analytical)
    bad = ~(error <= atol + rtol * np.abs(numerical))
    if not bad.any():
        return []
    j, k = np.unravel_index(np.argmax(np.where(bad, error, -1)), bad.shape)
    out_index = j
    for n, o in enumerate(outs):
        if out_index < o.numel():
            where_out = f"output {n}[{', '.join(map(str, np.unravel_index(out_index, o.shape)))}]"
            break
        out_index -= o.numel()
    where_in = ", ".join(map(str, np.unravel_index(k, in_shape))) if in_shape else ""
    return [f"  {label}: {int(bad.sum())} of {bad.size} Jacobian entries differ; worst "
            f"d {where_out} / d x[{where_in}]: numerical {numerical[j, k]:.8g}, analytical "
            f"{analytical[j, k]:.8g}, difference {error[j, k]:.3g} (allowed "
            f"{atol + rtol * abs(numerical[j, k]):.3g})"]


def _projected(fn: Callable, inputs: list[Any], wrt: list[int], outs: list[Tensor],
               eps: float, atol: float, rtol: float, projections: int, seed: int
               ) -> list[str]:
    rng = np.random.default_rng(seed)
    size_out = sum(o.numel() for o in outs)
    problems = []
    for p in range(projections):
        v = rng.standard_normal(size_out)
        v /= np.linalg.norm(v)
        grads = _analytical_vjp(inputs, outs, _split(v, outs), wrt)
        for i, g in zip(wrt, grads):
            t = inputs[i]
            u = rng.standard_normal(t.shape)
            u /= max(np.linalg.norm(u), 1e-300)
            analytical = float((g * u).sum())
            with _Perturbed(t, eps * u):
                plus = _evaluate(fn, inputs) @ v
            with _Perturbed(t, -eps * u):
                minus = _evaluate(fn, inputs) @ v
            numerical = (plus - minus) / (2 * eps)
            if not abs(numerical - analytical) <= atol + rtol * abs(numerical):
                problems.append(
                    f"  input {i} {t.shape}, projection {p}: v^T J u numerical "
                    f"{numerical:.8g}, analytical {analytical:.8g}, difference "
                    f"{abs(numerical - analytical):.3g} (allowed "
                    f"{atol + rtol * abs(numerical):.3g})")
    return problems


def gradgradcheck(fn: Callable[..., Any], inputs: Sequence[Any],
                  grad_outputs: Sequence[Tensor] | None = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, *, raise_exception: bool = True,
                  max_full: int = 512, projections: int = 8, seed: int = 0) -> bool:
    """Check second derivatives: gradcheck of ``(inputs, v) -> grad(fn(inputs), inputs, v,
    create_graph=True)``, with random float64 ``v`` unless ``grad_outputs`` is given."""
    inputs = list(inputs)
    wrt = _differentiable(inputs)
    if not wrt:
        raise ValueError("gradgradcheck: no input requires grad; nothing to check")
    outs = _outputs(fn(*inputs))
    _check_dtypes(inputs, outs, "gradgradcheck")
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor(o.xp.asarray(rng.standard_normal(o.shape)),
                               requires_grad=True) for o in outs]
    grad_outputs = list(grad_outputs)
    n = len(inputs)

    def first_order(*args: Any) -> tuple[Tensor, ...]:
        ins, gouts = list(args[:n]), list(args[n:])
        results = _outputs(fn(*ins))
        live = [(o, g) for o, g in zip(results, gouts) if o.requires_grad]
        if not live:
            return tuple(Tensor._make(ins[i].xp.zeros(ins[i].shape)) for i in wrt)
        grads = grad([o for o, _ in live], [ins[i] for i in wrt], [g for _, g in live],
                     create_graph=True, allow_unused=True)
        return tuple(Tensor._make(ins[i].xp.zeros(ins[i].shape)) if g is None else g
                     for i, g in zip(wrt, grads))

    return gradcheck(first_order, inputs + grad_outputs, eps, atol, rtol,
                     raise_exception=raise_exception, max_full=max_full,
                     projections=projections, seed=seed)
