"""MNIST and Fashion-MNIST from the IDX files a user has downloaded (never downloaded here).

IDX layout (big-endian), as published with MNIST:

    bytes 0-1   0x00 0x00
    byte  2     element type: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
                0x0D float32, 0x0E float64
    byte  3     number of dimensions d
    4 .. 4+4d   d sizes, unsigned 32-bit big-endian
    then        prod(sizes) elements, row-major, big-endian

MNIST's image files hold uint8 (N, 28, 28) (magic 0x00000803 = 2051), its label files
uint8 (N,) (magic 0x00000801 = 2049). Either may be gzipped (recognised by its content).

Sources and licences: MNIST, Y. LeCun, C. Cortes and C. J. C. Burges, made available by
its authors under CC BY-SA 3.0; Fashion-MNIST, H. Xiao, K. Rasul and R. Vollgraf (Zalando
Research, 2017), MIT licence, with the same file names and layout.
"""
from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from minigan.data.dataset import ImageDataset

__all__ = ["read_idx", "load_mnist", "load_fashion_mnist", "MNIST_CLASSES",
           "FASHION_MNIST_CLASSES", "IDX_FILES"]

_IDX_TYPES = {0x08: np.dtype(">u1"), 0x09: np.dtype(">i1"), 0x0B: np.dtype(">i2"),
              0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}
_GZIP_MAGIC = b"\x1f\x8b"
_IMAGE_MAGIC, _LABEL_MAGIC = 0x00000803, 0x00000801
_MNIST_SIDE = 28

MNIST_CLASSES = tuple(str(k) for k in range(10))
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot")
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
"""split -> (images file, labels file) names, each also accepted with a .gz suffix."""


def _read_bytes(path: Path) -> bytes:
    raw = path.read_bytes()
    if not raw.startswith(_GZIP_MAGIC):
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise ValueError(f"read_idx: {path} starts like a gzip file but cannot be "
                         f"decompressed: {error}") from None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file (gzipped or not), in native byte order.

    Raises ValueError naming the file when the magic number is not an IDX one or the data
    does not have the size the header announces (prod(sizes) · itemsize bytes).
    """
    path = Path(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"read_idx: {path} is not an IDX file: expected a magic number "
                         f"00 00 <type in {{08, 09, 0B, 0C, 0D, 0E}}> <ndim>, found "
                         f"{raw[:4].hex(' ') or 'an empty file'}")
    dtype, ndim = _IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"read_idx: {path} is truncated: its magic number announces {ndim} "
                         f"dimensions ({header} header bytes), but the file has {len(raw)} "
                         f"bytes")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        problem = "truncated" if found < expected else "trailing bytes"
        raise ValueError(f"read_idx: {path} has {found} bytes of data after its "
                         f"{header}-byte header, expected {expected} for shape {shape} of "
                         f"{dtype.name} ({problem})")
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _expected(split: str) -> str:
    return "the IDX files " + ", ".join(f"{name}[.gz]" for name in IDX_FILES[split])


def _find(op: str, data_dir: Path, name: str, split: str) -> Path:
    for candidate in (data_dir / name, data_dir / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{op}: no {name} or {name}.gz in {data_dir} (expected "
                            f"{_expected(split)})")


def _read_checked(op: str, path: Path, magic: int) -> np.ndarray:
    """read_idx, then check the type and rank that ``magic`` stands for (uint8 data)."""
    array = read_idx(path)
    ndim = magic & 0xFF
    if array.dtype != np.uint8 or array.ndim != ndim:
        kind = "images" if magic == _IMAGE_MAGIC else "labels"
        raise ValueError(f"{op}: {path} should hold the {kind}: magic number 0x{magic:08X} "
                         f"(uint8, {ndim} dimensions), found {array.dtype} with "
                         f"{array.ndim} dimensions {array.shape}")
    return array


def _load_idx_pair(op: str, name: str, classes: tuple[str, ...], data_dir: str | os.PathLike,
                   split: str, image_size: int | None, resample: str) -> ImageDataset:
    if split not in IDX_FILES:
        raise ValueError(f"{op}: split must be one of {tuple(IDX_FILES)}, got {split!r}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise FileNotFoundError(f"{op}: data_dir {data_dir} is not a folder (expected one "
                                f"holding {_expected(split)})")
    images_path, labels_path = (_find(op, data_dir, name, split) for name in IDX_FILES[split])
    images = _read_checked(op, images_path, _IMAGE_MAGIC)                 # (N, 28, 28)
    labels = _read_checked(op, labels_path, _LABEL_MAGIC)                 # (N,)
    if images.shape[1:] != (_MNIST_SIDE, _MNIST_SIDE):
        raise ValueError(f"{op}: {images_path} holds images of {images.shape[1:]} pixels, "
                         f"expected ({_MNIST_SIDE}, {_MNIST_SIDE})")
    if labels.shape[0] != images.shape[0]:
        raise ValueError(f"{op}: {images_path} holds {images.shape[0]} images but "
                         f"{labels_path} holds {labels.shape[0]} labels")
    if labels.size and labels.max() >= len(classes):
        raise ValueError(f"{op}: {labels_path} holds label {labels.max()}, expected labels "
                         f"in 0..{len(classes) - 1}")
    pixels = images[:, None]                                              # (N, 1, 28, 28)
    return ImageDataset.from_pixels(pixels, labels, classes, name, image_size=image_size,
                                    resample=resample)


def load_mnist(data_dir: str | os.PathLike, split: str = "train",
               image_size: int | None = None, resample: str = "bilinear") -> ImageDataset:
    """MNIST from ``data_dir`` holding ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``
    (split "train", 60,000 images) or ``t10k-*`` (split "test", 10,000), each optionally
    ``.gz``: (N, 1, 28, 28) float32 in [-1, 1] (2v / 255 - 1), labels 0..9; resized to
    (image_size, image_size) with Pillow's ``resample`` filter when given."""
    return _load_idx_pair("load_mnist", "mnist", MNIST_CLASSES, data_dir, split, image_size,
                          resample)


def load_fashion_mnist(data_dir: str | os.PathLike, split: str = "train",
                       image_size: int | None = None,
                       resample: str = "bilinear") -> ImageDataset:
    """Fashion-MNIST, with the same files, layout and scaling as ``load_mnist``; classes
    ``FASHION_MNIST_CLASSES`` (T-shirt/top ... Ankle boot)."""
    return _load_idx_pair("load_fashion_mnist", "fashion-mnist", FASHION_MNIST_CLASSES,
                          data_dir, split, image_size, resample)
