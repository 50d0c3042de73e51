"""Build script: the ``minigan`` package, with the Triton kernels of ``kernels/`` installed
as ``minigan.kernels`` (in normal and editable installs alike)."""
from setuptools import find_packages, setup

packages = ["minigan"] + [f"minigan.{name}" for name in find_packages("minigan")]
packages.append("minigan.kernels")

setup(
    packages=packages,
    package_dir={"minigan": "minigan", "minigan.kernels": "kernels"},
)
