"""The Optimizer base: parameter groups, skipped gradients, zero_grad, validation of the
parameters, and state_dict / load_state_dict (layout, checks, copies, devices)."""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan.optim import SGD, Adam, AdamW, Optimizer, RMSprop
from minigan.testing import assert_close


def leaf(*values, dtype=mg.float64):
    return mg.tensor(list(values), dtype=dtype, requires_grad=True)


def adam_after_steps(params, steps=2, **options):
    opt = Adam(params, **options)
    for _ in range(steps):
        for p in params:
            p.grad = mg.ones_like(p)
        opt.step()
    return opt


# ------------------------------------------------------------------------- groups --
def test_each_parameter_group_uses_its_own_learning_rate():
    a, b = leaf(1.0, 2.0), leaf(3.0)
    opt = SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.5)
    assert opt.param_groups[1]["momentum"] == 0.5           # the rest comes from defaults
    a.grad, b.grad = mg.ones_like(a), mg.ones_like(b)
    opt.step()
    np.testing.assert_array_equal(a.data, [0.9, 1.9])
    np.testing.assert_array_equal(b.data, [2.99])


def test_two_optimizers_with_their_own_rates_update_only_their_parameters():
    g_param, d_param = leaf(1.0), leaf(1.0)
    opt_g = SGD([g_param], lr=1e-4)
    opt_d = SGD([d_param], lr=4e-4)                            # TTUR: D learns faster
    g_param.grad, d_param.grad = mg.ones_like(g_param), mg.ones_like(d_param)
    opt_d.step()
    assert g_param.data[0] == 1.0 and d_param.data[0] == 1.0 - 4e-4
    opt_g.step()
    assert g_param.data[0] == 1.0 - 1e-4 and d_param.data[0] == 1.0 - 4e-4


def test_add_param_group_takes_defaults_and_its_parameters_are_updated():
    a, b = leaf(1.0), leaf(1.0)
    opt = SGD([a], lr=0.1)
    opt.add_param_group({"params": b, "lr": 0.5})
    assert opt.param_groups[1]["params"] == [b] and opt.param_groups[1]["momentum"] == 0.0
    a.grad, b.grad = mg.ones_like(a), mg.ones_like(b)
    opt.step()
    assert a.data[0] == 0.9 and b.data[0] == 0.5


@pytest.mark.parametrize("make", [SGD, Adam, AdamW, RMSprop])
def test_step_skips_parameters_without_a_gradient(make):
    with_grad, without = leaf(1.0, 2.0), leaf(3.0, 4.0)
    opt = make([with_grad, without], lr=0.1)
    with_grad.grad = mg.ones_like(with_grad)
    opt.step()
    np.testing.assert_array_equal(without.data, [3.0, 4.0])
    assert without not in opt.state
    assert not np.array_equal(with_grad.data, [1.0, 2.0])


def test_step_updates_parameters_after_backward_without_recording_a_graph():
    w = leaf(1.0, -2.0)
    opt = SGD([w], lr=0.25)
    loss = (w * w).sum()                                       # dL/dw = 2w
    loss.backward()
    opt.step()
    np.testing.assert_array_equal(w.data, [0.5, -1.0])
    assert w.is_leaf and w.requires_grad


def test_step_runs_the_closure_with_gradients_on_and_returns_its_loss():
    w = leaf(3.0)
    opt = SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with mg.no_grad():
        loss = opt.step(closure)
    assert float(loss) == 9.0 and w.data[0] == 0.0


def test_step_rejects_a_gradient_of_the_wrong_shape():
    w = leaf(1.0, 2.0)
    opt = SGD([w], lr=0.1)
    w.grad = mg.ones(3, dtype=mg.float64)
    with pytest.raises(ValueError, match=r"SGD.step: gradient of shape \(3,\) for a parameter "
                                         r"of shape \(2,\)"):
        opt.step()


def test_zero_grad_sets_gradients_to_none_by_default():
    w = leaf(1.0)
    w.grad = mg.ones_like(w)
    SGD([w]).zero_grad()
    assert w.grad is None


def test_zero_grad_without_set_to_none_zeros_the_same_tensor_in_place():
    w = leaf(1.0, 2.0)
    grad = w.grad = mg.ones_like(w)
    SGD([w]).zero_grad(set_to_none=False)
    assert w.grad is grad
    np.testing.assert_array_equal(grad.data, [0.0, 0.0])


# --------------------------------------------------------------------- validation --
def test_rejects_a_parameter_listed_twice_in_a_group():
    w = leaf(1.0)
    with pytest.raises(ValueError, match="SGD: a parameter group holds the same parameter"):
        SGD([w, w])


def test_rejects_a_parameter_in_two_groups():
    w = leaf(1.0)
    with pytest.raises(ValueError, match="Adam: some parameters appear in more than one"):
        Adam([{"params": [w]}, {"params": [w], "lr": 1.0}])


def test_rejects_a_non_leaf_tensor():
    w = leaf(1.0)
    with pytest.raises(ValueError, match=r"SGD can't optimize a non-leaf Tensor \(shape \(1,\)"):
        SGD([w * 2])


def test_rejects_an_integer_tensor():
    with pytest.raises(ValueError, match="RMSprop can only optimize floating-point Tensors, "
                                         "got dtype int64"):
        RMSprop([mg.tensor([1, 2])])


def test_rejects_things_that_are_not_tensors():
    with pytest.raises(TypeError, match="SGD can only optimize Tensors, got tuple"):
        SGD([("weight", leaf(1.0))])


def test_rejects_a_bare_tensor_and_an_empty_list():
    with pytest.raises(TypeError, match="SGD: params must be an iterable"):
        SGD(leaf(1.0))
    with pytest.raises(ValueError, match="AdamW: got an empty parameter list"):
        AdamW([])


def test_accepts_a_generator_of_parameters():
    a, b = leaf(1.0), leaf(2.0)
    opt = SGD(p for p in (a, b))
    assert opt.param_groups[0]["params"] == [a, b]


def test_base_class_needs_an_update_rule():
    class NoRule(Optimizer):
        def _check_hyperparameters(self, group):
            pass

    w = leaf(1.0)
    w.grad = mg.ones_like(w)
    with pytest.raises(NotImplementedError, match="NoRule must define _update"):
        NoRule([w], {}).step()


# -------------------------------------------------------------------- state dicts --
def test_state_dict_has_pytorchs_layout():
    a, b, c = leaf(1.0, 2.0), leaf(3.0), leaf(4.0)
    opt = adam_after_steps([a, b], steps=2, lr=0.1)
    opt.add_param_group({"params": [c], "lr": 0.2})
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.2]
    assert sd["param_groups"][0]["betas"] == (0.9, 0.999)
    assert list(sd["state"]) == [0, 1]                          # c has no state yet
    assert sd["state"][0]["step"] == 2 and type(sd["state"][0]["step"]) is int
    assert isinstance(sd["state"][0]["exp_avg"], mg.Tensor)
    assert sd["state"][0]["exp_avg"].shape == (2,)


def test_load_state_dict_restores_hyperparameters_and_state():
    source = adam_after_steps([leaf(1.0, 2.0)], lr=0.1)
    source.param_groups[0]["lr"] = 0.05                        # e.g. set by a scheduler
    target = Adam([leaf(1.0, 2.0)], lr=0.1)
    target.load_state_dict(source.state_dict())
    assert target.param_groups[0]["lr"] == 0.05
    (p,) = target.param_groups[0]["params"]
    np.testing.assert_array_equal(target.state[p]["exp_avg_sq"].data,
                                  source.state_dict()["state"][0]["exp_avg_sq"].data)


def test_load_state_dict_copies_so_the_saved_dict_stays_independent():
    saved = adam_after_steps([leaf(1.0, 2.0)]).state_dict()
    target = Adam([leaf(1.0, 2.0)])
    target.load_state_dict(saved)
    (p,) = target.param_groups[0]["params"]
    assert target.state[p]["exp_avg"].data is not saved["state"][0]["exp_avg"].data
    saved["state"][0]["exp_avg"].data[...] = 123.0
    assert not np.any(target.state[p]["exp_avg"].data == 123.0)


def test_load_state_dict_casts_state_to_the_parameters_dtype():
    saved = adam_after_steps([leaf(1.0, 2.0)]).state_dict()             # float64 state
    p = leaf(1.0, 2.0, dtype=mg.float32)
    target = Adam([p])
    target.load_state_dict(saved)
    assert target.state[p]["exp_avg"].dtype == mg.float32
    p.grad = mg.ones_like(p)
    target.step()
    assert p.dtype == mg.float32


def test_load_state_dict_accepts_arrays_and_string_keys_as_from_a_checkpoint_file():
    params = [leaf(1.0, 2.0), leaf(3.0)]
    opt = adam_after_steps(params, lr=0.1, amsgrad=True)
    sd = opt.state_dict()
    stored = {"state": {str(i): {k: (v.data.copy() if isinstance(v, mg.Tensor) else v)
                                 for k, v in s.items()} for i, s in sd["state"].items()},
              "param_groups": [dict(g, betas=list(g["betas"])) for g in sd["param_groups"]]}
    twins = [mg.tensor(p.data, requires_grad=True) for p in params]
    resumed = Adam(twins, lr=0.1, amsgrad=True)
    resumed.load_state_dict(stored)
    for ps, o in ((params, opt), (twins, resumed)):
        for p in ps:
            p.grad = mg.ones_like(p) * 0.5
        o.step()
    for p, twin in zip(params, twins):
        np.testing.assert_array_equal(p.data, twin.data)


def test_load_state_dict_rejects_a_different_number_of_groups():
    saved = adam_after_steps([leaf(1.0)]).state_dict()
    target = Adam([{"params": [leaf(1.0)]}, {"params": [leaf(2.0)]}])
    with pytest.raises(ValueError, match="Adam.load_state_dict: the state dict has 1 parameter "
                                         "groups, the optimizer has 2"):
        target.load_state_dict(saved)


def test_load_state_dict_rejects_a_group_of_a_different_size():
    saved = adam_after_steps([leaf(1.0), leaf(2.0)]).state_dict()
    with pytest.raises(ValueError, match="parameter group 0 has 2 parameters in the state "
                                         "dict, 1 in the optimizer"):
        Adam([leaf(1.0)]).load_state_dict(saved)


def test_load_state_dict_rejects_a_state_of_another_shape_and_changes_nothing():
    saved = adam_after_steps([leaf(1.0, 2.0), leaf(3.0)]).state_dict()
    p, q = leaf(1.0, 2.0), leaf(3.0, 4.0)
    target = adam_after_steps([p, q], steps=1, lr=0.5)
    before = copy.deepcopy(target.state_dict())
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 1 has shape \(1,\), the "
                                         r"parameter has shape \(2,\)"):
        target.load_state_dict(saved)
    after = target.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert after["state"][0]["step"] == 1
    np.testing.assert_array_equal(after["state"][1]["exp_avg"].data,
                                  before["state"][1]["exp_avg"].data)


def test_load_state_dict_rejects_state_for_an_unknown_index():
    saved = adam_after_steps([leaf(1.0)]).state_dict()
    saved["state"][5] = saved["state"].pop(0)
    with pytest.raises(ValueError, match=r"state for parameter index 5, but the groups hold "
                                         r"indices \[0\]"):
        Adam([leaf(1.0)]).load_state_dict(saved)


def test_load_state_dict_rejects_a_bad_saved_hyperparameter_and_keeps_missing_ones():
    saved = adam_after_steps([leaf(1.0)], lr=0.1).state_dict()
    target = Adam([leaf(1.0)], lr=0.3, eps=1e-6)
    saved["param_groups"][0]["lr"] = -0.1
    with pytest.raises(ValueError, match=r"Adam: invalid lr -0\.1"):
        target.load_state_dict(saved)
    assert target.param_groups[0]["lr"] == 0.3 and not target.state
    saved["param_groups"][0]["lr"] = 0.2
    del saved["param_groups"][0]["eps"]
    target.load_state_dict(saved)
    assert target.param_groups[0]["lr"] == 0.2 and target.param_groups[0]["eps"] == 1e-6


def test_repr_lists_each_groups_hyperparameters():
    text = repr(SGD([{"params": [leaf(1.0)]}, {"params": [leaf(2.0)], "lr": 0.5}], lr=0.1))
    assert text.startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.1" in text and "Parameter Group 1" in text and "    lr: 0.5" in text


# ---------------------------------------------------------------------------- GPU --
@pytest.mark.gpu
@pytest.mark.parametrize("make", [lambda ps: SGD(ps, lr=0.02, momentum=0.9, nesterov=True),
                                  lambda ps: Adam(ps, lr=0.05, amsgrad=True, weight_decay=0.1),
                                  lambda ps: AdamW(ps, lr=0.05),
                                  lambda ps: RMSprop(ps, lr=0.01, momentum=0.5, centered=True)],
                         ids=["sgd", "adam", "adamw", "rmsprop"])
def test_optimizers_on_the_gpu_match_the_cpu_and_keep_state_there(harness, make):
    cpu, _ = harness.run_minigan(make, harness.steps)
    gpu, opt = harness.run_minigan(make, harness.steps, device="cuda")
    for a, b in zip(gpu, cpu):
        assert a.device == "cuda"
        assert_close(a.detach().cpu(), b, rtol=1e-12, atol=1e-14)
    for state in opt.state.values():
        assert all(v.device == "cuda" for v in state.values() if isinstance(v, mg.Tensor))
    host_state = adam_after_steps([leaf(1.0, 2.0)]).state_dict()
    p = mg.tensor([1.0, 2.0], dtype=mg.float32, device="cuda", requires_grad=True)
    moved = Adam([p])
    moved.load_state_dict(host_state)
    assert moved.state[p]["exp_avg"].device == "cuda"
    assert moved.state[p]["exp_avg"].dtype == mg.float32
