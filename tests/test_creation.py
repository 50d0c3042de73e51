"""Tests for minigan/creation.py."""
import numpy as np
import pytest

import minigan as mg


def test_filled_constructors_accept_both_size_forms():
    assert mg.zeros(2, 3).shape == mg.zeros((2, 3)).shape == (2, 3)
    assert mg.ones(4, dtype=mg.float64).dtype == mg.float64
    assert mg.full((2,), 7).dtype == mg.int64 and mg.full((2,), 7.0).dtype == mg.float32
    assert mg.empty(3).tolist() == [0.0, 0.0, 0.0]
    like = mg.zeros(2, dtype=mg.float64)
    assert mg.ones_like(like).dtype == mg.float64 and mg.full_like(like, 3).tolist() == [3, 3]


def test_tensor_copies_and_from_numpy_shares():
    a = np.arange(3.0)
    t, s = mg.tensor(a), mg.from_numpy(a)
    a[0] = 9
    assert t.tolist()[0] == 0 and s.tolist()[0] == 9
    assert mg.as_tensor(a).data is a


def test_ranges():
    assert mg.arange(4).tolist() == [0, 1, 2, 3] and mg.arange(4).dtype == mg.int64
    assert mg.arange(0, 1, 0.5).dtype == mg.float32
    assert mg.linspace(0, 1, 5).tolist() == [0, 0.25, 0.5, 0.75, 1]
    assert mg.eye(2).tolist() == [[1, 0], [0, 1]]


def test_random_constructors_use_the_generator():
    g1, g2 = mg.Generator(3), mg.Generator(3)
    assert mg.randn(4, generator=g1).tolist() == mg.randn(4, generator=g2).tolist()
    u = mg.rand(1000, generator=g1).numpy()
    assert u.min() >= 0 and u.max() < 1
    r = mg.randint(2, 5, (1000,), generator=g1).numpy()
    assert set(np.unique(r)) == {2, 3, 4}
    assert sorted(mg.randperm(5, generator=g1).tolist()) == [0, 1, 2, 3, 4]
    assert mg.randn_like(mg.zeros(2, dtype=mg.float64)).dtype == mg.float64


def test_bad_sizes_and_ranges():
    with pytest.raises(ValueError, match="sizes must be non-negative ints"):
        mg.zeros(-1)
    with pytest.raises(ValueError, match=r"randint: empty range \[3, 3\)"):
        mg.randint(3, 3, (2,))
    with pytest.raises(TypeError, match="from_numpy: expected a numpy.ndarray"):
        mg.from_numpy([1, 2])
