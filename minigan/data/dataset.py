"""``ImageDataset``: labelled images held in memory, in the range a tanh generator makes."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minigan.data.transforms import resize, to_minus_one_one

__all__ = ["ImageDataset"]


class ImageDataset:
    """N labelled images in memory.

    images: (N, C, H, W) float32 in [-1, 1].  labels: (N,) int64 in [0, num_classes).
    classes: the K class names, label k names classes[k].  name: where the data came from.
    ``len(ds)`` is N; ``ds[i]`` is (images[i], labels[i]) for an int, slice or index array.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, classes: Sequence[str],
                 name: str) -> None:
        images, labels = np.asarray(images), np.asarray(labels)
        if images.ndim != 4 or images.dtype != np.float32:
            raise ValueError(f"ImageDataset({name!r}): images must be float32 (N, C, H, W), "
                             f"got {images.dtype} {images.shape}")
        if labels.shape != images.shape[:1] or labels.dtype != np.int64:
            raise ValueError(f"ImageDataset({name!r}): labels must be int64 of shape "
                             f"{images.shape[:1]}, got {labels.dtype} {labels.shape}")
        classes = tuple(str(c) for c in classes)
        if len(classes) < 1:
            raise ValueError(f"ImageDataset({name!r}): needs at least one class name")
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"ImageDataset({name!r}): labels must lie in "
                             f"[0, {len(classes)}), got [{labels.min()}, {labels.max()}]")
        self.images = images
        self.labels = labels
        self.classes = classes
        self.name = name

    @classmethod
    def from_pixels(cls, pixels: np.ndarray, labels: Any, classes: Sequence[str], name: str,
                    max_value: float = 255.0, image_size: int | None = None,
                    resample: str = "bilinear") -> ImageDataset:
        """Build from raw pixels (N, C, H, W) in [0, max_value]: x -> 2x / max_value - 1,
        then, when ``image_size`` differs from (H, W), resized to (image_size, image_size)
        with Pillow's ``resample`` filter and clipped to [-1, 1] (bicubic and Lanczos can
        overshoot)."""
        images = to_minus_one_one(pixels, max_value)
        if image_size is not None and images.shape[2:] != (image_size, image_size):
            images = np.clip(resize(images, image_size, resample), -1.0, 1.0)
        return cls(images, np.asarray(labels).astype(np.int64), classes, name)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W)."""
        return tuple(self.images.shape[1:])

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: Any) -> tuple[np.ndarray, np.ndarray]:
        return self.images[index], self.labels[index]

    def __repr__(self) -> str:
        return (f"ImageDataset({self.name!r}, num_examples={len(self)}, "
                f"image_shape={self.image_shape}, num_classes={self.num_classes})")
