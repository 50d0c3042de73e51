"""Dense layers and shape helpers: Identity, Linear, Embedding, Flatten, Unflatten."""
from __future__ import annotations

import math
from typing import Any, Sequence

from minigan import creation
from minigan.nn import init
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.indexing import embedding
from minigan.ops.linalg import linear
from minigan.tensor import Tensor


def _empty(*shape: int, dtype: Any = None, device: Any = None) -> Parameter:
    return Parameter(creation.zeros(*shape, dtype=dtype, device=device))


class Identity(Module):
    """y = x."""

    def forward(self, x: Any) -> Any:
        return x


class Linear(Module):
    """y = x Wᵀ + b.   x: (*, in_features) -> y: (*, out_features)

    W: (out_features, in_features) and b: (out_features,) start as PyTorch's do:
    U(-1/sqrt(in_features), 1/sqrt(in_features)).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = None, device: Any = None) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = _empty(out_features, in_features, dtype=dtype, device=device)
        self.bias = _empty(out_features, dtype=dtype, device=device) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features else 0.0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x: Tensor) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: y[..., :] = W[index[...]].   index: (*) int -> y: (*, embedding_dim)

    W: (num_embeddings, embedding_dim) ~ N(0, 1), as in PyTorch.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, dtype: Any = None,
                 device: Any = None) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.weight = _empty(num_embeddings, embedding_dim, dtype=dtype, device=device)
        init.normal_(self.weight)

    def forward(self, indices: Tensor) -> Tensor:
        return embedding(indices, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Flatten(Module):
    """Merge axes start_dim..end_dim: (N, C, H, W) -> (N, C*H*W) by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = start_dim, end_dim

    def forward(self, x: Tensor) -> Tensor:
        return x.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split axis ``dim`` into ``sizes``: Unflatten(1, (C, H, W)) maps (N, C*H*W) ->
    (N, C, H, W)."""

    def __init__(self, dim: int, sizes: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.sizes = dim, tuple(sizes)

    def forward(self, x: Tensor) -> Tensor:
        dim = self.dim % x.ndim
        return x.reshape(x.shape[:dim] + self.sizes + x.shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, sizes={self.sizes}"
