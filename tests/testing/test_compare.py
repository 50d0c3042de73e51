"""Tests for minigan/testing/compare.py."""
import numpy as np
import pytest

import minigan as mg
from minigan.testing import assert_close, default_tolerances


def test_dtype_aware_defaults():
    assert default_tolerances(np.float32) == (1.3e-6, 1e-5)
    assert default_tolerances(np.float64, np.float32) == (1.3e-6, 1e-5)
    assert default_tolerances(np.int64) == (0.0, 0.0)
    assert_close(mg.tensor([1.0]), np.array([1.0 + 5e-6], np.float32))
    with pytest.raises(AssertionError):
        assert_close(mg.tensor([1.0], dtype=mg.float64), np.array([1.0 + 5e-6]))


def test_report_names_count_index_and_differences():
    with pytest.raises(AssertionError, match=r"1 of 4 elements differ \(25.0%\); worst at "
                                             r"index \(1, 0\): actual .*3\.5.*, expected .*3\.0"
                                             r".*absolute difference 0\.5"):
        assert_close(np.array([[1.0, 2], [3.5, 4]]), np.array([[1.0, 2], [3, 4]]))


def test_shape_mismatch_nan_and_inf():
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(2,\), expected \(2, 1\)"):
        assert_close(np.zeros(2), np.zeros((2, 1)))
    with pytest.raises(AssertionError):
        assert_close(np.array([np.nan]), np.array([np.nan]))
    assert_close(np.array([np.nan]), np.array([np.nan]), equal_nan=True)
    assert_close(np.array([np.inf]), np.array([np.inf]))
