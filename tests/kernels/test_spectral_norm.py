"""Tests for kernels/spectral_norm.py: the fused power-iteration step against the NumPy
reference of minigan/ops/spectral.py (in float64), on partial tiles, many column slabs,
several steps and three dtypes, with every fresh buffer poisoned with NaN; convergence to
the top singular value; bad input; and the kernel's compilation for an H100 (sm_90),
which needs no GPU."""
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minigan.ops.spectral import power_iteration_numpy
from minigan.testing import Poisoned, assert_close

triton_spectral = pytest.importorskip("minigan.kernels.spectral_norm")
BLOCK = 8
# float32 sums in another order than NumPy's BLAS; float16 results are rounded to float16.
TOLERANCE = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6),
             np.float16: dict(rtol=2e-3, atol=5e-4)}


def _host(a):
    return a if isinstance(a, np.ndarray) else a.get()


def _run(xp, w, u, steps, eps=1e-12, **blocks):
    return triton_spectral.spectral_norm_power_iteration(xp.asarray(w), xp.asarray(u), steps,
                                                         eps, Poisoned(xp), **blocks)


def _check(xp, shape, dtype, steps, seed=0, eps=1e-12, **blocks):
    """Kernel vs the reference run in float64 on the same (dtype-rounded) inputs."""
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    u = rng.standard_normal(shape[0]).astype(dtype)
    got = _run(xp, w, u, steps, eps, **blocks)
    want = power_iteration_numpy(w.astype(np.float64), u.astype(np.float64), steps, eps)
    for name, g, e in zip(("u", "v", "sigma"), got, want):
        g = _host(g)
        assert g.dtype == dtype and g.shape == e.shape, name
        assert_close(g, e, **TOLERANCE[dtype], msg=f"{name}: ")


@pytest.mark.parametrize("m", [BLOCK - 1, BLOCK, BLOCK + 1])
@pytest.mark.parametrize("n", [BLOCK - 1, BLOCK, BLOCK + 1])
def test_partial_tiles_in_rows_and_columns(xp, m, n):
    _check(xp, (m, n), np.float64, 2, block_m=BLOCK, block_n=BLOCK)


@pytest.mark.parametrize("shape", [(21, 70), (70, 21)])
def test_many_slabs_are_summed_by_the_last_program(xp, shape):
    """4 x 4 tiles: up to 18 slabs, so the last program sums the partials in several
    chunks of 4, and rescales u and v in several chunks of 16."""
    _check(xp, shape, np.float64, 2, block_m=4, block_n=4)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("steps", [1, 4])
def test_dtypes_and_steps(xp, dtype, steps):
    _check(xp, (23, 41), dtype, steps, seed=steps, block_m=BLOCK, block_n=BLOCK)


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (3, 48), (64, 27)])
def test_odd_sizes_with_the_default_blocks(xp, shape):
    _check(xp, shape, np.float32, 2)


def test_sigma_converges_to_the_largest_singular_value(xp):
    """W = A diag(s) B^T with orthonormal A, B and sigma_2 / sigma_1 = 1/2."""
    rng = np.random.default_rng(0)
    a, _ = np.linalg.qr(rng.standard_normal((12, 8)))
    b, _ = np.linalg.qr(rng.standard_normal((20, 8)))
    s = np.array([4.0, 2.0, 1.5, 1.0, 0.8, 0.5, 0.2, 0.1])
    w = a @ np.diag(s) @ b.T                                        # (12, 20)
    u, v, sigma = _run(xp, w, rng.standard_normal(12), 30)
    assert abs(float(_host(sigma)) - 4.0) < 1e-12
    sign = np.sign(_host(u) @ a[:, 0])
    assert_close(_host(u), sign * a[:, 0], rtol=0, atol=1e-9)
    assert_close(_host(v), sign * b[:, 0], rtol=0, atol=1e-9)


def test_zero_weight_gives_zeros_and_tiny_norms_are_divided_by_eps(xp):
    u, v, sigma = _run(xp, np.zeros((5, 9)), np.ones(5), 2, block_m=4, block_n=4)
    assert not _host(u).any() and not _host(v).any() and float(_host(sigma)) == 0.0
    # eps = 2^-40 is the same in float32 (the interpreter's scalar) and float64
    rng = np.random.default_rng(1)
    w, u0 = rng.standard_normal((5, 9)) * 1e-14, rng.standard_normal(5)
    got = _run(xp, w, u0, 2, eps=2.0 ** -40, block_m=4, block_n=4)
    for g, e in zip(got, power_iteration_numpy(w, u0, 2, 2.0 ** -40)):
        assert_close(_host(g), e, rtol=1e-12, atol=0)
    assert np.linalg.norm(_host(got[1])) < 0.5                     # the floor acted


def test_inputs_are_unchanged_and_results_are_bitwise_reproducible(xp):
    rng = np.random.default_rng(2)
    w, u0 = xp.asarray(rng.standard_normal((19, 33))), xp.asarray(rng.standard_normal(19))
    w_before, u_before = _host(w).copy(), _host(u0).copy()
    first = triton_spectral.spectral_norm_power_iteration(w, u0, 2, 1e-12, xp, block_m=8,
                                                          block_n=8)
    second = triton_spectral.spectral_norm_power_iteration(w, u0, 2, 1e-12, xp, block_m=8,
                                                           block_n=8)
    np.testing.assert_array_equal(_host(w), w_before)
    np.testing.assert_array_equal(_host(u0), u_before)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(_host(a), _host(b))


def test_non_contiguous_weight_is_read_through_its_strides(xp):
    rng = np.random.default_rng(3)
    base = rng.standard_normal((20, 11))
    u0 = rng.standard_normal(11)
    got = triton_spectral.spectral_norm_power_iteration(xp.asarray(base).T, xp.asarray(u0), 2,
                                                        1e-12, Poisoned(xp), block_m=BLOCK,
                                                        block_n=BLOCK)
    for g, e in zip(got, power_iteration_numpy(np.ascontiguousarray(base.T), u0, 2, 1e-12)):
        assert_close(_host(g), e, **TOLERANCE[np.float64])


def test_bad_input_is_refused_before_launch(xp):
    op = r"spectral_norm_power_iteration \(triton\): "
    w = xp.zeros((4, 3))
    with pytest.raises(ValueError, match=op + r"needs weight \(M, N\) and u \(M,\), got "
                                              r"\(4, 3\) and \(5,\)"):
        triton_spectral.spectral_norm_power_iteration(w, xp.zeros(5), 1, 1e-12, xp)
    with pytest.raises(TypeError, match=op + r"needs float16, float32 or float64 arrays of "
                                              r"one dtype, got weight float64 and u float32"):
        triton_spectral.spectral_norm_power_iteration(w, xp.zeros(4, dtype=np.float32), 1,
                                                      1e-12, xp)
    with pytest.raises(TypeError, match=r"got weight int64 and u int64"):
        triton_spectral.spectral_norm_power_iteration(xp.zeros((4, 3), dtype=np.int64),
                                                      xp.zeros(4, dtype=np.int64), 1, 1e-12, xp)
    with pytest.raises(ValueError, match=op + r"weight of shape \(0, 3\) has no elements"):
        triton_spectral.spectral_norm_power_iteration(xp.zeros((0, 3)), xp.zeros(0), 1, 1e-12,
                                                      xp)
    with pytest.raises(ValueError, match=op + r"needs n_iterations >= 1 and eps > 0, got 0"):
        triton_spectral.spectral_norm_power_iteration(w, xp.zeros(4), 0, 1e-12, xp)
    huge = np.lib.stride_tricks.as_strided(np.zeros(1), (2 ** 16, 2 ** 16), (8, 2 ** 16 * 8))
    with pytest.raises(ValueError, match=op + r"weight of shape \(65536, 65536\) spans more "
                                              r"than 2\^31 elements"):
        triton_spectral.spectral_norm_power_iteration(huge, np.zeros(2 ** 16), 1, 1e-12, np)


COMPILE = textwrap.dedent("""
    import triton, triton.language as tl
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource
    from minigan.kernels.arrays import FP_FUSION
    from minigan.kernels.spectral_norm import NUM_WARPS, blocks, power_iteration_step_kernel
    for weight, acc in (("fp32", "fp32"), ("fp64", "fp64"), ("fp16", "fp32")):
        signature = dict(
            w_ptr="*" + weight, u_in_ptr="*" + weight, u_ptr="*" + acc, v_ptr="*" + acc,
            sigma_ptr="*" + acc, part_ptr="*" + acc, norms_ptr="*" + acc, counter_ptr="*i32",
            M="i32", N="i32", stride_wm="i32", stride_wn="i32", eps="fp64",
            ACC="constexpr", BLOCK_M="constexpr", BLOCK_N="constexpr")
        names = list(signature)
        block_m, block_n = blocks(512, 4608)
        constants = dict(ACC=tl.float64 if acc == "fp64" else tl.float32, BLOCK_M=block_m,
                         BLOCK_N=block_n)
        source = ASTSource(power_iteration_step_kernel, signature,
                           {(names.index(k),): v for k, v in constants.items()})
        options = dict(num_warps=NUM_WARPS, enable_fp_fusion=FP_FUSION)
        kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32), options=options)
        print(weight, kernel.asm["ptx"].replace(chr(10), " "))
""")


def test_kernel_compiles_for_sm90_with_the_arrive_protocol():
    """Compiled (not interpreted) for an H100 in the three dtypes, without a GPU: the PTX
    has one acq_rel atomic at GPU scope with a CTA barrier before it, and L2 reads of the
    other programs' results."""
    pytest.importorskip("triton.backends.nvidia")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    result = subprocess.run([sys.executable, "-c", COMPILE], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if line)
    assert set(lines) == {"fp32", "fp64", "fp16"}
    for dtype, ptx in lines.items():
        atomic = ptx.index("atom.global.gpu.acq_rel.add")
        assert ptx.count("atom.global") == 1, dtype
        assert "bar.sync" in ptx[max(0, atomic - 400):atomic], dtype
        assert "ld.global.cg" in ptx[atomic:], dtype
