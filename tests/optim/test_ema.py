"""EMA of a network's weights: the averaging formula with and without warmup, buffers
copied verbatim, independence from the trained network, and the state round trip."""
import copy
import json

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.optim import EMA, SGD
from minigan.testing import assert_close


def network(seed=0, device="cpu"):
    mg.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 4, dtype=mg.float64, device=device),
                      nn.BatchNorm1d(4, dtype=mg.float64, device=device))


def train_step(net, rng):
    """A stand-in for an optimizer step plus a forward pass in training mode: every
    parameter moves, and the batch norm's running statistics change."""
    with mg.no_grad():
        for p in net.parameters():
            p.data += mg.tensor(rng.normal(size=p.shape), device=p.device).data
    net(mg.tensor(rng.normal(size=(6, 3)), device=next(net.parameters()).device))


def params_of(module):
    return {name: p.detach().cpu().numpy().copy() for name, p in module.named_parameters()}


def ema_oracle(initial, snapshots, decay, warmup):
    """The average after each snapshot, in float64 NumPy."""
    average = {k: v.copy() for k, v in initial.items()}
    for n, snapshot in enumerate(snapshots):
        d = min(decay, (1 + n) / (10 + n)) if warmup else decay
        average = {k: d * average[k] + (1 - d) * snapshot[k] for k in average}
    return average


@pytest.mark.parametrize("decay, warmup", [(0.9, False), (0.5, False), (0.999, True),
                                           (0.12, True)])
def test_ema_update_follows_the_formula(decay, warmup):
    rng = np.random.default_rng(0)
    net = network()
    initial = params_of(net)
    ema = EMA(net, decay=decay, warmup=warmup)
    snapshots = []
    for _ in range(5):
        train_step(net, rng)
        snapshots.append(params_of(net))
        ema.update(net)
    expected = ema_oracle(initial, snapshots, decay, warmup)
    for name, p in ema.module.named_parameters():
        assert_close(p, expected[name], rtol=1e-12, atol=1e-14, msg=f"{name}: ")
    assert ema.num_updates == 5


def test_ema_warmup_schedule_starts_low_and_reaches_decay():
    ema = EMA(network(), decay=0.9)
    seen = []
    for _ in range(100):
        seen.append(ema.effective_decay())
        ema.num_updates += 1
    assert seen[:3] == [0.1, 2 / 11, 3 / 12]
    assert seen == [min(0.9, (1 + n) / (10 + n)) for n in range(100)]
    assert seen[79] < 0.9 and seen[80:] == [0.9] * 20
    assert EMA(network(), decay=0.9, warmup=False).effective_decay() == 0.9


def test_ema_copy_is_a_frozen_independent_network_in_eval_mode():
    net = network()
    net(mg.randn(5, 3, dtype=mg.float64)).sum().backward()
    ema = EMA(net)
    assert ema.module is not net and not ema.module.training and net.training
    for (name, p), (_, q) in zip(ema.module.named_parameters(), net.named_parameters()):
        assert p is not q and p.data is not q.data, name
        assert not p.requires_grad and p.grad is None
        np.testing.assert_array_equal(p.data, q.data)
    opt = SGD(net.parameters(), lr=0.5)
    before = params_of(ema.module)
    opt.step()
    for name, value in params_of(ema.module).items():
        np.testing.assert_array_equal(value, before[name])


def test_ema_copies_buffers_verbatim():
    rng = np.random.default_rng(1)
    net = network()
    ema = EMA(net, decay=0.99)
    for _ in range(3):
        train_step(net, rng)
        ema.update(net)
    for (name, ours), (_, theirs) in zip(ema.module.named_buffers(), net.named_buffers()):
        assert ours is not theirs and ours.data is not theirs.data, name
        np.testing.assert_array_equal(ours.data, theirs.data)
    assert int(ema.module[1].num_batches_tracked) == 3


def test_ema_of_a_spectrally_normalised_network_evaluates_its_own_average():
    rng = np.random.default_rng(5)
    mg.manual_seed(0)
    net = nn.Sequential(nn.spectral_norm(nn.Linear(3, 4, dtype=mg.float64)), nn.ReLU())
    ema = EMA(net, decay=0.8, warmup=False)
    for _ in range(3):
        train_step(net, rng)                      # moves weight_orig, bias and u, v
        ema.update(net)
    layer = ema.module[0]
    u, v = net[0].weight_u.data, net[0].weight_v.data
    np.testing.assert_array_equal(layer.weight_u.data, u)
    w, b = layer.weight_orig.data, layer.bias.data
    x = rng.normal(size=(5, 3))
    expected = np.maximum(x @ (w / (u @ w @ v)).T + b, 0)
    assert_close(ema.module(mg.tensor(x)), expected, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(layer.weight_u.data, u)         # eval: no power step


def test_ema_state_dict_round_trip_continues_identically():
    rng = np.random.default_rng(2)
    net = network()
    ema = EMA(net, decay=0.95)
    for _ in range(3):
        train_step(net, rng)
        ema.update(net)
    saved = ema.state_dict()
    assert set(saved) == {"module", "decay", "num_updates", "warmup"}
    assert json.loads(json.dumps({k: v for k, v in saved.items() if k != "module"})) == {
        "decay": 0.95, "num_updates": 3, "warmup": True}
    restored = EMA(network(seed=7), decay=0.5, warmup=False)
    restored.load_state_dict(copy.deepcopy(saved))
    assert (restored.decay, restored.num_updates, restored.warmup) == (0.95, 3, True)
    for _ in range(3):
        train_step(net, rng)
        ema.update(net)
        restored.update(net)
    for name, value in params_of(restored.module).items():
        np.testing.assert_array_equal(value, params_of(ema.module)[name])


def test_ema_load_state_dict_rejects_other_keys():
    ema = EMA(network())
    with pytest.raises(ValueError, match=r"EMA.load_state_dict: expected keys \['decay', "
                                         r"'module', 'num_updates', 'warmup'\], got \['decay'"):
        ema.load_state_dict({"decay": 0.9, "module": ema.module.state_dict()})


def test_ema_update_rejects_a_different_network():
    ema = EMA(network())
    other = nn.Sequential(nn.Linear(3, 5, dtype=mg.float64),
                          nn.BatchNorm1d(5, dtype=mg.float64))
    with pytest.raises(ValueError, match=r"EMA.update: the module's parameters differ from the "
                                         r"averaged copy's: missing \[\], unexpected \[\], "
                                         r"shape mismatches \['0.weight: \(5, 3\) vs \(4, 3\)"):
        ema.update(other)
    with pytest.raises(ValueError, match=r"missing \['1.bias', '1.weight'\]"):
        ema.update(nn.Sequential(nn.Linear(3, 4, dtype=mg.float64)))


@pytest.mark.parametrize("decay", [-0.1, 1.5, float("nan")])
def test_ema_rejects_a_decay_outside_0_1(decay):
    with pytest.raises(ValueError, match="EMA: decay must be in \\[0, 1\\]"):
        EMA(network(), decay=decay)


@pytest.mark.gpu
def test_ema_on_the_gpu_matches_the_cpu():
    cpu_net, gpu_net = network(), network().cuda()
    cpu_ema, gpu_ema = EMA(cpu_net, decay=0.9), EMA(gpu_net, decay=0.9)
    cpu_rng, gpu_rng = np.random.default_rng(3), np.random.default_rng(3)
    for _ in range(3):
        train_step(cpu_net, cpu_rng)
        train_step(gpu_net, gpu_rng)
        cpu_ema.update(cpu_net)
        gpu_ema.update(gpu_net)
    for (name, a), (_, b) in zip(gpu_ema.module.named_parameters(),
                                 cpu_ema.module.named_parameters()):
        assert a.device == "cuda", name
        assert_close(a.detach().cpu(), b, rtol=1e-10, atol=1e-12, msg=f"{name}: ")
