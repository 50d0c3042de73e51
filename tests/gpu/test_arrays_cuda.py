"""The Triton launchers on a non-blocking CuPy stream (kernels/arrays.py): their kernels
wait for the work queued on CuPy's current stream before them, and CuPy's later work waits
for them, although Triton itself launches on its driver's stream. Skipped without a GPU."""
import numpy as np
import pytest

from minigan.ops.conv import Geometry
from minigan.testing import Poisoned

pytestmark = pytest.mark.gpu

# One block copies src to dst after spinning about `spins` clock cycles: an input that
# is written long after the launcher has queued its kernels (0.25 s at 2 GHz).
SLOW_COPY = r"""
extern "C" __global__ void slow_copy(const float* src, float* dst, long long n,
                                     long long spins) {
    long long start = clock64();
    while (clock64() - start < spins) {}
    for (long long i = threadIdx.x; i < n; i += blockDim.x) dst[i] = src[i];
}
"""
SPINS = 500_000_000


def _launchers():
    """name -> (inputs as float32 host arrays, call(first, *rest) of the launcher); the
    first input is the one written late."""
    from minigan.kernels import attention, conv, spectral_norm
    rng = np.random.default_rng()
    f32 = lambda *shape: rng.standard_normal(shape).astype(np.float32)   # noqa: E731
    geo = Geometry((2, 2), (1, 1), (1, 1), 1)
    q, k, v = f32(4, 2, 256, 16), f32(4, 2, 256, 16), f32(4, 2, 256, 64)
    return {
        "conv2d": ((f32(16, 64, 16, 16), f32(128, 64, 4, 4)),
                   lambda cp, x, w: conv.conv2d(x, w, geo, (8, 8), cp)),
        "conv_transpose2d": ((f32(16, 128, 8, 8), f32(128, 64, 4, 4)),
                             lambda cp, gy, w: conv.conv_transpose2d(gy, w, geo, (16, 16), cp)),
        "conv2d_weight": ((f32(16, 64, 16, 16), f32(16, 128, 8, 8)),
                          lambda cp, x, gy: conv.conv2d_weight(x, gy, geo, (4, 4), cp)),
        "attention": ((q, k, v), lambda cp, *qkv: attention.attention(*qkv, 0.25, cp)),
        "attention_backward": (
            (f32(4, 2, 256, 64), q, k, v),
            lambda cp, dout, q, k, v: attention.attention_backward(
                q, k, v, *attention.attention(q, k, v, 0.25, cp), dout, 0.25, cp)),
        "spectral_norm_power_iteration": (
            (f32(512, 4608), f32(512)),
            lambda cp, w, u: spectral_norm.spectral_norm_power_iteration(w, u, 3, 1e-12, cp)),
    }


@pytest.mark.parametrize("name", ["conv2d", "conv_transpose2d", "conv2d_weight", "attention",
                                  "attention_backward", "spectral_norm_power_iteration"])
def test_triton_launches_are_ordered_on_a_non_blocking_cupy_stream(name):
    import cupy
    slow_copy = cupy.RawKernel(SLOW_COPY, "slow_copy")
    inputs, call = _launchers()[name]
    first, *rest = (cupy.asarray(a) for a in inputs)
    want = [a.get() for a in _as_tuple(call(cupy, first, *rest))]      # compiles the kernels
    stream = cupy.cuda.Stream(non_blocking=True)
    with stream:
        late = cupy.full(first.shape, np.nan, np.float32)
        slow_copy((1,), (256,), (first, late, np.int64(first.size), np.int64(SPINS)))
        got = [a.get() for a in _as_tuple(call(Poisoned(cupy), late, *rest))]
    for g, w in zip(got, want):
        assert not np.isnan(g).any(), f"{name}: an input read before it was written, or an " \
            "output before the kernel wrote it"
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)


def _as_tuple(result):
    return result if isinstance(result, tuple) else (result,)
