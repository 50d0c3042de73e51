"""Tests for minigan/data/mnist.py: IDX files written here byte by byte, read back."""
import gzip
import re
import struct

import numpy as np
import pytest

from minigan.data.mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, load_mnist, read_idx
from minigan.testing import assert_close

def at(path):
    """A regular expression matching the path literally."""
    return re.escape(str(path))


TYPE_CODES = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}


def write_idx(path, array, gz=False):
    """The official layout: 00 00 <type> <ndim>, ndim big-endian uint32 sizes, then the
    elements big-endian, row-major."""
    kind = array.dtype.kind + str(array.dtype.itemsize)
    header = struct.pack(">BBBB", 0, 0, TYPE_CODES[kind], array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


def write_mnist(folder, n=6, split="train", gz=False, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, n).astype(np.uint8)
    prefix = "train" if split == "train" else "t10k"
    suffix = ".gz" if gz else ""
    write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
    write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
    return images, labels


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
@pytest.mark.parametrize("dtype", ["u1", "i1", "i2", "i4", "f4", "f8"])
def test_read_idx_round_trips_every_element_type(tmp_path, dtype, gz):
    array = (np.random.default_rng(1).standard_normal((3, 4, 2)) * 100).astype(dtype)
    got = read_idx(write_idx(tmp_path / "a.idx", array, gz))
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_mnist_round_trip(tmp_path, gz):
    images, labels = write_mnist(tmp_path, gz=gz)
    ds = load_mnist(tmp_path)
    assert ds.images.shape == (6, 1, 28, 28) and ds.images.dtype == np.float32
    assert_close(ds.images[:, 0], images / 255.0 * 2 - 1)
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist()
    assert ds.num_classes == 10 and ds.image_shape == (1, 28, 28)


def test_load_mnist_test_split_and_resize(tmp_path):
    write_mnist(tmp_path, n=3, split="test", gz=True)
    ds = load_mnist(tmp_path, split="test", image_size=32)
    assert ds.images.shape == (3, 1, 32, 32)
    assert ds.images.min() >= -1 and ds.images.max() <= 1


def test_load_fashion_mnist_names_its_classes(tmp_path):
    write_mnist(tmp_path)
    ds = load_fashion_mnist(tmp_path)
    assert ds.classes == FASHION_MNIST_CLASSES and ds.classes[9] == "Ankle boot"
    assert ds.name == "fashion-mnist"


def test_bad_magic_names_the_file(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 2), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[0] = 0x42
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"read_idx: {at(path)} is not an IDX file.*found 42 00"):
        read_idx(path)
    raw[0], raw[2] = 0, 0x07                                   # unknown element type
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=f"{at(path)} is not an IDX file"):
        read_idx(path)


def test_truncated_and_oversized_files_name_the_file(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((3, 4), np.int16))
    raw = path.read_bytes()
    path.write_bytes(raw[:-1])
    expected = r"has 23 bytes of data after its 12-byte header, expected 24 for shape \(3, 4\)"
    with pytest.raises(ValueError, match=f"{at(path)} {expected} of int16 \\(truncated\\)"):
        read_idx(path)
    path.write_bytes(raw + b"\0")
    with pytest.raises(ValueError, match="trailing bytes"):
        read_idx(path)
    path.write_bytes(raw[:6])
    with pytest.raises(ValueError, match=f"{at(path)} is truncated: its magic number announces 2"):
        read_idx(path)
    gz = tmp_path / "y.gz"
    gz.write_bytes(gzip.compress(raw)[:-6])
    with pytest.raises(ValueError, match=f"{at(gz)} starts like a gzip file but cannot be"):
        read_idx(gz)


def test_mnist_checks_name_the_file_and_the_expectation(tmp_path):
    images, labels = write_mnist(tmp_path)
    image_file = tmp_path / "train-images-idx3-ubyte"
    label_file = tmp_path / "train-labels-idx1-ubyte"
    write_idx(image_file, labels)                               # the labels in place
    expected = "should hold the images: magic number 0x00000803"
    with pytest.raises(ValueError, match=f"load_mnist: {at(image_file)} {expected}"):
        load_mnist(tmp_path)
    write_idx(image_file, images[:, :27])
    with pytest.raises(ValueError, match=r"images of \(27, 28\) pixels, expected \(28, 28\)"):
        load_mnist(tmp_path)
    write_idx(image_file, images[:5])
    with pytest.raises(ValueError, match=f"holds 5 images but {at(label_file)} holds 6 labels"):
        load_mnist(tmp_path)
    write_idx(image_file, images)
    write_idx(label_file, np.array([0, 1, 2, 10, 4, 5], np.uint8))
    with pytest.raises(ValueError, match=f"{at(label_file)} holds label 10, expected labels in"):
        load_mnist(tmp_path)


def test_missing_files_name_the_folder_and_expected_files(tmp_path):
    expected = "no train-images-idx3-ubyte or train-images-idx3-ubyte.gz in"
    with pytest.raises(FileNotFoundError, match=f"load_mnist: {expected} {at(tmp_path)}"):
        load_mnist(tmp_path)
    write_mnist(tmp_path, split="test")
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        load_mnist(tmp_path / "nowhere", split="test")
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'test'\)"):
        load_mnist(tmp_path, split="val")
