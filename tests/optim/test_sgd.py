"""SGD: trajectories against the algorithm written out in NumPy, for every option."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan.optim import SGD


def sgd_oracle(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
               maximize=False):
    def update(theta, grad, state, t):
        g = -grad if maximize else grad
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            b = g if t == 1 else momentum * state["b"] + (1 - dampening) * g
            state["b"] = b
            g = g + momentum * b if nesterov else b
        return theta - lr * g
    return update


OPTIONS = [dict(momentum=m, dampening=d, weight_decay=w, nesterov=n, maximize=x)
           for m, d, w, n, x in itertools.product((0.0, 0.9), (0.0, 0.3), (0.0, 0.05),
                                                  (False, True), (False, True))
           if not (n and (m == 0 or d != 0))]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                  o.items()))
def test_sgd_matches_formula(check_against_oracle, options):
    check_against_oracle(lambda ps: SGD(ps, lr=0.02, **options),
                         sgd_oracle(0.02, **options))


@settings(max_examples=10)
@given(lr=st.floats(0, 0.1), momentum=st.floats(0, 0.99), dampening=st.floats(0, 1),
       weight_decay=st.floats(0, 0.5))
def test_sgd_matches_formula_for_any_hyperparameters(check_against_oracle, lr, momentum,
                                                      dampening, weight_decay):
    options = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay)
    check_against_oracle(lambda ps: SGD(ps, **options), sgd_oracle(**options))


def test_sgd_float32_keeps_dtype_and_matches_formula(check_against_oracle):
    options = dict(momentum=0.9, weight_decay=0.05, nesterov=True)
    check_against_oracle(lambda ps: SGD(ps, lr=0.02, **options), sgd_oracle(0.02, **options),
                         dtype=np.float32)


@pytest.mark.parametrize("options", [dict(momentum=0.0), dict(momentum=0.9, dampening=0.3),
                                     dict(momentum=0.9, nesterov=True, weight_decay=0.1)])
def test_sgd_resume_from_state_dict_is_bit_identical(check_resume, options):
    check_resume(lambda ps: SGD(ps, lr=0.02, **options))


def test_sgd_keeps_a_momentum_buffer_only_with_momentum():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    q = mg.tensor([1.0, 2.0], requires_grad=True)
    plain, heavy = SGD([p], lr=0.1), SGD([q], lr=0.1, momentum=0.5)
    p.grad, q.grad = mg.tensor([1.0, 1.0]), mg.tensor([1.0, 1.0])
    plain.step()
    heavy.step()
    assert plain.state[p] == {}
    assert set(heavy.state[q]) == {"momentum_buffer"}
    assert heavy.state[q]["momentum_buffer"].data is not q.grad.data   # a copy, not the grad


def test_sgd_defaults_are_pytorchs():
    opt = SGD([mg.zeros(2, requires_grad=True)])
    assert opt.defaults == dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0,
                                nesterov=False, maximize=False)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr=-0.1), r"SGD: invalid lr -0\.1"),
    (dict(lr=float("nan")), r"SGD: invalid lr nan"),
    (dict(momentum=-0.5), r"SGD: invalid momentum -0\.5"),
    (dict(weight_decay=-1e-4), r"SGD: invalid weight_decay -0\.0001"),
    (dict(nesterov=True), r"SGD: nesterov .* momentum 0\.0"),
    (dict(nesterov=True, momentum=0.9, dampening=0.1), r"SGD: nesterov .* dampening 0\.1"),
])
def test_sgd_rejects_bad_hyperparameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SGD([mg.zeros(2, requires_grad=True)], **kwargs)


def test_sgd_rejects_a_bad_group_hyperparameter():
    opt = SGD([mg.zeros(2, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"SGD: invalid lr -1"):
        opt.add_param_group({"params": [mg.zeros(3, requires_grad=True)], "lr": -1})
    assert len(opt.param_groups) == 1


@pytest.mark.parametrize("options", [dict(), dict(momentum=0.9, dampening=0.3, weight_decay=0.1),
                                     dict(momentum=0.9, nesterov=True, maximize=True)])
def test_sgd_matches_torch(check_against_torch, options):
    check_against_torch("SGD", lr=0.02, **options)
