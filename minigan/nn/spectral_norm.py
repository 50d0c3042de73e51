"""Spectral normalisation (Miyato et al. 2018) as a wrapper around any layer's weight.

``spectral_norm(layer)`` replaces ``layer.weight`` by W / sigma(W), where sigma is the
largest singular value of W viewed as a matrix (C_out, C_in * kh * kw) (axis ``dim``
first: 1 for transposed convolutions, whose weight is (C_in, C_out, kh, kw)). sigma is
estimated by power iteration, one or a few steps per training forward, continuing from
the vectors of the previous call:

    v = normalize(Wᵀ u),   u = normalize(W v),   sigma = uᵀ W v

The trained parameter becomes ``weight_orig``; u (C_out,) and v (C_in * kh * kw,) are
buffers ``weight_u`` and ``weight_v``, saved in the state dict. The iteration runs
without gradient and only in training mode; in eval mode u and v are used as they are.
The gradient flows through sigma = uᵀ W v with u and v held fixed (d sigma / dW = u vᵀ),
as in the paper. Each forward uses new u, v tensors (never the buffers' storage), so a
layer called twice in one graph (D(real) and D(fake)) backpropagates each call through
the vectors it used.
"""
from __future__ import annotations

from minigan import creation
from minigan.autograd import no_grad
from minigan.nn.module import Module
from minigan.nn.parameter import Parameter
from minigan.ops.spectral import spectral_norm_power_iteration, spectral_sigma
from minigan.random import Generator
from minigan.tensor import Tensor

__all__ = ["spectral_norm", "remove_spectral_norm", "spectral_norm_sigma", "SpectralNorm"]

INITIAL_ITERATIONS = 15


class SpectralNorm:
    """The forward pre-hook that recomputes ``module.<name>`` = W / sigma(W)."""

    def __init__(self, name: str, n_power_iterations: int, eps: float, dim: int) -> None:
        self.name, self.eps, self.dim = name, eps, dim
        self.n_power_iterations = n_power_iterations

    def matrix(self, weight: Tensor) -> Tensor:
        """W as (shape[dim], rest)."""
        if self.dim != 0:
            weight = weight.movedim(self.dim, 0)
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, update: bool) -> Tensor:
        weight: Tensor = getattr(module, self.name + "_orig")
        u_buffer: Tensor = getattr(module, self.name + "_u")
        v_buffer: Tensor = getattr(module, self.name + "_v")
        matrix = self.matrix(weight)
        if update and self.n_power_iterations > 0:
            u, v, _ = spectral_norm_power_iteration(matrix.detach(), u_buffer,
                                                    self.n_power_iterations, self.eps)
            with no_grad():
                u_buffer.copy_(u)
                v_buffer.copy_(v)
        else:
            # Copies: the buffers change in place later (a training forward, a loaded
            # checkpoint), and this call's graph must keep the vectors it used.
            u, v = Tensor._make(u_buffer.data.copy()), Tensor._make(v_buffer.data.copy())
        sigma = spectral_sigma(matrix, u, v)
        object.__setattr__(module, self.name + "_sigma", sigma.detach())
        return weight / sigma

    def __call__(self, module: Module, args: tuple) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module, module.training))


def spectral_norm(module: Module, name: str = "weight", n_power_iterations: int = 1,
                  eps: float = 1e-12, dim: int | None = None,
                  generator: Generator | None = None) -> Module:
    """Wrap ``module.<name>`` in spectral normalisation and return ``module``.

    u starts as a normalised Gaussian vector and is refined by 15 power iterations at
    wrapping time, so sigma is already accurate on the first forward. ``dim`` defaults to
    1 for ConvTranspose2d and 0 otherwise. Read the latest sigma with
    :func:`spectral_norm_sigma`.
    """
    from minigan.nn.conv import ConvTranspose2d

    if n_power_iterations < 0:
        raise ValueError(f"spectral_norm: n_power_iterations must be >= 0, "
                         f"got {n_power_iterations}")
    if any(isinstance(h, SpectralNorm) and h.name == name for h in module._forward_pre_hooks):
        raise RuntimeError(f"spectral_norm: {type(module).__name__}.{name} is already "
                           f"spectrally normalised")
    weight = module._parameters.get(name)
    if not isinstance(weight, Parameter):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter {name!r}")
    if weight.ndim < 2:
        raise ValueError(f"spectral_norm: {type(module).__name__}.{name} must have 2 or more "
                         f"dimensions, got shape {weight.shape}")
    if dim is None:
        dim = 1 if isinstance(module, ConvTranspose2d) else 0
    hook = SpectralNorm(name, n_power_iterations, eps, dim)
    matrix = hook.matrix(weight.detach())
    u0 = creation.randn(matrix.shape[0], dtype=weight.dtype, device=weight.device,
                        generator=generator)
    u0 = u0 / u0.norm().clamp(min=eps)
    u, v, _ = spectral_norm_power_iteration(matrix, u0, INITIAL_ITERATIONS, eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    module.register_buffer(name + "_u", u.detach().clone())
    module.register_buffer(name + "_v", v.detach().clone())
    module.register_forward_pre_hook(hook)
    object.__setattr__(module, name, hook.compute_weight(module, update=False))
    return module


def _hook(module: Module, name: str) -> SpectralNorm:
    for hook in module._forward_pre_hooks:
        if isinstance(hook, SpectralNorm) and hook.name == name:
            return hook
    raise ValueError(f"{type(module).__name__}.{name} is not spectrally normalised")


def spectral_norm_sigma(module: Module, name: str = "weight") -> float:
    """sigma(W) as computed by the layer's latest forward (for logging)."""
    _hook(module, name)
    return float(getattr(module, name + "_sigma").item())


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``weight`` becomes a plain parameter holding W / sigma
    with the current u, v."""
    hook = _hook(module, name)
    with no_grad():
        weight = hook.compute_weight(module, update=False)
    module._forward_pre_hooks.remove(hook)
    for suffix in ("_orig", "_u", "_v"):
        delattr(module, name + suffix)
    for attr in (name, name + "_sigma"):
        module.__dict__.pop(attr, None)
    module.register_parameter(name, Parameter(weight.detach().clone()))
    return module

