"""Tests for minigan/tensor.py: attributes, conversions, operators, dtype rules."""
import numpy as np
import pytest

import minigan as mg
from minigan.testing import assert_close


def test_default_dtypes_follow_pytorch():
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([True]).dtype == mg.bool
    assert mg.tensor(np.zeros(2)).dtype == mg.float64       # NumPy arrays keep theirs
    assert mg.randn(2).dtype == mg.float32


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_python_scalars_keep_the_tensor_dtype(dtype):
    x = mg.ones(3, dtype=dtype)
    for y in (x * 2.0, 2.0 * x, x + 1, 1 - x, x / 3, 3 / x, x ** 2, 2 ** x):
        assert y.dtype == dtype


def test_integer_tensor_with_float_scalar_becomes_default_float():
    assert (mg.tensor([1, 2]) * 2.5).dtype == mg.float32
    assert (mg.tensor([1, 2]) * 2).dtype == mg.int64


def test_attributes():
    x = mg.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and x.ndim == 3 and x.dim() == 3 and x.numel() == 24
    assert x.size() == (2, 3, 4) and x.size(1) == 3 and len(x) == 2
    assert x.device == "cpu" and str(x.device) == "cpu" and not x.is_cuda
    assert x.is_leaf and x.grad_fn is None and x.xp is np
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)


def test_numpy_item_tolist():
    x = mg.tensor([[1.5, 2.0]])
    assert isinstance(x.numpy(), np.ndarray) and x.numpy().shape == (1, 2)
    assert mg.tensor([[3.0]]).item() == 3.0 and x.tolist() == [[1.5, 2.0]]
    assert float(mg.tensor(2.5)) == 2.5 and int(mg.tensor(7)) == 7
    with pytest.raises(ValueError, match=r"item\(\): only one-element tensors, got shape "
                                         r"\(1, 2\)"):
        x.item()
    with pytest.raises(RuntimeError, match="requires grad; call .detach"):
        mg.ones(2, requires_grad=True).numpy()


def test_truth_value_of_multi_element_tensor_is_ambiguous():
    assert bool(mg.tensor([1.0]))
    with pytest.raises(RuntimeError, match=r"truth value of a tensor of shape \(2,\)"):
        bool(mg.ones(2))


def test_to_changes_dtype_and_keeps_gradient_path():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x.to(mg.float64)
    assert y.dtype == mg.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == mg.float32
    assert_close(x.grad, np.array([2.0, 4.0], np.float32))
    assert x.double().dtype == mg.float64 and x.long().dtype == mg.int64
    assert not x.long().requires_grad
    assert x.to("cpu") is x and x.to("cpu", mg.float32) is x


def test_repr_shows_dtype_device_and_graph():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert "dtype=float64" in repr(mg.zeros(2, dtype=mg.float64))
    assert "requires_grad=True" in repr(mg.zeros(2, requires_grad=True))
    assert "grad_fn=<MulScalar>" in repr(mg.zeros(2, requires_grad=True) * 2)


def test_numpy_arrays_on_the_left_defer_to_tensors():
    x = mg.ones(3)
    for y in (np.ones(3) + x, np.ones(3) * x, np.ones(3) - x):
        assert isinstance(y, mg.Tensor)


def test_tensors_hash_by_identity_and_compare_elementwise():
    a, b = mg.ones(2), mg.ones(2)
    assert len({a: 1, b: 2}) == 2
    assert (a == b).dtype == mg.bool and (a == b).tolist() == [True, True]


def test_iteration_and_index_protocol():
    x = mg.arange(6).reshape(3, 2)
    rows = list(x)
    assert len(rows) == 3 and rows[2].tolist() == [4, 5]
    assert [10, 20, 30][mg.tensor(1)] == 20
    with pytest.raises(TypeError, match="len\\(\\) of a 0-d tensor"):
        len(mg.tensor(1.0))


def test_inplace_changes_need_no_grad_for_tensors_that_require_grad():
    w = mg.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"fill_: in-place change of a tensor that "
                                           r"requires grad"):
        w.fill_(1.0)
    with mg.no_grad():
        w.fill_(1.0)
        w[0] = 5.0
        w.copy_(w * 2)
    assert w.tolist() == [10.0, 2.0, 2.0]
    assert mg.ones(2).zero_().tolist() == [0.0, 0.0]


def test_clone_copies_storage_and_passes_gradient():
    x = mg.ones(2, requires_grad=True)
    y = x.clone()
    assert y.data is not x.data
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_method_aliases_match_functions():
    x = mg.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert_close(x.view(4), x.reshape(4))
    assert_close(x.clip(0, 1), mg.clamp(x, 0, 1))
    assert_close(x.abs().rsqrt(), 1 / x.abs().sqrt())
    assert_close(x.square(), x * x)
    assert x.max(dim=1).indices.tolist() == [0, 0]
