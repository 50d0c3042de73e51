"""``check_op``: the whole battery for one op in one call.

    check_op(lambda x: x.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), np.random.randn(3, 4))

runs, against a float64 NumPy ``reference``:

1. values in float32 and float64 (the reference sees the same rounded inputs);
2. ``gradcheck`` and ``gradgradcheck`` in float64;
3. a zero output gradient gives zero input gradients;
4. two backward passes over a retained graph give the same gradients;
5. non-contiguous inputs (transposed storage, strided slices, negative strides) give the
   same values and gradients as contiguous ones.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from minigan.autograd import grad
from minigan.tensor import Tensor
from minigan.testing.compare import assert_close
from minigan.testing.gradcheck import gradcheck, gradgradcheck

__all__ = ["check_op", "noncontiguous_variants"]

_VALUE_TOLERANCES = {np.dtype(np.float32): (1e-5, 1e-5), np.dtype(np.float64): (1e-9, 1e-10)}


def _as_tuple(result: Any) -> tuple[Tensor, ...]:
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def noncontiguous_variants(a: np.ndarray) -> dict[str, np.ndarray]:
    """Arrays equal to ``a`` in another memory layout: column-major, strided, reversed."""
    variants = {}
    if a.ndim >= 2:
        variants["transposed storage"] = np.asfortranarray(a)
    if a.ndim >= 1 and a.size:
        wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        wide[..., ::2] = a
        variants["strided slice"] = wide[..., ::2]
        variants["negative strides"] = np.flip(np.flip(a).copy())
    return variants


def _tensors(arrays: Sequence[Any], dtype: Any, differentiable: Sequence[int]
             ) -> list[Any]:
    out = []
    for i, a in enumerate(arrays):
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(Tensor(a.astype(dtype), requires_grad=i in differentiable))
        elif isinstance(a, np.ndarray):
            out.append(Tensor(a))
        else:
            out.append(a)
    return out


def _grads(fn: Callable, inputs: list[Any], wrt: Sequence[int], seed: int
           ) -> list[np.ndarray | None]:
    outs = [o for o in _as_tuple(fn(*inputs)) if o.requires_grad]
    rng = np.random.default_rng(seed)
    gouts = [Tensor(rng.standard_normal(o.shape).astype(o.dtype)) for o in outs]
    gs = grad(outs, [inputs[i] for i in wrt], gouts, allow_unused=True)
    return [None if g is None else g.data for g in gs]


def check_op(fn: Callable[..., Any], reference: Callable[..., Any] | None, *arrays: Any,
             differentiable: Sequence[int] | None = None, gradgrad: bool = True,
             dtypes: Sequence[Any] = (np.float32, np.float64),
             value_tolerances: dict | None = None, grad_atol: float = 1e-5,
             grad_rtol: float = 1e-3, noncontiguous: bool = True) -> None:
    """Run the checks listed in the module docstring; raise AssertionError on a failure.

    ``arrays`` are NumPy arrays (floating ones become tensors of each dtype; integer ones
    stay integer tensors) or other arguments passed through. ``differentiable`` lists the
    positions to differentiate (default: every floating array). ``reference`` may be None
    for ops whose values another test checks.
    """
    if differentiable is None:
        differentiable = [i for i, a in enumerate(arrays)
                          if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    tolerances = {**_VALUE_TOLERANCES, **(value_tolerances or {})}

    # 1. values against the float64 reference
    if reference is not None:
        for dtype in dtypes:
            inputs = _tensors(arrays, dtype, ())
            rounded = [a.astype(dtype).astype(np.float64)
                       if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a
                       for a in arrays]
            expected = reference(*rounded)
            expected = expected if isinstance(expected, (tuple, list)) else (expected,)
            rtol, atol = tolerances[np.dtype(dtype)]
            for n, (got, want) in enumerate(zip(_as_tuple(fn(*inputs)), expected)):
                assert_close(got, np.asarray(want, dtype=np.float64), rtol=rtol, atol=atol,
                             msg=f"{np.dtype(dtype)} output {n}: ")
                if got.dtype.kind == "f":
                    assert got.dtype == np.dtype(dtype), \
                        f"output {n} is {got.dtype} for {np.dtype(dtype)} inputs"
    if not differentiable:
        return

    # 2. first and second derivatives
    inputs = _tensors(arrays, np.float64, differentiable)
    gradcheck(fn, inputs, atol=grad_atol, rtol=grad_rtol)
    if gradgrad:
        gradgradcheck(fn, inputs, atol=grad_atol, rtol=grad_rtol)

    # 3. a zero output gradient gives zero input gradients
    outs = [o for o in _as_tuple(fn(*inputs)) if o.requires_grad]
    zeros = [Tensor(np.zeros(o.shape)) for o in outs]
    for i, g in zip(differentiable, grad(outs, [inputs[i] for i in differentiable], zeros,
                                        allow_unused=True)):
        if g is not None:
            assert not np.any(g.data), f"input {i}: nonzero gradient from a zero output grad"

    # 4. backward twice over a retained graph gives the same gradients
    outs = [o for o in _as_tuple(fn(*inputs)) if o.requires_grad]
    gouts = [Tensor(np.random.default_rng(7).standard_normal(o.shape)) for o in outs]
    wrt = [inputs[i] for i in differentiable]
    first = grad(outs, wrt, gouts, retain_graph=True, allow_unused=True)
    second = grad(outs, wrt, gouts, allow_unused=True)
    for i, g1, g2 in zip(differentiable, first, second):
        if g1 is not None:
            assert_close(g2, g1, rtol=0, atol=0, msg=f"input {i}, second backward: ")

    # 5. non-contiguous inputs: same values and gradients
    if noncontiguous:
        base_out = _as_tuple(fn(*inputs))
        base_grads = _grads(fn, inputs, differentiable, seed=3)
        for i in differentiable:
            for layout, variant in noncontiguous_variants(arrays[i].astype(np.float64)).items():
                changed = list(inputs)
                changed[i] = Tensor(variant, requires_grad=True)
                for n, (got, want) in enumerate(zip(_as_tuple(fn(*changed)), base_out)):
                    assert_close(got, want, rtol=1e-12, atol=1e-12,
                                 msg=f"input {i} with {layout}, output {n}: ")
                for j, (g, want) in enumerate(zip(_grads(fn, changed, differentiable, 3),
                                                  base_grads)):
                    if want is not None:
                        assert_close(g, want, rtol=1e-12, atol=1e-12,
                                     msg=f"input {i} with {layout}, gradient {j}: ")
