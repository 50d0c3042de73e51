"""Hand-written Triton kernels, one file per op family, installed as ``minigan.kernels``.

Each kernel file is a lesson: the algorithm in its docstring, the kernel, and a thin
launcher (check, allocate, grid, launch). The kernels register here, under the op names
of their NumPy references, as the ``triton`` implementation for CUDA tensors. Triton is
imported on the first launch, not when minigan is imported. On a machine without a GPU
the tests run the same kernels under ``TRITON_INTERPRET=1`` on NumPy arrays.
"""
from __future__ import annotations

import functools
import importlib
import importlib.metadata
import importlib.util
import re
from typing import Any, Callable

from minigan.backend import register, xp


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def _release(name: str) -> tuple[int, int]:
    """(major, minor) of the installed distribution ``name``: "3.6.0" -> (3, 6)."""
    major, minor = re.match(r"(\d+)\.(\d+)", importlib.metadata.version(name)).groups()
    return int(major), int(minor)


@functools.cache
def why_no_triton() -> str | None:
    """Why the Triton kernels cannot launch here, or None; asked at every dispatch on a
    CUDA tensor, answered once. Triton's CUDA driver finds the device and its stream
    through PyTorch in 3.6; from 3.8 it does without (read in the sources of 3.6.0 and
    3.8.0; 3.7 is taken to be as 3.6)."""
    if not _installed("triton"):
        return "triton is not installed (pip install minigan[gpu])"
    if _release("triton") < (3, 8) and not _installed("torch"):
        major, minor = _release("triton")
        return (f"triton {major}.{minor} launches on a GPU only through PyTorch, which is not "
                "installed: install PyTorch, or triton >= 3.8")
    return None


def _launcher(module: str, name: str, **options: Any) -> Callable[..., Any]:
    """The launcher ``minigan.kernels.<module>.<name>`` with keyword ``options``, imported
    when first called."""
    def run(first: Any, *args: Any) -> Any:
        kernels = importlib.import_module(f"minigan.kernels.{module}")
        return getattr(kernels, name)(first, *args, xp(first), **options)
    return run


# The convolutions' tile shapes (kernels/conv.py), each registered as its own
# implementation ("triton", "triton-128x128", "triton-128x16") so that autotuning
# (minigan.backend) can time them on each layer and keep the fastest; "triton" is the
# default without autotuning. For a tile of BLOCK_M x BLOCK_N outputs, each BLOCK_K step
# loads (BLOCK_M + BLOCK_N) BLOCK_K inputs for BLOCK_M BLOCK_N BLOCK_K multiply-adds:
#   64 x 64:   32 multiply-adds per element loaded; the general choice.
#   128 x 128: 64 per element, for layers with many pixels and channels (BigGAN's 384-768
#              channels), at the price of 4x fewer programs on the same problem.
#   128 x 16:  for 16 columns or fewer (3 image channels: the input gradient of a critic's
#              first conv, a generator's last layer), where 64 columns would leave 61 of
#              64 idle; 16 is the narrowest tile tl.dot takes.
CONV_TILES = {
    "triton": dict(BLOCK_M=64, BLOCK_N=64, BLOCK_K=32, num_warps=4),
    "triton-128x128": dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=32, num_warps=8),
    "triton-128x16": dict(BLOCK_M=128, BLOCK_N=16, BLOCK_K=32, num_warps=4),
}
# Each implementation is a tile shape and a layout of the operands: as given, or copied
# first to the channels-last orders in which every tile load is 16 bytes a thread
# (kernels/conv.py, ``channels_last``), for the two tiles of layers with many channels.
CONV_IMPLEMENTATIONS = {
    **{name: dict(tiles=tiles) for name, tiles in CONV_TILES.items()},
    "triton-nhwc": dict(tiles=CONV_TILES["triton"], channels_last=True),
    "triton-128x128-nhwc": dict(tiles=CONV_TILES["triton-128x128"], channels_last=True),
}
for _op in ("conv2d", "conv_transpose2d", "conv2d_weight"):
    for _name, _options in CONV_IMPLEMENTATIONS.items():
        register(_op, _name, ("cuda",), why_no_triton)(_launcher("conv", _op, **_options))

# Attention's tiles: "triton" takes kernels/attention.py's ``config`` (64 rows of q and of
# k/v per tile at most, less for wide heads); "triton-128x64" gives a program 128 rows of
# q against k/v tiles of 64 rows, 8 warps: each k/v tile loaded serves twice the queries,
# halving the k/v traffic of long sequences, at half the programs. For autotuning to time.
ATTENTION_TILES = {
    "triton": None,
    "triton-128x64": dict(BLOCK_M=128, BLOCK_N=64, num_warps=8),
}
for _name, _tiles in ATTENTION_TILES.items():
    register("attention", _name, ("cuda",), why_no_triton)(
        _launcher("attention", "attention", blocks=_tiles))
    register("attention_backward", _name, ("cuda",), why_no_triton)(
        _launcher("attention", "attention_backward", blocks=_tiles))

register("spectral_norm_power_iteration", "triton", ("cuda",), why_no_triton)(
    _launcher("spectral_norm", "spectral_norm_power_iteration"))
