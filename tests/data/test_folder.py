"""Tests for minigan/data/folder.py on PNG files generated here with Pillow."""
import re

import numpy as np
import pytest
from PIL import Image

from minigan.data.folder import load_image_folder
from minigan.testing import assert_close


def save(path, pixels, mode="RGB"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels, mode).save(path)
    return pixels


def rgb(seed, h=4, w=5):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3)).astype(np.uint8)


def test_subfolders_are_classes_searched_recursively(tmp_path):
    cat_a = save(tmp_path / "cat" / "a.png", rgb(0))
    cat_b = save(tmp_path / "cat" / "more" / "b.png", rgb(1))
    dog = save(tmp_path / "dog" / "c.PNG", rgb(2))
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    save(tmp_path / "dog" / ".hidden.png", rgb(3))
    ds = load_image_folder(tmp_path)
    assert ds.classes == ("cat", "dog") and ds.num_classes == 2
    assert ds.labels.tolist() == [0, 0, 1] and ds.labels.dtype == np.int64
    assert ds.images.shape == (3, 3, 4, 5) and ds.images.dtype == np.float32
    expected = np.stack([cat_a, cat_b, dog]).transpose(0, 3, 1, 2) / 255.0 * 2 - 1
    assert_close(ds.images, expected)


def test_images_directly_in_the_root_make_one_unlabelled_class(tmp_path):
    save(tmp_path / "x.png", rgb(0))
    save(tmp_path / "sub" / "y.png", rgb(1))
    ds = load_image_folder(tmp_path)
    assert ds.labels.tolist() == [0, 0] and ds.classes == (tmp_path.name,)


def test_grey_and_alpha_images_convert_to_the_channels_asked_for(tmp_path):
    grey = save(tmp_path / "g.png", np.arange(20, dtype=np.uint8).reshape(4, 5), "L")
    rgba = np.concatenate([rgb(5), np.full((4, 5, 1), 7, np.uint8)], axis=2)
    save(tmp_path / "h.png", rgba, "RGBA")
    ds = load_image_folder(tmp_path, channels=1)
    assert ds.image_shape == (1, 4, 5)
    assert_close(ds.images[0, 0], grey / 255.0 * 2 - 1)
    colour = load_image_folder(tmp_path, channels=3)
    assert_close(colour.images[1], rgba[..., :3].transpose(2, 0, 1) / 255.0 * 2 - 1)
    assert_close(colour.images[0], np.broadcast_to(grey, (3, 4, 5)) / 255.0 * 2 - 1)


def test_image_size_scales_the_shorter_side_and_keeps_the_centre(tmp_path):
    wide = save(tmp_path / "a" / "wide.png", rgb(0, h=4, w=9))
    save(tmp_path / "b" / "tall.png", rgb(1, h=12, w=6))
    ds = load_image_folder(tmp_path, image_size=4)
    assert ds.images.shape == (2, 3, 4, 4)
    # the 9 x 4 image needs no resizing: columns floor((9 - 4) / 2) = 2 .. 5 are kept
    assert_close(ds.images[0], wide[:, 2:6].transpose(2, 0, 1) / 255.0 * 2 - 1)


def test_images_of_different_sizes_need_image_size(tmp_path):
    save(tmp_path / "a.png", rgb(0))
    save(tmp_path / "b.png", rgb(1, h=6))
    pattern = f"{re.escape(str(tmp_path / 'b.png'))} is \\(6, 5\\) pixels but .*a.png is " \
              r"\(4, 5\); pass image_size"
    with pytest.raises(ValueError, match=pattern):
        load_image_folder(tmp_path)


def test_an_unreadable_file_is_named(tmp_path):
    save(tmp_path / "cat" / "good.png", rgb(0))
    bad = tmp_path / "cat" / "broken.png"
    bad.write_bytes(b"this is not a PNG file")
    with pytest.raises(ValueError, match=f"load_image_folder: cannot read image file "
                                         f"{re.escape(str(bad))}"):
        load_image_folder(tmp_path)


def test_empty_or_missing_folders_are_reported(tmp_path):
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(FileNotFoundError, match=f"no image files .*{re.escape(str(tmp_path))}"):
        load_image_folder(tmp_path)
    with pytest.raises(FileNotFoundError, match="is not a folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(ValueError, match="channels must be 1 or 3, got 4"):
        load_image_folder(tmp_path, channels=4)
