"""Normalisation layers: batch norm's training and evaluation semantics and running
statistics against their formulas in float64 NumPy (and against PyTorch where installed),
the other norms' values, and gradient checks of every layer w.r.t. input and parameters."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck

EPS = 1e-5


def values(*shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def tensor(array, requires_grad=False):
    return mg.tensor(array, dtype=mg.float64, requires_grad=requires_grad)


def host(t):
    return t.detach().numpy()


def randomize(module, seed=1):
    """Non-trivial affine parameters, so that gamma and beta are exercised."""
    with mg.no_grad():
        for k, p in enumerate(module.parameters()):
            p.copy_(values(*p.shape, seed=seed + k, low=0.5, high=1.5))
    return module


def channel(p, ndim):
    return p.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm_oracle(batches, momentum, weight, bias):
    """Outputs and running statistics of a batch norm trained on ``batches`` in turn:
    y = (x - mean_B) / sqrt(var_B + eps) * gamma + beta (biased var_B), and
    running <- (1 - m) running + m stat_B with the unbiased variance; m = 1 / t for the
    t-th batch when momentum is None (the cumulative average)."""
    running_mean, running_var = np.zeros(weight.shape), np.ones(weight.shape)
    outputs = []
    for t, x in enumerate(batches, start=1):
        axes = (0,) + tuple(range(2, x.ndim))
        mean, var = x.mean(axis=axes), x.var(axis=axes)
        count = x.size // x.shape[1]
        outputs.append((x - channel(mean, x.ndim)) / np.sqrt(channel(var, x.ndim) + EPS)
                       * channel(weight, x.ndim) + channel(bias, x.ndim))
        m = 1.0 / t if momentum is None else momentum
        running_mean = (1 - m) * running_mean + m * mean
        running_var = (1 - m) * running_var + m * var * count / (count - 1)
    return outputs, running_mean, running_var


BATCH_NORMS = [(nn.BatchNorm1d, (6, 3)), (nn.BatchNorm1d, (4, 3, 5)),
               (nn.BatchNorm2d, (3, 3, 2, 4))]


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("cls, shape", BATCH_NORMS)
def test_batch_norm_training_outputs_and_running_statistics_match_formulas(cls, shape,
                                                                           momentum):
    layer = randomize(cls(3, momentum=momentum, dtype=mg.float64))
    batches = [values(*shape, seed=s) * (s + 1) + s for s in range(4)]
    outputs, mean, var = batch_norm_oracle(batches, momentum, host(layer.weight),
                                           host(layer.bias))
    for x, expected in zip(batches, outputs):
        assert_close(layer(tensor(x)), expected, rtol=1e-10, atol=1e-10)
    assert_close(layer.running_mean, mean, rtol=1e-12, atol=1e-12)
    assert_close(layer.running_var, var, rtol=1e-12, atol=1e-12)
    assert int(layer.num_batches_tracked.item()) == 4


@pytest.mark.parametrize("cls, shape", BATCH_NORMS)
def test_batch_norm_eval_uses_running_statistics_and_does_not_update_them(cls, shape):
    layer = randomize(cls(3, dtype=mg.float64))
    for s in range(3):
        layer(tensor(values(*shape, seed=s) + s))
    layer.eval()
    state = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    x = values(*shape, seed=9)
    expected = ((x - channel(state["running_mean"], x.ndim))
                / np.sqrt(channel(state["running_var"], x.ndim) + EPS)
                * channel(state["weight"], x.ndim) + channel(state["bias"], x.ndim))
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    assert_close(layer(tensor(x[:1])), expected[:1], rtol=1e-12, atol=1e-12)  # batch of 1
    for key, value in layer.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key])


def test_batch_norm_without_running_statistics_uses_batch_statistics_in_eval_too():
    layer = nn.BatchNorm2d(2, track_running_stats=False, affine=False, dtype=mg.float64).eval()
    x = values(3, 2, 2, 2)
    expected = ((x - x.mean(axis=(0, 2, 3), keepdims=True))
                / np.sqrt(x.var(axis=(0, 2, 3), keepdims=True) + EPS))
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    assert list(layer.state_dict()) == [] and list(layer.parameters()) == []


def test_batch_norm_state_dict_has_pytorchs_keys():
    assert list(nn.BatchNorm2d(3).state_dict()) == [
        "weight", "bias", "running_mean", "running_var", "num_batches_tracked"]


def test_batch_norm_to_float64_keeps_the_batch_counter_an_integer():
    layer = nn.BatchNorm1d(2).to(mg.float64)
    assert layer.running_var.dtype == np.float64
    assert layer.num_batches_tracked.dtype == np.int64


def test_batch_norm_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(3\): expected input of 4 dims.*\(2, 3\)"):
        nn.BatchNorm2d(3)(mg.zeros(2, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3\).*channels on axis 1.*\(2, 4\)"):
        nn.BatchNorm1d(3)(mg.zeros(2, 4))


@pytest.mark.parametrize("cls, shape", BATCH_NORMS)
def test_batch_norm_gradcheck_in_training_and_eval(cls, shape):
    layer = randomize(cls(3, dtype=mg.float64))

    def f(x, weight, bias):
        return layer(x)
    inputs = [tensor(values(*shape), True), layer.weight, layer.bias]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)
    layer.eval()
    gradcheck(f, inputs)


def test_instance_norm_matches_formula_and_gradchecks():
    layer = randomize(nn.InstanceNorm2d(3, affine=True, dtype=mg.float64))
    x = values(2, 3, 2, 3)
    mean, var = x.mean(axis=(2, 3), keepdims=True), x.var(axis=(2, 3), keepdims=True)
    expected = ((x - mean) / np.sqrt(var + EPS) * channel(host(layer.weight), 4)
                + channel(host(layer.bias), 4))
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, w, b: layer(x), [tensor(x, True), layer.weight, layer.bias])
    assert list(nn.InstanceNorm2d(3).parameters()) == []
    with pytest.raises(ValueError, match=r"InstanceNorm2d\(3\).*\(2, 4, 2, 2\)"):
        layer(mg.zeros(2, 4, 2, 2, dtype=mg.float64))


def test_layer_norm_matches_formula_and_gradgradchecks():
    layer = randomize(nn.LayerNorm((2, 3), dtype=mg.float64))
    x = values(3, 2, 3)
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    expected = (x - mean) / np.sqrt(var + EPS) * host(layer.weight) + host(layer.bias)
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    inputs = [tensor(x, True), layer.weight, layer.bias]
    gradcheck(lambda x, w, b: layer(x), inputs)
    gradgradcheck(lambda x, w, b: layer(x), inputs)
    assert nn.LayerNorm(4).weight.shape == (4,)
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []


def test_group_norm_matches_formula_and_gradchecks():
    layer = randomize(nn.GroupNorm(2, 4, dtype=mg.float64))
    x = values(2, 4, 3)
    grouped = x.reshape(2, 2, 6)
    y = ((grouped - grouped.mean(axis=2, keepdims=True))
         / np.sqrt(grouped.var(axis=2, keepdims=True) + EPS)).reshape(x.shape)
    expected = y * channel(host(layer.weight), 3) + channel(host(layer.bias), 3)
    assert_close(layer(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    gradcheck(lambda x, w, b: layer(x), [tensor(x, True), layer.weight, layer.bias])
    with pytest.raises(ValueError, match="num_groups=3 must divide num_channels=4"):
        nn.GroupNorm(3, 4)


def test_pixel_norm_matches_formula_and_gradchecks():
    x = values(2, 3, 2, 2)
    expected = x / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + 1e-8)
    assert_close(nn.PixelNorm()(tensor(x)), expected, rtol=1e-12, atol=1e-12)
    gradcheck(nn.PixelNorm(), [tensor(x, True)])


# ------------------------------------------------------------ conditional batch norm --
def plain_batch_norm(x):
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    return (x - mean) / np.sqrt(var + EPS)


def test_conditional_batch_norm_with_labels_starts_as_plain_batch_norm():
    layer = nn.ConditionalBatchNorm2d(3, num_classes=4, dtype=mg.float64)
    x = values(4, 3, 2, 2)
    assert_close(layer(tensor(x), mg.tensor([0, 3, 3, 1])), plain_batch_norm(x), rtol=1e-12,
                 atol=1e-12)


def test_conditional_batch_norm_with_labels_uses_each_class_row():
    layer = randomize(nn.ConditionalBatchNorm2d(3, num_classes=4, dtype=mg.float64))
    x, labels = values(4, 3, 2, 2), np.array([0, 3, 3, 1])
    gain = host(layer.gain.weight)[labels][:, :, None, None]
    bias = host(layer.bias.weight)[labels][:, :, None, None]
    expected = plain_batch_norm(x) * (1 + gain) + bias
    assert_close(layer(tensor(x), mg.tensor(labels)), expected, rtol=1e-12, atol=1e-12)

    def f(x, gain, bias):
        return layer(x, mg.tensor(labels))
    gradcheck(f, [tensor(x, True), layer.gain.weight, layer.bias.weight])


def test_conditional_batch_norm_with_features_projects_the_condition():
    layer = nn.ConditionalBatchNorm2d(3, cond_features=5, dtype=mg.float64)
    assert np.abs(host(layer.gain.weight)).max() < 0.15          # N(0, 0.02^2) at the start
    randomize(layer)
    x, cond = values(4, 3, 2, 2), values(4, 5, seed=3)
    gain = (cond @ host(layer.gain.weight).T)[:, :, None, None]
    bias = (cond @ host(layer.bias.weight).T)[:, :, None, None]
    expected = plain_batch_norm(x) * (1 + gain) + bias
    assert_close(layer(tensor(x), tensor(cond)), expected, rtol=1e-12, atol=1e-12)

    def f(x, cond, gain, bias):
        return layer(x, cond)
    gradcheck(f, [tensor(x, True), tensor(cond, True), layer.gain.weight, layer.bias.weight])


def test_conditional_batch_norm_eval_uses_running_statistics():
    layer = nn.ConditionalBatchNorm2d(2, num_classes=3, dtype=mg.float64)
    layer(tensor(values(4, 2, 2, 2) + 3), mg.tensor([0, 1, 2, 0]))
    layer.eval()
    x = values(1, 2, 2, 2, seed=5)
    mean, var = host(layer.bn.running_mean), host(layer.bn.running_var)
    expected = (x - channel(mean, 4)) / np.sqrt(channel(var, 4) + EPS)
    assert_close(layer(tensor(x), mg.tensor([2])), expected, rtol=1e-12, atol=1e-12)


def test_conditional_batch_norm_checks_its_arguments():
    with pytest.raises(ValueError, match="exactly one of cond_features"):
        nn.ConditionalBatchNorm2d(3)
    with pytest.raises(ValueError, match="exactly one of cond_features"):
        nn.ConditionalBatchNorm2d(3, cond_features=2, num_classes=2)
    layer = nn.ConditionalBatchNorm2d(2, num_classes=3)
    with pytest.raises(ValueError, match=r"condition of shape \(3,\).*\(2, 2, 1, 1\)"):
        layer(mg.zeros(2, 2, 1, 1), mg.tensor([0, 1, 2]))


# --------------------------------------------------------------------------- PyTorch --
def copy_to_torch(torch, module, reference):
    with torch.no_grad():
        for name, value in module.state_dict().items():
            getattr(reference, name).copy_(torch.from_numpy(value.numpy()))


@pytest.mark.parametrize("momentum", [0.1, None])
@pytest.mark.parametrize("cls, shape", BATCH_NORMS)
def test_batch_norm_matches_torch_in_training_and_eval(cls, shape, momentum):
    torch = pytest.importorskip("torch")
    layer = randomize(cls(3, momentum=momentum, dtype=mg.float64))
    reference = getattr(torch.nn, cls.__name__)(3, momentum=momentum).double()
    copy_to_torch(torch, layer, reference)
    for s in range(3):
        x = values(*shape, seed=s) * (s + 1)
        xt = torch.from_numpy(x).requires_grad_()
        mx = tensor(x, True)
        (layer(mx) ** 3).sum().backward()
        reference(xt).pow(3).sum().backward()
        assert_close(mx.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-9)
    for name, value in reference.state_dict().items():
        assert_close(layer.state_dict()[name], value.numpy(), rtol=1e-12, atol=1e-12)
    assert_close(layer.weight.grad, reference.weight.grad.numpy(), rtol=1e-9, atol=1e-9)
    layer.eval()
    reference.eval()
    x = values(*shape, seed=7)
    assert_close(layer(tensor(x)), reference(torch.from_numpy(x)).detach().numpy(),
                 rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.InstanceNorm2d(3, affine=True), (2, 3, 4, 3)),
    (lambda m: m.LayerNorm((3, 4)), (2, 5, 3, 4)),
    (lambda m: m.GroupNorm(3, 6), (2, 6, 3, 2))])
def test_norms_match_torch(make, shape):
    torch = pytest.importorskip("torch")
    layer = randomize(make(nn).to(mg.float64))
    reference = make(torch.nn).double()
    copy_to_torch(torch, layer, reference)
    x = values(*shape)
    xt = torch.from_numpy(x).requires_grad_()
    mx = tensor(x, True)
    (layer(mx) ** 3).sum().backward()
    reference(xt).pow(3).sum().backward()
    assert_close(layer(mx), reference(xt).detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(mx.grad, xt.grad.numpy(), rtol=1e-9, atol=1e-9)
    assert_close(layer.weight.grad, reference.weight.grad.numpy(), rtol=1e-9, atol=1e-9)
    assert_close(layer.bias.grad, reference.bias.grad.numpy(), rtol=1e-9, atol=1e-9)


@pytest.mark.gpu
def test_batch_norm_on_the_gpu_matches_the_cpu():
    cpu_layer = randomize(nn.BatchNorm2d(3, momentum=None, dtype=mg.float64))
    gpu_layer = randomize(nn.BatchNorm2d(3, momentum=None, dtype=mg.float64)).cuda()
    for s in range(3):
        x = values(4, 3, 2, 2, seed=s) + s
        assert_close(gpu_layer(mg.tensor(x, dtype=mg.float64, device="cuda")).cpu(),
                     cpu_layer(tensor(x)), rtol=1e-12, atol=1e-12)
    for key, value in cpu_layer.state_dict().items():
        assert_close(gpu_layer.state_dict()[key].cpu(), value, rtol=1e-12, atol=1e-12)
