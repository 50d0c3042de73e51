"""csrc/cuda/adam.cuh, run on CPU threads by csrc/cuda/emulator.h, against minigan.optim.Adam
itself (its NumPy step, in float64) as the oracle: the trajectory of θ, m, v and v_max over
several steps, with the bias corrections of t = 1, 2, 3, for every flag of the optimizer,
sizes around the 256-thread block, the grid-stride loop, and a NaN gradient element."""
import ctypes

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minigan.optim import Adam
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
def adam_step(library, kernel_call):
    """adam_step(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, size, config, t, blocks):
    one step in place, through the host launcher (blocks None) or with a grid of `blocks`."""
    pointer, call = kernel_call

    def run(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, size, config, t, blocks=None):
        beta1, beta2 = config["betas"]
        scalars = np.array([config["lr"], beta1, beta2, config["eps"], config["weight_decay"],
                            1 - beta1 ** t, 1 - beta2 ** t], np.float64)
        flags = np.array([config["decoupled_weight_decay"], config["maximize"]], np.int32)
        arrays = [pointer(param), pointer(grad), pointer(exp_avg), pointer(exp_avg_sq),
                  None if max_exp_avg_sq is None else pointer(max_exp_avg_sq)]
        common = [ctypes.c_int(param.dtype == np.float64), *arrays, ctypes.c_int64(size),
                  pointer(scalars), pointer(flags)]
        if blocks is None:
            call(library.emulated_adam_step, *common)
        else:
            call(library.emulated_adam_step_kernel, *common, ctypes.c_uint(blocks))

    return run


def kernel_trajectory(adam_step, theta, grads, config, dtype, blocks=None):
    """[(θ, m, v, v_max or None) after step t for t = 1, 2, ...] from the kernel, starting
    from m = v = v_max = 0; checks after every step that ∇ and the guard elements past the
    parameter's end are unchanged."""
    n = theta.size

    def padded(values):
        array = np.full(n + GUARD, SENTINEL, dtype)
        array[:n] = values
        return array

    state = [padded(theta), padded(0), padded(0), padded(0) if config["amsgrad"] else None]
    trajectory = []
    for t, grad in enumerate(grads, start=1):
        g = padded(grad)
        g_before = g.copy()
        adam_step(state[0], g, *state[1:], n, config, t, blocks)
        np.testing.assert_array_equal(g, g_before, err_msg="the gradient must only be read")
        for name, array in zip(NAMES, state):
            if array is not None:
                assert np.all(array[n:] == SENTINEL), f"{name}: wrote past the last element"
        trajectory.append(tuple(None if a is None else a[:n].copy() for a in state))
    return trajectory


def oracle_trajectory(theta, grads, config):
    """The same trajectory from minigan.optim.Adam on float64 tensors."""
    param = Tensor(theta.astype(np.float64), requires_grad=True)
    optimizer = Adam([param], **config)
    trajectory = []
    for grad in grads:
        param.grad = Tensor(grad.astype(np.float64))
        optimizer.step()
        state = optimizer.state[param]
        trajectory.append((param.data.copy(), state["exp_avg"].data.copy(),
                           state["exp_avg_sq"].data.copy(),
                           state["max_exp_avg_sq"].data.copy() if config["amsgrad"] else None))
    return trajectory


def assert_trajectories_agree(got, want, dtype):
    """Elementwise |got - want| <= tol (|want| + max |want|), tol 1e-14 (float64) or 1e-6
    (float32): relative, with an absolute floor at the array's scale where m and θ pass
    near zero."""
    tol = TOLERANCE[dtype]
    assert len(got) == len(want)
    for t, (got_state, want_state) in enumerate(zip(got, want), start=1):
        for name, g, w in zip(NAMES, got_state, want_state):
            if w is None:
                assert g is None
                continue
            assert g.dtype == dtype
            scale = np.nanmax(np.abs(w), initial=0.0)
            assert_close(g.astype(np.float64), w, rtol=tol, atol=tol * scale, equal_nan=True,
                         msg=f"step {t}, {name}: ")


def draw(n, steps, dtype, seed):
    """θ (n,) and `steps` gradients (n,), standard normal, in `dtype`."""
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal(n).astype(dtype)
    return theta, [rng.standard_normal(n).astype(dtype) for _ in range(steps)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("name", list(CONFIGS))
def test_three_steps_match_minigan_adam(adam_step, name, dtype):
    theta, grads = draw(300, 3, dtype, seed=len(name))
    config = CONFIGS[name]
    assert_trajectories_agree(kernel_trajectory(adam_step, theta, grads, config, dtype),
                              oracle_trajectory(theta, grads, config), dtype)


@pytest.mark.parametrize("n", [1, 255, 256, 257, 1000])
def test_sizes_around_the_block_of_256_match_minigan_adam(adam_step, n):
    theta, grads = draw(n, 2, np.float64, seed=n)
    config = CONFIGS["amsgrad-maximize-l2"]
    assert_trajectories_agree(kernel_trajectory(adam_step, theta, grads, config, np.float64),
                              oracle_trajectory(theta, grads, config), np.float64)


@pytest.mark.parametrize("n, blocks", [(1000, 2), (600, 1), (513, 2)])
def test_a_grid_smaller_than_the_parameter_loops_over_every_element(adam_step, n, blocks):
    theta, grads = draw(n, 2, np.float64, seed=n + blocks)
    config = CONFIGS["amsgrad"]
    got = kernel_trajectory(adam_step, theta, grads, config, np.float64, blocks=blocks)
    assert_trajectories_agree(got, oracle_trajectory(theta, grads, config), np.float64)


def test_size_zero_launches_nothing_and_touches_nothing(adam_step, library):
    arrays = [np.full(4, SENTINEL) for _ in NAMES]
    grad = np.ones(4)
    before = library.emulated_launches()
    adam_step(arrays[0], grad, *arrays[1:], 0, CONFIGS["amsgrad"], 1)
    assert library.emulated_launches() == before
    for name, array in zip(NAMES, arrays):
        assert np.all(array == SENTINEL), name


def test_one_step_of_one_parameter_is_one_launch(adam_step, library):
    theta, (grad,) = draw(1000, 1, np.float32, seed=0)
    before = library.emulated_launches()
    adam_step(theta, grad, np.zeros(1000, np.float32), np.zeros(1000, np.float32),
              np.zeros(1000, np.float32), 1000, CONFIGS["amsgrad-maximize-l2"], 1)
    assert library.emulated_launches() == before + 1


@pytest.mark.parametrize("n, blocks", [(0, 0), (1, 1), (256, 1), (257, 2), (4224 * 256, 4224),
                                       (4224 * 256 + 1, 4224), (10 ** 10, 4224)])
def test_the_grid_has_a_block_per_256_elements_up_to_4224(library, n, blocks):
    assert library.emulated_adam_blocks(n) == blocks


@pytest.mark.parametrize("config", ["plain", "amsgrad"])
def test_a_nan_gradient_element_stays_in_its_element(adam_step, config):
    theta, grads = draw(300, 3, np.float64, seed=7)
    grads[0][123] = np.nan                      # step 1 only; steps 2 and 3 are finite
    got = kernel_trajectory(adam_step, theta, grads, CONFIGS[config], np.float64)
    assert_trajectories_agree(got, oracle_trajectory(theta, grads, CONFIGS[config]),
                              np.float64)
    others = np.arange(300) != 123
    for name, array in zip(NAMES, got[-1]):
        if array is not None:
            assert np.isnan(array[123]), f"{name}: the NaN was lost"
            assert np.all(np.isfinite(array[others])), f"{name}: the NaN spread"


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 300), steps=st.integers(1, 3),
       lr=st.floats(1e-4, 1e-1), beta1=st.floats(0.0, 0.99), beta2=st.floats(0.0, 0.9999),
       eps=st.floats(1e-12, 1e-3), weight_decay=st.sampled_from([0.0, 0.05]),
       amsgrad=st.booleans(), maximize=st.booleans(), decoupled=st.booleans())
def test_drawn_hyperparameters_match_minigan_adam(adam_step, n, steps, lr, beta1, beta2, eps,
                                                  weight_decay, amsgrad, maximize, decoupled):
    config = adam_config(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=decoupled)
    theta, grads = draw(n, steps, np.float64, seed=n * 10 + steps)
    assert_trajectories_agree(kernel_trajectory(adam_step, theta, grads, config, np.float64),
                              oracle_trajectory(theta, grads, config), np.float64)
