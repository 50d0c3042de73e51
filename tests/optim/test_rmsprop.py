"""RMSprop: trajectories against the algorithm written out in NumPy, for every option."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.optim import RMSprop


def rmsprop_oracle(lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                   maximize=False):
    def update(theta, grad, state, t):
        g = -grad if maximize else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        state["v"] = alpha * state.get("v", 0.0) + (1 - alpha) * g ** 2
        v_tilde = state["v"]
        if centered:
            state["g_ave"] = alpha * state.get("g_ave", 0.0) + (1 - alpha) * g
            v_tilde = v_tilde - state["g_ave"] ** 2
        if momentum > 0:
            state["b"] = momentum * state.get("b", 0.0) + g / (np.sqrt(v_tilde) + eps)
            return theta - lr * state["b"]
        return theta - lr * g / (np.sqrt(v_tilde) + eps)
    return update


OPTIONS = [dict(alpha=a, weight_decay=w, momentum=m, centered=c, maximize=x)
           for a, w, m, c, x in itertools.product((0.99, 0.5), (0.0, 0.1), (0.0, 0.9),
                                                  (False, True), (False, True))]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                  o.items()))
def test_rmsprop_matches_formula(check_against_oracle, options):
    check_against_oracle(lambda ps: RMSprop(ps, lr=0.01, **options),
                         rmsprop_oracle(0.01, **options))


@settings(max_examples=10)
@given(lr=st.floats(0, 0.05), alpha=st.floats(0.5, 0.999), eps=st.floats(1e-10, 1e-2),
       weight_decay=st.floats(0, 0.5), momentum=st.floats(0, 0.99), centered=st.booleans())
def test_rmsprop_matches_formula_for_any_hyperparameters(check_against_oracle, lr, alpha, eps,
                                                         weight_decay, momentum, centered):
    options = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                   centered=centered)
    check_against_oracle(lambda ps: RMSprop(ps, **options), rmsprop_oracle(**options))


def test_rmsprop_float32_keeps_dtype_and_matches_formula(check_against_oracle):
    options = dict(alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)
    check_against_oracle(lambda ps: RMSprop(ps, lr=5e-3, **options),
                         rmsprop_oracle(5e-3, **options), dtype=np.float32)


@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9, centered=True, alpha=0.9)])
def test_rmsprop_resume_from_state_dict_is_bit_identical(check_resume, options):
    check_resume(lambda ps: RMSprop(ps, lr=0.01, **options))


def test_rmsprop_state_holds_only_what_the_options_use():
    p, q = mg.zeros(3, requires_grad=True), mg.zeros(3, requires_grad=True)
    plain, full = RMSprop([p]), RMSprop([q], momentum=0.9, centered=True)
    for _ in range(2):
        p.grad, q.grad = mg.ones(3), mg.ones(3)
        plain.step()
        full.step()
    assert set(plain.state[p]) == {"step", "square_avg"} and plain.state[p]["step"] == 2
    assert set(full.state[q]) == {"step", "square_avg", "grad_avg", "momentum_buffer"}


def test_rmsprop_defaults_are_pytorchs():
    opt = RMSprop([mg.zeros(2, requires_grad=True)])
    assert opt.defaults == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                                centered=False, maximize=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.01), r"invalid lr -0\.01"),
    (dict(eps=-1.0), r"invalid eps -1\.0"),
    (dict(weight_decay=-0.1), r"invalid weight_decay -0\.1"),
    (dict(momentum=-0.9), r"invalid momentum -0\.9"),
    (dict(alpha=1.5), r"invalid alpha 1\.5"),
    (dict(alpha=-0.1), r"invalid alpha -0\.1"),
])
def test_rmsprop_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=f"RMSprop: {match}"):
        RMSprop([mg.zeros(2, requires_grad=True)], **kwargs)


@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9, centered=True, alpha=0.9),
                                     dict(weight_decay=0.1, maximize=True, momentum=0.5)])
def test_rmsprop_matches_torch(check_against_torch, options):
    check_against_torch("RMSprop", lr=0.01, **options)
