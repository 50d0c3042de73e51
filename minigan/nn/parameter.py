"""``Parameter``: a leaf tensor that a ``Module`` registers as trainable state."""
from __future__ import annotations

from typing import Any

from minigan.tensor import Tensor


class Parameter(Tensor):
    """A tensor that requires gradients by default and that ``Module.__setattr__``
    registers, so it appears in ``parameters()`` and ``state_dict()``.

    ``Parameter(t)`` shares ``t``'s storage; ``Parameter(array)`` wraps the array.
    """

    __slots__ = ()

    def __init__(self, data: Tensor | Any, requires_grad: bool = True) -> None:
        super().__init__(data.data if isinstance(data, Tensor) else data, requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
