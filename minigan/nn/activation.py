"""Activations as modules (``nn.ReLU()``), each a thin shell over its op."""
from __future__ import annotations

from minigan.nn.module import Module
from minigan.ops import activation as A
from minigan.tensor import Tensor


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.relu(x)


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope * x otherwise (DCGAN's critic uses 0.2)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x: Tensor) -> Tensor:
        return A.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """y = x for x > 0, alpha (exp(x) - 1) otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        super().__init__()
        self.alpha = alpha

    def forward(self, x: Tensor) -> Tensor:
        return A.elu(x, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}"


class GELU(Module):
    """y = x Phi(x) (``approximate='tanh'``: the tanh approximation)."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, x: Tensor) -> Tensor:
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """y = x sigmoid(x)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.silu(x)


class Softplus(Module):
    """y = log(1 + exp(beta x)) / beta."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        self.beta = beta

    def forward(self, x: Tensor) -> Tensor:
        return A.softplus(x, self.beta)

    def extra_repr(self) -> str:
        return f"beta={self.beta}"


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x: Tensor) -> Tensor:
        return A.sigmoid(x)


class Tanh(Module):
    """y = tanh(x) (DCGAN's generator output)."""

    def forward(self, x: Tensor) -> Tensor:
        return A.tanh(x)


class Softmax(Module):
    """y = exp(x) / sum exp(x) along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return A.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """y = x - logsumexp(x) along ``dim``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: Tensor) -> Tensor:
        return A.log_softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
