"""Adam and AdamW: trajectories against the algorithm written out in NumPy."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.optim import Adam, AdamW


def adam_oracle(lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                maximize=False, decoupled=False):
    beta1, beta2 = betas

    def update(theta, grad, state, t):
        g = -grad if maximize else grad
        if weight_decay != 0 and decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        state["m"] = beta1 * state.get("m", 0.0) + (1 - beta1) * g
        state["v"] = beta2 * state.get("v", 0.0) + (1 - beta2) * g ** 2
        v = state["v"]
        if amsgrad:
            v = state["v_max"] = np.maximum(state.get("v_max", 0.0), v)
        m_hat = state["m"] / (1 - beta1 ** t)
        v_hat = v / (1 - beta2 ** t)
        return theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return update


OPTIONS = [dict(betas=b, weight_decay=w, amsgrad=a, maximize=x)
           for b, w, a, x in itertools.product(((0.9, 0.999), (0.0, 0.9)), (0.0, 0.1),
                                               (False, True), (False, True))]


def _id(options):
    return ",".join(f"{k}={v}" for k, v in options.items())


@pytest.mark.parametrize("options", OPTIONS, ids=_id)
def test_adam_matches_formula(check_against_oracle, options):
    check_against_oracle(lambda ps: Adam(ps, lr=0.05, **options), adam_oracle(0.05, **options))


@pytest.mark.parametrize("options", OPTIONS, ids=_id)
def test_adamw_matches_formula(check_against_oracle, options):
    check_against_oracle(lambda ps: AdamW(ps, lr=0.05, **options),
                         adam_oracle(0.05, decoupled=True, **options))


@settings(max_examples=10)
@given(lr=st.floats(0, 0.1), beta1=st.floats(0, 0.99), beta2=st.floats(0, 0.9999),
       eps=st.floats(1e-10, 1e-2), weight_decay=st.floats(0, 0.5), decoupled=st.booleans())
def test_adam_matches_formula_for_any_hyperparameters(check_against_oracle, lr, beta1, beta2,
                                                       eps, weight_decay, decoupled):
    options = dict(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
    check_against_oracle(lambda ps: Adam(ps, decoupled_weight_decay=decoupled, **options),
                         adam_oracle(decoupled=decoupled, **options))


@pytest.mark.parametrize("optimizer, decoupled", [(Adam, False), (AdamW, True)])
def test_adam_float32_keeps_dtype_and_matches_formula(check_against_oracle, optimizer,
                                                      decoupled):
    options = dict(betas=(0.5, 0.9), weight_decay=0.1, amsgrad=True)
    check_against_oracle(lambda ps: optimizer(ps, lr=0.01, **options),
                         adam_oracle(0.01, decoupled=decoupled, **options), dtype=np.float32)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.0, 0.9)])
def test_amsgrad_changes_the_trajectory_in_these_tests(harness, betas):
    """Else the amsgrad cases above would not test the running maximum."""
    plain, _ = harness.run_minigan(lambda ps: Adam(ps, lr=0.05, betas=betas), harness.steps)
    ams, _ = harness.run_minigan(lambda ps: Adam(ps, lr=0.05, betas=betas, amsgrad=True),
                                 harness.steps)
    assert any(not np.allclose(a.data, b.data, rtol=1e-6, atol=0) for a, b in zip(plain, ams))


@pytest.mark.parametrize("make", [lambda ps: Adam(ps, lr=0.05, betas=(0.0, 0.9)),
                                  lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.1),
                                  lambda ps: AdamW(ps, lr=0.05, amsgrad=True)],
                         ids=["adam", "adam-amsgrad-l2", "adamw-amsgrad"])
def test_adam_resume_from_state_dict_is_bit_identical(check_resume, make):
    check_resume(make)


def test_adam_state_holds_step_and_moments():
    p = mg.zeros(2, 3, dtype=mg.float32, requires_grad=True)
    opt = Adam([p], amsgrad=True)
    for _ in range(3):
        p.grad = mg.ones(2, 3, dtype=mg.float32)
        opt.step()
    state = opt.state[p]
    assert state["step"] == 3 and isinstance(state["step"], int)
    for key in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"):
        assert isinstance(state[key], mg.Tensor)
        assert state[key].shape == (2, 3) and state[key].dtype == mg.float32


def test_a_group_is_one_adam_step_per_dtype_and_each_parameter_steps_as_if_alone(
        monkeypatch):
    """Parameters of two dtypes, one of which has no gradient at the first step: the group
    makes one call of the registered op "adam_step" per dtype, and each parameter ends
    bit for bit where an Adam of its own, stepped only when it has a gradient, ends."""
    from minigan.optim import adam
    rng = np.random.default_rng(3)
    starts = [rng.standard_normal(shape) for shape in ((3, 4), (5,), (2, 2, 2))]
    dtypes = [np.float64, np.float32, np.float64]
    grads = [[None if (t, k) == (0, 2) else rng.standard_normal(start.shape)
              for k, start in enumerate(starts)] for t in range(3)]

    def params():
        return [mg.tensor(start, dtype=dtype, requires_grad=True)
                for start, dtype in zip(starts, dtypes)]
    options = dict(lr=0.05, betas=(0.5, 0.9), amsgrad=True, weight_decay=0.1)
    together, alone = params(), params()
    group, apart = Adam(together, **options), [Adam([p], **options) for p in alone]
    calls = []
    implementation = adam.implementation

    def counted(op, device_type):
        calls.append(op)
        return implementation(op, device_type)
    monkeypatch.setattr(adam, "implementation", counted)
    for step_grads in grads:
        for p, q, g, optimizer in zip(together, alone, step_grads, apart):
            p.grad = q.grad = None if g is None else mg.tensor(g, dtype=p.dtype)
            if g is not None:
                optimizer.step()
        calls.clear()
        group.step()
        assert calls == ["adam_step", "adam_step"]
    for p, q, optimizer in zip(together, alone, apart):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        for key, value in optimizer.state[q].items():
            want = value if key == "step" else value.numpy()
            got = group.state[p][key]
            np.testing.assert_array_equal(got if key == "step" else got.numpy(), want)
    assert group.state[together[2]]["step"] == 2


def test_adam_and_adamw_defaults_are_pytorchs():
    p = [mg.zeros(2, requires_grad=True)]
    common = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, amsgrad=False, maximize=False)
    assert Adam(p).defaults == dict(common, weight_decay=0.0, decoupled_weight_decay=False)
    assert AdamW(p).defaults == dict(common, weight_decay=1e-2, decoupled_weight_decay=True)


@pytest.mark.parametrize("optimizer", [Adam, AdamW])
@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-1e-3), r"invalid lr -0\.001"),
    (dict(eps=-1e-8), r"invalid eps -1e-08"),
    (dict(weight_decay=-0.1), r"invalid weight_decay -0\.1"),
    (dict(betas=(1.0, 0.999)), r"invalid beta at index 0: 1\.0"),
    (dict(betas=(0.9, -0.1)), r"invalid beta at index 1: -0\.1"),
    (dict(betas=(0.9, 0.99, 0.9)), r"betas must be a pair"),
])
def test_adam_rejects_bad_hyperparameters(optimizer, kwargs, match):
    with pytest.raises(ValueError, match=f"{optimizer.__name__}: {match}"):
        optimizer([mg.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("name, options", [
    ("Adam", dict()), ("Adam", dict(betas=(0.0, 0.9), weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(maximize=True, amsgrad=True)), ("AdamW", dict()),
    ("AdamW", dict(betas=(0.5, 0.99), weight_decay=0.3, amsgrad=True, maximize=True)),
])
def test_adam_matches_torch(check_against_torch, name, options):
    check_against_torch(name, lr=0.05, **options)
