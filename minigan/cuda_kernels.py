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

from typing import Any

from minigan import extension
from minigan.backend import cupy_module, device_of, dtype_name, implementations, register

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
    devices = {str(device_of(a)) for a in arrays.values()}
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


def check_adam_step(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any,
                    max_exp_avg_sq: Any) -> str:
    """Adam's arrays (``max_exp_avg_sq`` may be None): one dtype, one device, one shape;
    returns the dtype."""
    arrays = {"param": param, "grad": grad, "exp_avg": exp_avg, "exp_avg_sq": exp_avg_sq}
    if max_exp_avg_sq is not None:
        arrays["max_exp_avg_sq"] = max_exp_avg_sq
    dtype = check_arrays("adam_step", arrays)
    if len({tuple(a.shape) for a in arrays.values()}) != 1:
        raise ValueError(f"adam_step (cuda): all arrays must have the parameter's shape, got "
                         f"{_shapes(arrays)}")
    return dtype


# --------------------------------------------------------------------------------------
# Launchers (CuPy arrays)
# --------------------------------------------------------------------------------------

def _pointer(array: Any) -> int:
    return int(array.data.ptr)


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


def adam_step(param: Any, grad: Any, exp_avg: Any, exp_avg_sq: Any, max_exp_avg_sq: Any,
              lr: float, beta1: float, beta2: float, eps: float, weight_decay: float,
              bias_correction1: float, bias_correction2: float, decoupled_weight_decay: bool,
              maximize: bool) -> None:
    """csrc/cuda/adam.cuh: one Adam step in one launch, in place (the arguments of
    ``minigan.optim.adam.adam_step_array``). An array that is not C-contiguous is updated
    through a contiguous copy, written back afterwards. This is the default for Adam on a
    GPU, so a float16 parameter, which the kernel does not take, runs the NumPy code on its
    CuPy arrays instead of failing."""
    if dtype_name(param.dtype) not in _DTYPES:
        return implementations("adam_step")["numpy"].fn(
            param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps,
            weight_decay, bias_correction1, bias_correction2, decoupled_weight_decay, maximize)
    dtype = check_adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq)
    cp = cupy_module()
    with cp.cuda.Device(param.device.id):
        grad = cp.ascontiguousarray(grad)
        updated = [a for a in (param, exp_avg, exp_avg_sq, max_exp_avg_sq) if a is not None]
        contiguous = [cp.ascontiguousarray(a) for a in updated]
        pointers = [_pointer(a) for a in contiguous]
        if max_exp_avg_sq is None:
            pointers.append(0)
        extension.C.cuda_adam_step(
            dtype, pointers[0], _pointer(grad), *pointers[1:], int(param.size), float(lr),
            float(beta1), float(beta2), float(eps), float(weight_decay),
            float(bias_correction1), float(bias_correction2), bool(decoupled_weight_decay),
            bool(maximize), _stream(cp))
        for original, copy in zip(updated, contiguous):
            if copy is not original:
                original[...] = copy


register("conv2d", "cuda", ("cuda",), why_unavailable)(conv2d)
register("conv_transpose2d", "cuda", ("cuda",), why_unavailable)(conv_transpose2d)
register("conv2d_weight", "cuda", ("cuda",), why_unavailable)(conv2d_weight)
register("attention", "cuda", ("cuda",), why_unavailable)(attention)
register("attention_backward", "cuda", ("cuda",), why_unavailable)(attention_backward)
register("spectral_norm_power_iteration", "cuda", ("cuda",), why_unavailable)(
    power_iteration)
register("adam_step", "cuda", ("cuda",), why_unavailable)(adam_step)
