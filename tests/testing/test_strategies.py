"""Tests for minigan/testing/strategies.py."""
import numpy as np
from hypothesis import given

from minigan.testing.strategies import arrays, broadcastable_shapes, keep_away, shapes


@given(broadcastable_shapes(num_shapes=3))
def test_broadcastable_shapes_broadcast(shape_triple):
    np.broadcast_shapes(*shape_triple)


@given(arrays(shapes(max_dims=3), avoid=[0.0, 1.0], margin=0.1))
def test_arrays_keep_away_from_kinks(x):
    assert x.dtype == np.float64
    assert np.all(np.abs(x) >= 0.1 - 1e-12) and np.all(np.abs(x - 1) >= 0.1 - 1e-12)


def test_keep_away_moves_only_close_values():
    out = keep_away(np.array([-0.01, 0.02, 0.5]), [0.0], 0.05)
    assert out.tolist() == [-0.05, 0.05, 0.5]
