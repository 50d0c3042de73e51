"""Harness shared by the optimizer tests: a run of a minigan optimizer against an oracle
written out in float64 NumPy, and a resumed run against an uninterrupted one.

Both runs see the same gradients: g = θ³ - θ/2 + c_t, the gradient of
f_t(θ) = Σ θ⁴/4 - θ²/4 + c_t θ, with fixed random c_t, so each gradient depends on the
current parameters (state errors compound) and never vanishes.
"""
import copy
from types import SimpleNamespace

import numpy as np
import pytest

import minigan as mg
from minigan.testing import assert_close

SHAPES = [(3, 4), (5,)]
STEPS = 6


def initial_values():
    rng = np.random.default_rng(0)
    return [rng.uniform(-1.5, 1.5, size=shape) for shape in SHAPES]


def offsets(steps):
    rng = np.random.default_rng(1)
    return [[rng.normal(size=shape) for shape in SHAPES] for _ in range(steps)]


def gradient(theta, c):
    return theta ** 3 - theta / 2 + c


def run_minigan(make_optimizer, steps, dtype=np.float64, params=None, optimizer=None,
                first_step=0, device="cpu"):
    """Run ``steps`` steps from ``first_step``; returns (params, optimizer)."""
    if params is None:
        params = [mg.tensor(v, dtype=dtype, device=device, requires_grad=True)
                  for v in initial_values()]
    optimizer = optimizer or make_optimizer(params)
    for cs in offsets(first_step + steps)[first_step:]:
        for p, c in zip(params, cs):
            theta = p.detach().cpu().numpy()
            p.grad = mg.tensor(gradient(theta, c.astype(p.dtype)), device=p.device)
        optimizer.step()
    return params, optimizer


def run_oracle(update, steps):
    """``update(theta, g, state, t)`` -> new theta, on float64 arrays, t = 1, 2, ..."""
    thetas = initial_values()
    states = [{} for _ in thetas]
    for t, cs in enumerate(offsets(steps), start=1):
        thetas = [update(theta, gradient(theta, c), state, t)
                  for theta, c, state in zip(thetas, cs, states)]
    return thetas


@pytest.fixture(scope="session")
def harness():
    """The functions above, for tests that need a run of their own."""
    return SimpleNamespace(run_minigan=run_minigan, run_oracle=run_oracle, steps=STEPS)


@pytest.fixture(scope="session")
def check_against_oracle():
    """check(make_optimizer, update): the minigan run equals the oracle after each of
    STEPS steps (float64: to 1e-12; float32: to float32 accuracy, dtype kept)."""
    def check(make_optimizer, update, dtype=np.float64, steps=STEPS):
        for n in range(1, steps + 1):
            params, _ = run_minigan(make_optimizer, n, dtype)
            for p, expected in zip(params, run_oracle(update, n)):
                assert p.dtype == dtype
                if dtype == np.float64:
                    assert_close(p, expected, rtol=1e-12, atol=1e-14, msg=f"step {n}: ")
                else:
                    assert_close(p, expected, rtol=2e-5, atol=2e-6, msg=f"step {n}: ")
    return check


@pytest.fixture(scope="session")
def check_resume():
    """check(make_optimizer): k steps, state_dict, a fresh optimizer on fresh parameters
    loads it, the remaining steps run: bit-identical to an uninterrupted run."""
    def check(make_optimizer, k=3, total=STEPS):
        straight, _ = run_minigan(make_optimizer, total)
        first, optimizer = run_minigan(make_optimizer, k)
        saved = copy.deepcopy(optimizer.state_dict())
        del optimizer
        params = [mg.tensor(p.data, requires_grad=True) for p in first]
        resumed = make_optimizer(params)
        resumed.load_state_dict(saved)
        run_minigan(make_optimizer, total - k, params=params, optimizer=resumed, first_step=k)
        for a, b in zip(params, straight):
            np.testing.assert_array_equal(a.data, b.data)
    return check


@pytest.fixture(scope="session")
def check_against_torch():
    """check(name, **hyperparameters): ``minigan.optim.<name>`` and ``torch.optim.<name>``
    built with the same keywords follow the same float64 trajectory (skipped without
    torch)."""
    def check(name, **hyperparameters):
        torch = pytest.importorskip("torch")
        params = [torch.tensor(v, requires_grad=True) for v in initial_values()]
        optimizer = getattr(torch.optim, name)(params, **hyperparameters)
        for cs in offsets(STEPS):
            for p, c in zip(params, cs):
                p.grad = torch.from_numpy(gradient(p.detach().numpy(), c))
            optimizer.step()
        ours, _ = run_minigan(lambda ps: getattr(mg.optim, name)(ps, **hyperparameters), STEPS)
        for a, b in zip(ours, params):
            assert_close(a, b.detach().numpy(), rtol=1e-12, atol=1e-14)
    return check
