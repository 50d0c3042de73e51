"""Every CUDA source of csrc/cuda compiles with nvcc, warnings as errors, for the default
architectures of CMakeLists.txt (Hopper machine code and portable PTX), whenever nvcc is
on the machine: a machine without a GPU still proves that the kernels build."""
import shutil
import subprocess
from pathlib import Path

import pytest

CSRC = Path(__file__).resolve().parents[2] / "csrc"
SOURCES = sorted((CSRC / "cuda").glob("*.cu"))
NVCC = shutil.which("nvcc")


def test_the_cuda_sources_are_the_ones_cmake_builds():
    cmake = (CSRC.parent / "CMakeLists.txt").read_text()
    assert SOURCES, "csrc/cuda has no .cu files"
    for source in SOURCES:
        assert f"csrc/cuda/{source.name}" in cmake, f"CMakeLists.txt does not build {source}"


@pytest.mark.skipif(NVCC is None, reason="nvcc is not on this machine")
@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.name)
def test_compiles_with_nvcc_without_warnings(source, tmp_path):
    command = [NVCC, "-std=c++17", "-O3", "-Werror", "all-warnings",
               "-gencode", "arch=compute_90,code=sm_90",
               "-gencode", "arch=compute_75,code=compute_75",
               f"-I{CSRC}", "-c", str(source), "-o", str(tmp_path / "kernel.o")]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}{result.stderr}"
    assert "warning" not in (result.stdout + result.stderr).lower(), result.stderr
