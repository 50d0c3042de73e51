"""Tests for minigan/ops/resample.py."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op

rng = np.random.default_rng(0)


def _pair(v):
    return (v, v) if isinstance(v, (int, float)) else tuple(v)


def _sizes(shape, size, scale_factor):
    """(Ho, Wo) and the source-per-output scale of each dim, as PyTorch defines them:
    in / out for a size, 1 / factor for a scale factor (output floor(in * factor))."""
    if size is not None:
        out = _pair(size)
        return out, tuple(n / o for n, o in zip(shape[2:], out))
    factors = _pair(scale_factor)
    return (tuple(math.floor(n * f) for n, f in zip(shape[2:], factors)),
            tuple(1 / f for f in factors))


def _nearest_src(dst, n_in, n_out, scale, exact):
    """PyTorch's nearest: floor(dst * scale) clipped to the input; a dim whose output is
    1 or 2 times its input is a copy or dst // 2 (exact: floor(dst * in / out))."""
    if exact or n_out in (n_in, 2 * n_in):
        return dst * n_in // n_out
    return min(math.floor(dst * scale), n_in - 1)


def _linear_src(dst, n_in, n_out, scale, align_corners):
    """(low, high, weight of high) of one output position."""
    if align_corners:
        src = dst * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    elif n_out == n_in:
        src = float(dst)                                   # PyTorch: an unchanged dim
    else:
        src = max((dst + 0.5) * scale - 0.5, 0.0)
    low = min(math.floor(src), n_in - 1)
    return low, min(low + 1, n_in - 1), src - low


def _resize_ref(x, size=None, scale_factor=None, mode="nearest", align_corners=False):
    """Explicit loops over the output pixels."""
    n, c, h, w = x.shape
    (ho, wo), (sh, sw) = _sizes(x.shape, size, scale_factor)
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            if mode == "nearest":
                exact = size is not None
                out[:, :, i, j] = x[:, :, _nearest_src(i, h, ho, sh, exact),
                                    _nearest_src(j, w, wo, sw, exact)]
                continue
            i0, i1, a = _linear_src(i, h, ho, sh, align_corners)
            j0, j1, b = _linear_src(j, w, wo, sw, align_corners)
            out[:, :, i, j] = ((1 - a) * (1 - b) * x[:, :, i0, j0] + (1 - a) * b * x[:, :, i0, j1]
                               + a * (1 - b) * x[:, :, i1, j0] + a * b * x[:, :, i1, j1])
    return out


def _shuffle_ref(x, r):
    n, c, h, w = x.shape
    y = np.zeros((n, c // (r * r), h * r, w * r))
    for k in range(c // (r * r)):
        for i in range(r):
            for j in range(r):
                for a in range(h):
                    for b in range(w):
                        y[:, k, a * r + i, b * r + j] = x[:, k * r * r + i * r + j, a, b]
    return y


def _unshuffle_ref(y, r):
    n, c, hr, wr = y.shape
    x = np.zeros((n, c * r * r, hr // r, wr // r))
    for k in range(c):
        for i in range(r):
            for j in range(r):
                x[:, k * r * r + i * r + j] = y[:, k, i::r, j::r]
    return x


RESIZE_CASES = [  # shape, size, scale_factor
    ((2, 3, 3, 4), None, 2),                   # integer factor
    ((1, 2, 2, 3), None, (3, 2)),
    ((1, 2, 4, 5), None, 1.5),                 # non-integer factors
    ((1, 2, 3, 4), None, (2.5, 1.3)),
    ((1, 1, 5, 6), None, (0.5, 0.7)),          # downsampling
    ((2, 1, 2, 3), None, 1.3),                 # output == input: a copy, as in PyTorch
    ((2, 1, 6, 7), (3, 5), None),              # explicit sizes, smaller
    ((1, 2, 3, 4), (7, 9), None),              # larger, not multiples
    ((1, 1, 3, 5), (4, 2), None),              # one up, one down
    ((1, 1, 4, 3), (1, 1), None),
]


@pytest.mark.parametrize("shape, size, scale_factor", RESIZE_CASES)
def test_nearest_matches_reference_and_gradients(shape, size, scale_factor):
    check_op(lambda x: F.interpolate(x, size, scale_factor),
             lambda x: _resize_ref(x, size, scale_factor), rng.standard_normal(shape))


@pytest.mark.parametrize("align_corners", [False, True])
@pytest.mark.parametrize("shape, size, scale_factor", RESIZE_CASES)
def test_bilinear_matches_reference_and_gradients(shape, size, scale_factor, align_corners):
    check_op(lambda x: F.interpolate(x, size, scale_factor, "bilinear", align_corners),
             lambda x: _resize_ref(x, size, scale_factor, "bilinear", align_corners),
             rng.standard_normal(shape))


@pytest.mark.parametrize("r, shape", [(1, (1, 2, 3, 3)), (2, (2, 8, 3, 2)), (3, (1, 9, 2, 3))])
def test_pixel_shuffle_and_unshuffle_match_reference_and_gradients(r, shape):
    x = rng.standard_normal(shape)
    check_op(lambda t: F.pixel_shuffle(t, r), lambda a: _shuffle_ref(a, r), x)
    y = _shuffle_ref(x, r)
    check_op(lambda t: F.pixel_unshuffle(t, r), lambda a: _unshuffle_ref(a, r), y)


image_shapes = st.tuples(st.integers(1, 2), st.integers(1, 2), st.integers(1, 5),
                         st.integers(1, 5))
seeds = st.integers(0, 2 ** 32 - 1)


@given(image_shapes, st.tuples(st.integers(1, 8), st.integers(1, 8)),
       st.sampled_from([("nearest", None), ("bilinear", False), ("bilinear", True)]), seeds)
def test_interpolate_to_drawn_sizes(shape, size, mode, seed):
    mode, align = mode
    x = np.random.default_rng(seed).standard_normal(shape)
    check_op(lambda t: F.interpolate(t, size, mode=mode, align_corners=align),
             lambda a: _resize_ref(a, size, None, mode, bool(align)), x,
             gradgrad=False, noncontiguous=False)


@given(image_shapes, st.tuples(*[st.sampled_from([0.5, 0.7, 1.0, 1.3, 1.5, 2.0, 2.5, 3.0])] * 2),
       st.sampled_from([("nearest", None), ("bilinear", False), ("bilinear", True)]), seeds)
def test_interpolate_by_drawn_scale_factors(shape, factors, mode, seed):
    mode, align = mode
    x = np.random.default_rng(seed).standard_normal(shape)
    if min(math.floor(n * f) for n, f in zip(shape[2:], factors)) < 1:
        with pytest.raises(ValueError, match="interpolate: scale_factor .* empty output"):
            F.interpolate(mg.tensor(x), scale_factor=factors, mode=mode, align_corners=align)
        return
    check_op(lambda t: F.interpolate(t, scale_factor=factors, mode=mode, align_corners=align),
             lambda a: _resize_ref(a, None, factors, mode, bool(align)), x,
             gradgrad=False, noncontiguous=False)


@given(image_shapes, st.integers(1, 3), seeds)
def test_pixel_unshuffle_inverts_pixel_shuffle_and_back(shape, r, seed):
    n, c, h, w = shape
    x = np.random.default_rng(seed).standard_normal((n, c * r * r, h, w))
    y = F.pixel_shuffle(mg.tensor(x), r)
    assert y.shape == (n, c, h * r, w * r)
    assert_close(F.pixel_unshuffle(y, r), x, rtol=0, atol=0)
    z = np.random.default_rng(seed + 1).standard_normal((n, c, h * r, w * r))
    assert_close(F.pixel_shuffle(F.pixel_unshuffle(mg.tensor(z), r), r), z, rtol=0, atol=0)


@given(image_shapes, st.integers(1, 3), seeds)
def test_pixel_shuffle_gradient_is_pixel_unshuffle_of_output_gradient(shape, r, seed):
    n, c, h, w = shape
    g = np.random.default_rng(seed)
    x = mg.tensor(g.standard_normal((n, c * r * r, h, w)), requires_grad=True)
    gy = mg.tensor(g.standard_normal((n, c, h * r, w * r)))
    (gx,) = mg.grad(F.pixel_shuffle(x, r), x, gy)
    assert_close(gx, F.pixel_unshuffle(gy, r), rtol=0, atol=0)


@given(image_shapes, st.integers(1, 3), st.integers(1, 3), st.booleans(), seeds)
def test_nearest_integer_upsample_then_avg_pool_is_identity(shape, r, s, by_size, seed):
    n, c, h, w = shape
    x = mg.tensor(np.random.default_rng(seed).standard_normal(shape))
    up = (F.interpolate(x, size=(h * r, w * s)) if by_size
          else F.interpolate(x, scale_factor=(r, s)))
    assert up.shape == (n, c, h * r, w * s)
    assert_close(F.avg_pool2d(up, (r, s)), x, rtol=1e-14, atol=1e-14)


@given(image_shapes, st.booleans(), seeds)
def test_bilinear_to_the_same_size_is_the_identity(shape, align_corners, seed):
    x = np.random.default_rng(seed).standard_normal(shape)
    y = F.interpolate(mg.tensor(x), size=shape[2:], mode="bilinear",
                      align_corners=align_corners)
    assert_close(y, x, rtol=0, atol=0)


@given(image_shapes, st.tuples(st.integers(1, 8), st.integers(1, 8)), st.booleans(), seeds)
def test_bilinear_keeps_constants_and_corner_pixels(shape, size, align_corners, seed):
    y = F.interpolate(mg.full(shape, 2.5, dtype=mg.float64), size, mode="bilinear",
                      align_corners=align_corners)
    assert_close(y, np.full(shape[:2] + size, 2.5), rtol=1e-15, atol=0)
    x = np.random.default_rng(seed).standard_normal(shape)
    y = F.interpolate(mg.tensor(x), size, mode="bilinear", align_corners=True).numpy()
    assert_close(y[:, :, 0, 0], x[:, :, 0, 0], rtol=0, atol=0)
    if min(size) > 1:
        assert_close(y[:, :, -1, -1], x[:, :, -1, -1], rtol=1e-14, atol=1e-14)


def test_bilinear_halving_averages_pixel_pairs_and_nearest_takes_the_first():
    x = mg.tensor(rng.standard_normal((2, 3, 6, 8)))
    assert_close(F.interpolate(x, scale_factor=0.5, mode="bilinear"), F.avg_pool2d(x, 2),
                 rtol=1e-14, atol=1e-14)
    assert_close(F.interpolate(x, size=(3, 4)), x.numpy()[:, :, ::2, ::2], rtol=0, atol=0)


def test_scale_factor_giving_one_or_two_times_the_size_follows_pytorch():
    x = rng.standard_normal((1, 2, 2, 3))
    for mode in ("nearest", "bilinear"):                     # 1.3: 2 -> 2 and 3 -> 3
        assert_close(F.interpolate(mg.tensor(x), scale_factor=1.3, mode=mode), x,
                     rtol=0, atol=0)
    x = rng.standard_normal((1, 2, 10, 10))                  # 2.05: 10 -> 20, dst // 2
    assert_close(F.interpolate(mg.tensor(x), scale_factor=2.05),
                 np.repeat(np.repeat(x, 2, 2), 2, 3), rtol=0, atol=0)


def test_interpolate_keeps_float32():
    x = mg.tensor(rng.standard_normal((1, 1, 3, 3)).astype(np.float32))
    assert F.interpolate(x, 5).dtype == np.float32
    assert F.interpolate(x, scale_factor=1.5, mode="bilinear").dtype == np.float32


TORCH_CASES = RESIZE_CASES + [
    ((1, 1, 10, 10), None, 2.05),              # 2x output from a non-integer factor
    ((1, 2, 7, 6), None, (0.3, 3.0)),
]


@pytest.mark.parametrize("shape, size, scale_factor", TORCH_CASES)
def test_interpolate_matches_torch(shape, size, scale_factor):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    for mode, align in [("nearest", None), ("bilinear", False), ("bilinear", True)]:
        t, tt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y = F.interpolate(t, size, scale_factor, mode, align)
        yt = torch.nn.functional.interpolate(tt, size, scale_factor, mode, align)
        assert_close(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12, msg=f"{mode} {align}: ")
        gy = rng.standard_normal(y.shape)
        (g,), (gt,) = mg.grad(y, t, mg.tensor(gy)), torch.autograd.grad(yt, tt, torch.tensor(gy))
        assert_close(g, gt.numpy(), rtol=1e-12, atol=1e-12, msg=f"{mode} {align} grad: ")


@pytest.mark.parametrize("r, shape", [(2, (2, 8, 3, 2)), (3, (1, 9, 2, 3))])
def test_pixel_shuffle_matches_torch(r, shape):
    torch = pytest.importorskip("torch")
    x = rng.standard_normal(shape)
    y = torch.nn.functional.pixel_shuffle(torch.tensor(x), r).numpy()
    assert_close(F.pixel_shuffle(mg.tensor(x), r), y, rtol=0, atol=0)
    assert_close(F.pixel_unshuffle(mg.tensor(y), r),
                 torch.nn.functional.pixel_unshuffle(torch.tensor(y), r).numpy(), rtol=0,
                 atol=0)


def test_interpolate_rejects_bad_arguments():
    x = mg.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="interpolate: input must be 4-D"):
        F.interpolate(mg.randn(4, 4), 2)
    with pytest.raises(TypeError, match="interpolate: input must be floating-point"):
        F.interpolate(mg.tensor(np.ones((1, 1, 2, 2), np.int64)), 4)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale"):
        F.interpolate(x, size=8, scale_factor=2)
    with pytest.raises(ValueError, match="interpolate: give exactly one of size and scale"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="interpolate: mode must be 'nearest' or 'bilinear'"):
        F.interpolate(x, 8, mode="bicubic")
    with pytest.raises(ValueError, match="interpolate: align_corners only applies to mode "
                                         "'bilinear'"):
        F.interpolate(x, 8, align_corners=True)
    with pytest.raises(ValueError, match="interpolate: size must be a positive int or pair"):
        F.interpolate(x, (0, 3))
    with pytest.raises(ValueError, match="interpolate: scale_factor must be positive"):
        F.interpolate(x, scale_factor=-2.0)
    with pytest.raises(ValueError, match="interpolate: scale_factor 0.2 leaves an empty"):
        F.interpolate(x, scale_factor=0.2)


def test_pixel_shuffles_reject_bad_arguments():
    with pytest.raises(ValueError, match="pixel_shuffle: input must be 4-D"):
        F.pixel_shuffle(mg.randn(4, 2, 2), 2)
    with pytest.raises(ValueError, match="pixel_unshuffle: input must be 4-D"):
        F.pixel_unshuffle(mg.randn(4, 2, 2), 2)
    with pytest.raises(ValueError, match=r"pixel_shuffle: channels 6 must be divisible by "
                                         r"upscale_factor\^2 = 4"):
        F.pixel_shuffle(mg.randn(1, 6, 2, 2), 2)
    with pytest.raises(ValueError, match=r"pixel_unshuffle: height and width \(4, 3\) must "
                                         r"be divisible by downscale_factor 2"):
        F.pixel_unshuffle(mg.randn(1, 1, 4, 3), 2)
    with pytest.raises(ValueError, match="pixel_shuffle: .* divisible"):
        F.pixel_shuffle(mg.randn(1, 4, 2, 2), 0)
