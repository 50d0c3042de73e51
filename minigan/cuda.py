"""GPU queries, named as in ``torch.cuda``."""
from __future__ import annotations

from minigan import backend


def is_available() -> bool:
    """True when CuPy is installed and a GPU is visible."""
    return backend.cuda_is_available()


def device_count() -> int:
    if not is_available():
        return 0
    return int(backend.cupy_module().cuda.runtime.getDeviceCount())


def synchronize() -> None:
    """Wait for all queued GPU work (for timing)."""
    if is_available():
        backend.cupy_module().cuda.get_current_stream().synchronize()
