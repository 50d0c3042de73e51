"""Build script: the ``minigan`` package, the Triton kernels of ``kernels/`` installed as
``minigan.kernels``, and the C++ extension ``minigan._C`` built by CMake (CMakeLists.txt).

The extension is optional: without CMake or a C++ compiler the install still succeeds,
minigan runs its NumPy implementations, and ``minigan.info()`` says so.
Set MINIGAN_NATIVE_ARCH=0 to build without -march=native (a binary to copy elsewhere).
The CUDA kernels of csrc/cuda are compiled when CMake finds nvcc: MINIGAN_CUDA=0 skips
them, and MINIGAN_CUDA_ARCHITECTURES (CMake's syntax, e.g. "80-real;90-real;75-virtual")
replaces the default "90-real;75-virtual".
"""
import os
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    """An extension whose sources CMake compiles."""

    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    """Configure and build with CMake into the place setuptools expects the module."""

    def build_extension(self, ext: Extension) -> None:
        target_dir = Path(self.get_ext_fullpath(ext.name)).resolve().parent
        build_dir = Path(self.build_temp).resolve() / ext.name
        native = "OFF" if os.environ.get("MINIGAN_NATIVE_ARCH") == "0" else "ON"
        try:
            import pybind11
            configure = [
                "cmake", "-S", str(ROOT),
                f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={target_dir}",
                f"-DPython_EXECUTABLE={sys.executable}",
                f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                f"-DMINIGAN_NATIVE_ARCH={native}",
            ]
            if os.environ.get("MINIGAN_CUDA_ARCHITECTURES"):
                configure.append("-DCMAKE_CUDA_ARCHITECTURES="
                                 + os.environ["MINIGAN_CUDA_ARCHITECTURES"])
            if os.environ.get("MINIGAN_CUDA") == "0":
                self._cmake(configure + ["-DMINIGAN_CUDA=OFF"], build_dir / "cpu")
                return
            try:
                self._cmake(configure + ["-DMINIGAN_CUDA=ON"], build_dir / "cuda")
            except subprocess.CalledProcessError as err:
                self.warn(f"minigan._C failed to build with its CUDA kernels ({err}); "
                          "building the C++ CPU kernels alone")
                self._cmake(configure + ["-DMINIGAN_CUDA=OFF", "-DMINIGAN_CUDA_OFF_REASON="
                                         "the CUDA kernels failed to compile at install "
                                         "time (see pip's log)"], build_dir / "cpu")
        except (ImportError, OSError, subprocess.CalledProcessError) as err:
            self.warn(f"minigan._C was not built ({err}); minigan will use its NumPy "
                      "implementations (see minigan.info())")

    @staticmethod
    def _cmake(configure: list[str], build_dir: Path) -> None:
        build_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(configure + ["-B", str(build_dir)], check=True)
        subprocess.run(["cmake", "--build", str(build_dir), "--parallel"], check=True)


packages = ["minigan"] + [f"minigan.{name}" for name in find_packages("minigan")]
packages.append("minigan.kernels")

setup(
    packages=packages,
    package_dir={"minigan": "minigan", "minigan.kernels": "kernels"},
    ext_modules=[CMakeExtension("minigan._C")],
    cmdclass={"build_ext": CMakeBuild},
)
