"""Tests for minigan/ops/pool.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op

rng = np.random.default_rng(0)


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _distinct(shape, seed=0):
    """Values with no ties anywhere: a shuffled arange, scaled, plus small noise."""
    g = np.random.default_rng(seed)
    size = int(np.prod(shape))
    return (g.permutation(size) * 0.1 + g.uniform(0, 0.01, size) - 0.05 * size).reshape(shape)


def _avg_ref(x, kernel, stride=None, padding=0, count_include_pad=True):
    """Mean over each window by explicit loops; padding counts only if asked."""
    (kh, kw), (ph, pw) = _pair(kernel), _pair(padding)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    n, c, h, w = x.shape
    ho, wo = (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1
    out = np.zeros((n, c, ho, wo))
    for i in range(ho):
        for j in range(wo):
            total, real = np.zeros((n, c)), 0
            for p in range(kh):
                for q in range(kw):
                    r, s = i * sh - ph + p, j * sw - pw + q
                    if 0 <= r < h and 0 <= s < w:
                        total += x[:, :, r, s]
                        real += 1
            out[:, :, i, j] = total / (kh * kw if count_include_pad else real)
    return out


def _max_ref(x, kernel, stride=None, padding=0, dilation=1):
    """(values, flat h*W+w indices) of each window's first maximum in window order."""
    (kh, kw), (ph, pw), (dh, dw) = _pair(kernel), _pair(padding), _pair(dilation)
    sh, sw = (kh, kw) if stride is None else _pair(stride)
    n, c, h, w = x.shape
    ho = (h + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    wo = (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    values, indices = np.zeros((n, c, ho, wo)), np.zeros((n, c, ho, wo), np.int64)
    for a in range(n):
        for b in range(c):
            for i in range(ho):
                for j in range(wo):
                    best, where = None, None
                    for p in range(kh):
                        for q in range(kw):
                            r, s = i * sh - ph + p * dh, j * sw - pw + q * dw
                            if 0 <= r < h and 0 <= s < w and (best is None
                                                              or x[a, b, r, s] > best):
                                best, where = x[a, b, r, s], r * w + s
                    if where is None:
                        raise ValueError("a window holds only padding")
                    values[a, b, i, j], indices[a, b, i, j] = best, where
    return values, indices


AVG_CASES = [  # shape, kernel, stride, padding
    ((2, 3, 6, 8), 2, None, 0),              # tiling: the reshape-mean path
    ((1, 2, 7, 5), 3, 2, 1),
    ((2, 1, 5, 6), (2, 3), (1, 2), (1, 1)),
    ((1, 2, 4, 4), 3, 1, 1),
    ((1, 1, 5, 7), (3, 1), 1, (1, 0)),
]
MAX_CASES = [  # shape, kernel, stride, padding, dilation
    ((2, 3, 6, 8), 2, None, 0, 1),
    ((1, 2, 7, 5), 3, 2, 1, 1),
    ((2, 1, 7, 8), (2, 3), (1, 2), (1, 1), (2, 1)),
    ((1, 2, 7, 7), 3, 1, 1, 2),
    ((1, 1, 5, 6), (3, 2), (2, 1), (1, 0), (1, 2)),
]


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("shape, kernel, stride, padding", AVG_CASES)
def test_avg_pool_matches_reference_and_gradients(shape, kernel, stride, padding,
                                                  count_include_pad):
    check_op(lambda x: F.avg_pool2d(x, kernel, stride, padding,
                                    count_include_pad=count_include_pad),
             lambda x: _avg_ref(x, kernel, stride, padding, count_include_pad),
             rng.standard_normal(shape))


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_max_pool_values_indices_and_gradients_match_reference(shape, kernel, stride,
                                                               padding, dilation):
    check_op(lambda x: F.max_pool2d(x, kernel, stride, padding, dilation,
                                    return_indices=True),
             lambda x: _max_ref(x, kernel, stride, padding, dilation), _distinct(shape))


@st.composite
def pool_geometry(draw, dilated=False):
    """(shape, kernel, stride, padding, dilation), valid: padding <= kernel // 2 and the
    dilated kernel fits the padded input."""
    kernel = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilated else (1, 1)
    sides = tuple(max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 4))
                  for k, p, d in zip(kernel, padding, dilation))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3))) + sides
    return shape, kernel, stride, padding, dilation


@given(pool_geometry(), st.booleans(), st.integers(0, 2 ** 32 - 1))
def test_avg_pool_on_drawn_geometry(geometry, count_include_pad, seed):
    shape, kernel, stride, padding, _ = geometry
    x = np.random.default_rng(seed).standard_normal(shape)
    check_op(lambda t: F.avg_pool2d(t, kernel, stride, padding,
                                    count_include_pad=count_include_pad),
             lambda a: _avg_ref(a, kernel, stride, padding, count_include_pad), x,
             noncontiguous=False)


@given(pool_geometry(dilated=True), st.integers(0, 2 ** 32 - 1))
def test_max_pool_on_drawn_geometry(geometry, seed):
    shape, kernel, stride, padding, dilation = geometry
    try:
        _max_ref(np.zeros(shape), kernel, stride, padding, dilation)
    except ValueError:                      # dilation can step over every real pixel
        with pytest.raises(ValueError, match="max_pool2d: .* some windows hold only padding"):
            F.max_pool2d(mg.randn(*shape), kernel, stride, padding, dilation)
        return
    check_op(lambda t: F.max_pool2d(t, kernel, stride, padding, dilation,
                                    return_indices=True),
             lambda a: _max_ref(a, kernel, stride, padding, dilation),
             _distinct(shape, seed), noncontiguous=False)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_max_pool_ties_go_to_first_maximum_in_window_order(shape, kernel, stride, padding,
                                                           dilation):
    x = rng.integers(0, 3, shape).astype(np.float64)            # ties everywhere
    t = mg.tensor(x, requires_grad=True)
    y, index = F.max_pool2d(t, kernel, stride, padding, dilation, return_indices=True)
    values, expected = _max_ref(x, kernel, stride, padding, dilation)
    assert_close(y, values, rtol=0, atol=0)
    np.testing.assert_array_equal(index.numpy(), expected)
    gy = rng.standard_normal(y.shape)
    y.backward(mg.tensor(gy))
    want = np.zeros(x.shape).reshape(shape[0], shape[1], -1)
    for a in range(shape[0]):
        for b in range(shape[1]):
            np.add.at(want[a, b], expected[a, b].ravel(), gy[a, b].ravel())
    assert_close(t.grad, want.reshape(shape), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", MAX_CASES)
def test_max_pool_gradient_is_one_hot_per_window(shape, kernel, stride, padding, dilation):
    x = mg.tensor(_distinct(shape), requires_grad=True)
    y, index = F.max_pool2d(x, kernel, stride, padding, dilation, return_indices=True)
    gy = rng.uniform(1, 2, y.shape)
    (g,) = mg.grad(y, x, mg.tensor(gy))
    g = g.numpy()
    assert_close(g.sum((2, 3)), gy.sum((2, 3)), rtol=1e-12, atol=1e-12)
    flat = g.reshape(shape[0], shape[1], -1)
    hit = np.zeros(flat.shape, bool)
    np.put_along_axis(hit, index.numpy().reshape(shape[0], shape[1], -1), True, axis=2)
    assert not flat[~hit].any()                                 # only at argmaxes
    if _pair(kernel) == _pair(stride if stride is not None else kernel) and dilation == 1:
        # disjoint windows: each window's gradient is its output gradient at one pixel
        assert np.count_nonzero(flat) == y.numel()
        assert_close(np.sort(flat[flat != 0]), np.sort(gy.ravel()), rtol=0, atol=0)


def test_avg_pool_tiling_reshape_mean_equals_conv_path():
    x = rng.standard_normal((2, 3, 7, 9))                       # odd: conv path
    tiled = x[:, :, :6, :8].copy()                              # fits: reshape-mean path
    expected = tiled.reshape(2, 3, 3, 2, 4, 2).mean((3, 5))
    a, b = mg.tensor(x, requires_grad=True), mg.tensor(tiled, requires_grad=True)
    ya, yb = F.avg_pool2d(a, 2, stride=2, padding=0), F.avg_pool2d(b, 2)
    assert_close(yb, expected, rtol=1e-14, atol=1e-14)
    assert_close(ya, expected, rtol=1e-14, atol=1e-14)
    gy = mg.tensor(rng.standard_normal(ya.shape))
    (ga,), (gb,) = mg.grad(ya, a, gy), mg.grad(yb, b, gy)
    assert_close(ga.numpy()[:, :, :6, :8], gb, rtol=1e-14, atol=1e-14)
    assert not ga.numpy()[:, :, 6:].any() and not ga.numpy()[:, :, :, 8:].any()
    assert_close(gb, np.repeat(np.repeat(gy.numpy(), 2, 2), 2, 3) / 4, rtol=1e-14, atol=0)


@given(st.integers(2, 3), st.integers(1, 3), st.integers(1, 4), st.integers(1, 4),
       st.integers(0, 2 ** 32 - 1))
def test_avg_pool_tiling_equals_reshape_mean_on_drawn_shapes(kh, kw, ho, wo, seed):
    x = np.random.default_rng(seed).standard_normal((2, 2, kh * ho, kw * wo))
    expected = x.reshape(2, 2, ho, kh, wo, kw).mean((3, 5))
    assert_close(F.avg_pool2d(mg.tensor(x), (kh, kw)), expected, rtol=1e-13, atol=1e-14)
    # kh - 1 extra rows and kw - 1 extra columns: the same windows, but the conv path
    odd = np.pad(x, ((0, 0), (0, 0), (0, kh - 1), (0, kw - 1)), constant_values=np.nan)
    assert_close(F.avg_pool2d(mg.tensor(odd), (kh, kw), (kh, kw), 0), expected,
                 rtol=1e-13, atol=1e-14)


def test_avg_pool_count_include_pad_divides_by_window_or_real_pixels():
    x = mg.ones(1, 1, 4, 4, dtype=mg.float64)
    assert_close(F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), np.ones((1, 1, 4, 4)))
    corners = F.avg_pool2d(x, 3, 1, 1).numpy()[0, 0]
    assert corners[0, 0] == pytest.approx(4 / 9) and corners[0, 1] == pytest.approx(6 / 9)
    assert corners[1, 1] == pytest.approx(1.0)


def test_pools_stride_defaults_to_kernel():
    x = mg.tensor(_distinct((1, 2, 6, 9)))
    assert F.avg_pool2d(x, (2, 3)).shape == (1, 2, 3, 3)
    assert_close(F.max_pool2d(x, (2, 3)), F.max_pool2d(x, (2, 3), (2, 3)), rtol=0, atol=0)


def test_max_pool_indices_are_int64_constants_and_dtype_is_kept():
    x = mg.tensor(_distinct((1, 1, 4, 4)).astype(np.float32), requires_grad=True)
    y, index = F.max_pool2d(x, 2, return_indices=True)
    assert y.dtype == np.float32 and index.dtype == np.int64 and not index.requires_grad
    assert F.avg_pool2d(x, 2, 1, 1).dtype == np.float32


def test_max_pool_never_picks_padding_over_a_real_minus_infinity():
    x = np.array([[[[-np.inf, 5.0], [3.0, 4.0]]]])
    t = mg.tensor(x, requires_grad=True)
    y, index = F.max_pool2d(t, 2, 2, 1, return_indices=True)
    assert_close(y, np.array([[[[-np.inf, 5.0], [3.0, 4.0]]]]), rtol=0, atol=0)
    np.testing.assert_array_equal(index.numpy(), [[[[0, 1], [2, 3]]]])
    y.backward(mg.ones(1, 1, 2, 2, dtype=mg.float64))
    assert_close(t.grad, np.ones((1, 1, 2, 2)), rtol=0, atol=0)
    y, index = F.max_pool2d(mg.full((1, 1, 3, 3), -np.inf), 3, 1, 1, return_indices=True)
    np.testing.assert_array_equal(index.numpy(), _max_ref(np.full((1, 1, 3, 3), -np.inf),
                                                           3, 1, 1)[1])


def test_max_pool_propagates_nan():
    x = _distinct((1, 1, 4, 4))
    x[0, 0, 1, 2] = np.nan
    y = F.max_pool2d(mg.tensor(x), 2).numpy()
    assert np.isnan(y[0, 0, 0, 1]) and np.isfinite(np.delete(y.ravel(), 1)).all()


TORCH_CASES = [  # shape, kernel, stride, padding, dilation
    ((2, 3, 8, 8), 2, None, 0, 1),
    ((2, 2, 9, 7), 3, 2, 1, 1),
    ((1, 3, 10, 9), (3, 2), (2, 1), (1, 1), (2, 3)),
    ((1, 1, 6, 6), 4, 3, 2, 1),
]


@pytest.mark.parametrize("shape, kernel, stride, padding, dilation", TORCH_CASES)
def test_pools_match_torch(shape, kernel, stride, padding, dilation):
    torch = pytest.importorskip("torch")
    x = _distinct(shape)
    gy_max, gy_avg = rng.standard_normal((2,) + shape[:2] + (32, 32))
    t = mg.tensor(x, requires_grad=True)
    tt = torch.tensor(x, requires_grad=True)
    y, index = F.max_pool2d(t, kernel, stride, padding, dilation, return_indices=True)
    yt, index_t = torch.nn.functional.max_pool2d(tt, kernel, stride, padding, dilation,
                                                 return_indices=True)
    assert_close(y, yt.detach().numpy(), rtol=0, atol=0)
    np.testing.assert_array_equal(index.numpy(), index_t.numpy())
    g = gy_max[..., :y.shape[2], :y.shape[3]]
    (gx,), (gxt,) = mg.grad(y, t, mg.tensor(g)), torch.autograd.grad(yt, tt, torch.tensor(g))
    assert_close(gx, gxt.numpy(), rtol=1e-12, atol=1e-12)
    for include in (True, False):
        y = F.avg_pool2d(t, kernel, stride, padding, count_include_pad=include)
        yt = torch.nn.functional.avg_pool2d(tt, kernel, stride, padding,
                                            count_include_pad=include)
        assert_close(y, yt.detach().numpy(), rtol=1e-12, atol=1e-12)
        g = gy_avg[..., :y.shape[2], :y.shape[3]]
        (gx,) = mg.grad(y, t, mg.tensor(g))
        (gxt,) = torch.autograd.grad(yt, tt, torch.tensor(g))
        assert_close(gx, gxt.numpy(), rtol=1e-12, atol=1e-12)


def test_max_pool_ties_and_minus_infinity_match_torch():
    torch = pytest.importorskip("torch")
    x = rng.integers(0, 2, (2, 2, 7, 6)).astype(np.float64)
    x[0, 0, :3, :3] = -np.inf
    for kernel, stride, padding, dilation in [(3, 1, 1, 1), (2, 2, 1, 1), (3, 2, 1, 2)]:
        y, index = F.max_pool2d(mg.tensor(x), kernel, stride, padding, dilation,
                                return_indices=True)
        yt, index_t = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, stride,
                                                     padding, dilation, return_indices=True)
        assert_close(y, yt.numpy(), rtol=0, atol=0)
        np.testing.assert_array_equal(index.numpy(), index_t.numpy())


@pytest.mark.parametrize("pool", [F.avg_pool2d, F.max_pool2d])
def test_pool_rejects_bad_input(pool):
    name = pool.__name__
    with pytest.raises(ValueError, match=f"{name}: input must be 4-D"):
        pool(mg.randn(3, 4, 4), 2)
    with pytest.raises(TypeError, match=f"{name}: input must be floating-point"):
        pool(mg.tensor(np.ones((1, 1, 4, 4), np.int64)), 2)
    x = mg.randn(1, 1, 4, 5)
    with pytest.raises(ValueError, match=rf"{name}: kernel \(7, 7\) is larger than the "
                                         rf"padded input \(6, 7\)"):
        pool(x, 7, padding=1)
    with pytest.raises(ValueError, match=f"{name}: padding .* at most half the kernel"):
        pool(x, 3, padding=2)
    with pytest.raises(ValueError, match=f"{name}: ceil_mode=True is not supported"):
        pool(x, 2, ceil_mode=True)
    with pytest.raises(TypeError, match=f"{name}: kernel_size must be an int or a pair"):
        pool(x, (2, 2, 2))
    with pytest.raises(ValueError, match=f"{name}: stride must be positive"):
        pool(x, 2, stride=0)


def test_max_pool_rejects_dilated_kernel_larger_than_input():
    with pytest.raises(ValueError, match="max_pool2d: kernel .* larger than the padded"):
        F.max_pool2d(mg.randn(1, 1, 4, 4), 2, dilation=4)


@pytest.mark.parametrize("shape, kernel, padding, dilation", [
    ((1, 1, 1, 4), 2, 1, 2),                # row taps -1 and 1 step over the only row
    ((1, 1, 5, 2), (3, 2), (1, 1), (1, 3)),
])
def test_max_pool_rejects_windows_of_only_padding(shape, kernel, padding, dilation):
    with pytest.raises(ValueError):
        _max_ref(np.zeros(shape), kernel, 1, padding, dilation)
    with pytest.raises(ValueError, match=r"max_pool2d: .* some windows hold only padding"):
        F.max_pool2d(mg.randn(*shape), kernel, 1, padding, dilation)
