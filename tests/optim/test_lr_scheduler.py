"""Learning-rate schedules: rate sequences against their formulas, the PyTorch protocol
(rate at construction, one step per epoch), resume from state dicts, and bad arguments."""
import json

import pytest

import minigan as mg
from minigan.optim import SGD, Adam
from minigan.optim.lr_scheduler import (ExponentialLR, LambdaLR, LinearDecayLR, LRScheduler,
                                        StepLR)


def optimizer(*lrs):
    return SGD([{"params": [mg.zeros(1, requires_grad=True)], "lr": lr} for lr in lrs])


def rates(scheduler, epochs):
    """The rate in force during each of ``epochs`` epochs, checked against the groups."""
    seen = []
    for _ in range(epochs):
        seen.append(scheduler.get_last_lr())
        assert [g["lr"] for g in scheduler.optimizer.param_groups] == seen[-1]
        scheduler.step()
    return seen


def test_step_lr_follows_its_formula():
    got = rates(StepLR(optimizer(0.1, 1.0), step_size=3, gamma=0.5), 10)
    assert got == [[0.1 * 0.5 ** (e // 3), 1.0 * 0.5 ** (e // 3)] for e in range(10)]


def test_exponential_lr_follows_its_formula():
    got = rates(ExponentialLR(optimizer(0.2), gamma=0.9), 8)
    assert got == [[0.2 * 0.9 ** e] for e in range(8)]


def test_lambda_lr_applies_one_function_per_group():
    got = rates(LambdaLR(optimizer(1.0, 2.0), [lambda e: 1 / (e + 1), lambda e: 0.5 ** e]), 5)
    assert got == [[1.0 / (e + 1), 2.0 * 0.5 ** e] for e in range(5)]


def test_lambda_lr_shares_a_single_function_between_groups():
    got = rates(LambdaLR(optimizer(1.0, 3.0), lambda e: e + 1), 3)
    assert got == [[e + 1.0, 3.0 * (e + 1)] for e in range(3)]


@pytest.mark.parametrize("constant, decay", [(3, 4), (0, 5), (1, 1), (4, 0)])
def test_linear_decay_lr_follows_cyclegans_rule(constant, decay):
    got = rates(LinearDecayLR(optimizer(2e-4), constant, decay), constant + decay + 3)
    cyclegan = [[2e-4 * max(0.0, 1.0 - max(0, e + 1 - constant) / float(decay + 1))]
                for e in range(constant + decay + 3)]
    assert got == cyclegan


def test_linear_decay_lr_at_its_boundaries():
    lrs = [lr for (lr,) in rates(LinearDecayLR(optimizer(1.0), constant_epochs=100,
                                               decay_epochs=100), 202)]
    assert lrs[:100] == [1.0] * 100                       # held for 100 epochs
    assert lrs[100] == 1.0 - 1 / 101                      # first decayed epoch
    assert lrs[199] == pytest.approx(1 / 101, rel=1e-12)  # last training epoch
    assert lrs[200:] == [0.0, 0.0]                        # 0 from then on, never negative
    steps = [a - b for a, b in zip(lrs[99:200], lrs[100:201])]
    assert steps == pytest.approx([1 / 101] * 101, rel=1e-9)


def test_scheduler_drives_the_optimizer_it_wraps():
    w = mg.tensor([0.0], dtype=mg.float64, requires_grad=True)
    opt = SGD([w], lr=1.0)
    scheduler = StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        w.grad = mg.ones_like(w)
        opt.step()
        scheduler.step()
    assert w.data[0] == -(1.0 + 0.5 + 0.25)


def test_initial_lr_is_kept_so_a_second_scheduler_sees_the_original_rate():
    opt = optimizer(0.1)
    first = ExponentialLR(opt, gamma=0.5)
    first.step()
    assert opt.param_groups[0]["initial_lr"] == 0.1
    assert StepLR(opt, step_size=1).base_lrs == [0.1]


@pytest.mark.parametrize("make", [lambda o, **k: StepLR(o, 2, gamma=0.3, **k),
                                  lambda o, **k: ExponentialLR(o, 0.7, **k),
                                  lambda o, **k: LambdaLR(o, lambda e: 1 / (1 + e), **k),
                                  lambda o, **k: LinearDecayLR(o, 2, 3, **k)],
                         ids=["step", "exponential", "lambda", "linear-decay"])
@pytest.mark.parametrize("optimizer_first", [True, False])
def test_resume_from_state_dict_continues_the_sequence(make, optimizer_first):
    straight = rates(make(optimizer(0.1, 0.2)), 9)
    opt = optimizer(0.1, 0.2)
    first = make(opt)
    rates(first, 4)
    saved = json.loads(json.dumps(first.state_dict()))        # plain numbers only
    resumed_opt = optimizer(0.1, 0.2)
    if optimizer_first:
        resumed_opt.load_state_dict(opt.state_dict())
        resumed = make(resumed_opt)
        resumed.load_state_dict(saved)
    else:                                                     # PyTorch's usual order
        resumed = make(resumed_opt)
        resumed_opt.load_state_dict(opt.state_dict())
        resumed.load_state_dict(saved)
    assert resumed.last_epoch == 4
    assert rates(resumed, 5) == straight[4:]


def test_constructing_with_last_epoch_resumes_from_initial_lr():
    opt = optimizer(0.1)
    rates(StepLR(opt, 2, gamma=0.5), 3)
    resumed = StepLR(opt, 2, gamma=0.5, last_epoch=2)
    assert resumed.last_epoch == 3 and resumed.get_last_lr() == [0.05]


def test_resuming_without_initial_lr_says_what_is_missing():
    with pytest.raises(KeyError, match="StepLR: resuming at last_epoch=4, but param group 0 "
                                       "has no 'initial_lr'"):
        StepLR(optimizer(0.1), 2, last_epoch=4)


def test_state_dict_holds_plain_numbers_and_the_hyperparameters():
    sd = StepLR(optimizer(0.1), step_size=3, gamma=0.5).state_dict()
    assert sd == {"last_epoch": 0, "base_lrs": [0.1], "last_lr": [0.1], "step_size": 3,
                  "gamma": 0.5}
    assert set(LambdaLR(optimizer(0.1), lambda e: 1.0).state_dict()) == {
        "last_epoch", "base_lrs", "last_lr"}


def test_load_state_dict_rejects_a_mismatch():
    scheduler = ExponentialLR(optimizer(0.1, 0.2), gamma=0.5)
    with pytest.raises(ValueError, match=r"ExponentialLR.load_state_dict: 'base_lrs' has 1 "
                                         r"entries, the optimizer has 2 parameter groups"):
        scheduler.load_state_dict({"last_epoch": 3, "base_lrs": [0.1], "last_lr": [0.1, 0.2],
                                   "gamma": 0.5})
    with pytest.raises(ValueError, match=r"expected keys \['base_lrs', 'gamma', 'last_epoch', "
                                         r"'last_lr'\], got \['base_lrs', 'last_epoch'"):
        scheduler.load_state_dict({"last_epoch": 3, "base_lrs": [0.1, 0.2],
                                   "last_lr": [0.1, 0.2]})


@pytest.mark.parametrize("make, match", [
    (lambda o: StepLR(o, step_size=0), "StepLR: step_size must be >= 1, got 0"),
    (lambda o: StepLR(o, step_size=2.5), "StepLR: step_size must be an int >= 0, got 2.5"),
    (lambda o: StepLR(o, 2, gamma=-0.1), r"StepLR: gamma must be >= 0, got -0\.1"),
    (lambda o: ExponentialLR(o, gamma=-1.0), r"ExponentialLR: gamma must be >= 0, got -1\.0"),
    (lambda o: LinearDecayLR(o, -1, 5), "LinearDecayLR: constant_epochs must be an int >= 0"),
    (lambda o: LinearDecayLR(o, 5, -2), "LinearDecayLR: decay_epochs must be an int >= 0"),
    (lambda o: LambdaLR(o, [lambda e: 1.0] * 3), "LambdaLR: got 3 lr_lambdas for 1 parameter "
                                                  "groups"),
])
def test_bad_arguments_are_rejected(make, match):
    with pytest.raises(ValueError, match=match):
        make(optimizer(0.1))


def test_scheduler_needs_a_minigan_optimizer():
    with pytest.raises(TypeError, match="StepLR: expected a minigan Optimizer, got dict"):
        StepLR({"lr": 0.1}, 2)


def test_base_class_needs_a_rule():
    with pytest.raises(NotImplementedError, match="LRScheduler must define lr_factor"):
        LRScheduler(Adam([mg.zeros(1, requires_grad=True)]))
