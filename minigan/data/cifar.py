"""CIFAR-10 from the binary version a user has downloaded (never downloaded here).

The archive ``cifar-10-binary.tar.gz`` unpacks to ``cifar-10-batches-bin/`` with
``data_batch_1.bin`` .. ``data_batch_5.bin`` (training, 10,000 images each) and
``test_batch.bin``. Each file is a run of 3,073-byte records:

    byte 0        label in 0..9
    bytes 1..     3,072 pixel bytes: the 1,024 red, then green, then blue values of a
                  32 x 32 image, each plane row-major                (3, 32, 32) uint8

Source: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", tech.
report, University of Toronto, 2009 (with V. Nair and G. Hinton). The dataset page states
no licence; cite the report when publishing results on it.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from minigan.data.dataset import ImageDataset

__all__ = ["load_cifar10", "CIFAR10_CLASSES", "CIFAR10_FILES"]

CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck")
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{k}.bin" for k in range(1, 6)),
    "test": ("test_batch.bin",),
}
"""split -> the batch files it reads, in this order."""
_SUBFOLDER = "cifar-10-batches-bin"
_SHAPE = (3, 32, 32)
_RECORD = 1 + int(np.prod(_SHAPE))                                    # 3,073 bytes


def _batch_folder(data_dir: Path, names: tuple[str, ...]) -> Path:
    """data_dir itself, or the archive's cifar-10-batches-bin/ inside it."""
    for folder in (data_dir, data_dir / _SUBFOLDER):
        if (folder / names[0]).is_file():
            return folder
    raise FileNotFoundError(f"load_cifar10: no {names[0]} in {data_dir} or "
                            f"{data_dir / _SUBFOLDER} (expected the CIFAR-10 binary files "
                            f"{', '.join(names)})")


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (n, 3, 32, 32) uint8, labels (n,) uint8) of one batch file."""
    if not path.is_file():
        raise FileNotFoundError(f"load_cifar10: missing {path} (expected a CIFAR-10 binary "
                                f"batch of {_RECORD}-byte records)")
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % _RECORD:
        raise ValueError(f"load_cifar10: {path} has {raw.size} bytes, expected a positive "
                         f"multiple of {_RECORD} (records of 1 label byte + 3,072 pixel "
                         f"bytes; 30,730,000 bytes for an official batch)")
    records = raw.reshape(-1, _RECORD)                                 # (n, 3073)
    labels = records[:, 0]
    if labels.max() >= len(CIFAR10_CLASSES):
        bad = int(np.argmax(labels >= len(CIFAR10_CLASSES)))
        raise ValueError(f"load_cifar10: {path} record {bad} has label {labels[bad]}, "
                         f"expected 0..9; is this the binary version of CIFAR-10?")
    return records[:, 1:].reshape(-1, *_SHAPE), labels                 # (n, 3, 32, 32)


def load_cifar10(data_dir: str | os.PathLike, split: str = "train",
                 image_size: int | None = None, resample: str = "bilinear") -> ImageDataset:
    """CIFAR-10 from ``data_dir`` (or its ``cifar-10-batches-bin/``): split "train" reads
    the five data batches (50,000 images), "test" the test batch (10,000). Returns
    (N, 3, 32, 32) float32 in [-1, 1] (2v / 255 - 1; 614 MB for the training split) with
    labels 0..9 naming ``CIFAR10_CLASSES``; resized to (image_size, image_size) with
    Pillow's ``resample`` filter when given."""
    if split not in CIFAR10_FILES:
        raise ValueError(f"load_cifar10: split must be one of {tuple(CIFAR10_FILES)}, got "
                         f"{split!r}")
    names = CIFAR10_FILES[split]
    folder = _batch_folder(Path(data_dir), names)
    batches = [_read_batch(folder / name) for name in names]
    pixels = np.concatenate([p for p, _ in batches])                   # (N, 3, 32, 32)
    labels = np.concatenate([y for _, y in batches])                   # (N,)
    return ImageDataset.from_pixels(pixels, labels, CIFAR10_CLASSES, "cifar10",
                                    image_size=image_size, resample=resample)
