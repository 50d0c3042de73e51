"""Tests for kernels/arrays.py's launch helpers: the grid arithmetic agrees with Triton's."""
import pytest
from hypothesis import given, strategies as st

triton = pytest.importorskip("triton")
from minigan.kernels.arrays import cdiv, next_power_of_2  # noqa: E402  (needs triton)


@given(st.integers(0, 2 ** 40), st.integers(1, 2 ** 20))
def test_cdiv_is_triton_cdiv(a, b):
    assert cdiv(a, b) == triton.cdiv(a, b) == (a + b - 1) // b


@given(st.integers(0, 2 ** 40))
def test_next_power_of_2_is_tritons(n):
    assert next_power_of_2(n) == triton.next_power_of_2(n)
