"""Shared test setup: hypothesis profiles (derandomized under CI) and the gpu marker."""
import pytest

from minigan.backend import cuda_is_available
from minigan.testing.strategies import register_profiles

register_profiles()


def pytest_collection_modifyitems(config, items):
    if cuda_is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU with CuPy")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
