"""Shared setup of the tests under tests/train/."""
import pytest


@pytest.fixture(scope="session", autouse=True)
def minigan_cache(tmp_path_factory):
    """$MINIGAN_CACHE for the whole session, so evaluation classifiers are cached in a
    temporary folder, never in ~/.cache. The folder sits in the session's base temp, the
    same for tests/examples/conftest.py: the digits classifier trains at most once."""
    path = tmp_path_factory.getbasetemp() / "minigan-cache"
    path.mkdir(exist_ok=True)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINIGAN_CACHE", str(path))
        yield path
