"""``minigan.info()``: versions, devices, and the implementation each hot op will use."""
from __future__ import annotations

import importlib.metadata
import importlib.util
import platform

import numpy as np

from minigan import backend


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def info_text() -> str:
    """The report that ``info()`` prints, as a string."""
    from minigan import __version__
    lines = [
        f"minigan {__version__}",
        f"python {platform.python_version()} ({platform.machine()}), numpy {np.__version__}",
    ]
    has_cupy = importlib.util.find_spec("cupy") is not None
    cupy_version = backend.cupy_module().__version__ if has_cupy else "not installed"
    lines.append(f"cupy {cupy_version}, triton {_version('triton')}")
    why_no_cuda = backend.why_no_cuda()
    if why_no_cuda is None:
        cp = backend.cupy_module()
        for i in range(cp.cuda.runtime.getDeviceCount()):
            name = cp.cuda.runtime.getDeviceProperties(i)["name"].decode()
            lines.append(f"cuda:{i} {name}")
    else:
        lines.append(f"cuda: no GPU available: {why_no_cuda}")
    from minigan import extension
    if extension.C is None:
        lines.append(f"C++ kernels: {extension.WHY_NOT_BUILT}")
    else:
        lines.append(f"C++ kernels: minigan._C built, OpenMP {'on' if extension.OPENMP else 'off'}")
        lines.append(f"CUDA kernels: {extension.CUDA_STATUS}")
    lines.append(extension.THREADS)
    if backend.autotune_enabled():
        results = backend.tuning_results()
        lines.append(f"autotuning: on, {len(results)} signatures measured")
        lines.extend(f"    {tuning}" for tuning in results)
    else:
        lines.append("autotuning: off (MINIGAN_AUTOTUNE=1 or backend.set_autotune(True))")
    ops = backend.registered_ops()
    if not ops:
        lines.append("hot ops: none registered")
    for op in ops:
        impls = backend.implementations(op)
        chosen = []
        for device_type in ("cpu", "cuda"):
            try:
                chosen.append(f"{device_type} -> {backend.implementation(op, device_type).name}")
            except RuntimeError:
                chosen.append(f"{device_type} -> none")
        lines.append(f"{op}: {', '.join(chosen)}")
        width = max(map(len, impls))
        for name, impl in sorted(impls.items()):
            reason = impl.why_unavailable()
            state = "available" if reason is None else f"unavailable: {reason}"
            lines.append(f"    {name:<{width}} on {'/'.join(impl.devices):<9} {state}")
    return "\n".join(lines)


def info() -> None:
    """Print minigan's versions, the devices it sees, and what each hot op runs."""
    print(info_text())
