"""Tests for minigan/data/registry.py: names, errors, and that import stays NumPy-only."""
import re
import subprocess
import sys

import numpy as np
import pytest

from minigan.data import DATASETS, GaussianMixture, ImageDataset, SwissRoll, load_dataset

NAMES = ("ring8", "grid25", "swissroll", "digits", "mnist", "fashion-mnist", "cifar10",
         "folder")


def test_the_registry_knows_the_documented_names():
    assert set(DATASETS) == set(NAMES)


def test_samplers_by_name():
    ring = load_dataset("ring8")
    assert isinstance(ring, GaussianMixture) and ring.modes.shape == (8, 2)
    assert load_dataset("GRID25").std == 0.05
    roll = load_dataset("swissroll", noise=0.0)
    assert isinstance(roll, SwissRoll) and roll.noise == 0.0
    assert roll.sample(5, np.random.default_rng(0)).shape == (5, 2)


def test_digits_by_name_default_to_16_pixels():
    assert load_dataset("digits").images.shape == (1797, 1, 16, 16)
    assert load_dataset("digits", image_size=8).image_shape == (1, 8, 8)


def test_unknown_names_list_the_known_ones():
    with pytest.raises(ValueError, match="load_dataset: unknown dataset 'celeba'; known: "
                                         + ", ".join(NAMES)):
        load_dataset("celeba")


@pytest.mark.parametrize("name, expected", [
    ("mnist", "train-images-idx3-ubyte[.gz]"),
    ("fashion_mnist", "t10k-labels-idx1-ubyte[.gz]"),
    ("cifar10", "data_batch_1.bin"),
    ("folder", "one subfolder per class"),
])
def test_file_datasets_without_data_dir_say_what_to_bring(name, expected):
    with pytest.raises(ValueError, match=f"load_dataset.*needs data_dir, a folder holding "
                                         f".*{re.escape(expected)}"):
        load_dataset(name)


def test_a_data_dir_without_the_files_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{re.escape(str(tmp_path))} .*expected the "
                                                "IDX files train-images-idx3-ubyte"):
        load_dataset("mnist", data_dir=tmp_path)
    with pytest.raises(FileNotFoundError, match="data_batch_1.bin"):
        load_dataset("cifar10", data_dir=tmp_path)


def test_arguments_that_do_not_apply_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="a 2-D sampler takes no data_dir or image_size"):
        load_dataset("ring8", image_size=32)
    with pytest.raises(ValueError, match="embedded in scikit-learn and take no data_dir"):
        load_dataset("digits", data_dir=tmp_path)


def test_file_datasets_by_name_pass_their_options(tmp_path):
    from PIL import Image

    for k, name in enumerate(["a", "b"]):
        (tmp_path / name).mkdir()
        Image.new("L", (6, 6), color=40 * k).save(tmp_path / name / "x.png")
    ds = load_dataset("folder", data_dir=tmp_path, image_size=4, channels=1)
    assert isinstance(ds, ImageDataset) and ds.images.shape == (2, 1, 4, 4)
    assert ds.classes == ("a", "b") and ds.labels.tolist() == [0, 1]


def test_importing_the_package_loads_neither_pillow_nor_sklearn():
    code = ("import sys, minigan, minigan.data; "
            "print(sorted(m for m in ('PIL', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"
