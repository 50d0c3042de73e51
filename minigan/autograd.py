"""Reverse-mode automatic differentiation: ``Function``, ``backward`` and ``grad``.

The one contract (DESIGN.md). An op is a subclass of :class:`Function` with

* ``forward(ctx, *arrays, **params) -> array``: raw NumPy/CuPy arrays in and out, no
  graph. ``ctx`` is the graph node being built; ``ctx.save(name=array)`` keeps constants
  (masks, indices) for the backward pass.
* ``backward(ctx, *grad_outputs) -> tuple``: one gradient (or None) per positional input,
  written with **Tensor ops**. ``ctx.inputs`` holds the input tensors and
  ``ctx.saved_output`` the output tensor, both as graph values.

Under a plain ``loss.backward()`` the backward functions run with recording off (the fast
path). Under ``grad(..., create_graph=True)`` the very same code records a graph, because
it is made of Tensor ops whose inputs are graph values: a gradient is then an ordinary
differentiable tensor, and second- and higher-order derivatives come for free.

A user-defined op, the gradient reversal layer of domain-adversarial training::

    class GradReverse(mg.Function):
        '''y = x;  dL/dx = -lam * dL/dy.'''
        def forward(ctx, x, lam=1.0):
            ctx.lam = lam
            return x.copy()
        def backward(ctx, gy):
            return -ctx.lam * gy

    y = GradReverse.apply(x, lam=0.5)

The engine walks the graph with an explicit stack (no recursion: a chain of 100,000 ops
is fine), runs only the nodes that lead to a wanted gradient, and frees each node's saved
values after it ran unless ``retain_graph`` is set.
"""
from __future__ import annotations

import contextlib
import linecache
import os
import sys
import threading
from typing import Any, Iterator, Sequence

import numpy as np

from minigan.backend import xp
from minigan.tensor import Tensor

__all__ = [
    "Function", "backward", "grad", "no_grad", "enable_grad", "set_grad_enabled",
    "is_grad_enabled", "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
    "AnomalyError",
]

# --------------------------------------------------------------------------------------
# Modes: gradient recording and anomaly detection (per thread, like PyTorch)
# --------------------------------------------------------------------------------------

class _ThreadState(threading.local):
    """The modes of one thread. Class attributes are the defaults a new thread sees, so
    reading a mode is one attribute lookup: every op reads them."""

    grad_enabled = True
    anomaly = False
    in_backward = False     # inside an engine backward pass (anomaly checks per node)


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """Whether ops record a graph right now."""
    return _state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Turn graph recording on or off for a block (or a decorated function)."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)

    def __enter__(self) -> None:
        self.previous = is_grad_enabled()
        _state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _state.grad_enabled = self.previous


class no_grad(set_grad_enabled):
    """Block (or decorator) in which no graph is recorded: inference, weight updates."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Block (or decorator) in which recording is on, even inside ``no_grad``."""

    def __init__(self) -> None:
        super().__init__(True)


def is_anomaly_enabled() -> bool:
    return _state.anomaly


def set_detect_anomaly(mode: bool) -> None:
    """Switch anomaly detection on or off for this thread."""
    _state.anomaly = bool(mode)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Within the block, the first op whose forward or backward makes NaN or Inf raises.

    The error names the op and the line of user code that created it. Each op's output
    is checked, so this is slow: use it to find a bug, not to train.
    """
    previous = is_anomaly_enabled()
    set_detect_anomaly(True)
    try:
        yield
    finally:
        set_detect_anomaly(previous)


class AnomalyError(RuntimeError):
    """Raised under ``detect_anomaly()`` when an op produces NaN or Inf."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_source_line() -> str:
    """``file:line: code`` of the innermost frame outside the minigan package."""
    frame = sys._getframe(1)
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
            _PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<unknown source>"
    code = linecache.getline(frame.f_code.co_filename, frame.f_lineno).strip()
    return f"{frame.f_code.co_filename}:{frame.f_lineno}: {code}"


def _non_finite_summary(array: Any) -> str | None:
    """None when every element is finite, else e.g. ``'nan in 3 of 12 elements'``."""
    if array.dtype.kind not in "fc":
        return None
    finite = xp(array).isfinite(array)
    bad = int(finite.size - finite.sum())
    if bad == 0:
        return None
    kinds = []
    if bool((array != array).any()):
        kinds.append("nan")
    if bool(((array == np.inf) | (array == -np.inf)).any()):
        kinds.append("inf")
    return f"{'/'.join(kinds)} in {bad} of {array.size} elements"


# --------------------------------------------------------------------------------------
# Function: one op, and the graph node that records one call of it
# --------------------------------------------------------------------------------------

class Function:
    """Base class of every differentiable op; an instance is one node of the graph.

    Subclasses define ``forward(ctx, *arrays, **params)`` and ``backward(ctx, *grads)``
    (plain functions or staticmethods) and are called through ``Cls.apply(*tensors,
    **params)``. Positional arguments are tensors (or None for an absent optional input);
    everything else is a keyword parameter passed to ``forward`` unchanged.

    Inside ``backward``:

    * ``ctx.inputs``: the input tensors, as graph values;
    * ``ctx.saved_output``: the output tensor, as a graph value;
    * ``ctx.needs_input_grad``: which inputs want a gradient in this pass;
    * attributes set in forward (``ctx.save(mask=m)`` or plain ``ctx.lam = 0.5``).
    """

    inputs: tuple[Tensor | None, ...]
    needs_input_grad: tuple[bool, ...]

    def forward(ctx, *arrays: Any, **params: Any) -> Any:
        raise NotImplementedError(f"{type(ctx).__name__} must define forward(ctx, ...)")

    def backward(ctx, *grad_outputs: Tensor) -> Any:
        raise NotImplementedError(f"{type(ctx).__name__} must define backward(ctx, grad)")

    @classmethod
    def apply(cls, *inputs: Tensor | None, **params: Any) -> Tensor:
        """Run ``forward`` on the inputs' arrays and, when recording, link the output."""
        arrays = [t.data if isinstance(t, Tensor) else _not_a_tensor(cls.__name__, i, t)
                  for i, t in enumerate(inputs)]
        for array in arrays:
            if type(array) is not np.ndarray and array is not None:
                _check_same_device(cls.__name__, inputs)
                break
        ctx = cls.__new__(cls)
        needs = tuple([t is not None and t.requires_grad for t in inputs])
        ctx.needs_input_grad = needs
        state = _state
        # Ops run by a backward pass are checked as that node's gradients, not one by one.
        anomaly = state.anomaly and not state.in_backward
        if anomaly:
            ctx._source = _user_source_line()
        out = cls.forward(ctx, *arrays, **params)
        if isinstance(out, np.generic):
            out = np.asarray(out)
        if anomaly:
            _check_forward(cls.__name__, ctx._source, out, arrays)
        if not (state.grad_enabled and True in needs):
            return Tensor._make(out)
        ctx.inputs = inputs
        ctx._output = out
        ctx._hooks = []
        ctx._freed = False
        return Tensor._make(out, requires_grad=True, ctx=ctx)

    def save(self, **values: Any) -> None:
        """Keep arrays (masks, indices) for backward; freed with the graph."""
        for name, value in values.items():
            setattr(self, name, value)
        self._saved = getattr(self, "_saved", ()) + tuple(values)

    @property
    def saved_output(self) -> Tensor:
        """The output of this node as a graph value (its gradient flows back here)."""
        return Tensor._make(self._output, requires_grad=True, ctx=self)

    @property
    def name(self) -> str:
        return type(self).__name__

    def _free(self) -> None:
        for key in getattr(self, "_saved", ()):
            setattr(self, key, None)
        self.inputs = ()
        self._output = None
        self._freed = True

    def __repr__(self) -> str:
        return f"<{self.name} node>"


_NUMPY_TYPES = (np.ndarray, np.generic)    # on the CPU; anything else answers .device.id


def _not_a_tensor(name: str, i: int, value: Any) -> None:
    """An absent optional input (None) passes; anything else that is not a Tensor raises."""
    if value is not None:
        raise TypeError(f"{name}.apply: input {i} must be a Tensor or None, "
                        f"got {type(value).__name__}")


def _check_same_device(name: str, inputs: Sequence[Tensor | None]) -> None:
    arrays = [t.data for t in inputs if t is not None]
    kinds = {type(a) for a in arrays}
    if len(kinds) <= 1 and (not kinds or np.ndarray in kinds):
        return
    if (len(kinds) == 1 and not isinstance(arrays[0], _NUMPY_TYPES)
            and len({a.device.id for a in arrays}) == 1):
        return                              # all on one GPU: no Device objects built
    devices = [str(t.device) for t in inputs if t is not None]
    if len(set(devices)) > 1:
        shapes = ", ".join(f"{tuple(t.shape)} on {t.device}" for t in inputs if t is not None)
        raise RuntimeError(f"{name}: expected all tensors on one device, got {shapes}")


def _check_forward(name: str, source: str, out: Any, arrays: Sequence[Any]) -> None:
    problem = _non_finite_summary(out)
    if problem is None:
        return
    inherited = any(a is not None and _non_finite_summary(a) for a in arrays)
    note = " (its inputs already held non-finite values)" if inherited else ""
    raise AnomalyError(f"detect_anomaly: forward of {name} produced {problem}{note}; "
                       f"the op was called at {source}")


# --------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------

def _topological_order(roots: Sequence[Function]) -> list[Function]:
    """Nodes reachable from ``roots``, each after all of its parents (iterative DFS)."""
    order: list[Function] = []
    visited: set[int] = set()
    stack: list[tuple[Function, bool]] = [(node, False) for node in roots]
    while stack:
        node, finished = stack.pop()
        if finished:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        if node._freed:
            raise RuntimeError(
                f"backward through {node.name} a second time: its saved values were freed "
                "after the first backward. Pass retain_graph=True to the first backward "
                "(or grad) call if you need to differentiate this graph again.")
        stack.append((node, True))
        for t in node.inputs:
            if t is not None and t._ctx is not None and id(t._ctx) not in visited:
                stack.append((t._ctx, False))
    return order


def _fits(g: Any, like: Tensor) -> bool:
    """Whether ``g`` is a Tensor of ``like``'s array type, shape, dtype and device: the
    common case, checked on the raw arrays (it runs for every gradient of a backward)."""
    if not isinstance(g, Tensor):
        return False
    a, b = g.data, like.data
    return type(a) is type(b) and a.shape == b.shape and a.dtype == b.dtype and (
        type(a) is np.ndarray
        or (not isinstance(a, _NUMPY_TYPES) and a.device.id == b.device.id))


def _as_gradient(name: str, g: Any, like: Tensor) -> Tensor:
    """Check a gradient's type, shape and device against ``like``; cast its dtype."""
    if _fits(g, like):
        return g
    if not isinstance(g, Tensor):
        raise TypeError(f"{name}: gradients must be Tensors, got {type(g).__name__}")
    if g.shape != like.shape:
        raise RuntimeError(f"{name}: gradient of shape {g.shape} for a tensor of shape "
                           f"{like.shape}")
    if g.device != like.device:
        raise RuntimeError(f"{name}: gradient on {g.device} for a tensor on {like.device}")
    if g.dtype != like.dtype:
        g = g.to(like.dtype)
    return g


def _run(outputs: Sequence[Tensor], grad_outputs: Sequence[Tensor | None],
         targets: Sequence[Tensor] | None, retain_graph: bool, create_graph: bool,
         caller: str) -> tuple[dict[int, Tensor], dict[int, Tensor]]:
    """Propagate ``grad_outputs`` from ``outputs`` back through the graph.

    Returns the accumulated gradient of every wanted tensor, keyed by ``id(node)`` for
    non-leaf tensors and ``id(tensor)`` for leaves, and the leaves reached, by id.
    ``targets=None`` wants every leaf that requires grad (``backward``); otherwise exactly
    the given tensors (``grad``).
    """
    grads: dict[int, Tensor] = {}
    leaves: dict[int, Tensor] = {}
    roots: list[Function] = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"{caller}: outputs must be Tensors, got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"{caller}: output {i} (shape {out.shape}) does not require "
                               "grad and has no graph: nothing to differentiate")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError(
                    f"{caller}: output {i} has shape {out.shape}; a gradient can be created "
                    "implicitly only for a single-element output. Pass the gradient "
                    "(of the same shape) explicitly.")
            g = Tensor._make(out.xp.ones(out.shape, dtype=out.dtype))
        g = _as_gradient(f"{caller} (grad for output {i})", g, out)
        key = id(out._ctx) if out._ctx is not None else id(out)
        grads[key] = grads[key] + g if key in grads else g
        if out._ctx is not None:
            roots.append(out._ctx)
        else:
            leaves[id(out)] = out

    order = _topological_order(roots)
    target_ids = None if targets is None else {
        id(t._ctx) if t._ctx is not None else id(t) for t in targets}

    def wanted(t: Tensor | None) -> bool:
        if t is None or not t.requires_grad:
            return False
        if t._ctx is None:
            return target_ids is None or id(t) in target_ids
        return needed[id(t._ctx)] or (target_ids is not None and id(t._ctx) in target_ids)

    needed: dict[int, bool] = {}
    masks: dict[int, tuple[bool, ...]] = {}
    for node in order:                      # parents first
        mask = tuple([wanted(t) for t in node.inputs])
        masks[id(node)] = mask
        needed[id(node)] = any(mask)

    results: dict[int, Tensor] = {}
    with set_grad_enabled(create_graph):
        for node in reversed(order):        # children first
            g = grads.pop(id(node), None)
            if g is not None:
                for hook in node._hooks:
                    replaced = hook(g)
                    if replaced is not None:
                        g = _as_gradient(f"hook on {node.name} output", replaced, g)
                if target_ids is not None and id(node) in target_ids:
                    results[id(node)] = g
                if needed[id(node)]:
                    _call_backward(node, g, masks[id(node)], grads, leaves)
            if not retain_graph and g is not None:
                node._free()

        for key, leaf in leaves.items():
            g = grads.pop(key)
            for hook in leaf._hooks:
                replaced = hook(g)
                if replaced is not None:
                    g = _as_gradient("hook on leaf tensor", replaced, g)
            results[key] = g
    return results, leaves


def _call_backward(node: Function, g: Tensor, mask: tuple[bool, ...],
                   grads: dict[int, Tensor], leaves: dict[int, Tensor]) -> None:
    """Run one node's backward and add its input gradients to ``grads``."""
    static_mask = node.needs_input_grad
    node.needs_input_grad = mask
    outer = _state.in_backward
    _state.in_backward = True
    try:
        result = type(node).backward(node, g)
    finally:
        node.needs_input_grad = static_mask
        _state.in_backward = outer
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != len(node.inputs):
        raise RuntimeError(f"{node.name}.backward returned {len(result)} gradients for "
                           f"{len(node.inputs)} inputs")
    for i, (t, gi) in enumerate(zip(node.inputs, result)):
        if not mask[i] or gi is None:
            continue
        if not _fits(gi, t):
            gi = _as_gradient(f"{node.name}.backward (input {i})", gi, t)
        if _state.anomaly:
            problem = _non_finite_summary(gi.data)
            if problem is not None:
                source = getattr(node, "_source", "<created outside detect_anomaly>")
                raise AnomalyError(f"detect_anomaly: backward of {node.name} produced "
                                   f"{problem} in the gradient of input {i}; the op was "
                                   f"called at {source}")
        if t._ctx is not None:
            key = id(t._ctx)
        else:
            key = id(t)
            leaves[key] = t
        if key not in grads:
            grads[key] = gi
        elif _state.grad_enabled:            # recorded: the sum is part of the new graph
            grads[key] = grads[key] + gi
        else:                                # same shape, dtype and device (checked above)
            total = grads[key].data + gi.data
            grads[key] = Tensor._make(np.asarray(total) if isinstance(total, np.generic)
                                      else total)   # 0-d arrays sum to a NumPy scalar


def _as_list(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    return [x] if isinstance(x, Tensor) else list(x)


def backward(tensors: Tensor | Sequence[Tensor],
             grad_tensors: Tensor | Sequence[Tensor | None] | None = None,
             retain_graph: bool | None = None, create_graph: bool = False) -> None:
    """Accumulate d(tensors)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

    ``grad_tensors`` weights each output (the vector in the vector-Jacobian product); it
    may be omitted for single-element outputs. The graph's saved values are freed unless
    ``retain_graph`` (default: ``create_graph``).
    """
    outputs = _as_list(tensors)
    gouts = [None] * len(outputs) if grad_tensors is None else _as_list(grad_tensors)
    retain = create_graph if retain_graph is None else retain_graph
    found, leaves = _run(outputs, gouts, None, retain, create_graph, "backward")
    for key, g in found.items():
        leaf = leaves[key]
        if not create_graph:
            g = Tensor._make(g.xp.array(g.data, copy=True))   # own, writable storage
        leaf.grad = g if leaf.grad is None else leaf.grad + g


def grad(outputs: Tensor | Sequence[Tensor], inputs: Tensor | Sequence[Tensor],
         grad_outputs: Tensor | Sequence[Tensor | None] | None = None,
         retain_graph: bool | None = None, create_graph: bool = False,
         allow_unused: bool = False) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    With ``create_graph=True`` the gradients are graph values: differentiate them again
    for second-order terms (a gradient penalty is ``grad(D(x), x, create_graph=True)``
    followed by a loss on the result). Inputs that the outputs do not depend on raise,
    unless ``allow_unused``, which returns None for them.
    """
    outs = _as_list(outputs)
    ins = _as_list(inputs)
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"grad: input {i} does not require grad")
    gouts = [None] * len(outs) if grad_outputs is None else _as_list(grad_outputs)
    if len(gouts) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gouts)} grad_outputs")
    retain = create_graph if retain_graph is None else retain_graph
    found, _ = _run(outs, gouts, ins, retain, create_graph, "grad")
    result: list[Tensor | None] = []
    for i, t in enumerate(ins):
        g = found.get(id(t._ctx) if t._ctx is not None else id(t))
        if g is None and not allow_unused:
            raise RuntimeError(
                f"grad: input {i} (shape {t.shape}) is not used in the graph of the "
                "outputs; pass allow_unused=True to get None for it")
        result.append(g)
    return tuple(result)
