"""A folder of image files a user brings, read with Pillow.

Layout, searched recursively (hidden files and folders, whose names start with ".", are
skipped; files with other extensions are ignored):

    root/cat/001.png, root/cat/more/002.jpg, root/dog/003.png    labelled: one class per
                                                                 subfolder of root, in
                                                                 sorted order (cat 0, dog 1)
    root/001.png, root/a/002.png                                 unlabelled: an image
                                                                 directly in root makes
                                                                 every label 0

Each image is converted to RGB (alpha dropped) or to 8-bit grey ("L"), and scaled to
[-1, 1] by 2v / 255 - 1. Without ``image_size`` all images must share one size. With
s = ``image_size``, a w x h image is resized (Pillow ``resample`` filter) so that its
shorter side is s, and the s x s square at offsets floor((w' - s) / 2), floor((h' - s) / 2)
of the resized w' x h' image is kept. The whole folder is held in memory.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from minigan.data.dataset import ImageDataset
from minigan.data.transforms import RESIZE_FILTERS

__all__ = ["IMAGE_EXTENSIONS", "load_image_folder"]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff",
                    ".ppm", ".pgm")
"""File extensions read as images (compared case-insensitively)."""

_MODES = {1: "L", 3: "RGB"}


def _image_files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    """Image files under ``folder``, recursively, sorted, hidden entries skipped."""
    found = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        found += [Path(directory, f) for f in sorted(files)
                  if not f.startswith(".") and Path(f).suffix.lower() in extensions]
    return found


def _read_image(path: Path, mode: str, image_size: int | None, resample: str) -> np.ndarray:
    """One image as (C, H, W) uint8; a file Pillow cannot decode raises ValueError."""
    from PIL import Image

    try:
        with Image.open(path) as image:
            image = image.convert(mode)
    except (OSError, ValueError) as error:
        raise ValueError(f"load_image_folder: cannot read image file {path}: {error}") from None
    if image_size is not None:
        scale = image_size / min(image.size)
        size = (max(image_size, round(image.width * scale)),
                max(image_size, round(image.height * scale)))
        image = image.resize(size, getattr(Image.Resampling, resample.upper()))
        left, top = (size[0] - image_size) // 2, (size[1] - image_size) // 2
        image = image.crop((left, top, left + image_size, top + image_size))
    pixels = np.asarray(image, dtype=np.uint8)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)   # (C, H, W)


def load_image_folder(root: str | os.PathLike, image_size: int | None = None,
                      channels: int = 3, resample: str = "bilinear",
                      extensions: tuple[str, ...] = IMAGE_EXTENSIONS) -> ImageDataset:
    """All images under ``root`` as (N, channels, H, W) float32 in [-1, 1] with int64
    labels (see the module docstring for the layout, labels and resizing); classes are
    the subfolder names, or root's own name when unlabelled."""
    op = "load_image_folder"
    root = Path(root)
    if channels not in _MODES:
        raise ValueError(f"{op}: channels must be 1 or 3, got {channels!r}")
    if resample not in RESIZE_FILTERS:
        raise ValueError(f"{op}: resample must be one of {RESIZE_FILTERS}, got {resample!r}")
    if image_size is not None and not (isinstance(image_size, int) and image_size >= 1):
        raise ValueError(f"{op}: image_size must be a positive int or None, got "
                         f"{image_size!r}")
    if not root.is_dir():
        raise FileNotFoundError(f"{op}: {root} is not a folder (expected a folder of image "
                                f"files {', '.join(extensions)}, one subfolder per class)")
    extensions = tuple(e.lower() for e in extensions)
    files = _image_files(root, extensions)
    if not files:
        raise FileNotFoundError(f"{op}: no image files ({', '.join(extensions)}) under "
                                f"{root}")
    labelled = all(f.parent != root for f in files)
    if labelled:
        classes = sorted({f.relative_to(root).parts[0] for f in files})
    else:
        classes = [root.resolve().name]
    index = {name: k for k, name in enumerate(classes)}
    labels = [index[f.relative_to(root).parts[0]] if labelled else 0 for f in files]
    images = []
    for path in files:
        pixels = _read_image(path, _MODES[channels], image_size, resample)
        if images and pixels.shape != images[0].shape:
            raise ValueError(f"{op}: {path} is {pixels.shape[1:]} pixels but {files[0]} is "
                             f"{images[0].shape[1:]}; pass image_size to resize them all")
        images.append(pixels)
    return ImageDataset.from_pixels(np.stack(images), labels, classes, f"folder:{root}")
