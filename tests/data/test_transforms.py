"""Tests for minigan/data/transforms.py against float64 formulas written out here."""
import numpy as np
import pytest

from minigan.data.transforms import (center_crop, random_crop, random_horizontal_flip,
                                     resize, to_minus_one_one)
from minigan.testing import assert_close


def coordinate_images(n, c, h, w):
    """images[i, j, r, s] = 10000 i + 1000 j + 10 r + s: every pixel names its place."""
    i, j, r, s = np.meshgrid(*(np.arange(d) for d in (n, c, h, w)), indexing="ij")
    return (10000 * i + 1000 * j + 10 * r + s).astype(np.float32)


def linear_interpolation_matrix(size_in, size_out):
    """(size_out, size_in) weights of linear interpolation at source coordinate
    (i + 0.5) * size_in / size_out - 0.5, clamped to the edge pixels."""
    source = np.clip((np.arange(size_out) + 0.5) * size_in / size_out - 0.5, 0, size_in - 1)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, size_in - 1)
    frac = source - low
    weights = np.zeros((size_out, size_in))
    np.add.at(weights, (np.arange(size_out), low), 1 - frac)
    np.add.at(weights, (np.arange(size_out), high), frac)
    return weights


def test_to_minus_one_one_is_the_affine_map():
    pixels = np.arange(256, dtype=np.uint8).reshape(1, 1, 16, 16)
    got = to_minus_one_one(pixels)
    assert got.dtype == np.float32 and got.shape == pixels.shape
    assert_close(got, pixels.astype(np.float64) * 2 / 255 - 1)
    assert got.min() == -1.0 and got.max() == 1.0
    np.testing.assert_array_equal(to_minus_one_one(np.array([0, 8, 16]), 16), [-1, 0, 1])


def test_resize_bilinear_upsampling_is_linear_interpolation():
    x = np.random.default_rng(0).uniform(-1, 1, (2, 3, 5, 7)).astype(np.float32)
    got = resize(x, (10, 14))
    rows, cols = linear_interpolation_matrix(5, 10), linear_interpolation_matrix(7, 14)
    expected = np.einsum("ar,ncrs,bs->ncab", rows, x.astype(np.float64), cols)
    assert got.dtype == np.float32 and got.shape == (2, 3, 10, 14)
    assert_close(got, expected, atol=1e-5, rtol=1e-5)


def test_resize_nearest_by_an_integer_factor_repeats_pixels():
    x = np.random.default_rng(1).standard_normal((1, 2, 4, 3)).astype(np.float32)
    expected = x.repeat(2, axis=2).repeat(2, axis=3)
    np.testing.assert_array_equal(resize(x, (8, 6), "nearest"), expected)


def test_resize_box_downsampling_averages_blocks():
    x = np.random.default_rng(2).standard_normal((2, 1, 6, 4))
    expected = x.reshape(2, 1, 3, 2, 2, 2).mean(axis=(3, 5))
    assert_close(resize(x, (3, 2), "box"), expected, atol=1e-6, rtol=1e-6)


def test_resize_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"resize: images must be 4-D \(N, C, H, W\)"):
        resize(np.zeros((3, 4, 4)), 2)
    with pytest.raises(ValueError, match="resize: resample must be one of"):
        resize(np.zeros((1, 1, 4, 4)), 2, "cubic")
    with pytest.raises(ValueError, match="resize: size must be a positive int"):
        resize(np.zeros((1, 1, 4, 4)), 0)


def test_center_crop_takes_the_floor_centred_window():
    x = coordinate_images(2, 3, 7, 6)
    got = center_crop(x, (4, 3))                      # top = floor(3 / 2), left = floor(3 / 2)
    np.testing.assert_array_equal(got, x[:, :, 1:5, 1:4])
    np.testing.assert_array_equal(center_crop(x, 5)[0, 0, 0], [10, 11, 12, 13, 14])  # top 1, left 0
    with pytest.raises(ValueError, match=r"center_crop: crop \(8, 2\) is larger"):
        center_crop(x, (8, 2))


def test_random_crop_windows_sit_at_the_drawn_offsets():
    n, h, w, size = 300, 6, 5, (3, 2)
    x = coordinate_images(n, 2, h, w)
    got = random_crop(x, size, np.random.default_rng(5))
    rng = np.random.default_rng(5)
    tops, lefts = rng.integers(0, h - 3 + 1, size=n), rng.integers(0, w - 2 + 1, size=n)
    assert got.shape == (n, 2, 3, 2)
    for i in range(n):
        np.testing.assert_array_equal(got[i], x[i, :, tops[i]:tops[i] + 3,
                                                lefts[i]:lefts[i] + 2])
    top_left = got[:, 0, 0, 0] - 10000 * np.arange(n)  # 10 top + left, read off the pixels
    assert set(top_left.astype(int).tolist()) == {10 * t + s for t in range(4) for s in range(4)}


def test_random_crop_is_seeded_and_checks_its_size():
    x = coordinate_images(8, 1, 5, 5)
    a = random_crop(x, 3, np.random.default_rng(9))
    np.testing.assert_array_equal(a, random_crop(x, 3, np.random.default_rng(9)))
    with pytest.raises(ValueError, match=r"random_crop: crop \(6, 6\) is larger"):
        random_crop(x, 6, np.random.default_rng(0))
    with pytest.raises(TypeError, match="random_crop: rng must be a numpy.random.Generator"):
        random_crop(x, 3, 0)


def test_random_horizontal_flip_mirrors_exactly_the_drawn_examples():
    x = coordinate_images(400, 3, 4, 5)
    got = random_horizontal_flip(x, np.random.default_rng(4), p=0.3)
    flipped = np.random.default_rng(4).random(400) < 0.3
    assert got.shape == x.shape and 0 < flipped.sum() < 400
    np.testing.assert_array_equal(got[flipped], x[flipped][..., ::-1])
    np.testing.assert_array_equal(got[~flipped], x[~flipped])
    for i in np.flatnonzero(flipped)[:5]:
        np.testing.assert_array_equal(got[i, :, :, 0], x[i, :, :, 4])   # column w-1-j
    assert abs(flipped.mean() - 0.3) < 5 * np.sqrt(0.3 * 0.7 / 400)


def test_random_horizontal_flip_extreme_probabilities():
    x = coordinate_images(6, 1, 2, 3)
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(random_horizontal_flip(x, rng, p=0.0), x)
    np.testing.assert_array_equal(random_horizontal_flip(x, rng, p=1.0), x[..., ::-1])
    with pytest.raises(ValueError, match=r"random_horizontal_flip: p must be in \[0, 1\]"):
        random_horizontal_flip(x, rng, p=1.5)
