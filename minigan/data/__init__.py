"""Datasets and loaders for GAN training; nothing is ever downloaded.

2-D samplers (``ring8``, ``grid25``, ``swissroll``) draw (n, 2) float32 points from a
``numpy.random.Generator``. Image datasets (``load_digits`` embedded in scikit-learn, and
MNIST, Fashion-MNIST, CIFAR-10 or a folder of images that the user brings) are
``ImageDataset``s: (N, C, H, W) float32 in [-1, 1] with int64 labels. ``BatchIterator``
serves seeded, resumable mini-batches; ``load_dataset(name, ...)`` finds any of them by
name. NumPy alone is imported here: Pillow and scikit-learn load inside the functions
that use them.
"""
from minigan.data import transforms
from minigan.data.cifar import CIFAR10_CLASSES, load_cifar10
from minigan.data.dataset import ImageDataset
from minigan.data.digits import load_digits
from minigan.data.folder import IMAGE_EXTENSIONS, load_image_folder
from minigan.data.loader import BatchIterator
from minigan.data.mnist import (FASHION_MNIST_CLASSES, MNIST_CLASSES, load_fashion_mnist,
                                load_mnist, read_idx)
from minigan.data.registry import DATASETS, load_dataset
from minigan.data.toy import GaussianMixture, SwissRoll, grid25, ring8, swissroll
from minigan.data.transforms import (center_crop, random_crop, random_horizontal_flip,
                                     resize, to_minus_one_one)

__all__ = ["transforms", "ImageDataset", "BatchIterator", "DATASETS", "load_dataset",
           "GaussianMixture", "SwissRoll", "ring8", "grid25", "swissroll", "load_digits",
           "load_mnist", "load_fashion_mnist", "read_idx", "load_cifar10",
           "load_image_folder", "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES",
           "IMAGE_EXTENSIONS", "resize", "center_crop", "random_crop",
           "random_horizontal_flip", "to_minus_one_one"]
