"""The networks of the first GAN family: an MLP pair for 2-D data, and DCGAN's
generator and critic for 16, 32 and 64-pixel images, which SAGAN extends with spectral
normalisation and self-attention (options here, so each block is written once).
"""
from __future__ import annotations

import math

from minigan import nn
from minigan.tensor import Tensor

NORMS = ("batch", "layer", "instance", "none")


class MLPGenerator(nn.Module):
    """z (B, latent_dim) -> x (B, data_dim): ``depth`` hidden layers of ``width`` ReLU
    units (the usual setup of the 2-D mixture experiments); ``spectral`` normalises every
    layer."""

    def __init__(self, latent_dim: int = 2, data_dim: int = 2, width: int = 256,
                 depth: int = 3, spectral: bool = False) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        layers: list[nn.Module] = []
        size = latent_dim
        for _ in range(depth):
            layers += [_sn(nn.Linear(size, width), spectral), nn.ReLU()]
            size = width
        layers.append(_sn(nn.Linear(size, data_dim), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class MLPCritic(nn.Module):
    """x (B, data_dim) -> D(x) (B, 1): ``depth`` hidden layers of ``width`` ReLU units,
    no normalisation (a gradient penalty needs each example's output to depend on that
    example alone); ``spectral`` normalises every layer."""

    def __init__(self, data_dim: int = 2, width: int = 256, depth: int = 3,
                 spectral: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = data_dim
        for _ in range(depth):
            layers += [_sn(nn.Linear(size, width), spectral), nn.ReLU()]
            size = width
        layers.append(_sn(nn.Linear(size, 1), spectral))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _stages(image_size: int) -> int:
    """The number of 2x resolution steps between 4x4 and ``image_size``."""
    if image_size not in (16, 32, 64):
        raise ValueError(f"DCGAN networks: image_size must be 16, 32 or 64, got {image_size}")
    return int(math.log2(image_size // 4))


def _norm(kind: str, channels: int, size: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.LayerNorm((channels, size, size))
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown normalisation {kind!r}; choose from {NORMS}")


def _sn(layer: nn.Module, spectral: bool) -> nn.Module:
    return nn.spectral_norm(layer) if spectral else layer


class DCGANGenerator(nn.Module):
    """Radford et al. (2016): z (B, latent_dim) -> image (B, channels, S, S), S in
    {16, 32, 64}.

    A 4x4 transposed convolution lifts z to (width * 2^(n-1), 4, 4); n - 1 stride-2
    transposed convolutions (kernel 4) double the resolution and halve the channels,
    each followed by ``norm`` and ReLU; a last one maps to ``channels`` and tanh.
    SAGAN options: ``spectral`` normalises every convolution, ``attention_at`` puts a
    self-attention block after the stage whose resolution it names.
    """

    def __init__(self, latent_dim: int = 100, channels: int = 3, image_size: int = 32,
                 width: int = 64, norm: str = "batch", spectral: bool = False,
                 attention_at: int | None = None) -> None:
        super().__init__()
        self.latent_dim, self.image_size = latent_dim, image_size
        n = _stages(image_size)
        _check_attention("DCGANGenerator", attention_at, [4 * 2 ** i for i in range(n)])
        c = width * 2 ** (n - 1)
        layers: list[nn.Module] = [
            nn.Unflatten(1, (latent_dim, 1, 1)),
            _sn(nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=norm == "none"), spectral),
            _norm(norm, c, 4), nn.ReLU()]
        size = 4
        for _ in range(n - 1):
            if attention_at == size:
                layers.append(_attention(c, spectral))
            layers += [_sn(nn.ConvTranspose2d(c, c // 2, 4, 2, 1, bias=norm == "none"),
                           spectral),
                       _norm(norm, c // 2, size * 2), nn.ReLU()]
            c, size = c // 2, size * 2
        if attention_at == size:
            layers.append(_attention(c, spectral))
        layers += [_sn(nn.ConvTranspose2d(c, channels, 4, 2, 1), spectral), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)


class DCGANCritic(nn.Module):
    """image (B, channels, S, S) -> D(x) (B, 1), the mirror of :class:`DCGANGenerator`:
    stride-2 convolutions (kernel 4) with LeakyReLU(0.2), ``norm`` after every one but
    the first (use 'layer' or 'none' with gradient penalties: batch norm mixes examples),
    and a 4x4 convolution to one output. ``spectral`` and ``attention_at`` as for the
    generator."""

    def __init__(self, channels: int = 3, image_size: int = 32, width: int = 64,
                 norm: str = "batch", spectral: bool = False,
                 attention_at: int | None = None) -> None:
        super().__init__()
        n = _stages(image_size)
        _check_attention("DCGANCritic", attention_at,
                         [image_size // 2 ** i for i in range(1, n + 1)])
        size = image_size // 2
        c = width
        layers: list[nn.Module] = [_sn(nn.Conv2d(channels, c, 4, 2, 1), spectral),
                                   nn.LeakyReLU(0.2)]
        for _ in range(n - 1):
            if attention_at == size:
                layers.append(_attention(c, spectral))
            layers += [_sn(nn.Conv2d(c, c * 2, 4, 2, 1, bias=norm == "none"), spectral),
                       _norm(norm, c * 2, size // 2), nn.LeakyReLU(0.2)]
            c, size = c * 2, size // 2
        if attention_at == size:
            layers.append(_attention(c, spectral))
        layers += [_sn(nn.Conv2d(c, 1, 4, 1, 0), spectral), nn.Flatten()]
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


def _check_attention(owner: str, attention_at: int | None, sizes: list[int]) -> None:
    """``attention_at`` must name one of the resolutions ``sizes`` the network computes."""
    if attention_at is not None and attention_at not in sizes:
        raise ValueError(f"{owner}: attention_at must be one of the resolutions {sizes}, "
                         f"got {attention_at}")


def _attention(channels: int, spectral: bool) -> nn.Module:
    block = nn.SelfAttention(channels)
    if spectral:
        for conv in (block.query, block.key, block.value, block.out):
            nn.spectral_norm(conv)
    return block
