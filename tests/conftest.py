"""Shared test setup: hypothesis profiles (derandomized under CI), the gpu marker, and a
session-wide $MINIGAN_CACHE."""
import pytest

from minigan.backend import why_no_cuda
from minigan.testing.strategies import register_profiles

register_profiles()


def pytest_collection_modifyitems(config, items):
    why = why_no_cuda()
    if why is None:
        return
    skip = pytest.mark.skip(reason=f"needs a CUDA GPU with CuPy: {why}")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def minigan_cache(tmp_path_factory):
    """$MINIGAN_CACHE for the whole session, so evaluation classifiers are cached in a
    temporary folder, never in ~/.cache, and the digits classifier trains at most once."""
    path = tmp_path_factory.getbasetemp() / "minigan-cache"
    path.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_CACHE", str(path))
        yield path


@pytest.fixture
def fresh_tuning():
    """No autotuning measurements before the test, and none left after it."""
    from minigan import backend
    backend.clear_tuning()
    yield
    backend.clear_tuning()
