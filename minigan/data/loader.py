"""``BatchIterator``: seeded mini-batches of in-memory arrays, resumable batch for batch.

Epoch e visits the N examples in the order

    order_e = permutation of 0..N-1 drawn by numpy.random.default_rng([seed, 0, e])
              (0..N-1 itself when shuffle=False)

in consecutive slices of B = batch_size: batch j of epoch e holds order_e[jB : (j+1)B].
With drop_last the last N mod B examples of each epoch are left out (every batch has
exactly B examples); without it the last batch is shorter. The order of an epoch depends on
(seed, e) alone, so the whole stream is fixed by the seed, and the cursor (epoch,
position), with position the number of examples of the epoch already given out, is all a
resumed run needs to continue with exactly the batches an uninterrupted run would see.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator

import numpy as np

from minigan.data.dataset import ImageDataset

__all__ = ["BatchIterator"]

Transform = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def _is_count(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0


class BatchIterator:
    """Batches of an ``ImageDataset`` (yields (images, labels)), of one array (yields
    array batches) or of a tuple of equally long arrays (yields tuples of batches).

    ``transform(images, rng)``, when given, is applied to the first array of every batch
    with rng = numpy.random.default_rng([seed, 1, epoch, position of the batch]), so random
    augmentations (``random_horizontal_flip``, ``random_crop``) are reproduced on resume.

    The iterator is a cursor over an endless sequence of epochs: ``for batch in it`` yields
    the batches left in the current epoch and leaves the cursor at the start of the next;
    ``infinite()`` yields batches forever, across epochs, for GAN loops. The cursor moves
    when a batch is produced, so ``state_dict()`` taken after receiving a batch describes
    the batch after it.
    """

    def __init__(self, data: Any, batch_size: int, shuffle: bool = True,
                 drop_last: bool = True, seed: int = 0,
                 transform: Transform | None = None) -> None:
        if isinstance(data, ImageDataset):
            arrays, self._single = (data.images, data.labels), False
        elif isinstance(data, np.ndarray):
            arrays, self._single = (data,), True
        elif isinstance(data, (tuple, list)) and data and all(
                isinstance(a, np.ndarray) for a in data):
            arrays, self._single = tuple(data), False
        else:
            raise TypeError(f"BatchIterator: data must be an ImageDataset, a NumPy array or a "
                            f"tuple of NumPy arrays, got {type(data).__name__} (a 2-D sampler "
                            f"draws batches itself with .sample(n, generator))")
        lengths = [a.shape[0] if a.ndim else None for a in arrays]
        if None in lengths or len(set(lengths)) != 1 or lengths[0] == 0:
            raise ValueError(f"BatchIterator: arrays must be non-empty and share their first "
                             f"dimension, got shapes {[a.shape for a in arrays]}")
        if not _is_count(batch_size) or batch_size == 0:
            raise ValueError(f"BatchIterator: batch_size must be a positive int, got "
                             f"{batch_size!r}")
        if drop_last and batch_size > lengths[0]:
            raise ValueError(f"BatchIterator: batch_size {batch_size} is larger than the "
                             f"{lengths[0]} examples, so drop_last=True leaves no batch")
        if not _is_count(seed):
            raise ValueError(f"BatchIterator: seed must be a non-negative int, got {seed!r}")
        self.arrays = arrays
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.seed = int(seed)
        self.transform = transform
        self.epoch = 0
        self.position = 0
        self._order_of: tuple[int, np.ndarray] | None = None

    @property
    def num_examples(self) -> int:
        return self.arrays[0].shape[0]

    @property
    def epoch_end(self) -> int:
        """Examples an epoch gives out: N, or N - N mod B with drop_last."""
        n = self.num_examples
        return n - n % self.batch_size if self.drop_last else n

    def __len__(self) -> int:
        """Batches per epoch: floor(N / B) with drop_last, else ceil(N / B)."""
        return -(-self.epoch_end // self.batch_size)

    def order(self, epoch: int) -> np.ndarray:
        """The (N,) order in which ``epoch`` visits the examples (see the module docstring)."""
        if not self.shuffle:
            return np.arange(self.num_examples)
        if self._order_of is None or self._order_of[0] != epoch:
            rng = np.random.default_rng([self.seed, 0, epoch])
            self._order_of = (epoch, rng.permutation(self.num_examples))
        return self._order_of[1]

    def _next_batch(self) -> Any:
        """The batch at the cursor; moves the cursor past it (to the next epoch after the
        last batch of this one)."""
        epoch, start = self.epoch, self.position
        stop = min(start + self.batch_size, self.epoch_end)
        indices = self.order(epoch)[start:stop]                        # (b,)
        self.position = stop
        if stop == self.epoch_end:
            self.epoch, self.position = epoch + 1, 0
        batch = [a[indices] for a in self.arrays]
        if self.transform is not None:
            rng = np.random.default_rng([self.seed, 1, epoch, start])
            batch[0] = self.transform(batch[0], rng)
        return batch[0] if self._single else tuple(batch)

    def __iter__(self) -> Iterator[Any]:
        """The batches left in the current epoch."""
        epoch = self.epoch
        while self.epoch == epoch:
            yield self._next_batch()

    def infinite(self) -> Iterator[Any]:
        """Batches forever, epoch after epoch."""
        while True:
            yield self._next_batch()

    def state_dict(self) -> dict[str, int]:
        """The cursor as JSON-ready data: {"epoch", "position", "seed", "num_examples"}."""
        return {"epoch": self.epoch, "position": self.position, "seed": self.seed,
                "num_examples": self.num_examples}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Move the cursor to a ``state_dict()``; the next batch is the one that followed
        when it was taken. The seed is restored too; the data must have as many examples."""
        keys = {"epoch", "position", "seed", "num_examples"}
        if not isinstance(state, dict) or set(state) != keys or not all(
                _is_count(state[k]) for k in keys):
            raise ValueError(f"BatchIterator.load_state_dict: expected non-negative ints "
                             f"under {sorted(keys)}, got {state!r:.200}")
        if state["num_examples"] != self.num_examples:
            raise ValueError(f"BatchIterator.load_state_dict: the state is of data with "
                             f"{state['num_examples']} examples, this iterator has "
                             f"{self.num_examples}")
        if state["position"] >= self.epoch_end or state["position"] % self.batch_size:
            raise ValueError(f"BatchIterator.load_state_dict: position {state['position']} "
                             f"is not the start of a batch in an epoch of {self.epoch_end} "
                             f"examples in batches of {self.batch_size}")
        self.seed = int(state["seed"])
        self._order_of = None
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
