"""The fused Triton power iteration on a GPU at real weight sizes (DCGAN/SAGAN/BigGAN convs
and linears, reshaped to (M, N)): fresh random inputs, NaN-poisoned buffers, against the
float64 NumPy reference; convergence, reproducibility, and the dispatch of the public op.
Skipped without a GPU."""
import numpy as np
import pytest

import minigan as mg
from minigan.backend import implementation, use_implementation
from minigan.ops.spectral import power_iteration_numpy, spectral_norm_power_iteration
from minigan.testing import Poisoned, assert_close

pytestmark = pytest.mark.gpu

OP = "spectral_norm_power_iteration"
SHAPES = [  # (M, N)
    (512, 4608),     # SAGAN / BigGAN 3x3 conv, 512 -> 512 channels
    (512, 4096),     # DCGAN D 4x4 conv, 256 -> 512
    (1024, 1024),    # a linear layer
    (64, 27),        # 3x3 conv from RGB
    (3, 576),        # 3x3 conv to RGB from 64 channels
    (24576, 20),     # BigGAN-128 G linear z (20) -> 4x4x1536: few columns, few slabs
]
TOLERANCE = {np.float64: 1e-12, np.float32: 1e-5, np.float16: 2e-3}


def _relative(got, want):
    got = got.get().astype(np.float64)
    assert not np.isnan(got).any(), "unwritten (NaN-poisoned) elements"
    return np.linalg.norm(got - want) / np.linalg.norm(want)


def _compare(shape, dtype, steps, rng):
    import cupy
    from minigan.kernels import spectral_norm as kernels
    w = (rng.standard_normal(shape) / np.sqrt(shape[1])).astype(dtype)
    u = rng.standard_normal(shape[0]).astype(dtype)
    got = kernels.spectral_norm_power_iteration(cupy.asarray(w), cupy.asarray(u), steps, 1e-12,
                                                Poisoned(cupy))
    want = power_iteration_numpy(w.astype(np.float64), u.astype(np.float64), steps, 1e-12)
    for name, g, e in zip(("u", "v", "sigma"), got, want):
        assert g.dtype == dtype and g.shape == e.shape, name
        assert _relative(g, e) < TOLERANCE[dtype], name


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps", [1, 3])
def test_triton_matches_the_reference_at_real_sizes(shape, dtype, steps):
    _compare(shape, dtype, steps, np.random.default_rng())          # fresh inputs every run


@pytest.mark.parametrize("shape", [(512, 4608), (64, 27)], ids=lambda s: "x".join(map(str, s)))
def test_float16_weights_accumulate_in_float32(shape):
    _compare(shape, np.float16, 2, np.random.default_rng())


def test_sigma_converges_to_the_largest_singular_value():
    import cupy
    from minigan.kernels import spectral_norm as kernels
    rng = np.random.default_rng(0)
    a, _ = np.linalg.qr(rng.standard_normal((512, 64)))
    b, _ = np.linalg.qr(rng.standard_normal((4608, 64)))
    s = np.concatenate([[3.0, 1.5], np.linspace(1.2, 0.01, 62)])
    w = cupy.asarray((a * s) @ b.T, dtype=np.float32)                 # (512, 4608)
    u, v, sigma = kernels.spectral_norm_power_iteration(
        w, cupy.asarray(rng.standard_normal(512), dtype=np.float32), 20, 1e-12, cupy)
    assert abs(float(sigma) - 3.0) < 3e-5
    sign = np.sign(float(u.get() @ a[:, 0]))
    assert np.abs(u.get() - sign * a[:, 0]).max() < 1e-5
    assert np.abs(v.get() - sign * b[:, 0]).max() < 1e-5


def test_results_are_bitwise_reproducible():
    import cupy
    from minigan.kernels import spectral_norm as kernels
    rng = np.random.default_rng()
    w = cupy.asarray(rng.standard_normal((512, 4608)), dtype=np.float32)
    u = cupy.asarray(rng.standard_normal(512), dtype=np.float32)
    first = kernels.spectral_norm_power_iteration(w, u, 3, 1e-12, cupy)
    second = kernels.spectral_norm_power_iteration(w, u, 3, 1e-12, cupy)
    for a, b in zip(first, second):
        assert (a == b).all()


def test_the_public_op_dispatches_to_triton_on_cuda_and_matches_the_cpu():
    assert implementation(OP, "cuda").name == "triton"
    rng = np.random.default_rng(1)
    w = rng.standard_normal((256, 128, 3, 3)) / 30
    u = rng.standard_normal(256)
    want = spectral_norm_power_iteration(mg.tensor(w), mg.tensor(u), 2)
    weight = mg.tensor(w, device="cuda", requires_grad=True)
    got = spectral_norm_power_iteration(weight, mg.tensor(u, device="cuda"), 2)
    with use_implementation(OP, "numpy"):                            # the reference, on CuPy
        reference_on_gpu = spectral_norm_power_iteration(weight, mg.tensor(u, device="cuda"), 2)
    for g, r, e in zip(got, reference_on_gpu, want):
        assert g.device == "cuda" and g.dtype == mg.float64 and not g.requires_grad
        assert_close(g.cpu(), e, rtol=1e-12, atol=1e-12)
        assert_close(r.cpu(), e, rtol=1e-12, atol=1e-12)
