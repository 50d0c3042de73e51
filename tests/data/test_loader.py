"""Tests for minigan/data/loader.py: epochs, order, drop_last and exact resumption."""
import itertools
import json

import numpy as np
import pytest

from minigan.data.dataset import ImageDataset
from minigan.data.loader import BatchIterator
from minigan.data.transforms import random_horizontal_flip


def indexed_dataset(n):
    """Image i holds 10 i + column in each row and is labelled i mod 3: a batch names its
    rows, and a horizontal flip shows."""
    i, _, _, column = np.meshgrid(np.arange(n), 0, np.arange(2), np.arange(2), indexing="ij")
    images = (10 * i + column).astype(np.float32)                      # (n, 1, 2, 2)
    return ImageDataset(images, np.arange(n) % 3, ["a", "b", "c"], "indexed")


def rows(batch):
    images, labels = batch
    ids = (images.mean(axis=(1, 2, 3)) // 10).astype(int)
    assert labels.tolist() == (ids % 3).tolist()              # labels travel with images
    return ids.tolist()


def flip_transform(images, rng):
    return random_horizontal_flip(images, rng)


def test_each_example_once_per_epoch():
    it = BatchIterator(indexed_dataset(23), batch_size=5, drop_last=False, seed=1)
    assert len(it) == 5
    for _ in range(3):
        sizes, seen = [], []
        for batch in it:
            sizes.append(len(batch[1]))
            seen += rows(batch)
        assert sizes == [5, 5, 5, 5, 3] and sorted(seen) == list(range(23))


def test_drop_last_gives_only_full_batches():
    it = BatchIterator(np.arange(10), batch_size=4, drop_last=True, seed=0)
    batches = list(it)
    assert len(it) == 2 and [b.shape for b in batches] == [(4,), (4,)]
    assert len(set(np.concatenate(batches).tolist())) == 8
    assert it.state_dict() == {"epoch": 1, "position": 0, "seed": 0, "num_examples": 10}


def test_order_is_the_seeded_permutation_of_each_epoch():
    it = BatchIterator(np.arange(12), batch_size=4, seed=7)
    epochs = [np.concatenate(list(it)) for _ in range(3)]
    for e, order in enumerate(epochs):
        expected = np.random.default_rng([7, 0, e]).permutation(12)
        np.testing.assert_array_equal(order, expected)
    assert not np.array_equal(epochs[0], epochs[1])
    same = BatchIterator(np.arange(12), batch_size=4, seed=7)
    np.testing.assert_array_equal(np.concatenate(list(same)), epochs[0])
    other = BatchIterator(np.arange(12), batch_size=4, seed=8)
    assert not np.array_equal(np.concatenate(list(other)), epochs[0])


def test_without_shuffle_the_order_is_the_data_order():
    it = BatchIterator(np.arange(7), batch_size=3, shuffle=False, drop_last=False)
    assert [b.tolist() for b in it] == [[0, 1, 2], [3, 4, 5], [6]]


def test_tuples_of_arrays_are_batched_together():
    x, y = np.arange(6) * 10, np.arange(6)
    for bx, by in BatchIterator((x, y), batch_size=2, seed=3):
        np.testing.assert_array_equal(bx, by * 10)


@pytest.mark.parametrize("drop_last", [True, False])
@pytest.mark.parametrize("stop", [1, 3, 4, 5, 8, 10])  # mid-epoch, epoch ends, later epochs
def test_resume_from_state_dict_sees_the_uninterrupted_batches(stop, drop_last):
    data = indexed_dataset(17)                     # 4 batches of 4 (drop_last) or 5 batches
    uninterrupted = BatchIterator(data, 4, drop_last=drop_last, seed=5,
                                  transform=flip_transform)
    expected = list(itertools.islice(uninterrupted.infinite(), 14))
    first = BatchIterator(data, 4, drop_last=drop_last, seed=5, transform=flip_transform)
    stream = first.infinite()
    head = [next(stream) for _ in range(stop)]
    state = json.loads(json.dumps(first.state_dict()))
    resumed = BatchIterator(data, 4, drop_last=drop_last, seed=0, transform=flip_transform)
    resumed.load_state_dict(state)
    tail = list(itertools.islice(resumed.infinite(), 14 - stop))
    assert len(head + tail) == len(expected)
    assert any(b[0][0, 0, 0, 0] % 10 == 1 for b in expected)           # some were flipped
    for got, want in zip(head + tail, expected):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])


def test_state_moves_past_each_batch_and_wraps_at_the_epoch_end():
    it = BatchIterator(np.arange(9), batch_size=3, seed=2)
    stream = it.infinite()
    positions = []
    for _ in range(4):
        next(stream)
        positions.append((it.state_dict()["epoch"], it.state_dict()["position"]))
    assert positions == [(0, 3), (0, 6), (1, 0), (1, 3)]


def test_a_for_loop_after_a_break_finishes_the_current_epoch():
    it = BatchIterator(np.arange(8), batch_size=2, seed=4)
    for _ in it:
        break
    assert len(list(it)) == 3 and it.state_dict()["epoch"] == 1


def test_transform_sees_a_generator_seeded_by_the_batch_place():
    calls = []

    def record(images, rng):
        calls.append(rng.random())
        return images

    it = BatchIterator(np.arange(6.0), batch_size=3, seed=9, transform=record)
    list(it)
    expected = [np.random.default_rng([9, 1, 0, start]).random() for start in (0, 3)]
    assert calls == expected


def test_bad_states_are_rejected():
    it = BatchIterator(np.arange(10), batch_size=4)
    with pytest.raises(ValueError, match="the state is of data with 12 examples, this "
                                         "iterator has 10"):
        it.load_state_dict({"epoch": 0, "position": 0, "seed": 0, "num_examples": 12})
    with pytest.raises(ValueError, match="position 6 is not the start of a batch in an "
                                         "epoch of 8 examples in batches of 4"):
        it.load_state_dict({"epoch": 0, "position": 6, "seed": 0, "num_examples": 10})
    with pytest.raises(ValueError, match="expected non-negative ints under"):
        it.load_state_dict({"epoch": 0, "position": 0})


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="batch_size 11 is larger than the 10 examples"):
        BatchIterator(np.arange(10), 11)
    assert len(BatchIterator(np.arange(10), 11, drop_last=False)) == 1
    with pytest.raises(ValueError, match=r"share their first dimension, got shapes "
                                          r"\[\(3,\), \(4,\)\]"):
        BatchIterator((np.zeros(3), np.zeros(4)), 2)
    with pytest.raises(TypeError, match="data must be an ImageDataset.*got list"):
        BatchIterator([1, 2, 3], 2)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 0"):
        BatchIterator(np.arange(3), 0)
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        BatchIterator(np.arange(3), 1, seed=-2)
