"""Tests for minigan/data/cifar.py on small binary batches written here record by record."""
import re

import numpy as np
import pytest

from minigan.data.cifar import CIFAR10_CLASSES, load_cifar10
from minigan.testing import assert_close

TRAIN_FILES = [f"data_batch_{k}.bin" for k in range(1, 6)]


def write_batch(path, labels, images):
    """Records of 1 label byte, then the 1,024 red, 1,024 green and 1,024 blue bytes of a
    32 x 32 image, each plane row by row."""
    with open(path, "wb") as f:
        for label, image in zip(labels, images):
            f.write(bytes([label]))
            for channel in range(3):
                for row in range(32):
                    f.write(bytes(image[channel, row].tolist()))
    return path


def write_split(folder, counts, seed=0, names=TRAIN_FILES):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, sum(counts)).astype(np.uint8)
    images = rng.integers(0, 256, (sum(counts), 3, 32, 32)).astype(np.uint8)
    start = 0
    for name, count in zip(names, counts):
        write_batch(folder / name, labels[start:start + count], images[start:start + count])
        start += count
    return images, labels


def test_train_split_reads_the_five_batches_in_order(tmp_path):
    images, labels = write_split(tmp_path, [2, 1, 3, 1, 2])
    ds = load_cifar10(tmp_path)
    assert ds.images.shape == (9, 3, 32, 32) and ds.images.dtype == np.float32
    assert_close(ds.images, images / 255.0 * 2 - 1)
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == labels.tolist()
    assert ds.classes == CIFAR10_CLASSES and ds.num_classes == 10
    assert ds.image_shape == (3, 32, 32)


def test_test_split_inside_the_archives_folder_and_resized(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    write_split(folder, [4], names=["test_batch.bin"])
    ds = load_cifar10(tmp_path, split="test", image_size=16)
    assert ds.images.shape == (4, 3, 16, 16)
    assert ds.images.min() >= -1 and ds.images.max() <= 1


def test_sizes_that_are_not_whole_records_name_the_file(tmp_path):
    write_split(tmp_path, [1, 1, 1, 1, 1])
    broken = tmp_path / "data_batch_3.bin"
    broken.write_bytes(broken.read_bytes()[:-1])
    pattern = f"load_cifar10: {re.escape(str(broken))} has 3072 bytes, expected a positive " \
              "multiple of 3073"
    with pytest.raises(ValueError, match=pattern):
        load_cifar10(tmp_path)
    broken.write_bytes(b"")
    with pytest.raises(ValueError, match="has 0 bytes"):
        load_cifar10(tmp_path)


def test_labels_outside_zero_to_nine_are_rejected(tmp_path):
    write_split(tmp_path, [1, 1, 1, 1, 1])
    path = tmp_path / "data_batch_5.bin"
    write_batch(path, [12], np.zeros((1, 3, 32, 32), np.uint8))
    with pytest.raises(ValueError, match=f"{re.escape(str(path))} record 0 has label 12"):
        load_cifar10(tmp_path)


def test_missing_files_name_the_path_and_expected_files(tmp_path):
    pattern = f"no data_batch_1.bin in {re.escape(str(tmp_path))} or .*cifar-10-batches-bin " \
              r"\(expected the CIFAR-10 binary files data_batch_1.bin, .*data_batch_5.bin\)"
    with pytest.raises(FileNotFoundError, match=pattern):
        load_cifar10(tmp_path)
    write_split(tmp_path, [1, 1], names=TRAIN_FILES[:2])
    missing = re.escape(str(tmp_path / "data_batch_3.bin"))
    with pytest.raises(FileNotFoundError, match=f"load_cifar10: missing {missing}"):
        load_cifar10(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        load_cifar10(tmp_path, split="validation")
