"""The Triton attention on a GPU: the kernels at the sizes of SAGAN's attention block
against the float64 NumPy reference, with fresh random inputs and NaN-poisoned outputs;
float64 gradient checks on the device through the public op; the registry's choice; the
op on the GPU against the CPU. Skipped without a GPU."""
import contextlib

import numpy as np
import pytest

import minigan as mg
from minigan.kernels import ATTENTION_TILES
from minigan.backend import implementation, use_implementation
from minigan.ops.attention import attention_backward_numpy, attention_numpy, \
    scaled_dot_product_attention
from minigan.testing import assert_close, gradcheck, gradgradcheck

pytestmark = pytest.mark.gpu

SAGAN = [  # B, C, side: N = side^2 positions, q and k of C/8 channels, v of Dv channels
    (64, 64, 16, 32), (16, 128, 32, 64), (8, 256, 32, 128), (4, 64, 64, 64),
    (2, 256, 64, 256), (3, 96, 33, 48),
]
TOLERANCE = {"tf32": 5e-3, "float32": 1e-4, "float16": 5e-3}


def _relative(got, want):
    got = got.get().astype(np.float64)
    assert not np.isnan(got).any(), "unwritten output elements"
    return np.linalg.norm(got - want) / np.linalg.norm(want)


@contextlib.contextmanager
def _refusal_skips(tiles):
    """A tile shape for autotuning may not fit the GPU in every dtype (a ValueError, which
    autotuning passes over): skip then. The default tiles must always fit."""
    try:
        yield
    except ValueError as refusal:
        if ATTENTION_TILES[tiles] is None or "do not fit this GPU" not in str(refusal):
            raise
        pytest.skip(f"{tiles}: {refusal}")


@pytest.mark.parametrize("tiles", sorted(ATTENTION_TILES))
@pytest.mark.parametrize("shape", SAGAN, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("precision", ["tf32", "float32", "float16"])
def test_triton_attention_at_sagan_sizes(shape, precision, tiles, monkeypatch):
    import cupy
    from minigan.kernels import attention as kernels
    blocks = ATTENTION_TILES[tiles]
    monkeypatch.setattr(kernels, "ALLOW_TF32", precision == "tf32")
    dtype = np.float16 if precision == "float16" else np.float32
    b, c, side, dv = shape
    n, d = side * side, c // 8
    rng = np.random.default_rng()                          # fresh inputs on every run
    q, k = (rng.standard_normal((b, 1, n, d)).astype(dtype) for _ in range(2))
    v, g = (rng.standard_normal((b, 1, n, dv)).astype(dtype) for _ in range(2))
    scale = d ** -0.5
    qd, kd, vd, gd = (cupy.asarray(a) for a in (q, k, v, g))
    q64, k64, v64, g64 = (a.astype(np.float64) for a in (q, k, v, g))

    out = cupy.full(g.shape, np.nan, dtype)
    lse = cupy.full((b, 1, n), np.nan, np.float32)
    with _refusal_skips(tiles):
        kernels.attention(qd, kd, vd, scale, cupy, out=out, lse=lse, blocks=blocks)
    want_out, want_lse = attention_numpy(q64, k64, v64, scale)
    assert _relative(out, want_out) < TOLERANCE[precision], "out"
    assert _relative(lse, want_lse) < TOLERANCE[precision], "lse"

    grads = [cupy.full(a.shape, np.nan, dtype) for a in (q, k, v)]
    with _refusal_skips(tiles):
        kernels.attention_backward(qd, kd, vd, out, lse, gd, scale, cupy, *grads,
                                   blocks=blocks)
    wants = attention_backward_numpy(q64, k64, v64, want_out, want_lse, g64, scale)
    for name, got, want in zip(("dq", "dk", "dv"), grads, wants):
        assert _relative(got, want) < TOLERANCE[precision], name


def test_backward_is_deterministic():
    """No atomics: every gradient tile is written by one program, so two runs agree to
    the bit."""
    import cupy
    from minigan.kernels import attention as kernels
    rng = np.random.default_rng(0)
    q, k = (cupy.asarray(rng.standard_normal((4, 1, 1024, 16)), np.float32) for _ in range(2))
    v, g = (cupy.asarray(rng.standard_normal((4, 1, 1024, 64)), np.float32) for _ in range(2))
    out, lse = kernels.attention(q, k, v, 0.25, cupy)
    first = kernels.attention_backward(q, k, v, out, lse, g, 0.25, cupy)
    second = kernels.attention_backward(q, k, v, out, lse, g, 0.25, cupy)
    for a, b in zip(first, second):
        assert bool((a == b).all())


def test_dispatch_picks_triton_on_cuda():
    assert implementation("attention", "cuda").name == "triton"
    assert implementation("attention_backward", "cuda").name == "triton"


@pytest.mark.parametrize("impl", ["numpy", "triton"])
def test_float64_gradcheck_and_gradgradcheck_on_the_device(impl):
    """First order through the fused backward of ``impl`` (17 keys: a partial tile),
    second order through the composed ops, all on the GPU."""
    rng = np.random.default_rng(1)
    q, k, v = (mg.tensor(rng.standard_normal(s), device="cuda", requires_grad=True)
               for s in [(2, 1, 5, 3), (2, 1, 17, 3), (2, 1, 17, 4)])
    with use_implementation("attention", impl), \
            use_implementation("attention_backward", impl):
        gradcheck(scaled_dot_product_attention, [q, k, v])
        gradgradcheck(scaled_dot_product_attention, [q, k, v])


@pytest.mark.parametrize("dtype", [mg.float64, mg.float32])
def test_attention_on_gpu_matches_cpu(dtype, monkeypatch):
    from minigan.kernels import attention as kernels
    monkeypatch.setattr(kernels, "ALLOW_TF32", False)
    rng = np.random.default_rng(2)
    arrays = [rng.standard_normal(s) for s in [(4, 1, 256, 8), (4, 1, 256, 8),
                                                (4, 1, 256, 32), (4, 1, 256, 32)]]
    results = {}
    for device in ("cpu", "cuda"):
        q, k, v = (mg.tensor(a, dtype=dtype, device=device, requires_grad=True)
                   for a in arrays[:3])
        out = scaled_dot_product_attention(q, k, v)
        out.backward(mg.tensor(arrays[3], dtype=dtype, device=device))
        results[device] = [out.detach().cpu()] + [t.grad.cpu() for t in (q, k, v)]
    assert results["cuda"][0].dtype == dtype
    tolerance = dict(rtol=1e-10, atol=1e-12) if dtype == mg.float64 else dict(rtol=1e-4,
                                                                               atol=1e-5)
    for gpu, cpu in zip(results["cuda"], results["cpu"]):
        assert_close(gpu, cpu, **tolerance)
