"""Tests for minigan/zoo/networks.py: output shapes and ranges of the MLP and DCGAN pairs,
SAGAN's attention and spectral norm, and per-example critics for gradient penalties."""
import numpy as np
import pytest

import minigan as mg
from minigan import nn
from minigan.nn.spectral_norm import SpectralNorm
from minigan.zoo import RECIPES, build_gan
from minigan.zoo.networks import DCGANCritic, DCGANGenerator, MLPCritic, MLPGenerator

SIZES = [16, 32, 64]


def _spectral(module):
    return any(isinstance(h, SpectralNorm) for h in module._forward_pre_hooks)


def _weighted_layers(net):
    return [m for m in net.modules()
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]


@pytest.mark.parametrize("spectral", [False, True])
def test_mlp_pair_maps_latents_to_points_and_points_to_one_score(spectral):
    g = MLPGenerator(latent_dim=3, data_dim=2, width=8, depth=2, spectral=spectral)
    d = MLPCritic(data_dim=2, width=8, depth=2, spectral=spectral)
    x = g(mg.randn(5, 3))
    assert x.shape == (5, 2)
    assert d(x).shape == (5, 1)
    layers = _weighted_layers(g) + _weighted_layers(d)
    assert len(layers) == 6
    assert all(_spectral(m) == spectral for m in layers)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_dcgan_generator_output_shape_and_tanh_range(size, channels):
    g = DCGANGenerator(latent_dim=6, channels=channels, image_size=size, width=4)
    last = [m for m in g.modules() if isinstance(m, nn.ConvTranspose2d)][-1]
    last.weight.data *= 1000                     # pre-activations far beyond tanh's knee
    x = g(mg.randn(3, 6)).detach().numpy()
    assert x.shape == (3, channels, size, size)
    assert np.all(np.abs(x) <= 1) and np.abs(x).max() > 0.99


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", SIZES)
def test_dcgan_critic_gives_one_score_per_example(size, channels):
    d = DCGANCritic(channels=channels, image_size=size, width=4)
    assert d(mg.randn(3, channels, size, size)).shape == (3, 1)


@pytest.mark.parametrize("norm, layer", [("batch", nn.BatchNorm2d), ("layer", nn.LayerNorm),
                                         ("instance", nn.InstanceNorm2d), ("none", None)])
def test_dcgan_norm_option_places_that_normalisation(norm, layer):
    g = DCGANGenerator(latent_dim=4, channels=1, image_size=32, width=4, norm=norm)
    d = DCGANCritic(channels=1, image_size=32, width=4, norm=norm)
    for net, count in [(g, 3), (d, 2)]:          # after every conv but G's last, D's first
        norms = [m for m in net.modules()
                 if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm, nn.InstanceNorm2d))]
        assert len(norms) == (0 if layer is None else count)
        assert all(isinstance(m, layer) for m in norms)
    assert g(mg.randn(2, 4)).shape == (2, 1, 32, 32)
    assert d(mg.randn(2, 1, 32, 32)).shape == (2, 1)


@pytest.mark.parametrize("norm", ["layer", "none"])
def test_critic_without_batch_norm_scores_each_example_alone(norm):
    """What a gradient penalty needs: D(x)_b depends on x_b only."""
    d = DCGANCritic(channels=1, image_size=16, width=4, norm=norm)
    x = mg.randn(4, 1, 16, 16)
    alone = np.concatenate([d(x[i:i + 1]).detach().numpy() for i in range(4)])
    np.testing.assert_allclose(d(x).detach().numpy(), alone, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("size", SIZES)
def test_sagan_networks_hold_self_attention_and_spectral_norm_everywhere(size):
    gan = build_gan(RECIPES["sagan"], (3, size, size), latent_dim=8, width=8)
    for net in (gan.generator, gan.critic):
        assert sum(isinstance(m, nn.SelfAttention) for m in net.modules()) == 1
        layers = _weighted_layers(net)            # attention's 1x1 convolutions included
        assert layers and all(_spectral(m) for m in layers)
    x = gan.generator(mg.randn(2, 8))
    assert x.shape == (2, 3, size, size)
    assert gan.critic(x).shape == (2, 1)


@pytest.mark.parametrize("name", ["gan", "dcgan", "lsgan", "wgan", "wgan_gp", "wgan_div"])
def test_other_recipes_build_plain_dcgan_networks(name):
    gan = build_gan(RECIPES[name], (1, 16, 16), latent_dim=8, width=4)
    for net in (gan.generator, gan.critic):
        assert not any(isinstance(m, nn.SelfAttention) for m in net.modules())
        assert not any(_spectral(m) for m in _weighted_layers(net))


@pytest.mark.parametrize("size, g_at, d_at", [(16, 8, 4), (32, 16, 8), (64, 32, 16)])
def test_attention_sits_at_the_named_resolution(size, g_at, d_at):
    seen = {}

    def record(name):
        def hook(module, args):
            seen[name] = args[0].shape[-1]
        return hook
    g = DCGANGenerator(latent_dim=4, channels=1, image_size=size, width=8, attention_at=g_at)
    d = DCGANCritic(channels=1, image_size=size, width=8, attention_at=d_at)
    for name, net in [("g", g), ("d", d)]:
        (block,) = [m for m in net.modules() if isinstance(m, nn.SelfAttention)]
        block.register_forward_pre_hook(record(name))
    d(g(mg.randn(2, 4)))
    assert seen == {"g": g_at, "d": d_at}


@pytest.mark.parametrize("net", [DCGANGenerator, DCGANCritic])
def test_attention_at_a_resolution_the_network_lacks_is_an_error(net):
    with pytest.raises(ValueError, match=f"{net.__name__}: attention_at .* got 12"):
        net(image_size=32, width=4, attention_at=12)


@pytest.mark.parametrize("net", [DCGANGenerator, DCGANCritic])
def test_unsupported_image_size_and_norm_are_errors(net):
    with pytest.raises(ValueError, match="16, 32 or 64, got 28"):
        net(image_size=28, width=4)
    with pytest.raises(ValueError, match="unknown normalisation 'group'"):
        net(image_size=16, width=4, norm="group")
