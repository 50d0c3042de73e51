"""``load_dataset(name, ...)``: every dataset of minigan under one name (nothing downloads)."""
from __future__ import annotations

import os
from typing import Any, Callable

from minigan.data.cifar import CIFAR10_FILES, load_cifar10
from minigan.data.dataset import ImageDataset
from minigan.data.digits import DIGITS_IMAGE_SIZE, load_digits
from minigan.data.folder import IMAGE_EXTENSIONS, load_image_folder
from minigan.data.mnist import IDX_FILES, load_fashion_mnist, load_mnist
from minigan.data.toy import GaussianMixture, SwissRoll, grid25, ring8, swissroll

__all__ = ["DATASETS", "load_dataset"]

_SAMPLERS: dict[str, Callable[..., GaussianMixture | SwissRoll]] = {
    "ring8": ring8, "grid25": grid25, "swissroll": swissroll}
_IDX_EXPECTED = "the IDX files " + ", ".join(
    f"{f}[.gz]" for files in IDX_FILES.values() for f in files)
_FILE_DATASETS: dict[str, tuple[Callable[..., ImageDataset], str]] = {
    "mnist": (load_mnist, _IDX_EXPECTED),
    "fashion-mnist": (load_fashion_mnist, _IDX_EXPECTED),
    "cifar10": (load_cifar10, "the CIFAR-10 binary files " + ", ".join(
        f for files in CIFAR10_FILES.values() for f in files)
        + " (or their cifar-10-batches-bin/ folder)"),
    "folder": (load_image_folder, "image files (" + ", ".join(IMAGE_EXTENSIONS)
               + "), one subfolder per class"),
}
DATASETS = (*_SAMPLERS, "digits", *_FILE_DATASETS)
"""The names ``load_dataset`` knows."""


def load_dataset(name: str, data_dir: str | os.PathLike | None = None,
                 image_size: int | None = None,
                 **options: Any) -> ImageDataset | GaussianMixture | SwissRoll:
    """The dataset called ``name`` (case-insensitive, "_" read as "-").

    2-D samplers (no data_dir or image_size; ``.sample(n, generator)`` -> (n, 2) float32):
      "ring8"      8 Gaussians on the unit circle, std 0.01 (PacGAN / VEEGAN benchmark).
      "grid25"     25 Gaussians on {-4, -2, 0, 2, 4}², std 0.05 (PacGAN / VEEGAN).
      "swissroll"  the Swiss roll's (x, z) projection scaled by 1 / 7.5 (WGAN-GP's toy
                   data); option ``noise`` (default 0.25).
    Images (``ImageDataset``: (N, C, H, W) float32 in [-1, 1], int64 labels):
      "digits"     scikit-learn's embedded 8 x 8 digits, 1,797 images, 10 classes, resized
                   to 16 x 16 unless ``image_size`` says otherwise (bilinear). Source: UCI
                   "Optical Recognition of Handwritten Digits" (Alpaydin and Kaynak 1998),
                   CC BY 4.0, shipped with scikit-learn (BSD-3). No data_dir.
      "mnist"      MNIST IDX files in ``data_dir`` (LeCun, Cortes and Burges; CC BY-SA 3.0),
                   (N, 1, 28, 28).
      "fashion-mnist"  Fashion-MNIST IDX files in ``data_dir`` (Xiao, Rasul and Vollgraf,
                   Zalando Research; MIT licence), (N, 1, 28, 28).
      "cifar10"    CIFAR-10 binary batches in ``data_dir`` (Krizhevsky 2009; no licence
                   stated, cite the report), (N, 3, 32, 32).
      "folder"     the images under the folder ``data_dir``, labelled by subfolder (the
                   user's data, under the user's terms).
    ``image_size`` resizes images to image_size x image_size (Pillow, ``resample`` option,
    bilinear by default). Other ``options`` go to the loader: ``split`` ("train"/"test")
    for mnist, fashion-mnist and cifar10; ``channels`` and ``extensions`` for folder.
    """
    key = str(name).lower().replace("_", "-")
    if key in _SAMPLERS:
        if data_dir is not None or image_size is not None:
            raise ValueError(f"load_dataset({name!r}): a 2-D sampler takes no data_dir or "
                             f"image_size, got data_dir={data_dir!r}, "
                             f"image_size={image_size!r}")
        return _SAMPLERS[key](**options)
    if key == "digits":
        if data_dir is not None:
            raise ValueError(f"load_dataset({name!r}): the digits are embedded in "
                             f"scikit-learn and take no data_dir, got {data_dir!r}")
        return load_digits(DIGITS_IMAGE_SIZE if image_size is None else image_size,
                           **options)
    if key in _FILE_DATASETS:
        loader, expected = _FILE_DATASETS[key]
        if data_dir is None:
            raise ValueError(f"load_dataset({name!r}): needs data_dir, a folder holding "
                             f"{expected} (nothing is downloaded)")
        return loader(data_dir, image_size=image_size, **options)
    raise ValueError(f"load_dataset: unknown dataset {name!r}; known: {', '.join(DATASETS)}")
