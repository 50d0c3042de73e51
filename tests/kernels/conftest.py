"""Kernel tests run compiled on a GPU, or under Triton's interpreter on NumPy arrays.

The interpreter is chosen by TRITON_INTERPRET, read when a kernel is decorated, so it is
set here, before any test imports the kernels, whenever no GPU is present.
"""
import os

import numpy as np
import pytest

from minigan.backend import cuda_is_available

ON_GPU = cuda_is_available()
if not ON_GPU:
    os.environ["TRITON_INTERPRET"] = "1"


@pytest.fixture(scope="session")
def xp():
    """The array module the kernels run on here: CuPy on a GPU, NumPy in the interpreter."""
    pytest.importorskip("triton")
    if ON_GPU:
        import cupy
        return cupy
    return np


@pytest.fixture
def unfit_kernel():
    """Stands for a @triton.jit kernel whose tiles do not fit the GPU: launching it raises
    Triton's OutOfResources, as compiling a too-large tile does."""
    from triton.runtime.errors import OutOfResources

    class Unfit:
        def __getitem__(self, grid):
            def launch(*args, **meta):
                raise OutOfResources(262144, 232448, "shared memory")
            return launch
    return Unfit()
