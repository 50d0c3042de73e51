"""Build script: the ``minigan`` package, the Triton kernels of ``kernels/`` installed as
``minigan.kernels``, and the C++ extension ``minigan._C`` built by CMake (CMakeLists.txt).

The extension is optional: without CMake or a C++ compiler the install still succeeds,
minigan runs its NumPy implementations, and ``minigan.info()`` says so.
Set MINIGAN_NATIVE_ARCH=0 to build without -march=native (a binary to copy elsewhere).
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
        build_dir.mkdir(parents=True, exist_ok=True)
        native = "OFF" if os.environ.get("MINIGAN_NATIVE_ARCH") == "0" else "ON"
        try:
            import pybind11
            configure = [
                "cmake", "-S", str(ROOT), "-B", str(build_dir),
                f"-DCMAKE_LIBRARY_OUTPUT_DIRECTORY={target_dir}",
                f"-DPython_EXECUTABLE={sys.executable}",
                f"-Dpybind11_DIR={pybind11.get_cmake_dir()}",
                f"-DMINIGAN_NATIVE_ARCH={native}",
            ]
            subprocess.run(configure, check=True)
            subprocess.run(["cmake", "--build", str(build_dir), "--parallel"], check=True)
        except (ImportError, OSError, subprocess.CalledProcessError) as err:
            self.warn(f"minigan._C was not built ({err}); minigan will use its NumPy "
                      "implementations (see minigan.info())")


packages = ["minigan"] + [f"minigan.{name}" for name in find_packages("minigan")]
packages.append("minigan.kernels")

setup(
    packages=packages,
    package_dir={"minigan": "minigan", "minigan.kernels": "kernels"},
    ext_modules=[CMakeExtension("minigan._C")],
    cmdclass={"build_ext": CMakeBuild},
)
