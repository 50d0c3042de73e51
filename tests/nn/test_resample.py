"""Upsample, pooling, PixelShuffle and Dropout modules: values against NumPy, gradients,
Dropout's train/eval behaviour and seeded masks, reprs. (The ops have their own tests.)"""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck


def values(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def test_upsample_nearest_repeats_pixels():
    x = values(2, 3, 2, 3)
    y = nn.Upsample(scale_factor=2)(mg.tensor(x))
    assert_close(y, x.repeat(2, axis=2).repeat(2, axis=3), rtol=0, atol=0)
    assert nn.Upsample(size=(5, 7))(mg.tensor(x)).shape == (2, 3, 5, 7)


def test_upsample_bilinear_align_corners_keeps_corners():
    x = values(1, 2, 3, 3)
    y = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)(mg.tensor(x))
    assert_close(y.numpy()[..., ::-5, ::-5], x[..., ::-2, ::-2], rtol=1e-12, atol=1e-12)
    gradcheck(nn.Upsample(size=(4, 5), mode="bilinear"),
              [mg.tensor(values(1, 1, 2, 3), requires_grad=True)])


def test_avg_pool_takes_window_means():
    x = values(2, 3, 4, 6)
    expected = x.reshape(2, 3, 2, 2, 3, 2).mean(axis=(3, 5))
    assert_close(nn.AvgPool2d(2)(mg.tensor(x)), expected, rtol=1e-12, atol=1e-12)
    gradcheck(nn.AvgPool2d(3, stride=2, padding=1),
              [mg.tensor(values(1, 2, 4, 4), requires_grad=True)])


def test_max_pool_takes_window_maxima():
    x = values(2, 3, 4, 6)
    expected = x.reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5))
    assert_close(nn.MaxPool2d(2)(mg.tensor(x)), expected, rtol=0, atol=0)
    gradcheck(nn.MaxPool2d(2), [mg.tensor(values(1, 2, 4, 4), requires_grad=True)])


def test_pixel_shuffle_moves_channels_to_space():
    x = values(2, 8, 3, 2)
    y = nn.PixelShuffle(2)(mg.tensor(x)).numpy()
    assert y.shape == (2, 2, 6, 4)
    for c in range(2):
        for i in range(2):
            for j in range(2):
                assert_close(y[:, c, i::2, j::2], x[:, c * 4 + i * 2 + j], rtol=0, atol=0)


def test_dropout_scales_kept_units_in_training_and_is_identity_in_eval():
    layer = nn.Dropout(0.25, generator=mg.Generator(0))
    x = mg.tensor(np.ones((200, 100)))
    y = layer(x).numpy()
    kept = y != 0
    assert_close(y[kept], np.full(kept.sum(), 1 / 0.75), rtol=1e-12, atol=0)
    assert abs(kept.mean() - 0.75) < 0.01          # 20,000 draws: std of the rate 0.003
    layer.eval()
    assert layer(x) is x


def test_dropout_masks_follow_the_seed():
    x = mg.tensor(np.ones((4, 5)))
    first = nn.Dropout(generator=mg.Generator(3))(x).numpy()
    again = nn.Dropout(generator=mg.Generator(3))(x).numpy()
    np.testing.assert_array_equal(first, again)


def test_dropout_rejects_invalid_probability():
    with pytest.raises(ValueError, match="Dropout: p must lie in"):
        nn.Dropout(1.5)


def test_resample_reprs():
    assert repr(nn.Upsample(scale_factor=2)) == "Upsample(scale_factor=2, mode='nearest')"
    assert repr(nn.AvgPool2d(2)) == "AvgPool2d(kernel_size=2, stride=None, padding=0)"
    assert repr(nn.MaxPool2d(3, 2, 1)) == "MaxPool2d(kernel_size=3, stride=2, padding=1)"
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1)"
