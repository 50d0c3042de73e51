"""Tests for kernels/__init__.py: whether the Triton kernels can launch here, as the
registry asks before it dispatches to them."""
import pytest

from minigan import kernels


@pytest.fixture
def installed(monkeypatch):
    """Stands in for the installed distributions: ``installed(triton="3.6.0", torch=None)``
    (None: not installed); the cached answer is cleared before and after."""
    def install(**versions):
        monkeypatch.setattr(kernels, "_installed", lambda name: versions.get(name) is not None)
        monkeypatch.setattr(kernels.importlib.metadata, "version",
                            lambda name: versions[name])
        kernels.why_no_triton.cache_clear()
    yield install
    kernels.why_no_triton.cache_clear()


def test_without_triton_the_reason_says_how_to_install_it(installed):
    installed(triton=None, torch="2.11.0")
    assert kernels.why_no_triton() == "triton is not installed (pip install minigan[gpu])"


def test_triton_before_3_8_needs_pytorch_to_launch(installed):
    installed(triton="3.6.0", torch=None)
    assert kernels.why_no_triton() == ("triton 3.6 launches on a GPU only through PyTorch, "
                                       "which is not installed: install PyTorch, or "
                                       "triton >= 3.8")


@pytest.mark.parametrize("triton, torch", [("3.6.0", "2.11.0"), ("3.8.0", None),
                                           ("3.9.0+git1234abcd", None), ("4.0.1", None)])
def test_triton_that_can_launch_has_no_reason(installed, triton, torch):
    installed(triton=triton, torch=torch)
    assert kernels.why_no_triton() is None


def test_the_answer_is_computed_once(installed, monkeypatch):
    installed(triton="3.9.0", torch=None)
    assert kernels.why_no_triton() is None
    monkeypatch.setattr(kernels, "_installed", lambda name: False)
    assert kernels.why_no_triton() is None


def test_an_unavailable_triton_is_passed_over_on_cuda(installed):
    """The registry skips the Triton kernels when they cannot launch, and gives the
    reason (what ``minigan.info()`` prints beside them)."""
    from minigan.backend import implementations
    installed(triton="3.6.0", torch=None)
    conv = implementations("conv2d")["triton"]
    assert not conv.available("cuda")
    assert "through PyTorch" in conv.why_unavailable()
