"""Tests for minigan/backend.py: devices, array modules, the implementation registry."""
import collections
import importlib.machinery
import os
import subprocess
import sys
import time
import types

import numpy as np
import pytest

import minigan as mg
from minigan import backend
from minigan.info import info_text


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


def test_device_index_is_device_of_as_a_cheap_key():
    """-1 for NumPy arrays (and scalars), the GPU for anything answering ``.device.id``."""
    gpu = type("GpuArray", (), {"device": type("CudaDevice", (), {"id": 1})()})()
    assert backend.device_index(np.ones(2)) == backend.device_index(np.float32(1)) == -1
    assert backend.device_index(gpu) == 1 and backend.device_of(gpu) == "cuda:1"


def test_cupy_is_not_imported_for_cpu_work():
    """CPU work never imports CuPy; ``minigan.info()``, asked about GPUs, imports it where
    it is installed."""
    code = ("import importlib.util, sys, minigan as mg; x = mg.randn(3, requires_grad=True); "
            "(x * x).sum().backward(); print('cupy' in sys.modules); mg.info(); "
            "print('cupy' in sys.modules, importlib.util.find_spec('cupy') is not None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0] == "False"
    imported, installed = out[-1].split()
    assert imported == installed


def fake_cupy(monkeypatch, get_device_count):
    """A stand-in ``cupy`` module whose ``cuda.runtime.getDeviceCount`` is the given
    function."""
    module = types.ModuleType("cupy")
    module.__spec__ = importlib.machinery.ModuleSpec("cupy", None)
    module.__version__ = "0.0 (stand-in)"
    module.cuda = types.SimpleNamespace(
        runtime=types.SimpleNamespace(getDeviceCount=get_device_count),
        Device=lambda index: f"CuPy's Device({index})")
    monkeypatch.setitem(sys.modules, "cupy", module)
    monkeypatch.setattr(backend, "_CHECKED_GPUS", set())


def test_why_no_cuda_says_what_is_missing(monkeypatch):
    """The reason names the missing piece; CuPy's own error is passed on (here the one it
    raises where the driver is older than its CUDA runtime, as on a machine without a
    GPU)."""
    class CUDARuntimeError(RuntimeError):
        pass

    def old_driver():
        raise CUDARuntimeError("cudaErrorInsufficientDriver: CUDA driver version is "
                               "insufficient for CUDA runtime version")

    fake_cupy(monkeypatch, old_driver)
    assert backend.why_no_cuda() == (
        "CuPy sees no usable GPU (CUDARuntimeError: cudaErrorInsufficientDriver: CUDA driver "
        "version is insufficient for CUDA runtime version)")
    assert not backend.cuda_is_available() and not mg.cuda.is_available()
    assert "cuda: no GPU available: CuPy sees no usable GPU (CUDARuntimeError" in info_text()
    fake_cupy(monkeypatch, lambda: 0)
    assert backend.why_no_cuda() == "CuPy sees no GPU" and mg.cuda.device_count() == 0
    fake_cupy(monkeypatch, lambda: 2)
    assert backend.why_no_cuda() is None and backend.cuda_is_available()
    monkeypatch.setattr(backend.importlib.util, "find_spec", lambda name: None)
    assert backend.why_no_cuda() == "CuPy is not installed"


def test_making_a_cuda_tensor_without_that_gpu_says_why(monkeypatch):
    """Tensors made on, or moved to, a GPU that CuPy cannot use fail with the device and
    the reason, before CuPy allocates anything."""
    def no_driver():
        raise RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected")

    fake_cupy(monkeypatch, no_driver)
    reason = (r"device cuda:0: no GPU available: CuPy sees no usable GPU \(RuntimeError: "
              r"cudaErrorNoDevice")
    with pytest.raises(RuntimeError, match=reason):
        mg.zeros(2, 3, device="cuda")
    with pytest.raises(RuntimeError, match=reason):
        mg.ones(2, device="cuda:0")
    with pytest.raises(RuntimeError, match=reason):
        mg.randn(2).to("cuda")
    fake_cupy(monkeypatch, lambda: 1)
    with pytest.raises(RuntimeError, match=r"device cuda:1: CuPy sees 1 GPU, cuda:0 to cuda:0"):
        mg.tensor([1.0, 2.0], device="cuda:1")
    fake_cupy(monkeypatch, lambda: 2)
    with pytest.raises(RuntimeError, match=r"device cuda:5: CuPy sees 2 GPUs, cuda:0 to cuda:1"):
        backend.cuda_device(5)
    assert backend.cuda_device(1) == "CuPy's Device(1)" and backend._CHECKED_GPUS == {1}


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int64", "bool"])
def test_dtype_name_is_str_of_the_dtype(dtype):
    for _ in range(2):                                  # computed, then remembered
        assert backend.dtype_name(np.dtype(dtype)) == str(np.dtype(dtype)) == dtype
        assert backend.dtype_name(np.zeros(1, dtype).dtype) == dtype


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


@pytest.fixture
def timed_op(fresh_tuning):
    """An op whose preferred implementation is slow, with a fast one and one that refuses
    float16; counts the calls of each."""
    calls = collections.Counter()

    def implementation(name: str, seconds: float, refuses_float16: bool = False):
        def fn(x, offset=1):
            calls[name] += 1
            if refuses_float16 and x.dtype == np.float16:
                raise TypeError(f"{name}: no float16")
            time.sleep(seconds)
            return x + offset
        return fn
    backend.register("timed_op", "numpy", ("cpu",))(implementation("numpy", 0.004))
    backend.register("timed_op", "fast", ("cpu",))(implementation("fast", 0.0))
    backend.register("timed_op", "picky", ("cpu",))(implementation("picky", 0.002, True))
    yield calls
    backend._REGISTRY.pop("timed_op")


def test_without_autotuning_run_takes_the_preferred_implementation(timed_op):
    with backend.autotuning(False):
        assert backend.run("timed_op", np.zeros(3)).tolist() == [1, 1, 1]
    assert timed_op == {"numpy": 1}
    assert backend.tuning_results() == []


def test_autotuning_times_each_implementation_once_and_keeps_the_fastest(timed_op):
    x = np.zeros((2, 3))
    with backend.autotuning():
        np.testing.assert_array_equal(backend.run("timed_op", x), x + 1)
        (tuning,) = backend.tuning_results()
        assert tuning.op == "timed_op" and tuning.device == "cpu"
        assert tuning.chosen == "fast" and tuning.refused == {}
        assert list(tuning.seconds) == ["numpy", "fast", "picky"]    # preference order
        assert tuning.seconds["numpy"] >= 0.004 > tuning.seconds["fast"]
        warm_up_and_repeats = 1 + backend.TUNING_REPEATS
        assert timed_op == {"numpy": warm_up_and_repeats, "picky": warm_up_and_repeats,
                            "fast": warm_up_and_repeats + 1}
        backend.run("timed_op", x + 5)                        # same signature: no timing
    assert timed_op["fast"] == warm_up_and_repeats + 2
    assert timed_op["numpy"] == warm_up_and_repeats
    assert len(backend.tuning_results()) == 1
    assert "(2, 3) float64" in str(tuning) and str(tuning).endswith("-> fast")


def test_autotuning_measures_each_new_signature(timed_op):
    x = np.zeros((2, 3))
    with backend.autotuning():
        for args in [(x,), (x[:, :2],), (x.T,), (x.astype(np.float32),), (x, 2), (x,)]:
            backend.run("timed_op", *args)
    # a new shape, strides, dtype or argument value each is a new signature; the last
    # call repeats the first
    assert len(backend.tuning_results()) == 5


def test_autotuning_skips_an_implementation_that_refuses_the_inputs(timed_op):
    with backend.autotuning():
        out = backend.run("timed_op", np.zeros(4, np.float16))
    assert out.dtype == np.float16
    (tuning,) = backend.tuning_results()
    assert tuning.refused == {"picky": "picky: no float16"}
    assert list(tuning.seconds) == ["numpy", "fast"]
    assert "picky refused: picky: no float16" in str(tuning)


def test_autotuning_skips_an_implementation_that_runs_out_of_memory(timed_op):
    def hungry(x):
        raise MemoryError("out of memory allocating 1073741824 bytes")
    backend.register("timed_op", "hungry", ("cpu",))(hungry)
    with backend.autotuning():
        backend.run("timed_op", np.zeros(1))
    (tuning,) = backend.tuning_results()
    assert tuning.refused == {"hungry": "out of memory allocating 1073741824 bytes"}
    assert tuning.chosen == "fast"


@pytest.mark.usefixtures("fresh_tuning")
def test_autotuning_raises_the_preferred_refusal_when_every_implementation_refuses():
    def refuse(message: str):
        def fn(x):
            raise ValueError(message)
        return fn
    backend.register("refused_op", "numpy", ("cpu",))(refuse("refused_op: bad shape"))
    backend.register("refused_op", "other", ("cpu",))(refuse("other: bad shape"))
    try:
        with backend.autotuning(), pytest.raises(ValueError, match="refused_op: bad shape"):
            backend.run("refused_op", np.zeros(1))
        assert backend.tuning_results() == []
    finally:
        backend._REGISTRY.pop("refused_op")


def test_autotuning_lets_a_failure_propagate(timed_op):
    def broken(x):
        raise RuntimeError("kernel launch failed")
    backend.register("timed_op", "broken", ("cpu",))(broken)
    with backend.autotuning(), pytest.raises(RuntimeError, match="kernel launch failed"):
        backend.run("timed_op", np.zeros(1))


def test_a_forced_implementation_overrides_autotuning(timed_op):
    with backend.autotuning(), backend.use_implementation("timed_op", "picky"):
        backend.run("timed_op", np.zeros(1))
    assert timed_op == {"picky": 1}
    assert backend.tuning_results() == []


def test_autotuning_is_off_by_default_and_the_environment_turns_it_on():
    code = "import minigan as mg; print(mg.backend.autotune_enabled())"
    for value, expected in [(None, "False"), ("0", "False"), ("1", "True")]:
        env = {k: v for k, v in os.environ.items() if k != "MINIGAN_AUTOTUNE"}
        if value is not None:
            env["MINIGAN_AUTOTUNE"] = value
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True, env=env).stdout
        assert out.strip() == expected
    bad = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "MINIGAN_AUTOTUNE": "yes"})
    assert bad.returncode != 0
    assert "MINIGAN_AUTOTUNE must be 0 or 1, got 'yes'" in bad.stderr


def test_info_reports_autotuning_and_its_measurements(timed_op, capsys):
    with backend.autotuning(False):
        mg.info()
    assert "autotuning: off" in capsys.readouterr().out
    with backend.autotuning():
        backend.run("timed_op", np.zeros(2))
        mg.info()
    text = capsys.readouterr().out
    assert "autotuning: on, 1 signatures measured" in text
    assert "timed_op on cpu [(2,) float64]: numpy" in text and "-> fast" in text
