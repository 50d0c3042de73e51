"""Tests for minigan/backend.py: devices, array modules, the implementation registry."""
import subprocess
import sys

import numpy as np
import pytest

import minigan as mg
from minigan import backend


def test_device_parsing_and_equality():
    assert mg.device("cpu") == "cpu"
    assert mg.device("cuda") == mg.device("cuda:0") == "cuda"
    assert mg.device("cuda:1") != "cuda:0" and mg.device("cuda:1") == "cuda"
    assert str(mg.device("cuda:2")) == "cuda:2"
    with pytest.raises(ValueError, match="device: unknown device 'tpu'"):
        mg.device("tpu")


def test_array_module_of_numpy_arrays():
    assert backend.xp(np.ones(2)) is np
    assert backend.device_of(np.ones(2)) == "cpu"


def test_cupy_is_not_imported_for_cpu_work():
    code = ("import sys, minigan as mg; x = mg.randn(3, requires_grad=True); "
            "(x * x).sum().backward(); mg.info(); print('cupy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().endswith("False")


@pytest.fixture
def toy_op():
    backend.register("toy_op", "numpy", ("cpu", "cuda"))(lambda x: x + 1)
    backend.register("toy_op", "cpp", ("cpu",), lambda: "not built in this test")(
        lambda x: x + 2)
    backend.register("toy_op", "fast", ("cpu",))(lambda x: x + 3)
    yield "toy_op"
    backend._REGISTRY.pop("toy_op")


def test_registry_picks_the_first_available_by_preference(toy_op):
    assert backend.implementation(toy_op, "cpu").name == "numpy"   # cpp is unavailable
    assert backend.implementation(toy_op, "cuda").name == "numpy"
    assert sorted(backend.implementations(toy_op)) == ["cpp", "fast", "numpy"]


def test_registry_forcing_an_implementation(toy_op):
    with backend.use_implementation(toy_op, "fast"):
        assert backend.implementation(toy_op, "cpu").fn(1) == 4
    assert backend.implementation(toy_op, "cpu").name == "numpy"
    with backend.use_implementation(toy_op, "cpp"):
        with pytest.raises(RuntimeError, match="toy_op: implementation 'cpp' is unavailable: "
                                               "not built in this test"):
            backend.implementation(toy_op, "cpu")
    with backend.use_implementation(toy_op, "fast"):
        with pytest.raises(RuntimeError, match="'fast' does not run on cuda"):
            backend.implementation(toy_op, "cuda")


def test_registry_errors_name_the_op():
    with pytest.raises(KeyError, match="no implementations registered for op 'nope'"):
        backend.implementation("nope", "cpu")


def test_info_lists_versions_and_registered_ops(toy_op, capsys):
    mg.info()
    text = capsys.readouterr().out
    assert text.startswith(f"minigan {mg.__version__}")
    assert f"numpy {np.__version__}" in text
    assert "toy_op: cpu -> numpy" in text
    assert "unavailable: not built in this test" in text
