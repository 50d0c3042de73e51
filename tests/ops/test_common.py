"""Tests for minigan/ops/common.py's helpers that are not covered through the ops."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from minigan.ops.common import value_range


@given(hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float32, np.float64]),
                  hnp.array_shapes(min_dims=0, max_dims=3, min_side=1),
                  elements={"allow_nan": False}))
def test_value_range_is_min_and_max_as_python_numbers(array):
    low, high = value_range(array)
    assert (low, high) == (array.min(), array.max())
    kind = float if array.dtype.kind == "f" else int
    assert type(low) is kind and type(high) is kind


def test_value_range_wants_a_non_empty_array():
    with pytest.raises(ValueError):
        value_range(np.zeros((2, 0)))
