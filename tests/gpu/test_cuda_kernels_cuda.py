"""The CUDA C++ kernels of csrc/cuda (minigan/cuda_kernels.py) on a GPU: every kernel
family against the float64 NumPy reference at the realistic sizes of the Triton suites,
with fresh random inputs and NaN-poisoned outputs and workspaces; float64 gradcheck and
gradgradcheck on the device through the public ops with the ``cuda`` implementation
forced; and compute-sanitizer's memcheck on one call of each kernel (the WGAN-GP step of a
SAGAN critic through them is in test_sagan_step_cuda.py). Skipped without a GPU, and
without minigan._C's CUDA kernels."""
import contextlib
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigan as mg
import minigan.nn.functional as F
from minigan import cuda_kernels
from minigan.backend import use_implementation
from minigan.ops.activation import leaky_relu_array, leaky_relu_backward_array, \
    softplus_array, softplus_backward_array
from minigan.ops.attention import attention_backward_numpy, attention_numpy, \
    scaled_dot_product_attention
from minigan.ops.conv import NUMPY_KERNELS, Geometry, conv2d_array, conv2d_weight_array, \
    conv_transpose2d_array, output_size
from minigan.ops.spectral import power_iteration_numpy
from minigan.ops.normalization import normalize_backward, normalize_forward
from minigan.optim.adam import adam_step_arrays
from minigan.testing import gradcheck, gradgradcheck

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(cuda_kernels.why_unavailable() is not None,
                                 reason=str(cuda_kernels.why_unavailable()))]

HOT_OPS = ["conv2d", "conv_transpose2d", "conv2d_weight", "spectral_norm_power_iteration",
           "attention", "attention_backward", "adam_step", "normalize_forward",
           "normalize_backward", "leaky_relu", "leaky_relu_backward", "softplus",
           "softplus_backward"]
TOLERANCE = {np.float32: 1e-5, np.float64: 1e-12}


@pytest.fixture
def poisoned(monkeypatch):
    """Every floating array the launchers allocate with cupy.empty starts as NaN."""
    import cupy
    empty = cupy.empty

    def nan_empty(shape, dtype=float, *args, **kwargs):
        array = empty(shape, dtype, *args, **kwargs)
        if array.dtype.kind == "f":
            array.fill(np.nan)
        return array

    monkeypatch.setattr(cupy, "empty", nan_empty)


def _relative(got, want):
    got = got.get().astype(np.float64)
    assert not np.isnan(got).any(), "unwritten (NaN-poisoned) elements"
    return np.linalg.norm(got - want) / max(np.linalg.norm(want), 1e-300)


CONV = [  # N, C, O, H, kernel, stride, padding, dilation, groups
    (64, 3, 64, 32, 4, 2, 1, 1, 1), (64, 64, 128, 16, 4, 2, 1, 1, 1),
    (64, 128, 256, 8, 4, 2, 1, 1, 1), (16, 768, 768, 16, 3, 1, 1, 1, 1),
    (16, 96, 96, 128, 3, 1, 1, 1, 1), (8, 64, 32, 33, 5, 3, 2, 1, 1),
    (4, 48, 36, 20, 3, 1, 2, 2, 3),
]


@pytest.mark.parametrize("shape", CONV, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_family_at_real_sizes(shape, dtype, poisoned):
    import cupy
    n, c, o, h, k, s, p, d, g = shape
    rng = np.random.default_rng()
    x = rng.standard_normal((n, c, h, h)).astype(dtype)
    w = (rng.standard_normal((o, c // g, k, k)) / np.sqrt(c * k * k)).astype(dtype)
    geo = Geometry((s, s), (p, p), (d, d), g)
    out = (output_size(h, k, s, p, d),) * 2
    gy = rng.standard_normal((n, o, *out)).astype(dtype)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
    xd, wd, gyd = (cupy.asarray(a) for a in (x, w, gy))
    tolerance = TOLERANCE[dtype]
    y = cuda_kernels.conv2d(xd, wd, geo, out)
    assert _relative(y, conv2d_array(x64, w64, geo, out, NUMPY_KERNELS)) < tolerance
    dx = cuda_kernels.conv_transpose2d(gyd, wd, geo, (h, h))
    want = conv_transpose2d_array(gy64, w64, geo, (h, h), NUMPY_KERNELS)
    assert _relative(dx, want) < tolerance
    dw = cuda_kernels.conv2d_weight(xd, gyd, geo, (k, k))
    assert _relative(dw, conv2d_weight_array(x64, gy64, geo, (k, k), NUMPY_KERNELS)) < tolerance


SAGAN = [  # B, C, side, Dv: N = side^2 positions, q and k of C/8 channels
    (64, 64, 16, 32), (16, 128, 32, 64), (8, 256, 32, 128), (4, 64, 64, 64),
    (2, 256, 64, 256), (3, 96, 33, 48),
]


@pytest.mark.parametrize("shape", SAGAN, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_attention_at_sagan_sizes(shape, dtype, poisoned):
    import cupy
    b, c, side, dv = shape
    n, d = side * side, c // 8
    rng = np.random.default_rng()
    q, k = (rng.standard_normal((b, 1, n, d)).astype(dtype) for _ in range(2))
    v, g = (rng.standard_normal((b, 1, n, dv)).astype(dtype) for _ in range(2))
    scale = d ** -0.5
    q64, k64, v64, g64 = (a.astype(np.float64) for a in (q, k, v, g))
    qd, kd, vd, gd = (cupy.asarray(a) for a in (q, k, v, g))
    tolerance = 10 * TOLERANCE[dtype]
    out, lse = cuda_kernels.attention(qd, kd, vd, scale)
    want_out, want_lse = attention_numpy(q64, k64, v64, scale)
    assert _relative(out, want_out) < tolerance
    assert _relative(lse, want_lse) < tolerance
    grads = cuda_kernels.attention_backward(qd, kd, vd, out, lse, gd, scale)
    wants = attention_backward_numpy(q64, k64, v64, want_out, want_lse, g64, scale)
    for name, got, want in zip(("dq", "dk", "dv"), grads, wants):
        assert _relative(got, want) < tolerance, name


POWER = [(512, 4608), (512, 4096), (1024, 1024), (64, 27), (3, 576), (24576, 20)]


@pytest.mark.parametrize("shape", POWER, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 3])
def test_power_iteration_at_real_sizes(shape, dtype, steps, poisoned):
    import cupy
    rng = np.random.default_rng()
    w = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(dtype)
    u = rng.standard_normal(shape[0]).astype(dtype)
    got = cuda_kernels.power_iteration(cupy.asarray(w), cupy.asarray(u), steps, 1e-12)
    want = power_iteration_numpy(w.astype(np.float64), u.astype(np.float64), steps, 1e-12)
    for name, g, e in zip(("u", "v", "sigma"), got, want):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert _relative(g, e) < TOLERANCE[dtype], name


def _forced(ops=HOT_OPS):
    """A context in which each of ``ops`` runs its ``cuda`` implementation."""
    stack = contextlib.ExitStack()
    for op in ops:
        stack.enter_context(use_implementation(op, "cuda"))
    return stack


ADAM = {  # name: keyword arguments of adam_step_arrays besides the arrays and corrections
    "adam": dict(weight_decay=0.0, decoupled_weight_decay=False, maximize=False),
    "l2": dict(weight_decay=0.1, decoupled_weight_decay=False, maximize=False),
    "adamw": dict(weight_decay=0.1, decoupled_weight_decay=True, maximize=True),
}


@pytest.mark.parametrize("name", sorted(ADAM))
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_step_follows_the_numpy_steps_for_three_steps(name, amsgrad, dtype):
    """Three steps of the kernel and of the NumPy code, from the same start and with the
    same gradients, on one group: a (512, 4608) SAGAN weight, an odd-sized bias, a
    Fortran-ordered (not C-contiguous) parameter that the launcher updates through a
    contiguous copy, an empty one, and 36 small ones, so that the group takes two launches.
    Parameter 1 misses the first step: its bias corrections are those of its own count."""
    import cupy
    rng = np.random.default_rng(4)
    shapes = [((512, 4608), False), ((1001,), False), ((64, 48), True), ((0, 7), False)]
    shapes += [((int(n),), False) for n in rng.integers(1, 600, 36)]
    starts = [rng.standard_normal(shape) for shape, _ in shapes]

    def group():
        lists = [[], [], [], []]
        for (shape, fortran), start in zip(shapes, starts):
            param = cupy.asarray(start, dtype)
            lists[0].append(cupy.asfortranarray(param) if fortran else param)
            lists[1].append(cupy.zeros(shape, dtype))
            lists[2].append(cupy.zeros(shape, dtype))
            lists[3].append(cupy.zeros(shape, dtype) if amsgrad else None)
        return lists
    kernel, numpy_code = group(), group()
    assert kernel[0][2].flags.c_contiguous is False
    counts = [0] * len(shapes)
    for t in (1, 2, 3):
        chosen = [k for k in range(len(shapes)) if not (t == 1 and k == 1)]
        for k in chosen:
            counts[k] += 1
        grads = [cupy.asarray(rng.standard_normal(shapes[k][0]), dtype) for k in chosen]
        corrections = ([1 - 0.9 ** counts[k] for k in chosen],
                       [1 - 0.999 ** counts[k] for k in chosen])
        for step, lists in ((cuda_kernels.adam_step, kernel),
                            (adam_step_arrays, numpy_code)):
            param, m, v, vmax = ([entries[k] for k in chosen] for entries in lists)
            step(param, grads, m, v, vmax, *corrections, 1e-3, 0.9, 0.999, 1e-8, **ADAM[name])
    for got_entries, want_entries in zip(kernel, numpy_code):
        for got, want in zip(got_entries, want_entries):
            if want is not None and want.size:
                assert _relative(got, want.get()) < TOLERANCE[dtype]


NORMS = {  # name: input shape, dims, affine axes (the layouts the kernel takes)
    "batch DCGAN D 128 8x8": ((64, 128, 8, 8), (0, 2, 3), (1,)),
    "batch DCGAN G 256 4x4": ((64, 256, 4, 4), (0, 2, 3), (1,)),
    "batch BigGAN 96 128x128": ((8, 96, 128, 128), (0, 2, 3), (1,)),
    "batch (N, C)": ((64, 1000), (0,), (1,)),
    "instance CycleGAN 64 128x128": ((4, 64, 128, 128), (2, 3), (1,)),
    "instance 3 x 17 x 19": ((5, 3, 17, 19), (2, 3), (1,)),
    "layer WGAN-GP D 128 8x8": ((64, 128, 8, 8), (1, 2, 3), (1, 2, 3)),
    "layer (N, 1000)": ((33, 1000), (1,), (1,)),
}


@pytest.mark.parametrize("name", sorted(NORMS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normalization_matches_the_float64_array_code(name, dtype, poisoned):
    """Forward (with the running averages of batch norm), the batch-statistics gradient
    and the eval-mode gradient of csrc/cuda/normalization.cuh, against the array code in
    float64 on the host, at DCGAN, BigGAN, CycleGAN and WGAN-GP critic sizes; x is offset from 0 so that
    the mean matters."""
    import cupy
    shape, dims, affine_axes = NORMS[name]
    rng = np.random.default_rng(5)
    c = shape[1]
    affine = tuple(shape[i] for i in affine_axes)
    host = [rng.standard_normal(shape) * 2 + 3, rng.standard_normal(shape),
            rng.uniform(0.5, 1.5, affine), rng.standard_normal(affine)]
    x, gy, weight, bias = (cupy.asarray(a, dtype) for a in host)
    batch = dims[0] == 0
    running = [cupy.asarray(rng.standard_normal(c), dtype), cupy.asarray(
        rng.uniform(0.5, 2, c), dtype)] if batch else [None, None]
    expected = [None if r is None else r.get().astype(np.float64) for r in running]
    got = cuda_kernels.normalize_forward(x, weight, bias, *running, 0.1, dims, affine_axes,
                                         1e-5)
    want = normalize_forward(host[0], host[2], host[3], *expected, 0.1, dims, affine_axes,
                             1e-5)
    for g, w in zip(got + tuple(r for r in running if r is not None),
                    want + tuple(e for e in expected if e is not None)):
        assert _relative(g, w) < 10 * TOLERANCE[dtype]
    mean, invstd = got[1:]
    for batch_stats in (True, False):
        grads = cuda_kernels.normalize_backward(gy, x, weight, mean, invstd, dims,
                                                affine_axes, batch_stats, (True, True, True))
        reference = normalize_backward(host[1], host[0], host[2], want[1], want[2], dims,
                                       affine_axes, batch_stats, (True, True, True))
        for g, w in zip(grads, reference):
            assert _relative(g, w) < 10 * TOLERANCE[dtype]


def test_norms_gradcheck_and_gradgradcheck_in_float64_on_the_device():
    rng = np.random.default_rng(6)
    x = mg.tensor(rng.standard_normal((3, 4, 5, 5)) + 1, device="cuda", requires_grad=True)
    w, b = (mg.tensor(rng.standard_normal(4), device="cuda", requires_grad=True)
            for _ in range(2))
    with _forced():
        def norms(x, w, b):
            return (F.batch_norm(x, None, None, w, b, training=True) + F.instance_norm(x, w, b)
                    + F.layer_norm(x, (5,), w[:1].expand(5), b[:1].expand(5)))
        gradcheck(norms, [x, w, b])
        gradgradcheck(norms, [x, w, b])


def test_conv_gradcheck_and_gradgradcheck_in_float64_on_the_device():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((2, 4, 7, 6)), device="cuda", requires_grad=True)
    w = mg.tensor(rng.standard_normal((6, 2, 3, 3)), device="cuda", requires_grad=True)
    with _forced():
        def conv(x, w):
            return F.conv2d(x, w, stride=2, padding=1, dilation=1, groups=2)
        gradcheck(conv, [x, w])
        gradgradcheck(conv, [x, w])

        def transposed(x, w):
            return F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1)
        gradcheck(transposed, [x, w.detach().reshape(4, 3, 3, 3).requires_grad_()])


def test_attention_gradcheck_and_gradgradcheck_in_float64_on_the_device():
    rng = np.random.default_rng(2)
    q, k, v = (mg.tensor(rng.standard_normal(s), device="cuda", requires_grad=True)
               for s in [(2, 1, 5, 3), (2, 1, 17, 3), (2, 1, 17, 4)])
    with _forced():
        gradcheck(scaled_dot_product_attention, [q, k, v])
        gradgradcheck(scaled_dot_product_attention, [q, k, v])


ACTIVATIONS = [(64, 64, 16, 16), (64, 128, 8, 8), (16, 96, 128, 128), (7, 3, 33, 5)]


@pytest.mark.parametrize("shape", ACTIVATIONS, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("slope", [0.0, 0.2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaky_relu_matches_the_array_code(shape, slope, dtype, poisoned):
    """csrc/cuda/activation.cuh forward and backward at DCGAN, BigGAN and odd sizes, with
    NaN and infinities in x, against the array code on the host: the forward exactly, the
    backward to one unit in the last place."""
    import cupy
    rng = np.random.default_rng(8)
    host_x, host_gy = (rng.standard_normal(shape).astype(dtype) for _ in range(2))
    host_x.flat[:4] = [np.nan, np.inf, -np.inf, 0.0]
    y = cuda_kernels.leaky_relu(cupy.asarray(host_x), slope).get()
    gx = cuda_kernels.leaky_relu_backward(cupy.asarray(host_gy), cupy.asarray(host_x),
                                          slope).get()
    np.testing.assert_array_equal(y, leaky_relu_array(host_x, slope))
    want = leaky_relu_backward_array(host_gy, host_x, slope)
    np.testing.assert_allclose(gx, want, rtol=2 * np.finfo(dtype).eps, atol=0)


@pytest.mark.parametrize("shape", [(64, 1), (4096,), (7, 3, 33, 5)], ids=str)
@pytest.mark.parametrize("beta", [1.0, 0.5])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softplus_matches_the_array_code(shape, beta, dtype, poisoned):
    """Softplus forward and backward on logits spread over +-100, with infinities, against
    the array code on the host, to a few units in the last place."""
    import cupy
    rng = np.random.default_rng(9)
    host_x = (rng.standard_normal(shape) * 30).clip(-100, 100).astype(dtype)
    host_gy = rng.standard_normal(shape).astype(dtype)
    host_x.flat[:2] = [np.inf, -np.inf]
    y = cuda_kernels.softplus(cupy.asarray(host_x), beta).get()
    gx = cuda_kernels.softplus_backward(cupy.asarray(host_gy), cupy.asarray(host_x),
                                        beta).get()
    np.testing.assert_allclose(y, softplus_array(host_x, beta), rtol=8 * np.finfo(dtype).eps,
                               atol=0)
    np.testing.assert_allclose(gx, softplus_backward_array(host_gy, host_x, beta),
                               rtol=8 * np.finfo(dtype).eps, atol=0)


def test_activations_gradcheck_and_gradgradcheck_in_float64_on_the_device():
    x = mg.tensor(np.linspace(-2, 2, 24).reshape(4, 6) + 0.05, device="cuda",
                  requires_grad=True)
    with _forced():
        for op in (F.relu, lambda t: F.leaky_relu(t, 0.2), lambda t: F.softplus(t, 0.5)):
            gradcheck(lambda t: op(t) * t, [x])
            gradgradcheck(lambda t: op(t) * t, [x])


MEMCHECK_SCRIPT = textwrap.dedent("""
    import cupy, numpy as np
    from minigan import cuda_kernels as ck
    from minigan.ops.conv import Geometry
    rng = np.random.default_rng(0)
    a = lambda *s: cupy.asarray(rng.standard_normal(s), np.float32)
    geo = Geometry((2, 2), (1, 1), (1, 1), 1)
    x, w, gy = a(2, 5, 9, 9), a(7, 5, 3, 3), a(2, 7, 5, 5)
    ck.conv2d(x, w, geo, (5, 5)); ck.conv_transpose2d(gy, w, geo, (9, 9))
    ck.conv2d_weight(x, gy, geo, (3, 3))
    ck.power_iteration(a(37, 70), a(37), 2, 1e-12)
    q, k, v, g = a(2, 1, 33, 5), a(2, 1, 17, 5), a(2, 1, 17, 9), a(2, 1, 33, 9)
    out, lse = ck.attention(q, k, v, 0.4); ck.attention_backward(q, k, v, out, lse, g, 0.4)
    p, g, m, s = a(1001), a(1001), a(1001), a(1001) ** 2
    p2, g2, m2, s2 = a(77), a(77), a(77), a(77) ** 2
    ck.adam_step([p, p2], [g, g2], [m, m2], [s, s2], [s.copy(), s2.copy()], [0.1, 0.2],
                 [0.001, 0.002], 1e-3, 0.9, 0.999, 1e-8, 0.1, True, False)
    x, gy, c = a(3, 6, 7, 5), a(3, 6, 7, 5), a(6) ** 2
    y, mean, invstd = ck.normalize_forward(x, c, a(6), a(6), c.copy(), 0.1, (0, 2, 3), (1,),
                                           1e-5)
    ck.normalize_backward(gy, x, c, mean, invstd, (0, 2, 3), (1,), True, (True, True, True))
    y, mean, invstd = ck.normalize_forward(x, None, None, None, None, 0.0, (2, 3), (1,), 1e-5)
    ck.normalize_backward(gy, x, None, mean, invstd, (2, 3), (1,), True, (True, False, False))
    w = a(6, 7, 5)
    y, mean, invstd = ck.normalize_forward(x, w, w, None, None, 0.0, (1, 2, 3), (1, 2, 3), 1e-5)
    ck.normalize_backward(gy, x, w, mean, invstd, (1, 2, 3), (1, 2, 3), True, (True, True, True))
    y = ck.leaky_relu(x, 0.2); ck.leaky_relu_backward(gy, x, 0.2)
    y = ck.softplus(x, 0.5); ck.softplus_backward(gy, x, 0.5)
    cupy.cuda.Device().synchronize()
""")


@pytest.mark.skipif(shutil.which("compute-sanitizer") is None,
                    reason="compute-sanitizer is not on this machine")
def test_memcheck_finds_no_error_in_one_call_of_each_kernel():
    result = subprocess.run(["compute-sanitizer", "--tool", "memcheck", "--error-exitcode",
                             "1", sys.executable, "-c", MEMCHECK_SCRIPT],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "ERROR SUMMARY: 0 errors" in result.stdout
