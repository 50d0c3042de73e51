"""SAGAN's self-attention block (Zhang et al. 2019), over the registered attention op."""
from __future__ import annotations

from typing import Any

from minigan import creation
from minigan.nn.conv import Conv2d
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.attention import scaled_dot_product_attention
from minigan.tensor import Tensor


class SelfAttention(Module):
    """y = x + gamma * o(attention(f(x), g(x), h(x))),   x: (N, C, H, W) -> same shape.

    With P = H * W positions, 1x1 convolutions give queries f(x) and keys g(x) of C/8
    channels and values h(x) of ``value_channels`` (C/2 by default, as in BigGAN's
    block; SAGAN's paper uses C):

        beta[i, j] = softmax_j(f(x)_i . g(x)_j)          (P, P): position i attends to j
        a_i = sum_j beta[i, j] h(x)_j                    (P, value_channels)

    and a 1x1 convolution ``o`` maps a back to C channels. gamma is a learnable scalar
    starting at 0, so the block starts as the identity and the network learns how much
    non-local evidence to use. SAGAN does not scale the logits (scale = 1).
    """

    def __init__(self, channels: int, value_channels: int | None = None,
                 key_channels: int | None = None, dtype: Any = None,
                 device: Any = None) -> None:
        super().__init__()
        key_channels = key_channels or max(channels // 8, 1)
        value_channels = value_channels or max(channels // 2, 1)
        self.channels = channels
        kw = dict(kernel_size=1, bias=False, dtype=dtype, device=device)
        self.query = Conv2d(channels, key_channels, **kw)
        self.key = Conv2d(channels, key_channels, **kw)
        self.value = Conv2d(channels, value_channels, **kw)
        self.out = Conv2d(value_channels, channels, **kw)
        self.gamma = Parameter(creation.zeros(1, dtype=dtype, device=device))

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim != 4 or x.shape[1] != self.channels:
            raise ValueError(f"SelfAttention({self.channels}): expected (N, {self.channels}, "
                             f"H, W), got shape {x.shape}")
        n, _, h, w = x.shape

        def positions(t: Tensor) -> Tensor:             # (N, c, H, W) -> (N, 1, H*W, c)
            return t.reshape(n, t.shape[1], h * w).transpose(1, 2).unsqueeze(1)
        a = scaled_dot_product_attention(positions(self.query(x)), positions(self.key(x)),
                                         positions(self.value(x)), scale=1.0)
        a = a.squeeze(1).transpose(1, 2).reshape(n, -1, h, w)   # (N, value_channels, H, W)
        return x + self.gamma.reshape(1, 1, 1, 1) * self.out(a)

    def extra_repr(self) -> str:
        return f"channels={self.channels}"
