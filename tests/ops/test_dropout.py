"""Tests for minigan/ops/dropout.py."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigan as mg
import minigan.nn.functional as F
from minigan.testing import assert_close, check_op
from minigan.testing.strategies import arrays, shapes

rng = np.random.default_rng(0)
PS = [0.1, 0.3, 0.5, 0.9]
DTYPES = [mg.float16, mg.float32, mg.float64]


def _away_from_zero(shape, dtype=np.float64):
    """Values in +-[0.5, 2): an output element is zero exactly when it was dropped."""
    return (rng.choice([-1, 1], shape) * rng.uniform(0.5, 2, shape)).astype(dtype)


@pytest.mark.parametrize("p, training", [(0.0, True), (0.5, False), (1.0, False)])
@pytest.mark.parametrize("shape", [(3, 4), (1,), (2, 3, 5)])
def test_dropout_is_identity_when_not_training_or_p_zero(p, training, shape):
    check_op(lambda x: F.dropout(x, p, training=training), lambda x: x,
             rng.uniform(-2, 2, shape))


@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_p_one_gives_zeros_and_zero_gradient(dtype):
    x = mg.tensor(_away_from_zero((4, 5)), dtype=dtype, requires_grad=True)
    y = F.dropout(x, 1.0, generator=mg.Generator(0))
    assert y.dtype == dtype
    assert_close(y, np.zeros((4, 5), dtype), rtol=0, atol=0)
    y.sum().backward()
    assert_close(x.grad, np.zeros((4, 5), dtype), rtol=0, atol=0)


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_dropout_zeros_or_scales_each_element_by_1_over_1_minus_p(p, dtype):
    x = _away_from_zero((40, 25), dtype)
    y = F.dropout(mg.tensor(x), p, generator=mg.Generator(1)).numpy()
    kept = y != 0
    assert y.dtype == dtype and kept.any() and not kept.all()
    assert_close(y[kept], (x[kept].astype(np.float64) / (1 - p)).astype(dtype))
    assert_close(y[~kept], np.zeros((~kept).sum(), dtype), rtol=0, atol=0)


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dropout_keeps_about_1_minus_p_and_is_unbiased(p, dtype):
    n = 200_000
    y = F.dropout(mg.ones(n, dtype=dtype), p, generator=mg.Generator(2)).numpy()
    # Bernoulli(1 - p) counts: within 4 standard deviations of the expectation
    fraction = np.count_nonzero(y) / n
    assert abs(fraction - (1 - p)) < 4 * np.sqrt(p * (1 - p) / n)
    # each element is 0 or s = 1 / (1 - p) (rounded to the dtype): mean (1 - p) s ~= 1
    scale = float(np.asarray(1 / (1 - p), dtype))
    assert set(np.unique(y).tolist()) == {0.0, scale}
    mean = y.astype(np.float64).mean()
    assert abs(mean - (1 - p) * scale) < 4 * scale * np.sqrt(p * (1 - p) / n)


def test_same_seed_gives_same_mask_and_another_seed_another():
    x = mg.tensor(_away_from_zero((8, 16)))
    first = F.dropout(x, 0.5, generator=mg.Generator(7)).numpy()
    again = F.dropout(x, 0.5, generator=mg.Generator(7)).numpy()
    other = F.dropout(x, 0.5, generator=mg.Generator(8)).numpy()
    assert np.array_equal(first != 0, again != 0) and np.array_equal(first, again)
    assert not np.array_equal(first != 0, other != 0)


def test_mask_depends_only_on_the_generator_and_shape():
    a, b = _away_from_zero((6, 7)), _away_from_zero((6, 7))
    mask_a = F.dropout(mg.tensor(a), 0.4, generator=mg.Generator(3)).numpy() != 0
    mask_b = F.dropout(mg.tensor(b), 0.4, generator=mg.Generator(3)).numpy() != 0
    assert np.array_equal(mask_a, mask_b)


def test_generator_stream_advances_between_calls():
    gen, x = mg.Generator(4), mg.tensor(_away_from_zero((8, 16)))
    first = F.dropout(x, 0.5, generator=gen).numpy() != 0
    second = F.dropout(x, 0.5, generator=gen).numpy() != 0
    assert not np.array_equal(first, second)


def test_default_generator_is_used_when_none_is_given():
    x, saved = mg.tensor(_away_from_zero((8, 16))), mg.get_rng_state()
    try:
        mg.manual_seed(11)
        first = F.dropout(x, 0.5).numpy()
        mg.manual_seed(11)
        assert np.array_equal(F.dropout(x, 0.5).numpy(), first)
        state = mg.get_rng_state()
        F.dropout(x, 0.5, generator=mg.Generator(11))
        assert mg.get_rng_state() == state          # an explicit generator is used instead
    finally:
        mg.set_rng_state(saved)


@pytest.mark.parametrize("p", PS)
@pytest.mark.parametrize("shape", [(3, 4), (1,), (2, 3, 5)])
def test_dropout_gradcheck_with_a_fixed_generator(p, shape):
    check_op(lambda x: F.dropout(x, p, generator=mg.Generator(5)), None,
             _away_from_zero(shape))


@pytest.mark.parametrize("p", PS)
def test_dropout_gradient_is_mask_over_1_minus_p(p):
    x = mg.tensor(_away_from_zero((10, 9)), requires_grad=True)
    gy = rng.standard_normal((10, 9))
    y = F.dropout(x, p, generator=mg.Generator(6))
    y.backward(mg.tensor(gy))
    mask = (y.detach().numpy() != 0)
    assert_close(x.grad, gy * mask / (1 - p), rtol=1e-14, atol=0)


@given(arrays(shapes(max_dims=4), avoid=[0.0], margin=0.1), st.sampled_from(PS),
       st.integers(0, 2 ** 32 - 1), st.sampled_from([np.float32, np.float64]))
def test_dropout_on_drawn_shapes(x, p, seed, dtype):
    x = x.astype(dtype)
    y = F.dropout(mg.tensor(x), p, generator=mg.Generator(seed))
    assert y.shape == x.shape and y.dtype == dtype
    kept = y.numpy() != 0
    expected = np.where(kept, x.astype(np.float64) / (1 - p), 0).astype(dtype)
    assert_close(y, expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("p, training", [(0.0, True), (0.3, True), (1.0, True), (0.3, False)])
def test_dropout_preserves_dtype(dtype, p, training):
    x = mg.tensor(_away_from_zero((5, 6)), dtype=dtype, requires_grad=True)
    y = F.dropout(x, p, training=training, generator=mg.Generator(9))
    assert y.dtype == dtype and y.shape == (5, 6)
    y.sum().backward()
    assert x.grad.dtype == dtype


def test_dropout_leaves_its_input_unchanged():
    x = _away_from_zero((6, 6))
    t = mg.tensor(x)
    F.dropout(t, 0.5, generator=mg.Generator(1))
    assert np.array_equal(t.numpy(), x)


@pytest.mark.parametrize("p", [-0.1, 1.5, float("nan")])
def test_dropout_rejects_p_outside_0_1(p):
    with pytest.raises(ValueError, match=rf"dropout: p must lie in \[0, 1\], got {p}"):
        F.dropout(mg.zeros(3), p)


def test_dropout_rejects_integer_tensor():
    with pytest.raises(TypeError, match=r"dropout: expected a floating-point tensor, got .*"
                                        r"int64 and shape \(3,\)"):
        F.dropout(mg.tensor([1, 2, 3]), 0.5)
