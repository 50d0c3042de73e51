"""Launchers of the CUDA C++ kernels of csrc/cuda (built into ``minigan._C`` when nvcc was
found at install time), on CuPy arrays: the ``cuda`` implementation of each hot op.

Each launcher checks its arrays (dtype float32 or float64, shapes, one device), makes
them C-contiguous, allocates the outputs and workspaces with CuPy, and passes device
pointers and CuPy's current stream to ``minigan._C``, which launches on that stream and
raises RuntimeError naming the kernel if a launch fails. The checks read only shapes,
dtypes and devices, so they are tested on NumPy arrays on machines without a GPU; the
kernels themselves are tested on CPU threads through csrc/cuda/emulator.h (tests/csrc).

float16 is not taken: the kernels are written for float and double (the Triton kernels
take float16).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from minigan import extension
from minigan.backend import (cupy_module, device_index, device_of, dtype_name,
                             implementations, register)

_DTYPES = ("float32", "float64")


def why_unavailable() -> str | None:
    """For the implementation registry: None when minigan._C has its CUDA kernels."""
    if extension.C is None:
        return extension.WHY_NOT_BUILT
    if not extension.CUDA:
        return f"minigan._C was built without its CUDA kernels: {extension.CUDA_STATUS}"
    return None


# --------------------------------------------------------------------------------------
# Checks (shapes, dtypes, devices: no GPU needed)
# --------------------------------------------------------------------------------------

def _shapes(arrays: dict[str, Any]) -> str:
    return ", ".join(f"{name} {tuple(a.shape)}" for name, a in arrays.items())


def check_arrays(op: str, arrays: dict[str, Any], ndim: int | None = None) -> str:
    """One dtype (float32 or float64) and one device for all ``arrays`` (name -> array),
    each ``ndim``-dimensional when given; returns the dtype's name."""
    dtypes = {dtype_name(a.dtype) for a in arrays.values()}
    if len(dtypes) != 1 or not dtypes <= set(_DTYPES):
        found = ", ".join(f"{name} {a.dtype}" for name, a in arrays.items())
        raise TypeError(f"{op} (cuda): needs float32 or float64 arrays of one dtype, got "
                        f"{found}")
    devices = {device_index(a) for a in arrays.values()}
    if len(devices) != 1:
        found = ", ".join(f"{name} on {device_of(a)}" for name, a in arrays.items())
        raise ValueError(f"{op} (cuda): all arrays must be on one device, got {found}")
    if ndim is not None and any(a.ndim != ndim for a in arrays.values()):
        raise ValueError(f"{op} (cuda): needs {ndim}-D arrays, got shapes {_shapes(arrays)}")
    return dtypes.pop()


def check_power_iteration(weight: Any, u: Any, n_iterations: int, eps: float) -> str:
    """weight (M, N) non-empty, u (M,), n_iterations >= 1, eps > 0; returns the dtype."""
    op = "spectral_norm_power_iteration"
    dtype = check_arrays(op, {"weight": weight, "u": u})
    if weight.ndim != 2 or u.ndim != 1 or u.shape[0] != weight.shape[0]:
        raise ValueError(f"{op} (cuda): needs weight (M, N) and u (M,), got "
                         f"{_shapes({'weight': weight, 'u': u})}")
    if weight.size == 0:
        raise ValueError(f"{op} (cuda): weight of shape {tuple(weight.shape)} has no "
                         "elements")
    if n_iterations < 1 or not eps > 0:
        raise ValueError(f"{op} (cuda): needs n_iterations >= 1 and eps > 0, got "
                         f"{n_iterations} and {eps}")
    return dtype


def check_conv(op: str, image: Any, weight: Any, geo: Any, image_name: str = "x",
               channels: int = 1) -> str:
    """image (N, *, H, W) and weight (O, C/g, kh, kw), 4-D, with dim ``channels`` of the
    image holding C (conv2d, conv2d_weight's x) or O (conv_transpose2d's dy) channels in
    ``geo.groups`` groups; returns the dtype."""
    arrays = {image_name: image, "weight": weight}
    dtype = check_arrays(op, arrays, ndim=4)
    g = geo.groups
    o, c_g = weight.shape[:2]
    expected = c_g * g if channels == 1 else o
    if image.shape[1] != expected or o % g:
        raise ValueError(f"{op} (cuda): {_shapes(arrays)} do not fit groups = {g} (weight "
                         f"(O, C/groups, kh, kw) with O divisible by groups)")
    return dtype


def check_conv_weight(x: Any, dy: Any, geo: Any) -> str:
    """x (N, C, H, W) and dy (N, O, Ho, Wo), with C and O divisible by ``geo.groups``;
    returns the dtype."""
    op = "conv2d_weight"
    arrays = {"x": x, "dy": dy}
    dtype = check_arrays(op, arrays, ndim=4)
    g = geo.groups
    if dy.shape[0] != x.shape[0] or x.shape[1] % g or dy.shape[1] % g:
        raise ValueError(f"{op} (cuda): {_shapes(arrays)} do not fit groups = {g} (one "
                         "batch; C and O divisible by groups)")
    return dtype


def _conv_sizes(x_shape: tuple[int, ...], weight_shape: tuple[int, ...],
                out_hw: tuple[int, int], geo: Any) -> list[int]:
    """The 16 sizes of minigan::cuda::ConvSizes: n, c, h, w, o, kh, kw, ho, wo, sh, sw, ph,
    pw, dh, dw, groups."""
    o, _, kh, kw = weight_shape
    return [*x_shape, o, kh, kw, *out_hw, *geo.stride, *geo.padding, *geo.dilation,
            geo.groups]


def check_attention(op: str, q: Any, k: Any, v: Any, out: Any = None, lse: Any = None,
                    grad_out: Any = None) -> str:
    """q (B, H, Nq, D), k (B, H, Nk, D), v (B, H, Nk, Dv) with Nk >= 1 and, for the
    backward, out and grad_out (B, H, Nq, Dv) and lse (B, H, Nq); returns the dtype."""
    arrays = {"q": q, "k": k, "v": v}
    if out is not None:
        arrays.update(out=out, grad_out=grad_out)
    dtype = check_arrays(op, arrays, ndim=4)
    b, h, nq, d = q.shape
    nk, dv = v.shape[2:]
    if (tuple(k.shape) != (b, h, nk, d) or tuple(v.shape[:2]) != (b, h)
            or any(tuple(a.shape) != (b, h, nq, dv) for a in (out, grad_out)
                   if a is not None)):
        raise ValueError(f"{op} (cuda): shapes do not fit q (B, H, Nq, D), k (B, H, Nk, D), "
                         f"v (B, H, Nk, Dv), out and grad_out (B, H, Nq, Dv): got "
                         f"{_shapes(arrays)}")
    if nk == 0:
        raise ValueError(f"{op} (cuda): needs at least one key, got {_shapes(arrays)}")
    if lse is not None and (tuple(lse.shape) != (b, h, nq) or dtype_name(lse.dtype) != dtype):
        raise ValueError(f"{op} (cuda): lse must have shape {(b, h, nq)} and dtype {dtype}, "
                         f"got {tuple(lse.shape)} and {lse.dtype}")
    return dtype


_ADAM_LISTS = ("params", "grads", "exp_avgs", "exp_avg_sqs", "max_exp_avg_sqs")


def check_adam_step(params: Sequence[Any], grads: Sequence[Any], exp_avgs: Sequence[Any],
                    exp_avg_sqs: Sequence[Any], max_exp_avg_sqs: Sequence[Any]) -> str | None:
    """Adam's arrays for K parameters (lists of K; ``max_exp_avg_sqs[k]`` may be None): each
    parameter's arrays of one shape, and one dtype (float32 or float64) and one device for
    all of them; returns the dtype, None for no parameters."""
    lists = dict(zip(_ADAM_LISTS, (params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)))
    if len({len(entries) for entries in lists.values()}) != 1:
        lengths = ", ".join(f"{name} {len(entries)}" for name, entries in lists.items())
        raise ValueError(f"adam_step (cuda): needs one entry per parameter in every list, "
                         f"got lengths {lengths}")
    for name in _ADAM_LISTS[:-1]:
        if any(a is None for a in lists[name]):
            raise ValueError(f"adam_step (cuda): {name} holds None; only max_exp_avg_sqs "
                             "may (without amsgrad)")
    arrays = [a for entries in lists.values() for a in entries if a is not None]
    if not arrays:
        return None
    dtypes = {a.dtype for a in arrays}
    devices = {device_index(a) for a in arrays}
    if len(dtypes) != 1 or dtype_name(next(iter(dtypes))) not in _DTYPES or len(devices) != 1:
        for k in range(len(params)):     # the parameter whose arrays disagree, by name
            check_arrays("adam_step", _adam_arrays(lists, k))
        check_arrays("adam_step", {f"{name}[{k}]": a for name, entries in lists.items()
                                   for k, a in enumerate(entries) if a is not None})
    for k, param in enumerate(params):
        shape = param.shape
        if any(a is not None and a.shape != shape for a in (grads[k], exp_avgs[k],
                                                            exp_avg_sqs[k], max_exp_avg_sqs[k])):
            raise ValueError(f"adam_step (cuda): all arrays of parameter {k} must have its "
                             f"shape, got {_shapes(_adam_arrays(lists, k))}")
    return dtype_name(dtypes.pop())


def _adam_arrays(lists: dict[str, Sequence[Any]], k: int) -> dict[str, Any]:
    """Parameter k's arrays, by singular name ("param", "grad", ...)."""
    return {name[:-1]: entries[k] for name, entries in lists.items()
            if entries[k] is not None}


def normalize_layout(shape: tuple[int, ...], dims: tuple[int, ...],
                     affine_axes: tuple[int, ...]) -> tuple[int, int, int, int, bool] | None:
    """(a, g, b, c, per_position), the sizes of csrc/cuda/normalization.h, for x of
    ``shape`` normalized over ``dims`` with affine parameters over ``affine_axes``: x is
    seen as (a, g, b) with the kept axes (those not in ``dims``) in the middle. Per channel,
    the affine axes trail the kept axes and c is their size: batch norm of (N, C, H, W) is
    (N, C, H W, C, False), instance norm (1, N C, H W, C, False). Per position, the affine
    axes are the axes after the kept ones, c = b: layer norm over (C, H, W) is
    (1, N, C H W, C H W, True). None when the axes line up neither way (group norm with
    its affine parameters): that runs as array code."""
    kept = [i for i in range(len(shape)) if i not in dims]
    if not kept or kept != list(range(kept[0], kept[-1] + 1)) or not affine_axes:
        return None
    first, last = kept[0], kept[-1] + 1
    a, g, b = (math.prod(shape[:first]), math.prod(shape[first:last]),
               math.prod(shape[last:]))
    if list(affine_axes) == list(range(last, len(shape))):
        return a, g, b, b, True
    if affine_axes[0] < first or list(affine_axes) != list(range(affine_axes[0], last)):
        return None
    return a, g, b, math.prod(shape[affine_axes[0]:last]), False


def _normalize_arrays(op: str, layout: tuple[int, int, int, int, bool] | None,
                      arrays: dict[str, Any]) -> str | None:
    """The dtype the kernel of ``op`` runs in, or None when these ``arrays`` (name -> array
    or None) go to the array code: a layout it does not take, an empty x, float16 or mixed
    dtypes. Raises if the arrays are on different devices."""
    present = {name: a for name, a in arrays.items() if a is not None}
    dtypes = {dtype_name(a.dtype) for a in present.values()}
    if layout is None or present["x"].size == 0 or len(dtypes) != 1 or \
            not dtypes <= set(_DTYPES):
        return None
    return check_arrays(op, present)


# --------------------------------------------------------------------------------------
# Launchers (CuPy arrays)
# --------------------------------------------------------------------------------------

def _pointer(array: Any) -> int:
    """The device address of a CuPy array's first element; 0 (nullptr) for None."""
    return 0 if array is None else int(array.data.ptr)


def _stream(cp: Any) -> int:
    return int(cp.cuda.get_current_stream().ptr)


def power_iteration(weight: Any, u: Any, n_iterations: int, eps: float
                    ) -> tuple[Any, Any, Any]:
    """csrc/cuda/spectral_norm.cuh: n_iterations launches, one per step.
    weight (M, N), u (M,) -> (u (M,), v (N,), sigma ()) in weight's dtype."""
    dtype = check_power_iteration(weight, u, n_iterations, eps)
    cp = cupy_module()
    m, n = weight.shape
    with cp.cuda.Device(weight.device.id):
        weight, u = cp.ascontiguousarray(weight), cp.ascontiguousarray(u)
        u_out = cp.empty(m, dtype)
        v = cp.empty(n, dtype)
        sigma = cp.empty((), dtype)
        workspace = cp.empty(extension.C.cuda_power_iteration_workspace(m, n), dtype)
        counter = cp.zeros(1, "int32")
        extension.C.cuda_power_iteration(
            dtype, _pointer(weight), _pointer(u), _pointer(u_out), _pointer(v),
            _pointer(sigma), _pointer(workspace), _pointer(counter), m, n,
            int(n_iterations), float(eps), _stream(cp))
    return u_out, v, sigma


def conv2d(x: Any, w: Any, geo: Any, out_hw: tuple[int, int]) -> Any:
    """csrc/cuda/conv.cuh: y = conv2d(x, w) as an implicit GEMM.
    x (N, C, H, W), w (O, C/g, kh, kw) -> y (N, O, *out_hw)."""
    dtype = check_conv("conv2d", x, w, geo)
    cp = cupy_module()
    with cp.cuda.Device(x.device.id):
        x, w = cp.ascontiguousarray(x), cp.ascontiguousarray(w)
        y = cp.empty((x.shape[0], w.shape[0], *out_hw), dtype)
        extension.C.cuda_conv2d(dtype, _pointer(x), _pointer(w), _pointer(y),
                                _conv_sizes(x.shape, w.shape, out_hw, geo), _stream(cp))
    return y


def conv_transpose2d(dy: Any, w: Any, geo: Any, out_hw: tuple[int, int]) -> Any:
    """csrc/cuda/conv.cuh: dx = conv_transpose2d(dy, w), the input gradient of conv2d.
    dy (N, O, Ho, Wo), w (O, C/g, kh, kw) -> dx (N, C, *out_hw)."""
    dtype = check_conv("conv_transpose2d", dy, w, geo, image_name="dy", channels=0)
    cp = cupy_module()
    n = dy.shape[0]
    c = w.shape[1] * geo.groups
    with cp.cuda.Device(dy.device.id):
        dy, w = cp.ascontiguousarray(dy), cp.ascontiguousarray(w)
        dx = cp.empty((n, c, *out_hw), dtype)
        extension.C.cuda_conv_transpose2d(
            dtype, _pointer(dy), _pointer(w), _pointer(dx),
            _conv_sizes((n, c, *out_hw), w.shape, dy.shape[2:], geo), _stream(cp))
    return dx


def conv2d_weight(x: Any, dy: Any, geo: Any, kernel: tuple[int, int]) -> Any:
    """csrc/cuda/conv.cuh: dw = conv2d_weight(x, dy), the weight gradient of conv2d, the
    pixel sum split over blocks and added in a fixed order.
    x (N, C, H, W), dy (N, O, Ho, Wo) -> dw (O, C/g, *kernel)."""
    dtype = check_conv_weight(x, dy, geo)
    cp = cupy_module()
    shape = (dy.shape[1], x.shape[1] // geo.groups, *kernel)
    with cp.cuda.Device(x.device.id):
        x, dy = cp.ascontiguousarray(x), cp.ascontiguousarray(dy)
        dw = cp.empty(shape, dtype)
        sizes = _conv_sizes(x.shape, shape, dy.shape[2:], geo)
        workspace = cp.empty(extension.C.cuda_conv2d_weight_workspace(sizes), dtype)
        extension.C.cuda_conv2d_weight(dtype, _pointer(x), _pointer(dy), _pointer(dw),
                                       _pointer(workspace), sizes, _stream(cp))
    return dw


def attention(q: Any, k: Any, v: Any, scale: float) -> tuple[Any, Any]:
    """csrc/cuda/attention.cuh, forward: (out, lse) = (softmax(scale Q K^T) V,
    logsumexp(scale Q K^T)). q (B, H, Nq, D), k (B, H, Nk, D), v (B, H, Nk, Dv) ->
    out (B, H, Nq, Dv), lse (B, H, Nq), both in q's dtype (float32 or float64)."""
    dtype = check_attention("attention", q, k, v)
    cp = cupy_module()
    b, h, nq, d = q.shape
    nk, dv = v.shape[2:]
    with cp.cuda.Device(q.device.id):
        q, k, v = (cp.ascontiguousarray(a) for a in (q, k, v))
        out = cp.empty((b, h, nq, dv), dtype)
        lse = cp.empty((b, h, nq), dtype)
        extension.C.cuda_attention(dtype, _pointer(q), _pointer(k), _pointer(v), _pointer(out),
                                   _pointer(lse), b, h, nq, nk, d, dv, float(scale),
                                   _stream(cp))
    return out, lse


def attention_backward(q: Any, k: Any, v: Any, out: Any, lse: Any, grad_out: Any,
                       scale: float) -> tuple[Any, Any, Any]:
    """csrc/cuda/attention.cuh, backward: (dq, dk, dv) for grad_out (B, H, Nq, Dv), from
    the forward's out and lse; each gradient has its input's shape and dtype."""
    dtype = check_attention("attention_backward", q, k, v, out, lse, grad_out)
    cp = cupy_module()
    b, h, nq, d = q.shape
    nk, width = v.shape[2:]
    with cp.cuda.Device(q.device.id):
        q, k, v, out, lse, grad_out = (cp.ascontiguousarray(a)
                                       for a in (q, k, v, out, lse, grad_out))
        dq, dk, dv = (cp.empty(a.shape, dtype) for a in (q, k, v))
        delta = cp.empty((b, h, nq), dtype)
        extension.C.cuda_attention_backward(
            dtype, *(_pointer(a) for a in (q, k, v, out, lse, grad_out, dq, dk, dv, delta)),
            b, h, nq, nk, d, width, float(scale), _stream(cp))
    return dq, dk, dv


def adam_step(params: Sequence[Any], grads: Sequence[Any], exp_avgs: Sequence[Any],
              exp_avg_sqs: Sequence[Any], max_exp_avg_sqs: Sequence[Any],
              bias_corrections1: Sequence[float], bias_corrections2: Sequence[float],
              lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
              decoupled_weight_decay: bool, maximize: bool) -> None:
    """csrc/cuda/adam.cuh: one Adam step of K parameters in place, one launch per 32 of them
    (the arguments of ``minigan.optim.adam.adam_step_arrays``). An array that is not
    C-contiguous is updated through a contiguous copy, written back afterwards. This is the
    default for Adam on a GPU, so float16 parameters, which the kernel does not take, run
    the NumPy code on their CuPy arrays instead of failing."""
    if any(dtype_name(dtype) not in _DTYPES for dtype in {param.dtype for param in params}):
        return implementations("adam_step")["numpy"].fn(
            params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, bias_corrections1,
            bias_corrections2, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay,
            maximize)
    dtype = check_adam_step(params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs)
    if dtype is None:
        return None
    cp = cupy_module()
    updated = [params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs]
    with cp.cuda.Device(params[0].device.id):
        contiguous = [[None if a is None else cp.ascontiguousarray(a) for a in entries]
                      for entries in updated]
        grads = [cp.ascontiguousarray(g) for g in grads]     # alive until the launch
        extension.C.cuda_adam_step(
            dtype, [_pointer(a) for a in contiguous[0]], [_pointer(g) for g in grads],
            *([_pointer(a) for a in entries] for entries in contiguous[1:]),
            [int(param.size) for param in params], [float(c) for c in bias_corrections1],
            [float(c) for c in bias_corrections2], float(lr), float(beta1), float(beta2),
            float(eps), float(weight_decay), bool(decoupled_weight_decay), bool(maximize),
            _stream(cp))
        for originals, copies in zip(updated, contiguous):
            for original, copy in zip(originals, copies):
                if copy is not original:
                    original[...] = copy
    return None


def _map(op: str, x: Any, parameter: float) -> Any:
    """One elementwise kernel of csrc/cuda/activation.cuh, y = op(x); float16 runs the
    array code (the ``numpy`` implementation of ``op``) on the same CuPy array."""
    dtype = dtype_name(x.dtype)
    if dtype not in _DTYPES:
        return implementations(op)["numpy"].fn(x, parameter)
    cp = cupy_module()
    with cp.cuda.Device(x.device.id):
        x = cp.ascontiguousarray(x)
        y = cp.empty(x.shape, x.dtype)
        getattr(extension.C, f"cuda_{op}_forward")(dtype, _pointer(x), _pointer(y),
                                                   int(x.size), float(parameter), _stream(cp))
    return y


def _map2(op: str, gy: Any, x: Any, parameter: float) -> Any:
    """The gradient kernel of ``op`` in csrc/cuda/activation.cuh, gx = op'(gy, x); float16
    and mixed dtypes run the array code. gy and x: one shape, one device."""
    name = f"{op}_backward"
    if dtype_name(gy.dtype) not in _DTYPES or gy.dtype != x.dtype:
        return implementations(name)["numpy"].fn(gy, x, parameter)
    dtype = check_arrays(name, {"grad_y": gy, "x": x})
    if gy.shape != x.shape:
        raise ValueError(f"{name} (cuda): grad_y and x must have one shape, got "
                         f"{_shapes({'grad_y': gy, 'x': x})}")
    cp = cupy_module()
    with cp.cuda.Device(x.device.id):
        gy, x = cp.ascontiguousarray(gy), cp.ascontiguousarray(x)
        gx = cp.empty(x.shape, x.dtype)
        getattr(extension.C, f"cuda_{name}")(dtype, _pointer(gy), _pointer(x), _pointer(gx),
                                             int(x.size), float(parameter), _stream(cp))
    return gx


def leaky_relu(x: Any, slope: float) -> Any:
    """csrc/cuda/activation.cuh: y = x where x > 0, else slope x, in one launch (the
    arguments of ``minigan.ops.activation.leaky_relu_array``)."""
    return _map("leaky_relu", x, slope)


def leaky_relu_backward(gy: Any, x: Any, slope: float) -> Any:
    """csrc/cuda/activation.cuh: gx = gy where x > 0, else slope gy, in one launch."""
    return _map2("leaky_relu", gy, x, slope)


def softplus(x: Any, beta: float) -> Any:
    """csrc/cuda/activation.cuh: y = log(1 + e^(beta x)) / beta in one launch (the
    arguments of ``minigan.ops.activation.softplus_array``)."""
    return _map("softplus", x, beta)


def softplus_backward(gy: Any, x: Any, beta: float) -> Any:
    """csrc/cuda/activation.cuh: gx = gy sigmoid(beta x) in one launch."""
    return _map2("softplus", gy, x, beta)


def normalize_forward(x: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                      momentum: float, dims: tuple[int, ...], affine_axes: tuple[int, ...],
                      eps: float) -> tuple[Any, Any, Any]:
    """csrc/cuda/normalization.cuh: batch, instance or layer norm's statistics, y and
    running averages in one launch (the arguments and results of
    ``minigan.ops.normalization.normalize_forward``). Group norm with affine parameters,
    float16, mixed dtypes, empty inputs and running statistics that are not contiguous
    run the array code on the same CuPy arrays."""
    layout = normalize_layout(x.shape, dims, affine_axes)
    dtype = _normalize_arrays("normalize_forward", layout, dict(
        x=x, weight=weight, bias=bias, running_mean=running_mean, running_var=running_var))
    running = [a for a in (running_mean, running_var) if a is not None]
    if dtype is None or not all(a.flags.c_contiguous for a in running) or \
            (running and layout[1] != layout[3]):
        return implementations("normalize_forward")["numpy"].fn(
            x, weight, bias, running_mean, running_var, momentum, dims, affine_axes, eps)
    a, g, b, c, per_position = layout
    cp = cupy_module()
    with cp.cuda.Device(x.device.id):
        x, weight, bias = (None if t is None else cp.ascontiguousarray(t)
                           for t in (x, weight, bias))
        y = cp.empty(x.shape, dtype)
        mean, var, invstd = cp.empty((3, g), dtype)
        extension.C.cuda_normalize_forward(
            dtype, _pointer(x), _pointer(weight), _pointer(bias), _pointer(y), _pointer(mean),
            _pointer(var), _pointer(invstd), a, g, b, c, per_position, float(eps),
            _pointer(running_mean), _pointer(running_var), float(momentum), _stream(cp))
    kept = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
    return y, mean.reshape(kept), invstd.reshape(kept)


def normalize_backward(gy: Any, x: Any, weight: Any, mean: Any, invstd: Any,
                       dims: tuple[int, ...], affine_axes: tuple[int, ...], batch_stats: bool,
                       needs: tuple[bool, bool, bool]) -> tuple[Any, Any, Any]:
    """csrc/cuda/normalization.cuh: (dx, dweight, dbias) of batch, instance or layer norm
    (the arguments and results of ``minigan.ops.normalization.normalize_backward``). Per
    channel, one launch gives dx and the group sums behind dweight and dbias (summed over
    the images for instance norm); per position (layer norm), one launch gives dx, and
    dweight and dbias, sums over the groups, are the array code's. Other layouts and
    dtypes run the array code on the same CuPy arrays."""
    layout = normalize_layout(x.shape, dims, affine_axes)
    dtype = _normalize_arrays("normalize_backward", layout, dict(
        x=x, gy=gy, weight=weight, mean=mean, invstd=invstd))
    array_code = implementations("normalize_backward")["numpy"].fn
    if dtype is None:
        return array_code(gy, x, weight, mean, invstd, dims, affine_axes, batch_stats, needs)
    a, g, b, c, per_position = layout
    cp = cupy_module()
    with cp.cuda.Device(x.device.id):
        gy, x, weight, mean, invstd = (None if t is None else cp.ascontiguousarray(t)
                                       for t in (gy, x, weight, mean, invstd))
        dx = cp.empty(x.shape, dtype) if needs[0] else None
        sum_gy, sum_gy_xhat = (None, None) if per_position else cp.empty((2, g), dtype)
        if dx is not None or sum_gy is not None:
            extension.C.cuda_normalize_backward(
                dtype, _pointer(gy), _pointer(x), _pointer(weight), _pointer(mean),
                _pointer(invstd), _pointer(dx), _pointer(sum_gy), _pointer(sum_gy_xhat), a,
                g, b, c, per_position, bool(batch_stats), _stream(cp))
    if per_position:
        if not (needs[1] or needs[2]):
            return dx, None, None
        _, dweight, dbias = array_code(gy, x, weight, mean, invstd, dims, affine_axes,
                                       batch_stats, (False, needs[1], needs[2]))
        return dx, dweight, dbias
    affine_shape = tuple(x.shape[i] for i in affine_axes)

    def per_channel(sums: Any) -> Any:       # the groups of channel k % c, summed
        return (sums if g == c else sums.reshape(g // c, c).sum(axis=0)).reshape(affine_shape)

    return (dx, per_channel(sum_gy_xhat) if needs[1] else None,
            per_channel(sum_gy) if needs[2] else None)


register("conv2d", "cuda", ("cuda",), why_unavailable)(conv2d)
register("conv_transpose2d", "cuda", ("cuda",), why_unavailable)(conv_transpose2d)
register("conv2d_weight", "cuda", ("cuda",), why_unavailable)(conv2d_weight)
register("attention", "cuda", ("cuda",), why_unavailable)(attention)
register("attention_backward", "cuda", ("cuda",), why_unavailable)(attention_backward)
register("spectral_norm_power_iteration", "cuda", ("cuda",), why_unavailable)(
    power_iteration)
register("adam_step", "cuda", ("cuda",), why_unavailable)(adam_step)
register("normalize_forward", "cuda", ("cuda",), why_unavailable)(normalize_forward)
register("normalize_backward", "cuda", ("cuda",), why_unavailable)(normalize_backward)
register("leaky_relu", "cuda", ("cuda",), why_unavailable)(leaky_relu)
register("leaky_relu_backward", "cuda", ("cuda",), why_unavailable)(leaky_relu_backward)
register("softplus", "cuda", ("cuda",), why_unavailable)(softplus)
register("softplus_backward", "cuda", ("cuda",), why_unavailable)(softplus_backward)
