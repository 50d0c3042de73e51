"""csrc/cuda/activation.cuh, run on CPU threads by csrc/cuda/emulator.h, against the array
code of minigan/ops/activation.py (``leaky_relu_array``, ``leaky_relu_backward_array``):
slopes 0 (ReLU), below 1, 1 and above 1; NaN, infinities and signed zeros in x and gy;
sizes around the 256-thread block; the grid-stride loop; outputs poisoned with a guard
past their end; and the GPU launchers of minigan/cuda_kernels.py on the emulated kernels."""
import ctypes
import inspect

import numpy as np
import pytest

from minigan import cuda_kernels, extension
from minigan.ops.activation import leaky_relu_array, leaky_relu_backward_array
from minigan.testing import assert_close

GUARD = 3                       # elements past every output: the kernels must not touch them
POISON = 1e30                   # what an output holds before the kernel writes it
SLOPES = [0.0, 0.2, 1.0, 1.5]
DTYPES = [np.float64, np.float32]
ULP = {np.float64: 2.0 ** -52, np.float32: 2.0 ** -23}


@pytest.fixture(scope="module")
def library(emulated):
    library = emulated("activation")
    library.emulated_launches.restype = ctypes.c_uint
    library.emulated_activation_blocks.restype = ctypes.c_int64
    library.emulated_activation_blocks.argtypes = [ctypes.c_int64]
    return library


def _output(n, dtype):
    """A poisoned array of n elements with GUARD more after it: (array, whole)."""
    whole = np.full(n + GUARD, POISON, dtype)
    return whole[:n], whole


def _draw(n, dtype, seed):
    """x and gy of n elements, standard normal, with NaN, +-inf, +0 and -0 put in."""
    rng = np.random.default_rng(seed)
    x, gy = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)
    for array in (x, gy):
        spots = rng.permutation(n)[:min(n, len(special)) if n > 20 else 0]
        array[spots] = special[:len(spots)]
    return x, gy


def _check(got_whole, want, dtype, what):
    n = want.size
    assert np.all(got_whole[n:] == POISON), f"{what}: written past its last element"
    got = got_whole[:n]
    assert_close(got, want, rtol=ULP[dtype], atol=0, equal_nan=True, msg=f"{what}: ")
    assert np.array_equal(np.isnan(got), np.isnan(want)), what


@pytest.fixture(scope="module")
def kernels(library, kernel_call):
    """run(x, gy, slope, blocks) -> (y whole, gx whole): the host launchers (blocks None),
    or both kernels on a grid of ``blocks`` blocks."""
    pointer, call = kernel_call

    def run(x, gy, slope, blocks=None):
        n, is_double = x.size, ctypes.c_int(x.dtype == np.float64)
        (_, y_whole), (_, gx_whole) = _output(n, x.dtype), _output(n, x.dtype)
        if blocks is None:
            call(library.emulated_leaky_relu_forward, is_double, pointer(x), pointer(y_whole),
                 ctypes.c_int64(n), ctypes.c_double(slope))
            call(library.emulated_leaky_relu_backward, is_double, pointer(gy), pointer(x),
                 pointer(gx_whole), ctypes.c_int64(n), ctypes.c_double(slope))
        else:
            call(library.emulated_leaky_relu_kernels, is_double, pointer(x), pointer(y_whole),
                 pointer(gy), pointer(gx_whole), ctypes.c_int64(n), ctypes.c_double(slope),
                 ctypes.c_uint(blocks))
        return y_whole, gx_whole

    return run


@pytest.mark.parametrize("n", [1, 255, 256, 257, 600])
@pytest.mark.parametrize("slope", SLOPES)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_kernels_match_the_array_code(kernels, n, slope, dtype):
    """The forward exactly (NaN where the array code has NaN); the backward within one unit
    in the last place (the array code's multiplier 1 is (1 - slope) + slope, rounded)."""
    x, gy = _draw(n, dtype, seed=n)
    y_whole, gx_whole = kernels(x, gy, slope)
    with np.errstate(invalid="ignore"):
        want_y = leaky_relu_array(x, slope)
        want_gx = leaky_relu_backward_array(gy, x, slope)
    assert np.all(y_whole[n:] == POISON)
    np.testing.assert_array_equal(y_whole[:n], want_y)
    _check(gx_whole, want_gx, dtype, "grad_x")


def test_relu_of_minus_infinity_is_zero_and_of_nan_is_nan(kernels):
    x = np.array([-np.inf, np.nan, np.inf, -0.0, 3.0], np.float64)
    y_whole, gx_whole = kernels(x, np.array([1.0, 1.0, 1.0, np.inf, 2.0]), 0.0)
    np.testing.assert_array_equal(y_whole[:5], [0.0, np.nan, np.inf, 0.0, 3.0])
    np.testing.assert_array_equal(gx_whole[:5], [0.0, 0.0, 1.0, np.nan, 2.0])


@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_the_grid_stride_loop_covers_every_element(kernels, blocks):
    x, gy = _draw(1000, np.float64, seed=blocks)
    y_whole, gx_whole = kernels(x, gy, 0.2, blocks)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(y_whole[:1000], leaky_relu_array(x, 0.2))
        _check(gx_whole, leaky_relu_backward_array(gy, x, 0.2), np.float64, "grad_x")


def test_the_grid_is_one_block_per_256_elements_up_to_four_full_waves(library):
    blocks = library.emulated_activation_blocks
    assert [blocks(n) for n in (0, 1, 256, 257, 4224 * 256, 4224 * 256 + 1, 10 ** 9)] == \
        [0, 1, 1, 2, 4224, 4224, 4224]


def test_an_empty_array_launches_nothing(library, kernels):
    before = library.emulated_launches()
    kernels(np.zeros(0), np.zeros(0), 0.2)
    assert library.emulated_launches() == before


# ----------------------------------------------------------------------------------------
# The GPU launchers of minigan/cuda_kernels.py, run on the emulated kernels
# ----------------------------------------------------------------------------------------

@pytest.fixture
def launchers(library, kernel_call, stand_in_gpu, monkeypatch):
    """cuda_kernels.leaky_relu and leaky_relu_backward on the emulated kernels, through
    stand-ins that take the arguments of the bindings in csrc/bindings.cpp."""
    _, call = kernel_call

    def address(value):
        return ctypes.c_void_p(value or None)

    def cuda_leaky_relu_forward(dtype, x, y, size, slope, stream):
        call(library.emulated_leaky_relu_forward, ctypes.c_int(dtype == "float64"),
             address(x), address(y), ctypes.c_int64(size), ctypes.c_double(slope))

    def cuda_leaky_relu_backward(dtype, grad_y, x, grad_x, size, slope, stream):
        call(library.emulated_leaky_relu_backward, ctypes.c_int(dtype == "float64"),
             address(grad_y), address(x), address(grad_x), ctypes.c_int64(size),
             ctypes.c_double(slope))

    stand_in_gpu.install(monkeypatch, dict(cuda_leaky_relu_forward=cuda_leaky_relu_forward,
                                           cuda_leaky_relu_backward=cuda_leaky_relu_backward),
                         POISON)
    return cuda_kernels.leaky_relu, cuda_kernels.leaky_relu_backward


@pytest.mark.skipif(not extension.CUDA, reason="minigan._C was built without CUDA kernels")
@pytest.mark.parametrize("name", ["cuda_leaky_relu_forward", "cuda_leaky_relu_backward"])
def test_the_stand_ins_take_the_arguments_of_the_real_bindings(launchers, stand_in_gpu, name):
    assert stand_in_gpu.binding_parameters(name) == list(
        inspect.signature(getattr(extension.C, name)).parameters)


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("slope", [0.0, 0.2])
def test_the_launchers_match_the_array_code_in_one_launch_each(launchers, library,
                                                                stand_in_gpu, dtype, slope):
    """On (3, 4, 5, 6) arrays that are not C-contiguous: copied, one launch each way."""
    forward, backward = launchers
    device = stand_in_gpu.device
    x, gy = (np.asfortranarray(a.reshape(3, 4, 5, 6)) for a in _draw(360, dtype, seed=9))
    before = library.emulated_launches()
    y = forward(device(x), slope)
    gx = backward(device(gy), device(x), slope)
    assert library.emulated_launches() == before + 2
    assert y.shape == gx.shape == x.shape and y.dtype == gx.dtype == dtype
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(np.asarray(y), leaky_relu_array(x, slope))
        assert_close(np.asarray(gx), leaky_relu_backward_array(gy, x, slope), rtol=ULP[dtype],
                     atol=0, equal_nan=True)


def test_float16_and_mixed_dtypes_run_the_array_code(launchers, library, stand_in_gpu):
    forward, backward = launchers
    device = stand_in_gpu.device
    x = np.linspace(-2, 2, 12, dtype=np.float16).reshape(3, 4)
    x64, gy = x.astype(np.float64), np.ones((3, 4), np.float32)
    before = library.emulated_launches()
    np.testing.assert_array_equal(np.asarray(forward(device(x), 0.2)), leaky_relu_array(x, 0.2))
    assert_close(np.asarray(backward(device(gy), device(x64), 0.2)),
                 leaky_relu_backward_array(gy, x64, 0.2))
    assert library.emulated_launches() == before


def test_empty_arrays_give_empty_results_without_a_launch(launchers, library, stand_in_gpu):
    forward, backward = launchers
    x = stand_in_gpu.device(np.zeros((0, 3), np.float32))
    before = library.emulated_launches()
    assert forward(x, 0.2).shape == (0, 3)
    assert backward(x, x, 0.2).shape == (0, 3)
    assert library.emulated_launches() == before


def test_a_gradient_of_another_shape_is_refused_with_both_shapes(launchers, stand_in_gpu):
    _, backward = launchers
    gy, x = stand_in_gpu.device(np.ones((3, 4))), stand_in_gpu.device(np.ones((4, 3)))
    with pytest.raises(ValueError, match=r"leaky_relu_backward \(cuda\): grad_y and x must "
                                         r"have one shape, got grad_y \(3, 4\), x \(4, 3\)"):
        backward(gy, x, 0.2)
