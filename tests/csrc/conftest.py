"""Builds the CUDA kernels of csrc/cuda for CPU threads (csrc/cuda/emulator.h) with the
host C++ compiler, once per test session, so that the kernels' own code is checked
against the NumPy references on machines without a GPU.

``emulated("conv")`` compiles tests/csrc/emulated_conv.cpp, which includes emulator.h and
csrc/cuda/conv.cuh and exports ``extern "C"`` entry points, and returns it as a
``ctypes.CDLL``."""
import ctypes
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

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
