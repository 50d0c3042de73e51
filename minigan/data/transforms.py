"""Image transforms on NumPy batches of shape (N, C, H, W).

Random transforms take a ``numpy.random.Generator`` and draw one decision per example, so
a batch is augmented the same way whenever the generator starts from the same state
(``BatchIterator`` gives each batch a generator derived from its seed, epoch and
position, so a resumed run sees the same augmented batches).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["RESIZE_FILTERS", "to_minus_one_one", "resize", "center_crop", "random_crop",
           "random_horizontal_flip"]

RESIZE_FILTERS = ("nearest", "box", "bilinear", "hamming", "bicubic", "lanczos")
"""Names of Pillow's resampling filters accepted by ``resize(..., resample=...)``."""


def _check_batch(op: str, images: Any) -> np.ndarray:
    array = np.asarray(images)
    if array.ndim != 4:
        raise ValueError(f"{op}: images must be 4-D (N, C, H, W), got shape {array.shape}")
    return array


def _pair(op: str, size: int | Sequence[int]) -> tuple[int, int]:
    pair = (size, size) if isinstance(size, (int, np.integer)) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 1 for s in pair):
        raise ValueError(f"{op}: size must be a positive int or (height, width), got "
                         f"{size!r}")
    return int(pair[0]), int(pair[1])


def _check_generator(op: str, rng: Any) -> None:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"{op}: rng must be a numpy.random.Generator, got "
                        f"{type(rng).__name__}")


def to_minus_one_one(pixels: Any, max_value: float = 255.0) -> np.ndarray:
    """y = 2 x / max_value - 1: pixels in [0, max_value] to float32 in [-1, 1], same shape.

    The range of a generator with a tanh output; 255 for 8-bit images, 16 for the digits.
    Computed in float32 (a whole CIFAR-10 split would take 1.2 GB in float64).
    """
    if not max_value > 0:
        raise ValueError(f"to_minus_one_one: max_value must be positive, got {max_value!r}")
    x = np.asarray(pixels).astype(np.float32)
    x *= np.float32(2.0 / max_value)
    x -= np.float32(1.0)
    return x


def resize(images: Any, size: int | Sequence[int], resample: str = "bilinear") -> np.ndarray:
    """Resize each channel of (N, C, H, W) images to (N, C, h, w) with Pillow, float32.

    Every channel goes through Pillow as a 32-bit float image (mode "F"), so no precision
    is lost to 8-bit rounding. Pillow's filters weigh source pixels by their distance
    to the output pixel's centre mapped into the input, (i + 0.5) · H / h - 0.5, and
    widen the filter by H / h when shrinking, so downsampling is antialiased. "bilinear"
    (a triangle of radius 1, the default) is a convex combination and stays inside the
    input's range; "bicubic" and "lanczos" can overshoot it slightly.
    """
    from PIL import Image

    op = "resize"
    array = _check_batch(op, images)
    height, width = _pair(op, size)
    if resample not in RESIZE_FILTERS:
        raise ValueError(f"{op}: resample must be one of {RESIZE_FILTERS}, got "
                         f"{resample!r}")
    pillow_filter = getattr(Image.Resampling, resample.upper())
    n, c = array.shape[:2]
    out = np.empty((n, c, height, width), dtype=np.float32)
    planes = np.ascontiguousarray(array, dtype=np.float32)
    for i in range(n):
        for j in range(c):
            plane = Image.fromarray(planes[i, j], mode="F")
            out[i, j] = np.asarray(plane.resize((width, height), pillow_filter))
    return out


def center_crop(images: Any, size: int | Sequence[int]) -> np.ndarray:
    """The central (h, w) window of (N, C, H, W) images: rows top .. top + h - 1 with
    top = floor((H - h) / 2), columns likewise. Returns (N, C, h, w)."""
    array = _check_batch("center_crop", images)
    height, width = _pair("center_crop", size)
    rows, cols = array.shape[2:]
    if height > rows or width > cols:
        raise ValueError(f"center_crop: crop {(height, width)} is larger than the images "
                         f"{array.shape}")
    top, left = (rows - height) // 2, (cols - width) // 2
    return array[:, :, top:top + height, left:left + width].copy()


def random_crop(images: Any, size: int | Sequence[int],
                rng: np.random.Generator) -> np.ndarray:
    """A random (h, w) window of each image: (N, C, H, W) -> (N, C, h, w).

    Offsets are drawn per example, top_i ~ Uniform{0..H-h} for all i first, then
    left_i ~ Uniform{0..W-w}, and out[i] = images[i, :, top_i:top_i+h, left_i:left_i+w].
    """
    array = _check_batch("random_crop", images)
    height, width = _pair("random_crop", size)
    _check_generator("random_crop", rng)
    n, _, rows, cols = array.shape
    if height > rows or width > cols:
        raise ValueError(f"random_crop: crop {(height, width)} is larger than the images "
                         f"{array.shape}")
    tops = rng.integers(0, rows - height + 1, size=n)
    lefts = rng.integers(0, cols - width + 1, size=n)
    # (N, C, H-h+1, W-w+1, h, w): every window, as a view
    windows = np.lib.stride_tricks.sliding_window_view(array, (height, width), axis=(2, 3))
    return windows[np.arange(n), :, tops, lefts]                       # (N, C, h, w)


def random_horizontal_flip(images: Any, rng: np.random.Generator,
                           p: float = 0.5) -> np.ndarray:
    """Mirror each image left-right with probability p: out[i] = images[i, :, :, ::-1]
    where u_i < p, u ~ Uniform[0, 1)^N, else images[i]. (N, C, H, W) -> same shape."""
    array = _check_batch("random_horizontal_flip", images)
    _check_generator("random_horizontal_flip", rng)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"random_horizontal_flip: p must be in [0, 1], got {p!r}")
    flip = rng.random(array.shape[0]) < p                               # (N,)
    return np.where(flip[:, None, None, None], array[..., ::-1], array)
