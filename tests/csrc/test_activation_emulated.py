"""csrc/cuda/activation.cuh, run on CPU threads by csrc/cuda/emulator.h, against the array
code of minigan/ops/activation.py: leaky ReLU (``leaky_relu_array``,
``leaky_relu_backward_array``) at slopes 0 (ReLU), below 1, 1 and above 1, and softplus
(``softplus_array``, ``softplus_backward_array``) at several betas; NaN, infinities and
signed zeros in x and gy, and large |x|; sizes around the 256-thread block; the
grid-stride loop; outputs poisoned with a guard past their end; and the GPU launchers of
minigan/cuda_kernels.py on the emulated kernels."""
import ctypes
import inspect

import numpy as np
import pytest

from minigan import cuda_kernels, extension
from minigan.ops.activation import leaky_relu_array, leaky_relu_backward_array, \
    softplus_array, softplus_backward_array
from minigan.testing import assert_close

GUARD = 3                       # elements past every output: the kernels must not touch them
POISON = 1e30                   # what an output holds before the kernel writes it
DTYPES = [np.float64, np.float32]
ULP = {np.float64: 2.0 ** -52, np.float32: 2.0 ** -23}
ACTIVATIONS = {  # name: kind in emulated_activation.cpp, forward, backward, parameters,
    #                    forward exact, tolerance of the rest in units in the last place
    "leaky_relu": (0, leaky_relu_array, leaky_relu_backward_array, [0.0, 0.2, 1.0, 1.5],
                   True, 1),
    "softplus": (1, softplus_array, softplus_backward_array, [1.0, 0.5, 2.0], False, 8),
}


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
    """x (normal, times 20 for a tenth of it) and gy of n elements, with NaN, +-inf, +0 and
    -0 put in."""
    rng = np.random.default_rng(seed)
    x, gy = (rng.standard_normal(n).astype(dtype) for _ in range(2))
    x[rng.permutation(n)[:n // 10]] *= 20
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0], dtype)
    for array in (x, gy):
        spots = rng.permutation(n)[:min(n, len(special)) if n > 20 else 0]
        array[spots] = special[:len(spots)]
    return x, gy


def _close(got, want, dtype, ulps, what):
    """Within ``ulps`` units in the last place, NaN exactly where the reference has NaN."""
    assert_close(got, want, rtol=ulps * ULP[dtype], atol=0, equal_nan=True, msg=f"{what}: ")
    assert np.array_equal(np.isnan(got), np.isnan(want)), what


def _reference(name, x, gy, parameter):
    _, forward, backward, _, _, _ = ACTIVATIONS[name]
    with np.errstate(invalid="ignore", over="ignore"):
        return forward(x, parameter), backward(gy, x, parameter)


def _check(name, y_whole, gx_whole, x, gy, parameter):
    n, dtype = x.size, x.dtype.type
    _, _, _, _, exact, ulps = ACTIVATIONS[name]
    assert np.all(y_whole[n:] == POISON) and np.all(gx_whole[n:] == POISON), \
        "written past the last element"
    want_y, want_gx = _reference(name, x, gy, parameter)
    if exact:
        np.testing.assert_array_equal(y_whole[:n], want_y)
    else:
        _close(y_whole[:n], want_y, dtype, ulps, "y")
    _close(gx_whole[:n], want_gx, dtype, ulps, "grad_x")


@pytest.fixture(scope="module")
def kernels(library, kernel_call):
    """run(name, x, gy, parameter, blocks) -> (y whole, gx whole): the host launchers
    (blocks None), or both kernels on a grid of ``blocks`` blocks."""
    pointer, call = kernel_call

    def run(name, x, gy, parameter, blocks=None):
        n, is_double = x.size, ctypes.c_int(x.dtype == np.float64)
        kind = ctypes.c_int(ACTIVATIONS[name][0])
        (_, y_whole), (_, gx_whole) = _output(n, x.dtype), _output(n, x.dtype)
        if blocks is None:
            call(library.emulated_activation_forward, kind, is_double, pointer(x),
                 pointer(y_whole), ctypes.c_int64(n), ctypes.c_double(parameter))
            call(library.emulated_activation_backward, kind, is_double, pointer(gy),
                 pointer(x), pointer(gx_whole), ctypes.c_int64(n), ctypes.c_double(parameter))
        else:
            call(library.emulated_activation_kernels, kind, is_double, pointer(x),
                 pointer(y_whole), pointer(gy), pointer(gx_whole), ctypes.c_int64(n),
                 ctypes.c_double(parameter), ctypes.c_uint(blocks))
        return y_whole, gx_whole

    return run


CASES = [(name, p) for name, case in ACTIVATIONS.items() for p in case[3]]


@pytest.mark.parametrize("n", [1, 255, 256, 257, 600])
@pytest.mark.parametrize("name, parameter", CASES, ids=[f"{n}-{p}" for n, p in CASES])
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_kernels_match_the_array_code(kernels, n, name, parameter, dtype):
    """Leaky ReLU's forward exactly and its backward within one unit in the last place
    (the array code's multiplier 1 is (1 - slope) + slope, rounded); softplus within a few
    (CUDA's exp and log1p against NumPy's)."""
    x, gy = _draw(n, dtype, seed=n)
    y_whole, gx_whole = kernels(name, x, gy, parameter)
    _check(name, y_whole, gx_whole, x, gy, parameter)


def test_relu_of_minus_infinity_is_zero_and_of_nan_is_nan(kernels):
    x = np.array([-np.inf, np.nan, np.inf, -0.0, 3.0], np.float64)
    y_whole, gx_whole = kernels("leaky_relu", x, np.array([1.0, 1.0, 1.0, np.inf, 2.0]), 0.0)
    np.testing.assert_array_equal(y_whole[:5], [0.0, np.nan, np.inf, 0.0, 3.0])
    np.testing.assert_array_equal(gx_whole[:5], [0.0, 0.0, 1.0, np.nan, 2.0])


def test_softplus_neither_overflows_nor_loses_its_tails(kernels):
    """softplus(x) = x + log1p(e^-x) for large x, e^x (relatively exact) for very negative
    x; sigmoid 1 and e^x there, in float32 where e^(beta x) itself would overflow."""
    x = np.array([-200.0, -80.0, -1e-30, 0.0, 1e-30, 80.0, 200.0, 1e6], np.float32)
    y_whole, gx_whole = kernels("softplus", x, np.ones(8, np.float32), 1.0)
    x64 = x.astype(np.float64)
    with np.errstate(over="ignore"):
        want_y = np.where(x64 > 0, x64 + np.log1p(np.exp(-x64)), np.log1p(np.exp(x64)))
    want_s = 1 / (1 + np.exp(-x64))
    assert np.isfinite(y_whole[:8]).all() and np.isfinite(gx_whole[:8]).all()
    assert_close(y_whole[:8], want_y.astype(np.float32), rtol=4 * ULP[np.float32], atol=0)
    assert_close(gx_whole[:8], want_s.astype(np.float32), rtol=4 * ULP[np.float32], atol=0)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@pytest.mark.parametrize("blocks", [1, 2, 3])
def test_the_grid_stride_loop_covers_every_element(kernels, name, blocks):
    x, gy = _draw(1000, np.float64, seed=blocks)
    parameter = ACTIVATIONS[name][3][1]
    y_whole, gx_whole = kernels(name, x, gy, parameter, blocks)
    _check(name, y_whole, gx_whole, x, gy, parameter)


def test_the_grid_is_one_block_per_256_elements_up_to_four_full_waves(library):
    blocks = library.emulated_activation_blocks
    assert [blocks(n) for n in (0, 1, 256, 257, 4224 * 256, 4224 * 256 + 1, 10 ** 9)] == \
        [0, 1, 1, 2, 4224, 4224, 4224]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_an_empty_array_launches_nothing(library, kernels, name):
    before = library.emulated_launches()
    kernels(name, np.zeros(0), np.zeros(0), 1.0)
    assert library.emulated_launches() == before


# ----------------------------------------------------------------------------------------
# The GPU launchers of minigan/cuda_kernels.py, run on the emulated kernels
# ----------------------------------------------------------------------------------------

@pytest.fixture
def launchers(library, kernel_call, stand_in_gpu, monkeypatch):
    """{name: (forward, backward)} of minigan.cuda_kernels on the emulated kernels, through
    stand-ins that take the arguments of the bindings in csrc/bindings.cpp."""
    _, call = kernel_call

    def address(value):
        return ctypes.c_void_p(value or None)

    def forward(kind):
        def binding(dtype, x, y, size, parameter, stream):
            call(library.emulated_activation_forward, ctypes.c_int(kind),
                 ctypes.c_int(dtype == "float64"), address(x), address(y),
                 ctypes.c_int64(size), ctypes.c_double(parameter))
        return binding

    def backward(kind):
        def binding(dtype, grad_y, x, grad_x, size, parameter, stream):
            call(library.emulated_activation_backward, ctypes.c_int(kind),
                 ctypes.c_int(dtype == "float64"), address(grad_y), address(x),
                 address(grad_x), ctypes.c_int64(size), ctypes.c_double(parameter))
        return binding

    functions = {}
    for name, (kind, *_) in ACTIVATIONS.items():
        functions[f"cuda_{name}_forward"] = forward(kind)
        functions[f"cuda_{name}_backward"] = backward(kind)
    stand_in_gpu.install(monkeypatch, functions, POISON)
    return {name: (getattr(cuda_kernels, name), getattr(cuda_kernels, f"{name}_backward"))
            for name in ACTIVATIONS}


BINDINGS = [f"cuda_{name}_{way}" for name in ACTIVATIONS for way in ("forward", "backward")]


@pytest.mark.skipif(not extension.CUDA, reason="minigan._C was built without CUDA kernels")
@pytest.mark.parametrize("binding", BINDINGS)
def test_the_stand_ins_take_the_arguments_of_the_real_bindings(launchers, stand_in_gpu,
                                                              binding):
    """The stand-ins' parameter names, but for the activation's own (slope or beta)."""
    real = stand_in_gpu.binding_parameters(binding)
    stand_in = list(inspect.signature(getattr(extension.C, binding)).parameters)
    assert [p for p in real if p not in ("slope", "beta")] == \
        [p for p in stand_in if p != "parameter"]
    assert real.index("slope" if "leaky" in binding else "beta") == stand_in.index("parameter")


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
@pytest.mark.parametrize("name, parameter", [("leaky_relu", 0.0), ("leaky_relu", 0.2),
                                             ("softplus", 1.0), ("softplus", 0.5)])
def test_the_launchers_match_the_array_code_in_one_launch_each(launchers, library,
                                                                stand_in_gpu, dtype, name,
                                                                parameter):
    """On (3, 4, 5, 6) arrays that are not C-contiguous: copied, one launch each way."""
    forward, backward = launchers[name]
    device = stand_in_gpu.device
    x, gy = (np.asfortranarray(a.reshape(3, 4, 5, 6)) for a in _draw(360, dtype, seed=9))
    before = library.emulated_launches()
    y = forward(device(x), parameter)
    gx = backward(device(gy), device(x), parameter)
    assert library.emulated_launches() == before + 2
    assert y.shape == gx.shape == x.shape and y.dtype == gx.dtype == dtype
    want_y, want_gx = _reference(name, x, gy, parameter)
    _, _, _, _, _, ulps = ACTIVATIONS[name]
    _close(np.asarray(y), want_y, dtype, ulps, "y")
    _close(np.asarray(gx), want_gx, dtype, ulps, "grad_x")


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_float16_and_mixed_dtypes_run_the_array_code(launchers, library, stand_in_gpu, name):
    forward, backward = launchers[name]
    _, array_forward, array_backward, _, _, _ = ACTIVATIONS[name]
    device = stand_in_gpu.device
    x = np.linspace(-2, 2, 12, dtype=np.float16).reshape(3, 4)
    x64, gy = x.astype(np.float64), np.ones((3, 4), np.float32)
    before = library.emulated_launches()
    np.testing.assert_array_equal(np.asarray(forward(device(x), 0.5)), array_forward(x, 0.5))
    assert_close(np.asarray(backward(device(gy), device(x64), 0.5)),
                 array_backward(gy, x64, 0.5))
    assert library.emulated_launches() == before


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_empty_arrays_give_empty_results_without_a_launch(launchers, library, stand_in_gpu,
                                                          name):
    forward, backward = launchers[name]
    x = stand_in_gpu.device(np.zeros((0, 3), np.float32))
    before = library.emulated_launches()
    assert forward(x, 0.5).shape == (0, 3)
    assert backward(x, x, 0.5).shape == (0, 3)
    assert library.emulated_launches() == before


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_a_gradient_of_another_shape_is_refused_with_both_shapes(launchers, stand_in_gpu,
                                                                 name):
    _, backward = launchers[name]
    gy, x = stand_in_gpu.device(np.ones((3, 4))), stand_in_gpu.device(np.ones((4, 3)))
    with pytest.raises(ValueError, match=rf"{name}_backward \(cuda\): grad_y and x must "
                                         r"have one shape, got grad_y \(3, 4\), x \(4, 3\)"):
        backward(gy, x, 0.5)
