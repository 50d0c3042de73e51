"""csrc/cuda/normalization.cuh, run on CPU threads by csrc/cuda/emulator.h, against the
array code of minigan/ops/normalization.py (the ``numpy`` implementations of
``normalize_forward`` and ``normalize_backward``) in float64: batch, instance and layer
norm laid out by ``minigan.cuda_kernels.normalize_layout`` exactly as the GPU launcher
lays them out, groups around the 256-thread block, outputs poisoned with NaN and a guard
past their end, the running averages, eval-mode gradients, and the properties of dx."""
import ctypes
import inspect

import numpy as np
import pytest
from hypothesis import example, given, settings, strategies as st

from minigan import cuda_kernels, extension
from minigan.cuda_kernels import normalize_layout
from minigan.ops.normalization import normalize_backward, normalize_forward
from minigan.testing import assert_close

GUARD = 3                       # elements past every output: the kernels must not touch them
SENTINEL = -7.25
TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}
BATCH = ((0, 2, 3), (1,))       # dims, affine axes of batch norm on (N, C, H, W)
INSTANCE = ((2, 3), (1,))       # ... of instance norm
LAYER = ((1, 2, 3), (1, 2, 3))  # ... of layer norm over (C, H, W)


def _output(shape, dtype):
    """A NaN-poisoned array of `shape` with GUARD sentinels after it: (array, whole)."""
    whole = np.full(int(np.prod(shape)) + GUARD, np.nan, dtype)
    whole[-GUARD:] = SENTINEL
    return whole[:-GUARD].reshape(shape), whole


def _unguarded(whole, name):
    assert np.all(whole[-GUARD:] == SENTINEL), f"{name}: written past its last element"


@pytest.fixture(scope="module")
def library(emulated):
    library = emulated("normalization")
    library.emulated_launches.restype = ctypes.c_uint
    return library


@pytest.fixture(scope="module")
def forward(library, kernel_call):
    """forward(x, weight, bias, running_mean, running_var, momentum, dims, affine_axes,
    eps) -> (y, mean, invstd) keepdims, as normalize_forward returns them; the running
    statistics are updated in place."""
    pointer, call = kernel_call

    def run(x, weight, bias, running_mean, running_var, momentum, dims, affine_axes, eps):
        layout = normalize_layout(x.shape, dims, affine_axes)
        assert layout is not None
        y, y_whole = _output(x.shape, x.dtype)
        stats, stats_whole = _output((3, layout[1]), x.dtype)
        call(library.emulated_normalize_forward, ctypes.c_int(x.dtype == np.float64),
             pointer(x), *(None if a is None else pointer(a) for a in (weight, bias)),
             pointer(y_whole), *(pointer(s) for s in stats),
             pointer(np.array(layout, np.int64)), ctypes.c_double(eps),
             *(None if a is None else pointer(a) for a in (running_mean, running_var)),
             ctypes.c_double(momentum))
        _unguarded(y_whole, "y")
        _unguarded(stats_whole, "the statistics")
        kept = tuple(1 if i in dims else n for i, n in enumerate(x.shape))
        return y, stats[0].reshape(kept), stats[2].reshape(kept)

    return run


@pytest.fixture(scope="module")
def backward(library, kernel_call):
    """backward(gy, x, weight, mean, invstd, dims, affine_axes, batch_stats, needs) ->
    (dx, dweight, dbias) as the GPU launcher makes them: per channel, dweight and dbias
    summed from the kernel's group sums; per position (layer norm), the kernel writes dx
    only and dweight and dbias are the array code's."""
    pointer, call = kernel_call

    def run(gy, x, weight, mean, invstd, dims, affine_axes, batch_stats, needs):
        layout = normalize_layout(x.shape, dims, affine_axes)
        a, g, b, c, per_position = layout
        dx, dx_whole = _output(x.shape, x.dtype) if needs[0] else (None, None)
        sums, sums_whole = (None, None) if per_position else _output((2, g), x.dtype)
        call(library.emulated_normalize_backward, ctypes.c_int(x.dtype == np.float64),
             pointer(gy), pointer(x), None if weight is None else pointer(weight),
             pointer(np.ascontiguousarray(mean)), pointer(np.ascontiguousarray(invstd)),
             None if dx is None else pointer(dx_whole),
             *((None, None) if sums is None else (pointer(sums[0]), pointer(sums[1]))),
             pointer(np.array(layout, np.int64)), ctypes.c_int(batch_stats))
        if dx is not None:
            _unguarded(dx_whole, "dx")
        if per_position:
            _, dweight, dbias = normalize_backward(gy, x, weight, mean, invstd, dims,
                                                   affine_axes, batch_stats,
                                                   (False, needs[1], needs[2]))
            return dx, dweight, dbias
        _unguarded(sums_whole, "the group sums")
        affine_shape = tuple(x.shape[i] for i in affine_axes)
        per_channel = [s.reshape(g // c, c).sum(axis=0).reshape(affine_shape) for s in sums]
        return dx, per_channel[1] if needs[1] else None, per_channel[0] if needs[2] else None

    return run


def _draw(shape, dtype, seed, affine=(True, True), affine_axes=(1,)):
    """x (shape) with a per-channel offset and scale (statistics far from 0 and 1), gy,
    weight and bias of the sizes of ``affine_axes`` (None where ``affine`` says so)."""
    rng = np.random.default_rng(seed)
    c = shape[1]
    offset = rng.uniform(-3, 3, c).reshape(1, c, *([1] * (len(shape) - 2)))
    x = (rng.standard_normal(shape) * rng.uniform(0.5, 2) + offset).astype(dtype)
    gy = rng.standard_normal(shape).astype(dtype)
    affine_shape = tuple(shape[i] for i in affine_axes)
    weight = rng.uniform(0.5, 1.5, affine_shape).astype(dtype) if affine[0] else None
    bias = rng.standard_normal(affine_shape).astype(dtype) if affine[1] else None
    return x, gy, weight, bias


def _as64(*arrays):
    return [None if a is None else a.astype(np.float64) for a in arrays]


def _assert_agree(got, want, dtype, what, floors=(0.0, 0.0, 0.0)):
    """Each output within tol of the reference, absolutely within tol times the larger of
    its greatest value and ``floors``: the size of the terms summed into it, which is what
    its rounding error is relative to when they cancel."""
    tol = TOLERANCE[dtype]
    for name, g, w, floor in zip(what, got, want, floors):
        if w is None:
            assert g is None, name
            continue
        assert g.dtype == dtype, name
        scale = max(np.max(np.abs(w), initial=0.0), floor)
        assert_close(g.astype(np.float64), w, rtol=tol, atol=tol * scale, msg=f"{name}: ")


def _assert_backward_agree(got, want, dtype, gy, x, weight, mean, invstd):
    """dx, dweight, dbias. With batch statistics dx = invstd w (gy - mean(gy) - x^ mean(gy
    x^)) cancels to almost nothing when a group holds two elements (x^ = +-1), so each
    output's scale is that of its terms: |gy| invstd |w| for dx, |gy x^| for dweight, |gy|
    for dbias."""
    gy, x, mean, invstd = (a.astype(np.float64) for a in (gy, x, mean, invstd))
    size = np.max(np.abs(gy), initial=0.0)
    factor = np.max(np.abs(invstd), initial=0.0) * (
        1.0 if weight is None else np.max(np.abs(weight), initial=0.0))
    xhat_gy = np.max(np.abs(gy * (x - mean) * invstd), initial=0.0)
    _assert_agree(got, want, dtype, ("dx", "dweight", "dbias"),
                  (size * factor, xhat_gy, size))


SHAPES = [(2, 3, 4, 4), (3, 2, 5, 7), (4, 5, 8, 8), (1, 2, 16, 16), (2, 1, 1, 3)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("layout", [BATCH, INSTANCE, LAYER], ids=["batch", "instance", "layer"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_forward_and_backward_match_the_array_code(forward, backward, shape, layout, dtype):
    _check_forward_and_backward(forward, backward, shape, layout, dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_layer_norm_over_the_last_axis_matches_the_array_code(forward, backward, dtype):
    """Per position with many small groups: one group per row of the last axis."""
    _check_forward_and_backward(forward, backward, (2, 3, 2, 9), ((3,), (3,)), dtype)


def _check_forward_and_backward(forward, backward, shape, layout, dtype):
    dims, affine_axes = layout
    x, gy, weight, bias = _draw(shape, dtype, seed=sum(shape), affine_axes=affine_axes)
    y, mean, invstd = forward(x, weight, bias, None, None, 0.0, dims, affine_axes, 1e-5)
    want = normalize_forward(*_as64(x, weight, bias), None, None, 0.0, dims, affine_axes,
                             1e-5)
    _assert_agree((y, mean, invstd), want, dtype, ("y", "mean", "invstd"))
    needs = (True, True, True)
    got = backward(gy, x, weight, mean, invstd, dims, affine_axes, True, needs)
    want = normalize_backward(*_as64(gy, x, weight, mean, invstd), dims, affine_axes, True,
                              needs)
    _assert_backward_agree(got, want, dtype, gy, x, weight, mean, invstd)


@pytest.mark.parametrize("n", [1, 2, 255, 256, 257, 600])
@pytest.mark.parametrize("b", [1, 16, 40])
def test_groups_around_the_256_thread_block(forward, backward, n, b):
    """A group of a b elements: a = ceil(n / b) images of b positions each, so that a
    thread's elements cross image rows at every offset."""
    a = -(-n // b)
    x, gy, weight, bias = _draw((a, 3, 1, b), np.float64, seed=n + b)
    y, mean, invstd = forward(x, weight, bias, None, None, 0.0, *BATCH, 1e-5)
    want = normalize_forward(x, weight, bias, None, None, 0.0, *BATCH, 1e-5)
    _assert_agree((y, mean, invstd), want, np.float64, ("y", "mean", "invstd"))
    needs = (True, True, True)
    _assert_backward_agree(backward(gy, x, weight, mean, invstd, *BATCH, True, needs),
                           normalize_backward(gy, x, weight, mean, invstd, *BATCH, True,
                                              needs),
                           np.float64, gy, x, weight, mean, invstd)


@pytest.mark.parametrize("layout", [INSTANCE, LAYER], ids=["instance", "layer"])
@pytest.mark.parametrize("affine", [(False, False), (True, False), (False, True)],
                         ids=["none", "weight", "bias"])
def test_missing_weight_or_bias_are_one_and_zero(forward, backward, affine, layout):
    x, gy, weight, bias = _draw((3, 4, 5, 5), np.float64, seed=4, affine=affine,
                                affine_axes=layout[1])
    y, mean, invstd = forward(x, weight, bias, None, None, 0.0, *layout, 1e-5)
    want = normalize_forward(x, weight, bias, None, None, 0.0, *layout, 1e-5)
    _assert_agree((y, mean, invstd), want, np.float64, ("y", "mean", "invstd"))
    needs = (True, weight is not None, bias is not None)
    _assert_backward_agree(backward(gy, x, weight, mean, invstd, *layout, True, needs),
                           normalize_backward(gy, x, weight, mean, invstd, *layout, True,
                                              needs),
                           np.float64, gy, x, weight, mean, invstd)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_running_averages_match_the_array_code_over_three_batches(forward, dtype):
    running = [np.zeros(5, dtype), np.ones(5, dtype)]
    expected = [r.astype(np.float64) for r in running]
    for step in range(3):
        x, _, weight, bias = _draw((4, 5, 3, 3), dtype, seed=10 + step)
        forward(x, weight, bias, *running, 0.1, *BATCH, 1e-5)
        normalize_forward(*_as64(x, weight, bias), *expected, 0.1, *BATCH, 1e-5)
        _assert_agree(running, expected, dtype, ("running_mean", "running_var"))


def test_without_running_statistics_nothing_else_is_written(forward):
    x, _, weight, bias = _draw((4, 5, 3, 3), np.float64, seed=1)
    before = [a.copy() for a in (x, weight, bias)]
    forward(x, weight, bias, None, None, 0.1, *BATCH, 1e-5)
    for a, b in zip((x, weight, bias), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("needs", [(True, True, True), (True, False, False),
                                   (False, True, True), (False, False, True)])
def test_given_statistics_give_the_eval_mode_gradient(backward, needs):
    """Eval-mode batch norm: mean and invstd are constants (here not the batch's own), so
    dx = invstd weight gy, and no dx at all when x needs none."""
    x, gy, weight, _ = _draw((3, 4, 2, 5), np.float64, seed=6)
    rng = np.random.default_rng(7)
    mean = rng.standard_normal((1, 4, 1, 1))
    invstd = rng.uniform(0.5, 2, (1, 4, 1, 1))
    _assert_agree(backward(gy, x, weight, mean, invstd, *BATCH, False, needs),
                  normalize_backward(gy, x, weight, mean, invstd, *BATCH, False, needs),
                  np.float64, ("dx", "dweight", "dbias"))


@pytest.mark.parametrize("layout", [INSTANCE, LAYER], ids=["instance", "layer"])
def test_dx_has_no_mean_and_no_component_along_xhat(forward, backward, layout):
    """With the batch's statistics and eps = 0, y does not change when x shifts or scales
    within a group: E[dx] = 0 and E[dx x̂] = 0 over every group."""
    dims, affine_axes = layout
    x, gy, weight, bias = _draw((3, 4, 6, 6), np.float64, seed=8, affine_axes=affine_axes)
    _, mean, invstd = forward(x, weight, bias, None, None, 0.0, dims, affine_axes, 0.0)
    dx, _, _ = backward(gy, x, weight, mean, invstd, dims, affine_axes, True,
                        (True, False, False))
    xhat = (x - mean) * invstd
    scale = np.abs(dx).mean()
    zeros = np.zeros(mean.shape)
    assert_close(dx.mean(axis=dims, keepdims=True), zeros, rtol=0, atol=1e-13 * scale)
    assert_close((dx * xhat).mean(axis=dims, keepdims=True), zeros, rtol=0,
                 atol=1e-13 * scale)


def test_each_pass_is_one_launch_and_repeats_bit_for_bit(forward, backward, library):
    """The emulator runs the blocks in a shuffled order: the sums of a group stay inside
    its block, in a fixed order, so two runs agree exactly."""
    x, gy, weight, bias = _draw((5, 6, 7, 3), np.float32, seed=9)
    before = library.emulated_launches()
    first = forward(x, weight, bias, None, None, 0.0, *BATCH, 1e-5)
    assert library.emulated_launches() == before + 1
    grads = backward(gy, x, weight, *first[1:], *BATCH, True, (True, True, True))
    assert library.emulated_launches() == before + 2
    again = forward(x, weight, bias, None, None, 0.0, *BATCH, 1e-5)
    for a, b in zip(first + grads, again + backward(gy, x, weight, *again[1:], *BATCH, True,
                                                    (True, True, True))):
        np.testing.assert_array_equal(a, b)


def test_no_groups_launch_nothing(forward, library):
    x = np.zeros((2, 0, 3, 3))
    before = library.emulated_launches()
    y, mean, invstd = forward(x, None, None, None, None, 0.0, *BATCH, 1e-5)
    assert library.emulated_launches() == before
    assert y.shape == (2, 0, 3, 3) and mean.shape == invstd.shape == (1, 0, 1, 1)


def test_a_group_without_elements_has_nan_statistics_as_numpy(forward):
    x = np.zeros((0, 3, 2, 2))
    _, mean, invstd = forward(x, None, None, None, None, 0.0, *BATCH, 1e-5)
    assert np.isnan(mean).all() and np.isnan(invstd).all()


@settings(max_examples=8, deadline=None)
@example(n=1, c=2, h=2, w=1, layout=BATCH, batch_stats=True, eps=1e-5)   # groups of two
@given(n=st.integers(1, 4), c=st.integers(1, 4), h=st.integers(1, 9), w=st.integers(1, 9),
       layout=st.sampled_from([BATCH, INSTANCE, LAYER]), batch_stats=st.booleans(),
       eps=st.sampled_from([1e-5, 1e-1]))
def test_drawn_shapes_match_the_array_code(forward, backward, n, c, h, w, layout,
                                           batch_stats, eps):
    x, gy, weight, bias = _draw((n, c, h, w), np.float64, seed=n * 1000 + c * 100 + h * 10 + w,
                                affine_axes=layout[1])
    y, mean, invstd = forward(x, weight, bias, None, None, 0.0, *layout, eps)
    want = normalize_forward(x, weight, bias, None, None, 0.0, *layout, eps)
    _assert_agree((y, mean, invstd), want, np.float64, ("y", "mean", "invstd"))
    needs = (True, True, True)
    _assert_backward_agree(
        backward(gy, x, weight, mean, invstd, *layout, batch_stats, needs),
        normalize_backward(gy, x, weight, mean, invstd, *layout, batch_stats, needs),
        np.float64, gy, x, weight, mean, invstd)


# ----------------------------------------------------------------------------------------
# The GPU launchers of minigan/cuda_kernels.py, run on the emulated kernels
# ----------------------------------------------------------------------------------------

@pytest.fixture
def launchers(library, kernel_call, stand_in_gpu, monkeypatch):
    """cuda_kernels.normalize_forward and normalize_backward on the emulated kernels (the
    outputs cupy.empty makes poisoned with NaN), through stand-ins that take the arguments
    of the bindings in csrc/bindings.cpp."""
    pointer, call = kernel_call

    def address(value):
        return ctypes.c_void_p(value or None)

    def cuda_normalize_forward(dtype, x, weight, bias, y, mean, var, invstd, a, g, b, c,
                               per_position, eps, running_mean, running_var, momentum,
                               stream):
        call(library.emulated_normalize_forward, ctypes.c_int(dtype == "float64"),
             *map(address, (x, weight, bias, y, mean, var, invstd)),
             pointer(np.array((a, g, b, c, per_position), np.int64)), ctypes.c_double(eps),
             address(running_mean), address(running_var), ctypes.c_double(momentum))

    def cuda_normalize_backward(dtype, grad_y, x, weight, mean, invstd, grad_x, sum_grad_y,
                                sum_grad_y_xhat, a, g, b, c, per_position, batch_stats,
                                stream):
        call(library.emulated_normalize_backward, ctypes.c_int(dtype == "float64"),
             *map(address, (grad_y, x, weight, mean, invstd, grad_x, sum_grad_y,
                            sum_grad_y_xhat)),
             pointer(np.array((a, g, b, c, per_position), np.int64)),
             ctypes.c_int(batch_stats))

    stand_in_gpu.install(monkeypatch, dict(cuda_normalize_forward=cuda_normalize_forward,
                                           cuda_normalize_backward=cuda_normalize_backward),
                         np.nan)
    return cuda_kernels.normalize_forward, cuda_kernels.normalize_backward


@pytest.mark.skipif(not extension.CUDA, reason="minigan._C was built without CUDA kernels")
@pytest.mark.parametrize("name", ["cuda_normalize_forward", "cuda_normalize_backward"])
def test_the_stand_ins_take_the_arguments_of_the_real_bindings(launchers, stand_in_gpu, name):
    assert stand_in_gpu.binding_parameters(name) == list(
        inspect.signature(getattr(extension.C, name)).parameters)


LAUNCHER_CASES = {  # name: shape, dims, affine axes, running statistics
    "batch with running averages": ((5, 4, 3, 6), BATCH, True),
    "batch 1-D": ((9, 7), ((0,), (1,)), False),
    "instance": ((3, 4, 5, 5), INSTANCE, False),
    "layer": ((3, 4, 5, 5), LAYER, False),
    "group (array code)": ((3, 2, 2, 25), ((2, 3), (1, 2)), False),
}


@pytest.mark.parametrize("name", sorted(LAUNCHER_CASES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_the_launchers_match_the_array_code(launchers, library, stand_in_gpu, name, dtype):
    """Forward and backward through the launchers (layout, contiguous copies, outputs,
    statistics reshaped to keepdims, per-channel sums, layer norm's array-code dweight and
    dbias, the fallback for group norm), on an x that is not C-contiguous."""
    forward_launcher, backward_launcher = launchers
    device = stand_in_gpu.device
    shape, (dims, affine_axes), with_running = LAUNCHER_CASES[name]
    x, gy, weight, bias = _draw(shape, dtype, seed=len(name), affine_axes=affine_axes)
    x = np.asfortranarray(x)
    running = [np.zeros(shape[1], dtype), np.ones(shape[1], dtype)] if with_running \
        else [None, None]
    expected = [None if r is None else r.astype(np.float64) for r in running]
    kernel = normalize_layout(shape, dims, affine_axes) is not None
    before = library.emulated_launches()
    got = forward_launcher(*map(device, (x, weight, bias, *running)), 0.1, dims,
                           affine_axes, 1e-5)
    want = normalize_forward(*_as64(x, weight, bias), *expected, 0.1, dims, affine_axes, 1e-5)
    _assert_agree(got, want, dtype, ("y", "mean", "invstd"))
    assert library.emulated_launches() == before + kernel
    if with_running:
        _assert_agree(running, expected, dtype, ("running_mean", "running_var"))
    for needs in [(True, True, True), (False, True, False), (True, False, False)]:
        grads = backward_launcher(*map(device, (gy, x, weight, *got[1:])), dims,
                                  affine_axes, True, needs)
        reference = normalize_backward(*_as64(gy, x, weight, *got[1:]), dims, affine_axes,
                                       True, needs)
        _assert_backward_agree(grads, reference, dtype, gy, x, weight, *got[1:])
