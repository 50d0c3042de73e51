"""Conv2d (every padding mode) and ConvTranspose2d: values against direct float64 NumPy
loops (and PyTorch where installed), gradients of every order w.r.t. input and
parameters."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigan as mg
from minigan import nn
from minigan.testing import assert_close, gradcheck, gradgradcheck

NUMPY_PAD = {"zeros": "constant", "reflect": "reflect", "replicate": "edge"}


def randn(*shape, seed=0, requires_grad=True):
    values = np.random.default_rng(seed).standard_normal(shape)
    return mg.tensor(values, dtype=mg.float64, requires_grad=requires_grad)


def host(t):
    return t.detach().numpy()


def conv2d_reference(x, w, b, stride, padding, dilation, groups, mode):
    """y[n, o, i, j] = b[o] + sum_{c, p, q} xpad[n, g(o) c, i s + p d, j s + q d] w[o, c, p, q]."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=NUMPY_PAD[mode])
    n, c_in, height, width = x.shape
    c_out, c_group, kh, kw = w.shape
    out_h = (height - dh * (kh - 1) - 1) // sh + 1
    out_w = (width - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, c_out, out_h, out_w))
    per_group = c_out // groups
    for o in range(c_out):
        channels = slice(o // per_group * c_group, (o // per_group + 1) * c_group)
        for i in range(out_h):
            for j in range(out_w):
                patch = x[:, channels, i * sh:i * sh + dh * (kh - 1) + 1:dh,
                          j * sw:j * sw + dw * (kw - 1) + 1:dw]
                y[:, o, i, j] = (patch * w[o]).sum((1, 2, 3))
    return y + (0 if b is None else b[None, :, None, None])


def conv_transpose2d_reference(x, w, b, stride, padding, output_padding, dilation, groups):
    """Each input pixel scatters x[n, c, i, j] w[c, o, p, q] to (i s + p d - pad, ...)."""
    (sh, sw), (ph, pw), (oph, opw), (dh, dw) = stride, padding, output_padding, dilation
    n, c_in, height, width = x.shape
    _, c_group, kh, kw = w.shape
    full_h = (height - 1) * sh + dh * (kh - 1) + 1 + oph
    full_w = (width - 1) * sw + dw * (kw - 1) + 1 + opw
    y = np.zeros((n, c_group * groups, full_h, full_w))
    in_per_group = c_in // groups
    for c in range(c_in):
        outs = slice(c // in_per_group * c_group, (c // in_per_group + 1) * c_group)
        for i in range(height):
            for j in range(width):
                for p in range(kh):
                    for q in range(kw):
                        y[:, outs, i * sh + p * dh, j * sw + q * dw] += \
                            x[:, c, i, j][:, None] * w[c, :, p, q][None, :]
    y = y[:, :, ph:full_h - ph, pw:full_w - pw]
    return y + (0 if b is None else b[None, :, None, None])


@settings(max_examples=12)
@given(mode=st.sampled_from(["zeros", "reflect", "replicate"]), groups=st.sampled_from([1, 2]),
       kernel=st.integers(1, 3), stride=st.integers(1, 2), padding=st.integers(0, 2),
       dilation=st.integers(1, 2), bias=st.booleans(), size=st.integers(5, 6))
def test_conv2d_matches_numpy_loops(mode, groups, kernel, stride, padding, dilation, bias,
                                    size):
    layer = nn.Conv2d(4, 2, kernel, stride, padding, dilation, groups, bias, mode,
                      dtype=mg.float64)
    x = randn(2, 4, size, size + 1)
    expected = conv2d_reference(host(x), host(layer.weight),
                                host(layer.bias) if bias else None, layer.stride,
                                layer.padding, layer.dilation, groups, mode)
    assert_close(layer(x), expected)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate"])
def test_conv2d_gradcheck_and_gradgradcheck_wrt_input_and_parameters(mode):
    layer = nn.Conv2d(2, 2, 3, stride=2, padding=1, padding_mode=mode, dtype=mg.float64)

    def f(x, weight, bias):
        return layer(x)
    inputs = [randn(1, 2, 4, 4), layer.weight, layer.bias]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)


def test_conv2d_same_padding_keeps_the_size():
    layer = nn.Conv2d(1, 1, 3, padding="same", dilation=2, bias=False, dtype=mg.float64)
    x = randn(1, 1, 5, 6)
    assert_close(layer(x), conv2d_reference(host(x), host(layer.weight), None, (1, 1),
                                            (2, 2), (2, 2), 1, "zeros"))


def test_conv2d_default_init_bounds_follow_fan_in():
    layer = nn.Conv2d(16, 32, 3)
    bound = 1 / math.sqrt(16 * 9)
    assert np.abs(host(layer.weight)).max() <= bound
    assert np.abs(host(layer.bias)).max() <= bound


def test_conv2d_rejects_bad_settings():
    with pytest.raises(ValueError, match="padding_mode.*'circular'"):
        nn.Conv2d(1, 1, 3, padding_mode="circular")
    with pytest.raises(ValueError, match="groups=2 must divide in_channels=3"):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(ValueError, match="padding='same' needs padding_mode='zeros'"):
        nn.Conv2d(1, 1, 3, padding="same", padding_mode="reflect")


def test_conv2d_repr_names_non_default_settings():
    assert repr(nn.Conv2d(2, 4, 3, padding=1, groups=2, bias=False, padding_mode="reflect")) \
        == ("Conv2d(2, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2, "
            "bias=False, padding_mode='reflect')")


@settings(max_examples=10)
@given(groups=st.sampled_from([1, 2]), kernel=st.integers(1, 3), stride=st.integers(1, 3),
       padding=st.integers(0, 1), dilation=st.integers(1, 2), bias=st.booleans(),
       data=st.data())
def test_conv_transpose2d_matches_numpy_scatter(groups, kernel, stride, padding, dilation,
                                                bias, data):
    output_padding = data.draw(st.integers(0, max(stride, dilation) - 1))
    layer = nn.ConvTranspose2d(2, 4, kernel, stride, padding, output_padding, groups, bias,
                               dilation, dtype=mg.float64)
    x = randn(2, 2, 3, 4)
    expected = conv_transpose2d_reference(
        host(x), host(layer.weight), host(layer.bias) if bias else None, layer.stride,
        layer.padding, layer.output_padding, layer.dilation, groups)
    y = layer(x)

    def side(size):
        return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    assert y.shape == (2, 4, side(3), side(4))
    assert_close(y, expected)


def test_conv_transpose2d_gradcheck_and_gradgradcheck_wrt_input_and_parameters():
    layer = nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1, output_padding=1,
                               dtype=mg.float64)

    def f(x, weight, bias):
        return layer(x)
    inputs = [randn(1, 2, 2, 3), layer.weight, layer.bias]
    gradcheck(f, inputs)
    gradgradcheck(f, inputs)


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    """<conv(x), y> = <x, conv_transpose(y)> with the same weight and no bias."""
    conv = nn.Conv2d(3, 2, 3, stride=2, padding=1, bias=False, dtype=mg.float64)
    transpose = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, bias=False,
                                   dtype=mg.float64)
    with mg.no_grad():
        transpose.weight.copy_(conv.weight)
    x, y = randn(2, 3, 5, 5, seed=1), randn(2, 2, 3, 3, seed=2)
    left = (host(conv(x)) * host(y)).sum()
    right = (host(x) * host(transpose(y))).sum()
    assert left == pytest.approx(right, rel=1e-12)


def torch_copy(torch, module, reference):
    with torch.no_grad():
        for name, value in module.state_dict().items():
            getattr(reference, name).copy_(torch.from_numpy(value.numpy()))


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate"])
def test_conv2d_matches_torch(mode):
    torch = pytest.importorskip("torch")
    layer = nn.Conv2d(4, 6, 3, stride=2, padding=2, groups=2, padding_mode=mode,
                      dtype=mg.float64)
    reference = torch.nn.Conv2d(4, 6, 3, stride=2, padding=2, groups=2,
                                padding_mode=mode).double()
    torch_copy(torch, layer, reference)
    x = randn(2, 4, 6, 5)
    xt = torch.from_numpy(host(x)).requires_grad_()
    (layer(x) ** 2).sum().backward()
    reference(xt).pow(2).sum().backward()
    assert_close(layer(x), reference(xt).detach().numpy())
    assert_close(x.grad, xt.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    assert_close(layer.bias.grad, reference.bias.grad.numpy())


def test_conv_transpose2d_matches_torch():
    torch = pytest.importorskip("torch")
    layer = nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, output_padding=1, groups=2,
                               dtype=mg.float64)
    reference = torch.nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, output_padding=1,
                                         groups=2).double()
    torch_copy(torch, layer, reference)
    x = randn(2, 4, 3, 5)
    xt = torch.from_numpy(host(x)).requires_grad_()
    (layer(x) ** 2).sum().backward()
    reference(xt).pow(2).sum().backward()
    assert_close(layer(x), reference(xt).detach().numpy())
    assert_close(x.grad, xt.grad.numpy())
    assert_close(layer.weight.grad, reference.weight.grad.numpy())
    assert_close(layer.bias.grad, reference.bias.grad.numpy())
