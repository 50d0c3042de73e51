"""Tests for kernels/arrays.py's launch helpers: the grid arithmetic agrees with Triton's;
each launcher's kernels are fenced between CuPy's current stream and Triton's when the two
differ (stand-in streams, the kernels run by the interpreter); and bench/launch_overhead.py,
which times the launchers that use them."""
import json
import pathlib
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import given, strategies as st

triton = pytest.importorskip("triton")
from minigan.backend import cuda_is_available  # noqa: E402
from minigan.kernels import arrays, attention, conv, spectral_norm  # noqa: E402
from minigan.kernels.arrays import cdiv, next_power_of_2  # noqa: E402
from minigan.ops.conv import Geometry  # noqa: E402


@given(st.integers(0, 2 ** 40), st.integers(1, 2 ** 20))
def test_cdiv_is_triton_cdiv(a, b):
    assert cdiv(a, b) == triton.cdiv(a, b) == (a + b - 1) // b


@given(st.integers(0, 2 ** 40))
def test_next_power_of_2_is_tritons(n):
    assert next_power_of_2(n) == triton.next_power_of_2(n)


def test_bench_launch_overhead_times_every_launcher():
    """bench/launch_overhead.py (the host time of the launchers, kernels stubbed; then with
    Triton's dispatch against a stand-in driver at every launch, and with the kept
    compiled kernels) runs and prints one timed row per launcher: the Triton ones with
    the three columns, the CUDA C++ ones with the first."""
    pytest.importorskip("triton.backends.nvidia")
    script = pathlib.Path(__file__).resolve().parents[2] / "bench" / "launch_overhead.py"
    result = subprocess.run([sys.executable, str(script), "--calls", "5", "--rounds", "2"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    rows = [line.split() for line in result.stdout.splitlines()[1:]]
    triton = ["conv2d", "conv_transpose2d", "conv2d_weight", "attention",
              "attention_backward", "spectral_norm_power_iteration"]
    cuda = [f"{name}(cuda)" for name in triton[:5] + ["adam_step"]]
    assert [row[0] for row in rows] == triton + cuda
    for row in rows[:len(triton)]:        # times only: their order is the benchmark's
        assert len(row) == 4 and all(float(cell) > 0 for cell in row[1:]), row
    for row in rows[len(triton):]:
        assert float(row[1]) > 0 and row[2:] == ["-", "-"], row


def test_launch_signature_tells_apart_what_triton_specialises_on():
    """Integers of any type by value, arrays by dtype and 16-byte alignment; Python floats
    (passed unspecialised) by type only."""
    base = np.zeros(8, np.float32)
    aligned, off = arrays.KernelArg(base[:4]), arrays.KernelArg(base[1:5])
    assert base.ctypes.data % 16 == 0

    def signature(*args, device=0, **meta):
        return arrays.signature(device, args, meta or {"BLOCK": 16})
    assert signature(aligned, 16) == signature(arrays.KernelArg(base[4:]), 16)
    assert signature(aligned, 16) != signature(off, 16)
    assert signature(aligned, 16) != signature(arrays.KernelArg(base[:4].astype(np.float64)),
                                               16)
    assert signature(aligned, 16) != signature(aligned, 17)
    assert signature(aligned, np.int64(16)) != signature(aligned, np.int64(32))
    assert signature(aligned, True) != signature(aligned, False)
    assert signature(aligned, 0.5) == signature(aligned, 0.25)
    assert signature(aligned, 16) != signature(aligned, 16, device=1)
    assert signature(aligned, 16) != signature(aligned, 16, BLOCK=32)


def test_compiled_launches_reuse_the_kernel_triton_chooses():
    """Compiled for an H100 and launched by a stand-in driver (tests/kernels/
    compiled_launches.py): a launch through ``launch``'s kept kernels, first or again,
    hands Triton's launcher exactly what Triton's own dispatch does (the same compiled
    kernel, grid, stream and arguments) for each case, though the cases run one after
    another with their kernels kept; the cases do need kernels of their own (Triton
    specialises on a pointer's alignment and on sizes divisible by 16), so a kept kernel
    reused across them would show. The same holds with room for one kept kernel. Reused
    launches on a stream apart from CuPy's are fenced like the first."""
    pytest.importorskip("triton.backends.nvidia")
    script = pathlib.Path(__file__).with_name("compiled_launches.py")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["dispatch"] == report["first"] == report["again"]
    assert report["bounded"] == [report["dispatch"][name] for name in (
        "conv2d", "conv2d, input off alignment", "conv2d", "conv2d")]
    assert report["kept"] == 1
    kernels = {name: [launch[0] for launch in launches]
               for name, launches in report["dispatch"].items()}
    conv2d = [kernels[name][0] for name in ("conv2d", "conv2d, input off alignment",
                                            "conv2d, sizes not multiples of 16")]
    assert len(set(conv2d)) == 3
    assert len(kernels["attention_backward"]) == 2
    assert len(kernels["spectral_norm_power_iteration"]) == 2
    fence = [["record", "cupy"], ["wait", "external 7", "event of cupy"], ["launch", 7],
             ["record", "external 7"], ["wait", "cupy", "event of external 7"]]
    assert report["fenced"] == fence * 2


# The fence tests run the kernels under the interpreter on NumPy arrays; where a GPU
# compiles them instead, tests/gpu/test_arrays_cuda.py checks the fence on real streams.
interpreted = pytest.mark.skipif(cuda_is_available(), reason="runs the kernels under "
                                 "Triton's interpreter, which is off where a GPU is present")


class StandInStream:
    """Records its ``record`` and ``wait_event`` calls, in order, in a shared log."""

    def __init__(self, name, ptr, log):
        self.name, self.ptr, self.log = name, ptr, log

    def record(self):
        self.log.append(("record", self.name))
        return f"event of {self.name}"

    def wait_event(self, event):
        self.log.append(("wait", self.name, event))


def as_gpu(monkeypatch):
    """KernelArg takes every array for a GPU array (``host`` False), with its pointer still
    read from NumPy: the launchers take their GPU path while the interpreter computes."""
    init = arrays.KernelArg.__init__

    def gpu_init(self, array):
        init(self, array)
        self.host = False
    monkeypatch.setattr(arrays.KernelArg, "__init__", gpu_init)
    monkeypatch.setattr(arrays.KernelArg, "data_ptr", lambda self: self.array.ctypes.data)


def install_streams(monkeypatch, triton_stream_ptr, log):
    """CuPy's current stream (ptr 0) and Triton's driver (its current stream
    ``triton_stream_ptr``) as stand-ins; kernel launches are logged by ``logged``."""
    ours = StandInStream("cupy", 0, log)
    fake_cupy = types.SimpleNamespace(cuda=types.SimpleNamespace(
        get_current_stream=lambda: ours,
        ExternalStream=lambda ptr: StandInStream(f"external {ptr}", ptr, log)))
    active = types.SimpleNamespace(get_current_device=lambda: 0,
                                   get_current_stream=lambda device: triton_stream_ptr)
    monkeypatch.setattr(arrays, "cupy_module", lambda: fake_cupy)
    monkeypatch.setattr(arrays, "driver", types.SimpleNamespace(active=active))


def logged(monkeypatch, module, name, log):
    """``module.name``, a kernel, logs each launch before running it."""
    kernel = getattr(module, name)

    class Logged:
        def __getitem__(self, grid):
            def run(*args, **meta):
                log.append(("launch", name))
                kernel[grid](*args, **meta)
            return run
    monkeypatch.setattr(module, name, Logged())


def _launcher_calls():
    """Each Triton launcher on small inputs, with the names of the kernels it launches, in
    order."""
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((2, 3, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    gy = rng.standard_normal((2, 4, 3, 3))
    geo = Geometry((1, 1), (0, 0), (1, 1), 1)
    q, k, v = (rng.standard_normal((1, 2, n, 4)) for n in (5, 6, 6))
    out, lse = attention.attention(q, k, v, 0.5, np)
    dout = rng.standard_normal(out.shape)
    weight, u = rng.standard_normal((6, 9)), rng.standard_normal(6)
    return {
        "conv2d": (lambda: conv.conv2d(x, w, geo, (3, 3), np), ["conv2d_kernel"]),
        "conv_transpose2d": (lambda: conv.conv_transpose2d(gy, w, geo, (5, 5), np),
                             ["conv_transpose2d_kernel"]),
        "conv2d_weight": (lambda: conv.conv2d_weight(x, gy, geo, (3, 3), np),
                          ["conv2d_weight_kernel"]),
        "attention": (lambda: attention.attention(q, k, v, 0.5, np),
                      ["attention_forward_kernel"]),
        "attention_backward": (
            lambda: attention.attention_backward(q, k, v, out, lse, dout, 0.5, np),
            ["attention_dq_kernel", "attention_dkdv_kernel"]),
        "spectral_norm_power_iteration": (
            lambda: spectral_norm.spectral_norm_power_iteration(weight, u, 3, 1e-12, np),
            ["power_iteration_step_kernel"] * 3),
    }


MODULES = {"conv2d_kernel": conv, "conv_transpose2d_kernel": conv,
           "conv2d_weight_kernel": conv, "attention_forward_kernel": attention,
           "attention_dkdv_kernel": attention, "attention_dq_kernel": attention,
           "power_iteration_step_kernel": spectral_norm}


@interpreted
@pytest.mark.parametrize("launcher", [
    "conv2d", "conv_transpose2d", "conv2d_weight", "attention", "attention_backward",
    "spectral_norm_power_iteration"])
def test_launches_are_fenced_between_cupy_and_triton_streams(launcher, monkeypatch):
    """Triton on another stream than CuPy's: before each kernel, Triton's stream waits for
    an event recorded on CuPy's; after it, CuPy's waits for one recorded on Triton's. The
    results are those of the same launcher on host arrays."""
    call, kernels = _launcher_calls()[launcher]
    want = call()
    log = []
    as_gpu(monkeypatch)
    install_streams(monkeypatch, 7, log)
    for name in set(kernels):
        logged(monkeypatch, MODULES[name], name, log)
    got = call()
    fence = []
    for name in kernels:
        fence += [("record", "cupy"), ("wait", "external 7", "event of cupy"),
                  ("launch", name),
                  ("record", "external 7"), ("wait", "cupy", "event of external 7")]
    assert log == fence
    for g, w in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


@interpreted
@pytest.mark.parametrize("launcher", [
    "conv2d", "conv_transpose2d", "conv2d_weight", "attention", "attention_backward",
    "spectral_norm_power_iteration"])
def test_every_launch_asks_for_floating_point_fusion(launcher, monkeypatch):
    """Each kernel of each launcher is launched with enable_fp_fusion=True, whatever the
    default of the Triton installed."""
    call, kernels = _launcher_calls()[launcher]
    asked = []
    for name in set(kernels):
        kernel = getattr(MODULES[name], name)

        class Spy:
            def __getitem__(self, grid, kernel=kernel, name=name):
                def run(*args, **meta):
                    asked.append((name, meta.get("enable_fp_fusion")))
                    kernel[grid](*args, **meta)
                return run
        monkeypatch.setattr(MODULES[name], name, Spy())
    call()
    assert asked == [(name, True) for name in kernels]


@interpreted
def test_no_fence_when_triton_launches_on_cupys_stream(monkeypatch):
    log = []
    as_gpu(monkeypatch)
    install_streams(monkeypatch, 0, log)
    logged(monkeypatch, conv, "conv2d_kernel", log)
    _launcher_calls()["conv2d"][0]()
    assert log == [("launch", "conv2d_kernel")]


@interpreted
def test_host_arrays_never_ask_for_streams(monkeypatch):
    """On NumPy arrays (the interpreter) no stream is looked up: CuPy is never imported."""
    def no_cupy():
        raise AssertionError("CuPy asked for on host arrays")
    monkeypatch.setattr(arrays, "cupy_module", no_cupy)
    _launcher_calls()["conv2d"][0]()
