"""Tests for minigan/data/digits.py: scikit-learn's 1,797 digits, scaled and resized."""
import numpy as np
import pytest
from sklearn.datasets import load_digits as sklearn_load_digits

from minigan.data.digits import load_digits
from minigan.data.transforms import resize


@pytest.fixture(scope="module")
def reference():
    return sklearn_load_digits()


def test_digits_default_is_16_pixels_in_minus_one_one(reference):
    ds = load_digits()
    assert ds.images.shape == (1797, 1, 16, 16) and ds.images.dtype == np.float32
    assert ds.images.min() == -1.0 and ds.images.max() <= 1.0
    assert ds.labels.dtype == np.int64 and ds.num_classes == 10
    assert ds.classes == tuple("0123456789") and ds.image_shape == (1, 16, 16)
    np.testing.assert_array_equal(ds.labels, reference.target)
    assert np.bincount(ds.labels).tolist() == np.bincount(reference.target).tolist()


def test_digits_native_size_is_the_affine_map_of_sklearns_pixels(reference):
    ds = load_digits(image_size=8)
    np.testing.assert_array_equal(ds.images[:, 0], (reference.images / 8 - 1).astype(np.float32))
    assert ds.images.min() == -1.0 and ds.images.max() == 1.0


def test_digits_upsampled_sizes_are_bilinear_resizes_of_the_native_images():
    native = load_digits(image_size=None).images
    for size in (16, 32):
        ds = load_digits(image_size=size)
        assert ds.image_shape == (1, size, size)
        np.testing.assert_array_equal(ds.images, np.clip(resize(native, size), -1, 1))
