"""Weight initialisers, in place, under PyTorch's names (``nn.init.kaiming_normal_``).

For a weight of shape (out, in, *kernel): fan_in = in * prod(kernel), fan_out =
out * prod(kernel) (PyTorch's convention, also for transposed convolutions, whose weight
is (in, out, *kernel)). Every function draws from ``generator`` (the default generator
when None) on the CPU and writes into the tensor's storage on its device, without
recording a graph.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from minigan.backend import to_device
from minigan.random import Generator, default_generator
from minigan.tensor import Tensor

__all__ = ["calculate_gain", "fan_in_and_fan_out", "uniform_", "normal_", "constant_",
           "zeros_", "ones_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "trunc_normal_", "dcgan_init_"]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The factor that keeps activations' variance through ``nonlinearity``:
    1 (linear, conv, sigmoid), 5/3 (tanh), sqrt(2) (relu), sqrt(2 / (1 + a^2)) (leaky_relu
    with slope a, default 0.01), 3/4 (selu)."""
    if nonlinearity in ("linear", "identity", "conv1d", "conv2d", "conv_transpose2d",
                        "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(f"fan_in_and_fan_out: needs a tensor of 2 or more dimensions, "
                         f"got shape {tensor.shape}")
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _write(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = to_device(values.astype(tensor.dtype), tensor.device)
    return tensor


def _gen(generator: Generator | None) -> Generator:
    return generator or default_generator


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Generator | None = None) -> Tensor:
    """Fill with U(a, b)."""
    u = _gen(generator).uniform(tensor.shape, np.float64)
    return _write(tensor, a + (b - a) * u)


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2)."""
    return _write(tensor, mean + std * _gen(generator).normal(tensor.shape, np.float64))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Generator | None = None) -> Tensor:
    """Fill with N(mean, std^2) restricted to [a, b] (rejection sampling).

    Each draw lands in [a, b] with probability p = Phi((b - mean) / std) -
    Phi((a - mean) / std); an interval with p < 1e-3 (far in a tail) is refused, since
    rejection would need about 1 / p rounds."""
    if not (std > 0 and a < b):
        raise ValueError(f"trunc_normal_: needs std > 0 and a < b, got std={std}, a={a}, "
                         f"b={b}")

    def phi(z: float) -> float:                 # the standard normal CDF
        return 0.5 * (1 + math.erf(z / math.sqrt(2)))
    accept = phi((b - mean) / std) - phi((a - mean) / std)
    if accept < 1e-3:
        raise ValueError(f"trunc_normal_: [a, b] = [{a}, {b}] holds only {accept:.2g} of "
                         f"N({mean}, {std}^2); choose bounds nearer the mean")
    gen = _gen(generator)
    values = mean + std * gen.normal(tensor.shape, np.float64)
    bad = (values < a) | (values > b)
    while bad.any():
        values[bad] = mean + std * gen.normal((int(bad.sum()),), np.float64)
        bad = (values < a) | (values > b)
    return _write(tensor, values)


def constant_(tensor: Tensor, value: float) -> Tensor:
    tensor.data[...] = value
    return tensor


def zeros_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor) -> Tensor:
    return constant_(tensor, 1.0)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Generator | None = None) -> Tensor:
    """Glorot & Bengio (2010): U(-a, a), a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Generator | None = None) -> Tensor:
    """N(0, std^2), std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming init: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan_in, fan_out = fan_in_and_fan_out(tensor)
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Generator | None = None) -> Tensor:
    """He et al. (2015): U(-b, b), b = sqrt(3) * gain / sqrt(fan)."""
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, std^2), std = gain / sqrt(fan)."""
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: Generator | None = None) -> Tensor:
    """Saxe et al. (2014): the weight, viewed as (rows, cols) = (shape[0], rest), gets
    orthonormal rows or columns (whichever are fewer) from the QR decomposition of a
    Gaussian matrix, signs fixed by diag(R) so the result is Haar-distributed."""
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs 2 or more dimensions, got shape {tensor.shape}")
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen(generator).normal((rows, cols), np.float64)
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, gain * q.reshape(tensor.shape))


def dcgan_init_(module: Any, generator: Generator | None = None) -> None:
    """DCGAN (Radford et al. 2016): conv and linear weights ~ N(0, 0.02^2); batch-norm
    gains ~ N(1, 0.02^2) and their biases 0. Use as ``model.apply(dcgan_init_)``."""
    from minigan.nn.conv import Conv2d, ConvTranspose2d
    from minigan.nn.linear import Linear
    from minigan.nn.normalization import BatchNorm1d, BatchNorm2d

    if isinstance(module, (Conv2d, ConvTranspose2d, Linear)):
        # Under spectral norm the trained weight is ``weight_orig``.
        params = module._parameters
        normal_(params["weight_orig"] if "weight_orig" in params else params["weight"],
                0.0, 0.02, generator)
        if module.bias is not None:
            zeros_(module.bias)
    elif isinstance(module, (BatchNorm1d, BatchNorm2d)) and module.affine:
        normal_(module.weight, 1.0, 0.02, generator)
        zeros_(module.bias)
