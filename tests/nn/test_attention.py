"""SAGAN's SelfAttention block: the identity at initialisation (gamma = 0), the block
against its formula in float64 NumPy once gamma is set, equivariance to moving pixels,
and gradients of first and second order w.r.t. input and every parameter."""
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


def sagan_oracle(x, wq, wk, wv, wo, gamma):
    """y = x + gamma * Wo a, a_i = sum_j softmax_j(f_i . g_j) h_j over the P = H W
    positions, with f = Wq x, g = Wk x, h = Wv x (1x1 convolutions, no bias)."""
    n, c, height, width = x.shape
    positions = x.reshape(n, c, height * width)                       # (N, C, P)
    f = np.einsum("kc,ncp->npk", wq[:, :, 0, 0], positions)           # (N, P, C/8)
    g = np.einsum("kc,ncp->npk", wk[:, :, 0, 0], positions)
    h = np.einsum("vc,ncp->npv", wv[:, :, 0, 0], positions)           # (N, P, Cv)
    logits = np.einsum("nik,njk->nij", f, g)                          # (N, P, P)
    beta = np.exp(logits - logits.max(axis=2, keepdims=True))
    beta /= beta.sum(axis=2, keepdims=True)
    a = np.einsum("nij,njv->niv", beta, h)                            # (N, P, Cv)
    o = np.einsum("cv,niv->nci", wo[:, :, 0, 0], a)                   # (N, C, P)
    return x + gamma * o.reshape(x.shape)


def block(channels=16, seed=0, **kwargs):
    mg.manual_seed(seed)
    return nn.SelfAttention(channels, dtype=mg.float64, **kwargs)


def weights(layer):
    return [host(m.weight) for m in (layer.query, layer.key, layer.value, layer.out)]


def test_gamma_starts_at_zero_so_the_block_is_the_identity():
    layer = block()
    assert host(layer.gamma).tolist() == [0.0]
    x = values(2, 16, 3, 4)
    np.testing.assert_array_equal(host(layer(tensor(x))), x)


def test_block_matches_the_sagan_formula_once_gamma_is_set():
    layer = block()
    with mg.no_grad():
        layer.gamma.fill_(0.7)
    x = values(2, 16, 3, 4, seed=1)
    expected = sagan_oracle(x, *weights(layer), 0.7)
    assert_close(layer(tensor(x)), expected, rtol=1e-10, atol=1e-10)


def test_channel_counts_default_to_c_over_8_and_c_over_2():
    layer = block(32)
    assert layer.query.out_channels == layer.key.out_channels == 4
    assert layer.value.out_channels == 16 and layer.out.in_channels == 16
    custom = block(8, value_channels=8, key_channels=3)
    assert custom.query.weight.shape == (3, 8, 1, 1)
    assert custom.value.weight.shape == (8, 8, 1, 1)
    with mg.no_grad():
        custom.gamma.fill_(-1.3)
    x = values(1, 8, 2, 3, seed=2)
    assert_close(custom(tensor(x)), sagan_oracle(x, *weights(custom), -1.3), rtol=1e-10,
                 atol=1e-10)


def test_block_is_equivariant_to_moving_pixels():
    """1x1 convolutions and attention over all positions: flipping the image flips the
    output."""
    layer = block(8)
    with mg.no_grad():
        layer.gamma.fill_(0.5)
    x = values(1, 8, 3, 4, seed=3)
    flipped = layer(tensor(x[:, :, ::-1, ::-1].copy()))
    assert_close(flipped, host(layer(tensor(x)))[:, :, ::-1, ::-1], rtol=1e-12, atol=1e-12)


def test_block_gradcheck_and_gradgradcheck_wrt_input_and_parameters():
    layer = block(4, key_channels=2, value_channels=2)
    with mg.no_grad():
        layer.gamma.fill_(0.8)
    params = list(layer.parameters())
    assert len(params) == 5

    def f(x, *params):
        return layer(x)
    inputs = [tensor(values(1, 4, 2, 2, seed=4), True), *params]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)


def test_gradient_reaches_gamma_at_initialisation():
    layer = block(8)
    layer(tensor(values(1, 8, 2, 2, seed=5))).sum().backward()
    assert abs(float(layer.gamma.grad.item())) > 0
    assert not host(layer.query.weight.grad).any()          # gamma = 0 blocks the rest


def test_repr_and_shape_errors():
    layer = nn.SelfAttention(16)
    assert layer.extra_repr() == "channels=16"
    with pytest.raises(ValueError, match=r"SelfAttention\(16\).*\(2, 8, 3, 3\)"):
        layer(mg.zeros(2, 8, 3, 3))


@pytest.mark.gpu
def test_block_on_the_gpu_matches_the_cpu():
    cpu_layer = block(16)
    with mg.no_grad():
        cpu_layer.gamma.fill_(0.6)
    gpu_layer = block(16)
    gpu_layer.load_state_dict(cpu_layer.state_dict())
    gpu_layer.cuda()
    x = values(2, 16, 4, 4, seed=6)
    cpu_x, gpu_x = tensor(x, True), mg.tensor(x, dtype=mg.float64, device="cuda",
                                              requires_grad=True)
    (cpu_layer(cpu_x) ** 2).sum().backward()
    (gpu_layer(gpu_x) ** 2).sum().backward()
    assert_close(gpu_layer(gpu_x).cpu(), cpu_layer(cpu_x), rtol=1e-10, atol=1e-12)
    assert_close(gpu_x.grad.cpu(), cpu_x.grad, rtol=1e-9, atol=1e-12)
    assert_close(gpu_layer.query.weight.grad.cpu(), cpu_layer.query.weight.grad, rtol=1e-9,
                 atol=1e-12)
