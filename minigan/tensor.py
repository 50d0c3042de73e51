"""``Tensor``: an array (NumPy on the CPU, CuPy on the GPU) plus its place in the graph.

A tensor holds

* ``data``: the raw array (``numpy.ndarray`` or ``cupy.ndarray``). Unlike PyTorch, where
  ``.data`` is a detached tensor, here it is the array itself: the array code is meant to
  be read and used directly;
* ``requires_grad``: whether gradients flow to it;
* ``grad``: the accumulated gradient of a leaf after ``backward()``;
* ``_ctx``: the :class:`~minigan.autograd.Function` node that produced it (None for a leaf).

Methods and operators follow PyTorch's names; each one calls an op from ``minigan.ops``.
Python scalars keep the tensor's dtype (``x * 2.0`` stays float32), as in PyTorch.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from minigan.backend import CPU, Device, device_of, to_device, xp
from minigan.backend import device as parse_device

__all__ = ["Tensor", "float16", "float32", "float64", "int32", "int64", "uint8",
           "get_default_dtype", "set_default_dtype", "as_dtype"]

float16 = np.dtype(np.float16)
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
uint8 = np.dtype(np.uint8)
bool_ = np.dtype(np.bool_)

_default_dtype = [float32]


def get_default_dtype() -> np.dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default_dtype[0]


def set_default_dtype(dtype: Any) -> None:
    dtype = as_dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"set_default_dtype: expected a floating dtype, got {dtype}")
    _default_dtype[0] = dtype


def as_dtype(dtype: Any) -> np.dtype:
    """``np.dtype`` of ``'float32'``, ``np.float32``, ``mg.float32``, ..."""
    try:
        return np.dtype(dtype)
    except TypeError as err:
        raise TypeError(f"unknown dtype {dtype!r}") from err


def scalar_dtype(tensor_dtype: np.dtype, value: Any) -> np.dtype:
    """dtype a Python scalar takes next to a tensor: the tensor's, unless it is wider.

    float tensor & any number -> tensor's dtype; int tensor & int -> tensor's dtype;
    int or bool tensor & float -> default float dtype; bool tensor & int -> int64.
    """
    if isinstance(value, (bool, np.bool_)):
        return tensor_dtype
    if isinstance(value, (int, np.integer)):
        return int64 if tensor_dtype.kind == "b" else tensor_dtype
    if isinstance(value, (float, np.floating)):
        return tensor_dtype if tensor_dtype.kind in "fc" else get_default_dtype()
    raise TypeError(f"cannot combine a tensor with {type(value).__name__}")


class Tensor:
    """An n-dimensional array that records the ops applied to it.

    Build one with ``mg.tensor(data)``, ``mg.zeros``, ``mg.randn``... The constructor
    ``Tensor(array)`` wraps an existing NumPy or CuPy array without copying.
    """

    __slots__ = ("data", "requires_grad", "grad", "_ctx", "_hooks", "__weakref__")
    __array_ufunc__ = None          # numpy defers to our reflected operators
    __hash__ = object.__hash__      # == builds a tensor, so hash by identity

    def __init__(self, data: Any, requires_grad: bool = False) -> None:
        if not hasattr(data, "dtype") or not hasattr(data, "shape"):
            data = np.asarray(data)
        if isinstance(data, np.generic):
            data = np.asarray(data)
        self.data = data
        self.grad: Tensor | None = None
        self._ctx = None
        self._hooks: list[Callable[[Tensor], Tensor | None]] = []
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(cls, data: Any, requires_grad: bool = False, ctx: Any = None) -> Tensor:
        """Fast constructor used by ops: no checks, no copies."""
        t = cls.__new__(cls)
        t.data = data
        t.requires_grad = requires_grad
        t.grad = None
        t._ctx = ctx
        t._hooks = [] if ctx is None else ctx._hooks
        return t

    # ---------------------------------------------------------------- description --
    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def device(self) -> Device:
        return CPU if type(self.data) is np.ndarray else device_of(self.data)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def xp(self) -> Any:
        """The array module of this tensor: ``numpy`` or ``cupy``."""
        return np if type(self.data) is np.ndarray else xp(self.data)

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def grad_fn(self) -> Any:
        """The node that produced this tensor, or None for a leaf."""
        return self._ctx

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    def size(self, dim: int | None = None) -> tuple[int, ...] | int:
        return self.shape if dim is None else self.shape[dim]

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        return (self[i] for i in range(len(self)))

    def __repr__(self) -> str:
        body = np.array2string(self._host(), separator=", ", prefix="tensor(")
        extras = []
        if self.device.type != "cpu":
            extras.append(f"device='{self.device}'")
        if self.dtype not in (get_default_dtype(), int64, bool_):
            extras.append(f"dtype={self.dtype}")
        if self._ctx is not None:
            extras.append(f"grad_fn=<{self._ctx.name}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------- conversions --
    def _host(self) -> np.ndarray:
        return self.data if type(self.data) is np.ndarray else self.data.get()

    def numpy(self) -> np.ndarray:
        """The NumPy array of a CPU tensor (shared, not copied)."""
        if self.device.type != "cpu":
            raise TypeError(f"numpy(): tensor is on {self.device}; call .cpu() first")
        if self.requires_grad:
            raise RuntimeError("numpy(): tensor requires grad; call .detach().numpy()")
        return self.data

    def item(self) -> Any:
        if self.numel() != 1:
            raise ValueError(f"item(): only one-element tensors, got shape {self.shape}")
        return self._host().reshape(()).item()

    def tolist(self) -> Any:
        return self._host().tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.numel() != 1:
            raise RuntimeError(f"the truth value of a tensor of shape {self.shape} is "
                               "ambiguous; use .any() or .all()")
        return bool(self.item())

    def __index__(self) -> int:
        if self.dtype.kind not in "iu" or self.numel() != 1:
            raise TypeError("only one-element integer tensors can be used as an index")
        return int(self.item())

    def to(self, *args: Any, dtype: Any = None, device: Any = None) -> Tensor:
        """``to("cuda")``, ``to(mg.float64)``, ``to("cpu", mg.float32)``, or keywords."""
        for a in args:
            if isinstance(a, (str, Device)):
                device = a
            else:
                dtype = a
        out = self
        if device is not None:
            out = _ops.shape.to_device(out, parse_device(device))
        if dtype is not None:
            out = _ops.arithmetic.cast(out, as_dtype(dtype))
        return out

    def cpu(self) -> Tensor:
        return self.to(device="cpu")

    def cuda(self, index: int = 0) -> Tensor:
        return self.to(device=f"cuda:{index}")

    def float(self) -> Tensor:
        return self.to(float32)

    def double(self) -> Tensor:
        return self.to(float64)

    def half(self) -> Tensor:
        return self.to(float16)

    def long(self) -> Tensor:
        return self.to(int64)

    def int(self) -> Tensor:
        return self.to(int32)

    def bool(self) -> Tensor:
        return self.to(bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    # ---------------------------------------------------------------- autograd --
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark a leaf as a variable to differentiate with respect to."""
        if self._ctx is not None and not requires_grad:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor; use .detach()")
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got "
                            f"{self.dtype} (shape {self.shape})")
        self.requires_grad = bool(requires_grad) or self._ctx is not None
        return self

    def detach(self) -> Tensor:
        """Same storage, cut from the graph."""
        return Tensor._make(self.data)

    def detach_(self) -> Tensor:
        self._ctx = None
        self._hooks = []
        self.requires_grad = False
        return self

    def clone(self) -> Tensor:
        return _ops.arithmetic.clone(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Tensor:
        """A copy of the values and ``requires_grad`` (graph leaves only, as in PyTorch:
        a copied graph would share saved values with the original)."""
        if self._ctx is not None:
            raise RuntimeError(f"deepcopy of a non-leaf tensor (shape {self.shape}); "
                               f"use .detach() first")
        copy = type(self).__new__(type(self))
        Tensor.__init__(copy, self.data.copy(), self.requires_grad)
        if self.grad is not None:
            copy.grad = Tensor._make(self.grad.data.copy())
        memo[id(self)] = copy
        return copy

    def contiguous(self) -> Tensor:
        return self if self.data.flags.c_contiguous else self.clone()

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf in the graph."""
        from minigan.autograd import backward
        backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def register_hook(self, hook: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned tensor
        replaces the gradient. Returns a function that removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        self._hooks.append(hook)
        hooks = self._hooks
        return lambda: hooks.remove(hook) if hook in hooks else None

    def retain_grad(self) -> None:
        """Keep the gradient of a non-leaf tensor in ``.grad`` after backward."""
        if self._ctx is None:
            return
        ref = weakref.ref(self)

        def keep(g: Tensor) -> None:
            t = ref()
            if t is not None:
                g = g.detach()
                t.grad = g if t.grad is None else t.grad + g
        self.register_hook(keep)

    def zero_(self) -> Tensor:
        """Fill with zeros in place (no graph); used for ``grad`` buffers and init."""
        _check_inplace(self, "zero_")
        self.data[...] = 0
        return self

    def fill_(self, value: float) -> Tensor:
        _check_inplace(self, "fill_")
        self.data[...] = value
        return self

    def copy_(self, src: Tensor | Any) -> Tensor:
        """Copy ``src``'s values into this tensor's storage (shapes must broadcast)."""
        _check_inplace(self, "copy_")
        values = src.data if isinstance(src, Tensor) else src
        if not hasattr(values, "shape"):                       # a Python number or list
            values = np.asarray(values)
        self.data[...] = to_device(values, self.device)
        return self

    # --------------------------------------------------------------- operators --
    def __add__(self, other: Any) -> Tensor:
        return _ops.arithmetic.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.arithmetic.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.arithmetic.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.arithmetic.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.arithmetic.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.arithmetic.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.arithmetic.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.arithmetic.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.arithmetic.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.arithmetic.pow(other, self)

    def __neg__(self) -> Tensor:
        return _ops.arithmetic.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.pointwise.abs(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.linalg.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.linalg.matmul(other, self)

    def __lt__(self, other: Any) -> Tensor:
        return _ops.arithmetic.lt(self, other)

    def __le__(self, other: Any) -> Tensor:
        return _ops.arithmetic.le(self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _ops.arithmetic.gt(self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _ops.arithmetic.ge(self, other)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.arithmetic.eq(self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _ops.arithmetic.ne(self, other)

    def __and__(self, other: Any) -> Tensor:
        return _ops.arithmetic.logical_and(self, other)

    def __or__(self, other: Any) -> Tensor:
        return _ops.arithmetic.logical_or(self, other)

    def __invert__(self) -> Tensor:
        return _ops.arithmetic.logical_not(self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.indexing.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        _check_inplace(self, "__setitem__")
        self.data[_ops.indexing.normalize_index(index)] = (
            value.data if isinstance(value, Tensor) else value)

    # ------------------------------------------------------- pointwise methods --
    def add(self, other: Any) -> Tensor:
        return self + other

    def sub(self, other: Any) -> Tensor:
        return self - other

    def mul(self, other: Any) -> Tensor:
        return self * other

    def div(self, other: Any) -> Tensor:
        return self / other

    def pow(self, exponent: Any) -> Tensor:
        return self ** exponent

    def neg(self) -> Tensor:
        return -self

    def exp(self) -> Tensor:
        return _ops.pointwise.exp(self)

    def log(self) -> Tensor:
        return _ops.pointwise.log(self)

    def log1p(self) -> Tensor:
        return _ops.pointwise.log1p(self)

    def sqrt(self) -> Tensor:
        return _ops.pointwise.sqrt(self)

    def rsqrt(self) -> Tensor:
        return 1.0 / _ops.pointwise.sqrt(self)

    def square(self) -> Tensor:
        return self * self

    def abs(self) -> Tensor:
        return _ops.pointwise.abs(self)

    def sign(self) -> Tensor:
        return _ops.pointwise.sign(self)

    def erf(self) -> Tensor:
        return _ops.pointwise.erf(self)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:
        return _ops.pointwise.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return _ops.arithmetic.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.arithmetic.minimum(self, other)

    def relu(self) -> Tensor:
        return _ops.activation.relu(self)

    def sigmoid(self) -> Tensor:
        return _ops.activation.sigmoid(self)

    def tanh(self) -> Tensor:
        return _ops.activation.tanh(self)

    def softmax(self, dim: int) -> Tensor:
        return _ops.activation.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _ops.activation.log_softmax(self, dim)

    # ------------------------------------------------------------- reductions --
    def sum(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.sum(self, dim, keepdim)

    def mean(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.mean(self, dim, keepdim)

    def var(self, dim: int | Sequence[int] | None = None, *, correction: int = 1,
            keepdim: bool = False, unbiased: bool | None = None) -> Tensor:
        return _ops.reduction.var(self, dim, correction=correction, keepdim=keepdim,
                                  unbiased=unbiased)

    def std(self, dim: int | Sequence[int] | None = None, *, correction: int = 1,
            keepdim: bool = False, unbiased: bool | None = None) -> Tensor:
        return _ops.reduction.std(self, dim, correction=correction, keepdim=keepdim,
                                  unbiased=unbiased)

    def max(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _ops.reduction.max(self, dim, keepdim)

    def min(self, dim: int | None = None, keepdim: bool = False) -> Any:
        return _ops.reduction.min(self, dim, keepdim)

    def amax(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.amax(self, dim, keepdim)

    def amin(self, dim: int | Sequence[int] | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.amin(self, dim, keepdim)

    def argmax(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.argmax(self, dim, keepdim)

    def argmin(self, dim: int | None = None, keepdim: bool = False) -> Tensor:
        return _ops.reduction.argmin(self, dim, keepdim)

    def logsumexp(self, dim: int | Sequence[int], keepdim: bool = False) -> Tensor:
        return _ops.reduction.logsumexp(self, dim, keepdim)

    def norm(self, p: float = 2, dim: int | Sequence[int] | None = None,
             keepdim: bool = False) -> Tensor:
        return _ops.norm.vector_norm(self, p, dim, keepdim)

    def all(self) -> Tensor:
        return Tensor._make(self.xp.asarray(self.data.all()))

    def any(self) -> Tensor:
        return Tensor._make(self.xp.asarray(self.data.any()))

    # ---------------------------------------------------------------- shapes --
    @property
    def T(self) -> Tensor:
        """All dimensions reversed (the matrix transpose for 2-D tensors)."""
        return _ops.shape.permute(self, tuple(range(self.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """The last two dimensions swapped: a batch of transposed matrices."""
        return _ops.shape.transpose(self, -2, -1)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.shape.reshape(self, _sizes(shape))

    view = reshape

    def view_as(self, other: Tensor) -> Tensor:
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.shape.flatten(self, start_dim, end_dim)

    def permute(self, *dims: Any) -> Tensor:
        return _ops.shape.permute(self, _sizes(dims))

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _ops.shape.transpose(self, dim0, dim1)

    def movedim(self, source: int, destination: int) -> Tensor:
        return _ops.shape.movedim(self, source, destination)

    def squeeze(self, dim: int | None = None) -> Tensor:
        return _ops.shape.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> Tensor:
        return _ops.shape.unsqueeze(self, dim)

    def expand(self, *sizes: Any) -> Tensor:
        return _ops.shape.expand(self, _sizes(sizes))

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.shape.expand(self, other.shape)

    def sum_to(self, shape: Sequence[int]) -> Tensor:
        """Sum over broadcast dimensions down to ``shape`` (the adjoint of expand)."""
        return _ops.shape.sum_to(self, tuple(shape))

    def flip(self, dims: int | Sequence[int]) -> Tensor:
        return _ops.shape.flip(self, dims)

    def repeat(self, *sizes: Any) -> Tensor:
        return _ops.shape.repeat(self, _sizes(sizes))

    def split(self, split_size_or_sections: int | Sequence[int], dim: int = 0
              ) -> tuple[Tensor, ...]:
        return _ops.shape.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.shape.chunk(self, chunks, dim)


def _sizes(args: tuple) -> tuple:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _check_inplace(t: Tensor, name: str) -> None:
    from minigan.autograd import is_grad_enabled
    if t.requires_grad and is_grad_enabled():
        raise RuntimeError(f"{name}: in-place change of a tensor that requires grad; "
                           "wrap it in `with mg.no_grad():`")


from minigan import ops as _ops  # imported last: the ops build on Tensor, defined above
