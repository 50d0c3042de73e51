"""Spectral normalisation: sigma against np.linalg.svd, the buffers u and v in the state
dict, no update in eval mode, the fixed-u, v gradient against its formula, a layer called
twice in one graph, removal, deepcopy and resuming from a state dict."""
import copy

import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck


def values(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def tensor(array, requires_grad=False):
    return mg.tensor(array, dtype=mg.float64, requires_grad=requires_grad)


def host(t):
    return t.detach().numpy()


def matrix(layer, dim=0):
    """weight_orig as the (shape[dim], rest) matrix that spectral norm sees."""
    w = np.moveaxis(host(layer.weight_orig), dim, 0)
    return w.reshape(w.shape[0], -1)


def top_singular_value(m):
    return np.linalg.svd(m, compute_uv=False)[0]


def sn(layer, **kwargs):
    """``layer`` in float64 with a seeded N(0, 1) weight, spectrally normalised."""
    layer.to(mg.float64)
    nn.init.normal_(layer.weight, generator=mg.Generator(1))
    return nn.spectral_norm(layer, generator=mg.Generator(0), **kwargs)


LAYERS = [  # (layer, input shape, dim that spectral norm uses)
    (lambda: nn.Linear(6, 5), (3, 6), 0),
    (lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 4, 4), 0),
    (lambda: nn.ConvTranspose2d(3, 4, 3, stride=2), (2, 3, 3, 3), 1),
]


@pytest.mark.parametrize("make, shape, dim", LAYERS)
def test_sigma_converges_to_the_largest_singular_value(make, shape, dim):
    layer = sn(make())
    x = tensor(values(*shape))
    for _ in range(200):               # error ~ (sigma_2 / sigma_1)^(4 k): 0.947^800 here
        layer(x)
    sigma = top_singular_value(matrix(layer, dim))
    assert nn.spectral_norm_sigma(layer) == pytest.approx(sigma, rel=1e-8)
    normalized = np.moveaxis(host(layer.weight), dim, 0).reshape(matrix(layer, dim).shape)
    assert top_singular_value(normalized) == pytest.approx(1.0, rel=1e-8)
    assert_close(layer.weight, host(layer.weight_orig) / nn.spectral_norm_sigma(layer),
                 rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("make, shape, dim", LAYERS)
def test_u_and_v_have_the_matrix_sides_and_are_unit_vectors(make, shape, dim):
    layer = sn(make())
    rows, cols = matrix(layer, dim).shape
    assert layer.weight_u.shape == (rows,) and layer.weight_v.shape == (cols,)
    assert np.linalg.norm(host(layer.weight_u)) == pytest.approx(1.0)
    assert np.linalg.norm(host(layer.weight_v)) == pytest.approx(1.0)


def test_transposed_convolution_defaults_to_dim_1_and_dim_can_be_chosen():
    assert sn(nn.ConvTranspose2d(3, 4, 3)).weight_u.shape == (4,)
    layer = sn(nn.ConvTranspose2d(3, 4, 3), dim=0)
    assert layer.weight_u.shape == (3,)
    for _ in range(200):               # error ~ (sigma_2 / sigma_1)^(4 k): 0.947^800 here
        layer(tensor(values(1, 3, 2, 2)))
    assert nn.spectral_norm_sigma(layer) == pytest.approx(
        top_singular_value(matrix(layer, 0)), rel=1e-8)


def test_weight_orig_is_the_parameter_and_u_v_are_buffers_in_the_state_dict():
    layer = sn(nn.Linear(4, 3))
    assert [name for name, _ in layer.named_parameters()] == ["bias", "weight_orig"]
    assert [name for name, _ in layer.named_buffers()] == ["weight_u", "weight_v"]
    assert list(layer.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert not layer.weight.is_leaf                         # computed from weight_orig


def test_training_forward_updates_u_and_v():
    layer = sn(nn.Linear(4, 3))
    u, v = host(layer.weight_u).copy(), host(layer.weight_v).copy()
    with mg.no_grad():
        layer.weight_orig.copy_(values(3, 4, seed=3))       # a new W moves u and v
    layer(tensor(values(2, 4)))
    assert not np.allclose(host(layer.weight_u), u)
    assert not np.allclose(host(layer.weight_v), v)


def test_eval_mode_keeps_u_and_v_and_is_deterministic():
    layer = sn(nn.Linear(4, 3))
    with mg.no_grad():
        layer.weight_orig.copy_(values(3, 4, seed=3))
    layer.eval()
    u, v = host(layer.weight_u).copy(), host(layer.weight_v).copy()
    x = tensor(values(2, 4))
    first, second = host(layer(x)), host(layer(x))
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(host(layer.weight_u), u)
    np.testing.assert_array_equal(host(layer.weight_v), v)
    sigma = u @ host(layer.weight_orig) @ v
    assert_close(first, host(x) @ (host(layer.weight_orig) / sigma).T + host(layer.bias),
                 rtol=1e-12, atol=1e-12)


def test_zero_power_iterations_never_update_u_and_v():
    layer = sn(nn.Linear(4, 3), n_power_iterations=0)
    u = host(layer.weight_u).copy()
    with mg.no_grad():
        layer.weight_orig.copy_(values(3, 4, seed=3))
    layer(tensor(values(2, 4)))
    np.testing.assert_array_equal(host(layer.weight_u), u)


def normalized_weight_gradient(w, u, v, grad_wsn):
    """d L / d W for W_sn = W / sigma, sigma = u^T W v with u, v constants:
    G / sigma - <G, W> / sigma^2 u v^T, G = d L / d W_sn."""
    sigma = u @ w @ v
    return grad_wsn / sigma - (grad_wsn * w).sum() / sigma ** 2 * np.outer(u, v)


def test_gradient_flows_through_sigma_with_u_and_v_fixed():
    layer = sn(nn.Linear(4, 3))
    x = values(5, 4)
    layer(tensor(x)).pow(2).sum().backward()
    u, v = host(layer.weight_u), host(layer.weight_v)         # the vectors this call used
    w = host(layer.weight_orig)
    y = x @ (w / (u @ w @ v)).T + host(layer.bias)
    expected = normalized_weight_gradient(w, u, v, (2 * y).T @ x)
    assert_close(layer.weight_orig.grad, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (2, 3)), (lambda: nn.Conv2d(2, 2, 2), (1, 2, 3, 2)),
    (lambda: nn.ConvTranspose2d(2, 3, 2, stride=2), (1, 2, 2, 1))])
def test_gradcheck_wrt_input_and_weight_orig_with_fixed_vectors(make, shape):
    layer = sn(make()).eval()
    gradcheck(lambda x, w, b: layer(x), [tensor(values(*shape), True), layer.weight_orig,
                                         layer.bias])


def test_gradcheck_in_training_with_zero_power_iterations():
    layer = sn(nn.Conv2d(2, 2, 2), n_power_iterations=0)
    assert layer.training
    gradcheck(lambda x, w: layer(x), [tensor(values(1, 2, 3, 3), True), layer.weight_orig])


@pytest.mark.parametrize("make, shape", [
    (lambda: nn.Linear(3, 2), (2, 3)), (lambda: nn.Conv2d(2, 2, 2), (1, 2, 3, 2))])
def test_gradgradcheck_for_gradient_penalties(make, shape):
    """A penalty differentiates the critic's input gradient again w.r.t. its weights."""
    layer = sn(make()).eval()
    gradgradcheck(lambda x, w: layer(x).tanh(), [tensor(values(*shape), True),
                                                 layer.weight_orig])


def test_module_called_twice_in_one_graph_backpropagates_each_call_through_its_vectors():
    layer = sn(nn.Linear(4, 3))
    with mg.no_grad():
        layer.weight_orig.copy_(values(3, 4, seed=3))        # far from the stored u, v
    start = {k: v.numpy().copy() for k, v in layer.state_dict().items()}
    a, b = values(2, 4, seed=1), values(2, 4, seed=2)

    (layer(tensor(a)).sum() + layer(tensor(b)).sum()).backward()
    joint = host(layer.weight_orig.grad).copy()

    layer.load_state_dict(start)
    layer.zero_grad()
    layer(tensor(a)).sum().backward()
    u1, v1 = host(layer.weight_u).copy(), host(layer.weight_v).copy()
    layer(tensor(b)).sum().backward()
    u2, v2 = host(layer.weight_u).copy(), host(layer.weight_v).copy()
    assert not np.allclose(u1, u2)                          # the two calls saw different u
    assert_close(joint, layer.weight_orig.grad, rtol=1e-12, atol=1e-14)

    w = start["weight_orig"]
    ones = np.ones((2, 3))
    expected = (normalized_weight_gradient(w, u1, v1, ones.T @ a)
                + normalized_weight_gradient(w, u2, v2, ones.T @ b))
    assert_close(joint, expected, rtol=1e-10, atol=1e-12)


def test_eval_graph_keeps_its_vectors_when_a_later_training_forward_updates_them():
    """The buffers change in place after an eval forward (a training forward, or loading a
    checkpoint); the eval graph must still differentiate with the u, v it used."""
    layer = sn(nn.Linear(4, 3)).eval()
    with mg.no_grad():
        layer.weight_orig.copy_(values(3, 4, seed=3))
    u, v = host(layer.weight_u).copy(), host(layer.weight_v).copy()
    x = values(2, 4)
    out = layer(tensor(x)).sum()
    layer.train()(tensor(x))
    assert not np.allclose(host(layer.weight_u), u)
    out.backward()
    expected = normalized_weight_gradient(host(layer.weight_orig), u, v, np.ones((3, 2)) @ x)
    assert_close(layer.weight_orig.grad, expected, rtol=1e-10, atol=1e-12)


def test_spectral_norm_sigma_reports_the_latest_forward():
    layer = sn(nn.Linear(4, 3))
    layer(tensor(values(2, 4)))
    u, v = host(layer.weight_u), host(layer.weight_v)
    sigma = nn.spectral_norm_sigma(layer)
    assert isinstance(sigma, float)
    assert sigma == pytest.approx(u @ host(layer.weight_orig) @ v, rel=1e-12)
    with pytest.raises(ValueError, match="Linear.weight is not spectrally normalised"):
        nn.spectral_norm_sigma(nn.Linear(2, 2))


def test_remove_spectral_norm_bakes_the_normalized_weight_into_a_parameter():
    layer = sn(nn.Conv2d(2, 3, 3)).eval()
    x = tensor(values(1, 2, 4, 4))
    before = host(layer(x))
    expected_weight = host(layer.weight)
    nn.remove_spectral_norm(layer)
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.requires_grad
    assert_close(layer.weight, expected_weight, rtol=1e-12, atol=1e-12)
    assert list(layer.state_dict()) == ["bias", "weight"]
    assert layer._forward_pre_hooks == []
    assert_close(layer(x), before, rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="not spectrally normalised"):
        nn.remove_spectral_norm(layer)
    nn.spectral_norm(layer)                                  # can be wrapped again


def test_deepcopy_after_a_forward_gives_an_independent_equal_module():
    layer = sn(nn.Linear(4, 3))
    x = tensor(values(2, 4))
    layer(x).sum().backward()
    clone = copy.deepcopy(layer)
    for key, value in layer.state_dict().items():
        assert_close(clone.state_dict()[key], value, rtol=0, atol=0)
    assert clone.weight_u is not layer.weight_u
    assert_close(clone(x), layer(x), rtol=0, atol=0)         # both iterate once more
    clone.eval()
    for _ in range(3):
        clone(x)
    layer.eval()
    assert_close(clone(x), layer(x), rtol=0, atol=0)
    with mg.no_grad():
        clone.weight_orig.fill_(1.0)
    assert not np.allclose(host(layer.weight_orig), 1.0)


def test_state_dict_round_trip_resumes_the_same_u_and_v():
    trained = sn(nn.Linear(5, 4))
    with mg.no_grad():
        trained.weight_orig.copy_(values(4, 5, seed=4))
    x = tensor(values(3, 5))
    for _ in range(2):
        trained(x)
    fresh = nn.spectral_norm(nn.Linear(5, 4).to(mg.float64), generator=mg.Generator(9))
    assert not np.allclose(host(fresh.weight_u), host(trained.weight_u))
    fresh.load_state_dict(trained.state_dict())
    for _ in range(2):
        assert_close(fresh(x), trained(x), rtol=0, atol=0)
        assert_close(fresh.weight_u, trained.weight_u, rtol=0, atol=0)
        assert_close(fresh.weight_v, trained.weight_v, rtol=0, atol=0)


def test_to_float32_converts_the_vectors_too():
    layer = sn(nn.Linear(4, 3)).to(mg.float32)
    assert layer.weight_u.dtype == np.float32 and layer.weight_v.dtype == np.float32
    assert layer(mg.randn(2, 4)).dtype == np.float32


def test_spectral_norm_rejects_bad_arguments():
    with pytest.raises(ValueError, match="Linear has no parameter 'kernel'"):
        nn.spectral_norm(nn.Linear(2, 2), name="kernel")
    with pytest.raises(ValueError, match="n_power_iterations must be >= 0, got -1"):
        nn.spectral_norm(nn.Linear(2, 2), n_power_iterations=-1)
    with pytest.raises(ValueError, match=r"Linear.bias must have 2 or more dimensions"):
        nn.spectral_norm(nn.Linear(2, 2), name="bias")
    layer = nn.spectral_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="already spectrally normalised"):
        nn.spectral_norm(layer)


@pytest.mark.gpu
def test_spectral_norm_on_the_gpu_matches_the_cpu():
    cpu_layer = sn(nn.Conv2d(3, 4, 3))
    gpu_layer = copy.deepcopy(cpu_layer).cuda()
    x = values(2, 3, 5, 5)
    for _ in range(3):
        cpu_out = cpu_layer(tensor(x))
        gpu_out = gpu_layer(mg.tensor(x, dtype=mg.float64, device="cuda"))
        (cpu_out ** 2).sum().backward()
        (gpu_out ** 2).sum().backward()
    assert gpu_layer.weight_u.device == "cuda"
    assert_close(gpu_out.cpu(), cpu_out, rtol=1e-10, atol=1e-12)
    assert_close(gpu_layer.weight_u.cpu(), cpu_layer.weight_u, rtol=1e-10, atol=1e-12)
    assert_close(gpu_layer.weight_orig.grad.cpu(), cpu_layer.weight_orig.grad, rtol=1e-10,
                 atol=1e-12)
    assert nn.spectral_norm_sigma(gpu_layer) == pytest.approx(
        nn.spectral_norm_sigma(cpu_layer), rel=1e-10)
