"""Tests for minigan.testing.Poisoned: NaN from ``empty``, everything else the module's."""
import numpy as np
import pytest

from minigan.testing import Poisoned


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, "float32"])
def test_empty_is_nan_filled(dtype):
    a = Poisoned(np).empty((3, 4), dtype=dtype)
    assert a.shape == (3, 4) and a.dtype == np.dtype(dtype) and np.isnan(a).all()


def test_other_functions_are_the_modules():
    xp = Poisoned(np)
    assert xp.zeros is np.zeros and xp.float32 is np.float32
    np.testing.assert_array_equal(xp.ascontiguousarray(np.eye(2).T), np.eye(2))


def test_empty_of_an_integer_dtype_is_refused():
    with pytest.raises(TypeError, match=r"Poisoned.empty: NaN needs a floating dtype, got int32"):
        Poisoned(np).empty(3, dtype="int32")
