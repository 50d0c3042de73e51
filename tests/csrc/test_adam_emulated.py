"""csrc/cuda/adam.cuh, run on CPU threads by csrc/cuda/emulator.h, against minigan.optim.Adam
itself (its NumPy step, in float64) as the oracle: the trajectories of θ, m, v and v_max
over several steps, for every flag of the optimizer, one parameter or many in one launch
(each with its own size and its own step count), sizes around the 256-thread block, the
grid-stride loop, lists longer than one launch takes, and a NaN gradient element. Then the
GPU launcher of minigan/cuda_kernels.py on the same kernel, through the stand-in GPU."""
import ctypes
import inspect

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan import cuda_kernels, extension
from minigan.optim import Adam
from minigan.optim.adam import adam_step_arrays
from minigan.tensor import Tensor
from minigan.testing import assert_close

GUARD = 3                   # elements past `size` in every array: the kernel must not touch them
SENTINEL = -7.25
NAMES = ("param", "exp_avg", "exp_avg_sq", "max_exp_avg_sq")
TOLERANCE = {np.float64: 1e-14, np.float32: 1e-6}


def adam_config(**changes) -> dict:
    """Keyword arguments of minigan.optim.Adam, all of them, so that the kernel reads the
    same dict as the oracle."""
    config = dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                  maximize=False, decoupled_weight_decay=False)
    assert set(changes) <= set(config)
    return {**config, **changes}


CONFIGS = {
    "plain": adam_config(),
    "l2": adam_config(weight_decay=0.1),
    "decoupled": adam_config(weight_decay=0.1, decoupled_weight_decay=True),
    "maximize": adam_config(maximize=True),
    "amsgrad": adam_config(amsgrad=True),
    "amsgrad-maximize-l2": adam_config(amsgrad=True, maximize=True, weight_decay=0.05),
    "amsgrad-decoupled": adam_config(amsgrad=True, weight_decay=0.05,
                                     decoupled_weight_decay=True, betas=(0.5, 0.9)),
}


@pytest.fixture(scope="module")
def library(emulated):
    library = emulated("adam")
    library.emulated_launches.restype = ctypes.c_uint
    library.emulated_adam_blocks.restype = ctypes.c_int64
    library.emulated_adam_blocks.argtypes = [ctypes.c_int64]
    return library


@pytest.fixture(scope="module")
def capacity(library):
    return library.emulated_adam_list_capacity()


@pytest.fixture(scope="module")
def adam_step(library, kernel_call):
    """adam_step(states, grads, sizes, steps, config, blocks): one step in place of the
    parameters states[k] = [θ, m, v, v_max or None] with gradients grads[k], of sizes[k]
    elements at step steps[k], through the host launcher (blocks None) or in one launch
    with blocks[k] blocks for parameter k."""
    pointer, call = kernel_call

    def table(arrays):
        return (ctypes.c_void_p * len(arrays))(*[None if a is None else pointer(a).value
                                                 for a in arrays])

    def run(states, grads, sizes, steps, config, blocks=None):
        beta1, beta2 = config["betas"]
        scalars = np.array([config["lr"], beta1, beta2, config["eps"], config["weight_decay"]],
                           np.float64)
        corrections = np.array([(1 - beta1 ** t, 1 - beta2 ** t) for t in steps], np.float64)
        flags = np.array([config["decoupled_weight_decay"], config["maximize"]], np.int32)
        is_double = bool(states) and states[0][0].dtype == np.float64
        sizes = np.array(sizes, np.int64).reshape(-1)        # kept alive through the call
        corrections = corrections.reshape(-1)
        arguments = [ctypes.c_int(is_double), ctypes.c_int64(len(states)),
                     table([s[0] for s in states]), table(grads),
                     *(table([s[i] for s in states]) for i in (1, 2, 3)),
                     pointer(sizes), pointer(corrections), pointer(scalars), pointer(flags)]
        if blocks is None:
            call(library.emulated_adam_step, *arguments)
        else:
            blocks = np.array(blocks, np.int64)
            call(library.emulated_adam_step_kernel, *arguments, pointer(blocks))

    return run


def padded(values, n, dtype):
    array = np.full(n + GUARD, SENTINEL, dtype)
    array[:n] = values
    return array


def kernel_trajectories(adam_step, thetas, grads, config, dtype, blocks=None):
    """For each parameter k, [(θ, m, v, v_max or None) after each step] from the kernel, all
    parameters updated together in each call; grads[t][k] is parameter k's gradient at call
    t, or None when it has none then (it is left out of that call, and its own step count
    does not advance). Checks after every call that the gradients and the guard elements
    past every parameter's end are unchanged."""
    sizes = [theta.size for theta in thetas]
    states = [[padded(theta, n, dtype), padded(0, n, dtype), padded(0, n, dtype),
               padded(0, n, dtype) if config["amsgrad"] else None]
              for theta, n in zip(thetas, sizes)]
    steps = [0] * len(thetas)
    trajectories = [[] for _ in thetas]
    for step_grads in grads:
        chosen = [k for k, g in enumerate(step_grads) if g is not None]
        for k in chosen:
            steps[k] += 1
        gs = [padded(step_grads[k], sizes[k], dtype) for k in chosen]
        before = [g.copy() for g in gs]
        adam_step([states[k] for k in chosen], gs, [sizes[k] for k in chosen],
                  [steps[k] for k in chosen], config, blocks)
        for g, g_before in zip(gs, before):
            np.testing.assert_array_equal(g, g_before, err_msg="the gradient must only be read")
        for k in chosen:
            for name, array in zip(NAMES, states[k]):
                if array is not None:
                    assert np.all(array[sizes[k]:] == SENTINEL), \
                        f"parameter {k}, {name}: wrote past the last element"
            trajectories[k].append(tuple(None if a is None else a[:sizes[k]].copy()
                                         for a in states[k]))
    return trajectories


def oracle_trajectories(thetas, grads, config):
    """The same trajectories from minigan.optim.Adam on float64 tensors, one optimizer over
    all the parameters."""
    params = [Tensor(theta.astype(np.float64), requires_grad=True) for theta in thetas]
    optimizer = Adam(params, **config)
    trajectories = [[] for _ in thetas]
    for step_grads in grads:
        for param, grad in zip(params, step_grads):
            param.grad = None if grad is None else Tensor(grad.astype(np.float64))
        optimizer.step()
        for k, (param, grad) in enumerate(zip(params, step_grads)):
            if grad is None:
                continue
            state = optimizer.state[param]
            trajectories[k].append((param.data.copy(), state["exp_avg"].data.copy(),
                                    state["exp_avg_sq"].data.copy(),
                                    state["max_exp_avg_sq"].data.copy() if config["amsgrad"]
                                    else None))
    return trajectories


def assert_trajectories_agree(got, want, dtype):
    """Elementwise |got - want| <= tol (|want| + max |want|), tol 1e-14 (float64) or 1e-6
    (float32): relative, with an absolute floor at the array's scale where m and θ pass
    near zero."""
    tol = TOLERANCE[dtype]
    assert len(got) == len(want)
    for k, (got_k, want_k) in enumerate(zip(got, want)):
        assert len(got_k) == len(want_k)
        for t, (got_state, want_state) in enumerate(zip(got_k, want_k), start=1):
            for name, g, w in zip(NAMES, got_state, want_state):
                if w is None:
                    assert g is None
                    continue
                assert g.dtype == dtype
                scale = np.nanmax(np.abs(w), initial=0.0)
                assert_close(g.astype(np.float64), w, rtol=tol, atol=tol * scale,
                             equal_nan=True, msg=f"parameter {k}, its step {t}, {name}: ")


def draw(sizes, steps, dtype, seed):
    """θ (n,) for each n in `sizes` and `steps` lists of their gradients, standard
    normal, in `dtype`."""
    rng = np.random.default_rng(seed)
    thetas = [rng.standard_normal(n).astype(dtype) for n in sizes]
    return thetas, [[rng.standard_normal(n).astype(dtype) for n in sizes]
                    for _ in range(steps)]


def check(adam_step, sizes, steps, config, dtype, seed, blocks=None, absent=()):
    """Kernel against oracle for parameters of `sizes` over `steps` steps; the (step,
    parameter) pairs in `absent` have no gradient."""
    thetas, grads = draw(sizes, steps, dtype, seed)
    for t, k in absent:
        grads[t][k] = None
    got = kernel_trajectories(adam_step, thetas, grads, config, dtype, blocks)
    assert_trajectories_agree(got, oracle_trajectories(thetas, grads, config), dtype)
    return got


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_three_steps_match_minigan_adam(adam_step, name, dtype):
    check(adam_step, [300], 3, CONFIGS[name], dtype, seed=len(name))


@pytest.mark.parametrize("n", [1, 255, 256, 257, 1000])
def test_sizes_around_the_block_of_256_match_minigan_adam(adam_step, n):
    check(adam_step, [n], 2, CONFIGS["amsgrad-maximize-l2"], np.float64, seed=n)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_parameters_of_many_sizes_are_one_launch_and_each_matches_minigan_adam(
        adam_step, library, dtype):
    sizes = [1, 255, 0, 257, 1000, 3, 256]
    before = library.emulated_launches()
    check(adam_step, sizes, 3, CONFIGS["amsgrad-decoupled"], dtype, seed=11)
    assert library.emulated_launches() == before + 3


def test_each_parameter_takes_the_bias_corrections_of_its_own_step_count(adam_step):
    """Parameter 1 has no gradient at the first step and parameter 2 none at the second:
    in the third call their step counts are 3, 2 and 2, and Adam's bias corrections differ."""
    check(adam_step, [40, 300, 7], 4, CONFIGS["amsgrad"], np.float64, seed=5,
          absent=[(0, 1), (1, 2)])


def test_a_list_longer_than_one_launch_takes_is_split_into_launches(adam_step, library,
                                                                    capacity):
    count = 2 * capacity + 5
    sizes = [1 + (k * 7) % 300 for k in range(count)]
    before = library.emulated_launches()
    check(adam_step, sizes, 1, CONFIGS["l2"], np.float32, seed=count)
    assert library.emulated_launches() == before + 3
    assert capacity == 32


@pytest.mark.parametrize("sizes, blocks", [([1000], [2]), ([600], [1]),
                                           ([513, 1000, 1, 600], [2, 1, 1, 2])])
def test_a_run_smaller_than_its_parameter_loops_over_every_element(adam_step, sizes, blocks):
    check(adam_step, sizes, 2, CONFIGS["amsgrad"], np.float64, seed=sum(blocks),
          blocks=blocks)


def test_parameters_of_size_zero_alone_launch_nothing_and_touch_nothing(adam_step, library):
    states = [[np.full(4, SENTINEL) for _ in NAMES] for _ in range(3)]
    grads = [np.ones(4) for _ in range(3)]
    before = library.emulated_launches()
    adam_step(states, grads, [0, 0, 0], [1, 1, 1], CONFIGS["amsgrad"])
    adam_step([], [], [], [], CONFIGS["amsgrad"])
    assert library.emulated_launches() == before
    for state in states:
        for name, array in zip(NAMES, state):
            assert np.all(array == SENTINEL), name


@pytest.mark.parametrize("n, blocks", [(0, 0), (1, 1), (256, 1), (257, 2), (4224 * 256, 4224),
                                       (4224 * 256 + 1, 4224), (10 ** 10, 4224)])
def test_a_run_has_a_block_per_256_elements_up_to_4224(library, n, blocks):
    assert library.emulated_adam_blocks(n) == blocks


@pytest.mark.parametrize("config", ["plain", "amsgrad"])
def test_a_nan_gradient_element_stays_in_its_element(adam_step, config):
    thetas, grads = draw([300, 50], 3, np.float64, seed=7)
    grads[0][0][123] = np.nan                   # step 1 only; steps 2 and 3 are finite
    got = kernel_trajectories(adam_step, thetas, grads, CONFIGS[config], np.float64)
    assert_trajectories_agree(got, oracle_trajectories(thetas, grads, CONFIGS[config]),
                              np.float64)
    others = np.arange(300) != 123
    for name, array in zip(NAMES, got[0][-1]):
        if array is not None:
            assert np.isnan(array[123]), f"{name}: the NaN was lost"
            assert np.all(np.isfinite(array[others])), f"{name}: the NaN spread"
    for name, array in zip(NAMES, got[1][-1]):
        if array is not None:
            assert np.all(np.isfinite(array)), f"{name}: the NaN reached another parameter"


@settings(max_examples=10, deadline=None)
@given(sizes=st.lists(st.integers(0, 300), min_size=1, max_size=4), steps=st.integers(1, 3),
       lr=st.floats(1e-4, 1e-1), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       eps=st.floats(1e-12, 1e-3), weight_decay=st.sampled_from([0.0, 0.05]),
       amsgrad=st.booleans(), maximize=st.booleans(), decoupled=st.booleans())
def test_drawn_hyperparameters_match_minigan_adam(adam_step, sizes, steps, lr, beta1, beta2,
                                                  eps, weight_decay, amsgrad, maximize,
                                                  decoupled):
    config = adam_config(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled)
    check(adam_step, sizes, steps, config, np.float64, seed=sum(sizes) * 10 + steps)


# ----------------------------------------------------------------------------------------
# The GPU launcher of minigan/cuda_kernels.py, run on the emulated kernel
# ----------------------------------------------------------------------------------------

@pytest.fixture
def launcher(library, kernel_call, stand_in_gpu, monkeypatch):
    """minigan.cuda_kernels.adam_step on the emulated kernel, through a stand-in that takes
    the arguments of the binding cuda_adam_step in csrc/bindings.cpp."""
    _, call = kernel_call

    def cuda_adam_step(dtype, params, grads, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, sizes,
                       bias_corrections1, bias_corrections2, lr, beta1, beta2, eps,
                       weight_decay, decoupled_weight_decay, maximize, stream):
        def table(pointers):
            return (ctypes.c_void_p * len(pointers))(*[p or None for p in pointers])
        sizes = np.array(sizes, np.int64)
        corrections = np.array([bias_corrections1, bias_corrections2], np.float64).T.copy()
        scalars = np.array([lr, beta1, beta2, eps, weight_decay], np.float64)
        flags = np.array([decoupled_weight_decay, maximize], np.int32)
        pointer = kernel_call[0]
        call(library.emulated_adam_step, ctypes.c_int(dtype == "float64"),
             ctypes.c_int64(len(params)), table(params), table(grads), table(exp_avgs),
             table(exp_avg_sqs), table(max_exp_avg_sqs), pointer(sizes),
             pointer(corrections.reshape(-1)), pointer(scalars), pointer(flags))

    stand_in_gpu.install(monkeypatch, {"cuda_adam_step": cuda_adam_step}, np.nan)
    return cuda_kernels.adam_step


@pytest.mark.skipif(not extension.CUDA, reason="minigan._C was built without CUDA kernels")
def test_the_stand_in_takes_the_arguments_of_the_real_binding(launcher, stand_in_gpu):
    assert stand_in_gpu.binding_parameters("cuda_adam_step") == \
        list(inspect.signature(extension.C.cuda_adam_step).parameters)


def group(shapes, dtype, amsgrad, seed, device=lambda a: a):
    """Lists of K parameters' arrays (θ, ∇, m, v, v_max or None), m and v as after some
    steps (v >= 0), every array through ``device``; the first θ is Fortran-ordered (not
    C-contiguous) and the last ∇ a strided view."""
    rng = np.random.default_rng(seed)
    lists = [[], [], [], [], []]
    for k, shape in enumerate(shapes):
        theta = rng.standard_normal(shape).astype(dtype)
        grad = rng.standard_normal((*shape[:-1], 2 * shape[-1])).astype(dtype)[..., ::2]
        v = rng.standard_normal(shape).astype(dtype) ** 2
        arrays = [np.asfortranarray(theta) if k == 0 else theta,
                  grad if k == len(shapes) - 1 else np.ascontiguousarray(grad),
                  rng.standard_normal(shape).astype(dtype), v, 2 * v if amsgrad else None]
        for entries, a in zip(lists, arrays):
            entries.append(None if a is None else device(a))
    return lists


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("amsgrad", [False, True])
def test_the_launcher_matches_the_array_code_in_one_launch(launcher, library, stand_in_gpu,
                                                           dtype, amsgrad):
    shapes = [(4, 6), (300,), (0, 3), (2, 3, 5)]
    got = group(shapes, dtype, amsgrad, seed=3, device=stand_in_gpu.device)
    want = group(shapes, dtype, amsgrad, seed=3)
    assert not got[0][0].flags.c_contiguous and not got[1][-1].flags.c_contiguous
    step = ([0.1, 0.5, 0.2, 0.3], [0.001, 0.01, 0.002, 0.003], 1e-2, 0.9, 0.999, 1e-8, 0.05,
            True, True)
    grads_before = [g.copy() for g in got[1]]
    before = library.emulated_launches()
    launcher(*got, *step)
    assert library.emulated_launches() == before + 1
    adam_step_arrays(*want, *step)
    for name, got_entries, want_entries in zip(("param", "grad", "exp_avg", "exp_avg_sq",
                                                "max_exp_avg_sq"), got, want):
        for k, (g, w) in enumerate(zip(got_entries, want_entries)):
            if w is None:
                assert g is None
                continue
            assert_close(np.asarray(g, np.float64), w.astype(np.float64),
                         rtol=TOLERANCE[dtype], atol=TOLERANCE[dtype] * 4,
                         msg=f"{name} of parameter {k}: ")
    for g, g_before in zip(got[1], grads_before):
        np.testing.assert_array_equal(g, g_before)


def test_the_launcher_hands_float16_to_the_array_code_and_launches_nothing(launcher, library,
                                                                           stand_in_gpu):
    got = group([(3, 4), (5,)], np.float16, False, seed=4, device=stand_in_gpu.device)
    want = group([(3, 4), (5,)], np.float16, False, seed=4)
    step = ([0.1, 0.1], [0.001, 0.001], 1e-2, 0.9, 0.999, 1e-4, 0.0, False, False)
    before = library.emulated_launches()
    launcher(*got, *step)
    adam_step_arrays(*want, *step)
    assert library.emulated_launches() == before
    for got_entries, want_entries in zip(got[:4], want[:4]):
        for g, w in zip(got_entries, want_entries):
            np.testing.assert_array_equal(g, w)


def test_the_launcher_with_no_parameters_does_nothing(launcher, library):
    before = library.emulated_launches()
    launcher([], [], [], [], [], [], [], 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False)
    assert library.emulated_launches() == before


def test_the_launcher_refuses_a_parameter_whose_arrays_differ_in_shape(launcher,
                                                                       stand_in_gpu):
    lists = group([(3, 4), (5,)], np.float32, False, seed=5, device=stand_in_gpu.device)
    lists[2][1] = stand_in_gpu.device(np.zeros(6, np.float32))
    with pytest.raises(ValueError, match=r"adam_step \(cuda\): all arrays of parameter 1 must "
                                         r"have its shape, got param \(5,\), grad \(5,\), "
                                         r"exp_avg \(6,\), exp_avg_sq \(5,\)"):
        launcher(*lists, [0.1, 0.1], [0.1, 0.1], 1e-2, 0.9, 0.999, 1e-8, 0.0, False, False)
