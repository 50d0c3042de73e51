"""Builds the CUDA kernels of csrc/cuda for CPU threads (csrc/cuda/emulator.h) with the
host C++ compiler, once per test session, so that the kernels' own code is checked
against the NumPy references on machines without a GPU.

``emulated("conv")`` compiles tests/csrc/emulated_conv.cpp, which includes emulator.h and
csrc/cuda/conv.cuh and exports ``extern "C"`` entry points, and returns it as a
``ctypes.CDLL``. ``stand_in_gpu`` runs the GPU launchers of minigan/cuda_kernels.py on
those kernels."""
import contextlib
import ctypes
import re
import shutil
import subprocess
import types
from pathlib import Path

import numpy as np
import pytest

from minigan import cuda_kernels, extension

_BUILT_C = extension.C          # the real module, before any test swaps in stand-ins
HERE = Path(__file__).resolve().parent
CSRC = HERE.parents[1] / "csrc"
COMPILER = shutil.which("g++") or shutil.which("c++")


@pytest.fixture(scope="session")
def emulated(tmp_path_factory):
    if COMPILER is None:
        pytest.skip("no host C++ compiler (g++) to build the emulated CUDA kernels")
    built = {}
    folder = tmp_path_factory.mktemp("emulated_cuda")

    def build(name: str) -> ctypes.CDLL:
        if name not in built:
            library = folder / f"emulated_{name}.so"
            command = [COMPILER, "-std=c++20", "-O1", "-pthread", "-shared", "-fPIC", "-Wall",
                       "-Wextra", "-Werror", f"-I{CSRC}", str(HERE / f"emulated_{name}.cpp"),
                       "-o", str(library)]
            result = subprocess.run(command, capture_output=True, text=True)
            assert result.returncode == 0, f"{' '.join(command)}\n{result.stderr}"
            built[name] = ctypes.CDLL(str(library))
        return built[name]

    return build


def pointer(array: np.ndarray) -> ctypes.c_void_p:
    """The address of a C-contiguous array's first element, for a ctypes call."""
    assert array.flags.c_contiguous
    return ctypes.c_void_p(array.ctypes.data)


def call(function, *args) -> None:
    """Call an emulated entry point ``int f(..., char* error, size_t size)``: 0 on success,
    else the C++ exception's message, raised here as RuntimeError."""
    error = ctypes.create_string_buffer(512)
    if function(*args, error, ctypes.c_size_t(len(error))) != 0:
        raise RuntimeError(error.value.decode())


@pytest.fixture(scope="session")
def kernel_call():
    """(pointer, call) for the test modules, which cannot import this conftest."""
    return pointer, call


class DeviceArray(np.ndarray):
    """A NumPy array that answers CuPy's ``.device.id`` and ``.data.ptr``, so that the
    launchers of minigan/cuda_kernels.py run on it unchanged."""

    @property
    def device(self):
        return types.SimpleNamespace(id=0)

    @property
    def data(self):
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])


class StandInGpu:
    """The launchers of minigan/cuda_kernels.py on the emulated kernels: arrays as
    DeviceArrays, CuPy as a stand-in whose ``empty`` poisons, minigan._C as stand-in
    functions that call the emulated entry points."""

    @staticmethod
    def device(array):
        return None if array is None else np.asarray(array).view(DeviceArray)

    def install(self, monkeypatch, functions: dict, poison: float) -> None:
        """Replace CuPy (cupy.empty filled with ``poison``) and minigan._C (by
        ``functions``, name -> stand-in) for one test."""

        def empty(shape, dtype=float):
            return np.full(shape, poison, dtype).view(DeviceArray)

        fake_cupy = types.SimpleNamespace(
            empty=empty, ascontiguousarray=lambda a: self.device(np.ascontiguousarray(a)),
            cuda=types.SimpleNamespace(Device=lambda index: contextlib.nullcontext(),
                                       get_current_stream=lambda: types.SimpleNamespace(ptr=0)))
        monkeypatch.setattr(cuda_kernels, "cupy_module", lambda: fake_cupy)
        monkeypatch.setattr(extension, "C", types.SimpleNamespace(**functions))

    def binding_parameters(self, name: str) -> list[str]:
        """The parameter names of the real binding ``name``: pybind11 writes the signature
        on the docstring's first line."""
        real = getattr(_BUILT_C, name).__doc__.splitlines()[0]
        return re.findall(r"(\w+): ", real[real.index("(") + 1:])


@pytest.fixture(scope="session")
def stand_in_gpu():
    return StandInGpu()
