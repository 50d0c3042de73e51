"""The 8 x 8 handwritten digits embedded in scikit-learn: a dataset that needs no download.

Source: ``sklearn.datasets.load_digits``, the test part of the UCI "Optical Recognition of
Handwritten Digits" data (Alpaydin and Kaynak, 1998): 1,797 images of 8 x 8 pixels, each
pixel a count in 0..16 of the on-pixels of a 4 x 4 block of a 32 x 32 bitmap, 10 classes.
The UCI repository publishes it under CC BY 4.0; scikit-learn ships it in its BSD-3 package.
"""
from __future__ import annotations

from minigan.data.dataset import ImageDataset

__all__ = ["DIGITS_IMAGE_SIZE", "load_digits"]

DIGITS_IMAGE_SIZE = 16
"""Default side of the digits: twice the native 8 pixels, the smallest size DCGAN-style
networks use, and a quarter of the work of 32 pixels for a CPU training run."""


def load_digits(image_size: int | None = DIGITS_IMAGE_SIZE,
                resample: str = "bilinear") -> ImageDataset:
    """The 1,797 scikit-learn digits as (1797, 1, S, S) float32 in [-1, 1], labels 0..9.

    Pixels v in 0..16 become 2v / 16 - 1, then are resized from 8 to S = ``image_size``
    (16 by default; None or 8 keeps the native size) with Pillow's ``resample`` filter;
    bilinear (the default) never leaves [-1, 1]. scikit-learn is imported here only.
    """
    from sklearn.datasets import load_digits as sklearn_load_digits

    bunch = sklearn_load_digits()
    pixels = bunch.images[:, None, :, :]                                # (1797, 1, 8, 8)
    return ImageDataset.from_pixels(pixels, bunch.target, [str(k) for k in range(10)],
                                    "digits", max_value=16.0, image_size=image_size,
                                    resample=resample)
