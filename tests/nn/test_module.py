"""Module, Parameter and the containers: registration, traversal, modes, state dicts,
copies and conversions, checked against what PyTorch's module system does."""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.testing import assert_close


class Block(nn.Module):
    """A parameter, a persistent and a non-persistent buffer, and two children."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(mg.ones(3))
        self.register_buffer("count", mg.zeros((), dtype=mg.int64))
        self.register_buffer("cache", mg.zeros(3), persistent=False)
        self.fc = nn.Linear(3, 2)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x * self.scale))


class Tied(nn.Module):
    """Two layers sharing one weight (an autoencoder with tied weights)."""

    def __init__(self):
        super().__init__()
        self.encoder = nn.Linear(4, 2, bias=False)
        self.decoder = nn.Linear(2, 4, bias=False)
        self.decoder.weight = self.encoder.weight


def test_assigned_parameters_buffers_and_modules_are_registered():
    block = Block()
    assert [name for name, _ in block.named_parameters()] == ["scale", "fc.weight", "fc.bias"]
    assert [name for name, _ in block.named_buffers()] == ["count", "cache"]
    assert [name for name, _ in block.named_children()] == ["fc", "act"]
    assert [name for name, _ in block.named_modules()] == ["", "fc", "act"]
    assert block.scale is block._parameters["scale"]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in block.parameters())
    assert block.num_parameters() == 3 + 3 * 2 + 2


def test_parameter_shares_storage_and_requires_grad():
    t = mg.zeros(2, 2)
    p = nn.Parameter(t)
    assert p.requires_grad and p.is_leaf
    assert np.shares_memory(p.data, t.data)
    assert repr(p).startswith("Parameter containing:")
    assert not nn.Parameter(mg.zeros(2), requires_grad=False).requires_grad


def test_shared_parameter_is_listed_and_counted_once():
    model = Tied()
    params = list(model.parameters())
    assert len(params) == 1
    assert [name for name, _ in model.named_parameters()] == ["encoder.weight"]
    assert model.num_parameters() == 8
    assert list(model.state_dict()) == ["encoder.weight", "decoder.weight"]


def test_shared_submodule_is_visited_once():
    layer = nn.Linear(2, 2)
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert len(list(model.parameters())) == 2
    assert len(list(model.modules())) == 3


def test_num_parameters_trainable_only_skips_frozen_parameters():
    block = Block()
    block.fc.requires_grad_(False)
    assert block.num_parameters(trainable_only=True) == 3
    assert block.num_parameters() == 11
    assert "parameters: 11 (3 trainable)" in block.summary()


def test_requires_grad_sets_every_parameter():
    block = Block()
    block.requires_grad_(False)
    assert not any(p.requires_grad for p in block.parameters())
    block.requires_grad_()
    assert all(p.requires_grad for p in block.parameters())


def test_assigning_a_non_parameter_to_a_parameter_name_is_an_error():
    block = Block()
    with pytest.raises(TypeError, match="Block.scale is a parameter"):
        block.scale = mg.ones(3)
    with pytest.raises(TypeError, match="Block.count is a buffer"):
        block.count = np.zeros(())
    with pytest.raises(TypeError, match="Block.fc is a sub-module"):
        block.fc = 3


def test_assigning_before_init_names_the_class():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(mg.zeros(1))

    with pytest.raises(AttributeError, match="before Module.__init__.*Broken"):
        Broken()


def test_reassigning_a_name_moves_it_between_registries():
    block = Block()
    block.fc = nn.Parameter(mg.zeros(2))
    assert "fc" in block._parameters and "fc" not in block._modules
    del block.fc
    assert "fc" not in block._parameters
    with pytest.raises(AttributeError, match="no attribute 'fc'"):
        block.fc


def test_none_parameter_is_skipped_everywhere():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"]


def test_train_and_eval_reach_every_submodule():
    model = nn.Sequential(Block(), nn.Sequential(nn.Dropout(), nn.BatchNorm1d(2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_clears_or_zeros_the_gradients():
    block = Block()
    block(mg.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in block.parameters())
    block.zero_grad(set_to_none=False)
    for p in block.parameters():
        assert p.grad.shape == p.shape and not p.grad.data.any()
    block.zero_grad()
    assert all(p.grad is None for p in block.parameters())


def test_apply_visits_children_before_parents():
    model = nn.Sequential(nn.Linear(1, 1), nn.Sequential(nn.ReLU()))
    seen = []
    model.apply(lambda m: seen.append(type(m).__name__))
    assert seen == ["Linear", "ReLU", "Sequential", "Sequential"]


def test_forward_pre_hook_runs_before_forward_and_can_be_removed():
    layer = nn.Identity()
    calls = []
    remove = layer.register_forward_pre_hook(lambda module, args: calls.append(args))
    layer(1)
    remove()
    layer(2)
    assert calls == [(1,)]


def test_module_without_forward_says_so():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


# ----------------------------------------------------------------------- containers --
def test_sequential_applies_in_order_and_indexes():
    first, second = nn.Linear(3, 4), nn.Linear(4, 2)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = mg.randn(5, 3)
    assert_close(model(x), second(first(x).relu()))
    assert len(model) == 3 and model[0] is first and model[-1] is second
    assert list(model) == [first, model[1], second]
    tail = model[1:]
    assert isinstance(tail, nn.Sequential) and len(tail) == 2 and tail[1] is second
    model.append(nn.Tanh())
    assert [name for name, _ in model.named_children()] == ["0", "1", "2", "3"]


def test_sequential_from_ordered_dict_keeps_names():
    model = nn.Sequential({"fc": nn.Linear(2, 2), "act": nn.ReLU()})
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"]


def test_module_list_registers_elements():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(2)])
    layers.extend([nn.Linear(2, 3)])
    assert len(layers) == 3 and layers[-1].out_features == 3
    assert [name for name, _ in layers.named_parameters()][-2:] == ["2.weight", "2.bias"]
    assert list(layers) == [layers[0], layers[1], layers[2]]
    head = layers[:2]
    assert isinstance(head, nn.ModuleList) and list(head) == [layers[0], layers[1]]


def test_module_dict_registers_by_key():
    heads = nn.ModuleDict({"real": nn.Linear(2, 1)})
    heads["class"] = nn.Linear(2, 5)
    assert "class" in heads and len(heads) == 2
    assert list(heads) == list(heads.keys()) == ["real", "class"]
    assert heads["class"].out_features == 5
    assert [k for k, _ in heads.items()] == ["real", "class"]
    assert sorted(k for k in heads.state_dict()) == sorted(
        ["real.weight", "real.bias", "class.weight", "class.bias"])


# ---------------------------------------------------------------------- state dicts --
def test_state_dict_holds_parameters_and_persistent_buffers_only():
    block = Block()
    assert list(block.state_dict()) == ["scale", "count", "fc.weight", "fc.bias"]
    state = block.state_dict()
    assert not state["scale"].requires_grad
    assert np.shares_memory(state["scale"].data, block.scale.data)


def test_load_state_dict_copies_values_into_the_same_objects():
    source, target = Block(), Block()
    with mg.no_grad():
        source.scale.fill_(2.0)
        source.count.fill_(7)
    params_before = [id(p) for p in target.parameters()]
    missing, unexpected = target.load_state_dict(source.state_dict())
    assert missing == [] and unexpected == []
    assert [id(p) for p in target.parameters()] == params_before
    for key, value in source.state_dict().items():
        assert_close(target.state_dict()[key], value)
    x = mg.randn(4, 3)
    assert_close(target(x), source(x))


def test_load_state_dict_accepts_numpy_arrays_and_casts_dtype():
    layer = nn.Linear(2, 2)
    state = {k: v.numpy().astype(np.float64) + 1 for k, v in layer.state_dict().items()}
    layer.load_state_dict(state)
    assert layer.weight.dtype == np.float32
    assert_close(layer.weight, state["weight"].astype(np.float32))


def test_strict_load_names_missing_unexpected_and_misshaped_keys_and_loads_nothing():
    block = Block()
    before = {k: v.numpy().copy() for k, v in block.state_dict().items()}
    bad = {k: v.numpy() + 1 for k, v in Block().state_dict().items()}
    del bad["fc.bias"]
    bad["extra.weight"] = np.zeros(1)
    bad["scale"] = np.zeros(4)
    with pytest.raises(nn.StateDictError) as info:
        block.load_state_dict(bad)
    message = str(info.value)
    assert "Block" in message
    assert "missing keys: fc.bias" in message
    assert "unexpected keys: extra.weight" in message
    assert "scale: checkpoint (4,), model (3,)" in message
    for key, value in block.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key])


def test_non_strict_load_reports_and_loads_the_matching_keys():
    block = Block()
    state = {"scale": np.full(3, 5.0), "other": np.zeros(2)}
    missing, unexpected = block.load_state_dict(state, strict=False)
    assert missing == ["count", "fc.weight", "fc.bias"]
    assert unexpected == ["other"]
    assert_close(block.scale, np.full(3, 5.0, np.float32))


def test_non_strict_load_still_rejects_shape_mismatches():
    layer = nn.Linear(2, 2)
    with pytest.raises(nn.StateDictError, match=r"weight: checkpoint \(3, 2\), model \(2, 2\)"):
        layer.load_state_dict({"weight": np.zeros((3, 2))}, strict=False)


def test_non_persistent_buffer_is_neither_saved_nor_expected():
    block = Block()
    state = block.state_dict()
    assert "cache" not in state
    block.load_state_dict(state)
    assert [name for name, _ in block.named_buffers()] == ["count", "cache"]


# --------------------------------------------------------------- copies, conversions --
def test_deepcopy_is_independent_and_keeps_sharing():
    model = Tied()
    clone = copy.deepcopy(model)
    assert clone.decoder.weight is clone.encoder.weight
    assert clone.encoder.weight is not model.encoder.weight
    assert_close(clone.encoder.weight, model.encoder.weight)
    with mg.no_grad():
        clone.encoder.weight.fill_(0.0)
    assert model.encoder.weight.data.any()


def test_deepcopy_after_forward_and_backward_copies_gradients():
    block = Block()
    block(mg.randn(2, 3)).sum().backward()
    clone = copy.deepcopy(block)
    assert_close(clone.fc.weight.grad, block.fc.weight.grad)
    assert clone.fc.weight.grad is not block.fc.weight.grad


def test_to_dtype_keeps_parameter_identity_and_casts_floating_state_only():
    block = Block()
    block(mg.randn(2, 3)).sum().backward()
    ids = [id(p) for p in block.parameters()]
    assert block.to(mg.float64) is block
    assert [id(p) for p in block.parameters()] == ids
    assert all(p.dtype == np.float64 for p in block.parameters())
    assert all(p.grad.dtype == np.float64 for p in block.parameters())
    assert block.cache.dtype == np.float64
    assert block.count.dtype == np.int64
    assert block(mg.randn(2, 3, dtype=mg.float64)).dtype == np.float64
    block.float()
    assert block.scale.dtype == np.float32
    block.to(dtype="float64")
    assert block.scale.dtype == np.float64


def test_to_cpu_keeps_the_module_on_cpu():
    block = Block()
    assert block.to("cpu") is block and block.cpu() is block
    assert all(p.device == "cpu" for p in block.parameters())


def test_repr_shows_the_tree_and_each_layers_settings():
    model = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2),
                          nn.Sequential(nn.Linear(3, 1, bias=False)))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n"
        "  (2): Sequential(\n"
        "    (0): Linear(in_features=3, out_features=1, bias=False)\n"
        "  )\n"
        ")")


def test_repr_puts_settings_on_their_own_line_when_there_are_children():
    text = repr(nn.SelfAttention(16))
    assert text.startswith("SelfAttention(\n  channels=16\n  (query): Conv2d(16, 2, ")


def test_dir_lists_registered_names():
    assert {"scale", "count", "fc", "forward"} <= set(dir(Block()))


@pytest.mark.gpu
def test_cuda_moves_state_in_place_and_matches_the_cpu():
    cpu_block = Block().double()
    gpu_block = copy.deepcopy(cpu_block)
    ids = [id(t) for t in list(gpu_block.parameters()) + list(gpu_block.buffers())]
    assert gpu_block.cuda() is gpu_block
    assert [id(t) for t in list(gpu_block.parameters()) + list(gpu_block.buffers())] == ids
    assert all(t.device == "cuda" for t in gpu_block.state_dict().values())
    x = np.random.default_rng(0).standard_normal((4, 3))
    assert_close(gpu_block(mg.tensor(x, device="cuda")).cpu(), cpu_block(mg.tensor(x)),
                 rtol=1e-12, atol=1e-12)
    restored = Block().double()
    restored.load_state_dict(gpu_block.state_dict())          # CUDA values into CPU storage
    assert all(t.device == "cpu" for t in restored.state_dict().values())
    assert_close(restored(mg.tensor(x)), cpu_block(mg.tensor(x)), rtol=1e-12, atol=1e-12)
