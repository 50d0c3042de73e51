"""Tests for minigan/data/dataset.py: ImageDataset's checks, shape facts and scaling."""
import numpy as np
import pytest

from minigan.data.dataset import ImageDataset
from minigan.data.transforms import resize
from minigan.testing import assert_close


def test_dataset_reports_its_shape_and_classes():
    images = np.zeros((5, 3, 4, 6), np.float32)
    ds = ImageDataset(images, np.array([0, 1, 2, 1, 0]), ["a", "b", "c"], "toy")
    assert len(ds) == 5 and ds.image_shape == (3, 4, 6) and ds.num_classes == 3
    image, label = ds[3]
    assert image.shape == (3, 4, 6) and label == 1
    assert ds[[0, 2]][1].tolist() == [0, 2]


def test_dataset_rejects_wrong_dtypes_shapes_and_labels():
    with pytest.raises(ValueError, match=r"ImageDataset\('x'\): images must be float32"):
        ImageDataset(np.zeros((2, 4, 4)), np.zeros(2, np.int64), ["a"], "x")
    with pytest.raises(ValueError, match=r"labels must be int64 of shape \(2,\)"):
        ImageDataset(np.zeros((2, 1, 4, 4), np.float32), np.zeros(3, np.int64), ["a"], "x")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\), got \[0, 2\]"):
        ImageDataset(np.zeros((2, 1, 4, 4), np.float32), np.array([0, 2]), ["a", "b"], "x")


def test_from_pixels_scales_and_resizes_into_minus_one_one():
    pixels = np.random.default_rng(0).integers(0, 256, (3, 2, 5, 5)).astype(np.uint8)
    native = ImageDataset.from_pixels(pixels, [0, 1, 0], ["a", "b"], "p")
    assert_close(native.images, pixels / 255.0 * 2 - 1)
    assert native.labels.dtype == np.int64
    big = ImageDataset.from_pixels(pixels, [0, 1, 0], ["a", "b"], "p", image_size=11,
                                   resample="lanczos")
    assert big.image_shape == (2, 11, 11)
    unclipped = resize(native.images, 11, "lanczos")
    assert unclipped.max() > 1 or unclipped.min() < -1         # lanczos overshoots here
    np.testing.assert_array_equal(big.images, np.clip(unclipped, -1, 1))
