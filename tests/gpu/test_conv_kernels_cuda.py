"""The Triton convolutions on a GPU at realistic sizes: the DCGAN and BigGAN layer shapes
of bench/gpu.py, fresh random inputs, NaN-poisoned outputs, against the float64 NumPy
reference; and a WGAN-GP critic step through them matching the CPU. Skipped without a GPU."""
import numpy as np
import pytest

import minigan as mg
import minigan.nn.functional as F
from minigan.kernels import CONV_IMPLEMENTATIONS
from minigan.ops.conv import NUMPY_KERNELS, Geometry, conv2d_array, conv2d_weight_array, \
    conv_transpose2d_array, output_size
from minigan.testing import assert_close

pytestmark = pytest.mark.gpu

SHAPES = [  # N, C, O, H, kernel, stride, padding
    (64, 3, 64, 32, 4, 2, 1), (64, 64, 128, 16, 4, 2, 1), (64, 128, 256, 8, 4, 2, 1),
    (16, 768, 768, 16, 3, 1, 1), (16, 96, 96, 128, 3, 1, 1), (8, 64, 32, 33, 5, 3, 2),
]


def _relative(got, want):
    got = got.get().astype(np.float64)
    assert not np.isnan(got).any(), "unwritten output elements"
    return np.linalg.norm(got - want) / np.linalg.norm(want)


@pytest.mark.parametrize("impl", sorted(CONV_IMPLEMENTATIONS))
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("allow_tf32", [True, False])
def test_triton_conv_family_at_real_sizes(shape, allow_tf32, impl, monkeypatch):
    import cupy
    from minigan.kernels import conv as kernels
    options = CONV_IMPLEMENTATIONS[impl]
    monkeypatch.setattr(kernels, "ALLOW_TF32", allow_tf32)
    n, c, o, h, k, s, p = shape
    rng = np.random.default_rng()                          # fresh inputs on every run
    x = rng.standard_normal((n, c, h, h)).astype(np.float32)
    w = (rng.standard_normal((o, c, k, k)) / np.sqrt(c * k * k)).astype(np.float32)
    geo = Geometry((s, s), (p, p), (1, 1), 1)
    out = (output_size(h, k, s, p, 1),) * 2
    gy = rng.standard_normal((n, o, *out)).astype(np.float32)
    tolerance = 3e-3 if allow_tf32 else 1e-5

    y = cupy.full((n, o, *out), np.nan, np.float32)
    kernels.conv2d(cupy.asarray(x), cupy.asarray(w), geo, out, cupy, out=y, **options)
    x64, w64, gy64 = (a.astype(np.float64) for a in (x, w, gy))
    assert _relative(y, conv2d_array(x64, w64, geo, out, NUMPY_KERNELS)) < tolerance
    dx = cupy.full(x.shape, np.nan, np.float32)
    kernels.conv_transpose2d(cupy.asarray(gy), cupy.asarray(w), geo, (h, h), cupy, out=dx,
                             **options)
    want = conv_transpose2d_array(gy64, w64, geo, (h, h), NUMPY_KERNELS)
    assert _relative(dx, want) < tolerance
    dw = kernels.conv2d_weight(cupy.asarray(x), cupy.asarray(gy), geo, (k, k), cupy,
                               **options)
    assert _relative(dw, conv2d_weight_array(x64, gy64, geo, (k, k), NUMPY_KERNELS)) < tolerance


def _critic_step(device, dtype):
    """Critic loss with the WGAN-GP penalty for a small conv critic; returns the loss and
    the weight gradients, on ``device``."""
    rng = np.random.default_rng(0)
    shapes = [(16, 3, 4, 4), (32, 16, 4, 4), (1, 32, 4, 4)]
    params = [mg.tensor(rng.standard_normal(s) * 0.2, dtype=dtype, device=device,
                        requires_grad=True) for s in shapes]
    real, fake = (mg.tensor(rng.standard_normal((8, 3, 16, 16)), dtype=dtype, device=device)
                  for _ in range(2))
    eps = mg.tensor(rng.uniform(size=(8, 1, 1, 1)), dtype=dtype, device=device)

    def critic(x):
        x = F.leaky_relu(F.conv2d(x, params[0], stride=2, padding=1), 0.2)
        x = F.leaky_relu(F.conv2d(x, params[1], stride=2, padding=1), 0.2)
        return F.conv2d(x, params[2]).reshape(-1)

    x_hat = (eps * real + (1 - eps) * fake).requires_grad_()
    (g,) = mg.grad(critic(x_hat).sum(), x_hat, create_graph=True)
    penalty = ((F.vector_norm(g.reshape(8, -1), dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * penalty
    loss.backward()
    return loss, [p.grad for p in params]


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
def test_wgan_gp_critic_step_on_gpu_matches_cpu(dtype, monkeypatch):
    from minigan.kernels import conv as kernels
    monkeypatch.setattr(kernels, "ALLOW_TF32", False)
    loss_cpu, grads_cpu = _critic_step("cpu", dtype)
    loss_gpu, grads_gpu = _critic_step("cuda", dtype)
    assert loss_gpu.dtype == dtype and grads_gpu[0].device == "cuda"
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == mg.float64 else dict(rtol=1e-4,
                                                                               atol=1e-5)
    assert_close(loss_gpu.cpu(), loss_cpu.detach(), **tolerance)
    for g_gpu, g_cpu in zip(grads_gpu, grads_cpu):
        assert_close(g_gpu.cpu(), g_cpu, **tolerance)
