"""Checkpointable data iterators.

The fit loop accepts any iterator of per-process NumPy batches that also has
`get_state() -> JSON-able dict` and `set_state(dict)`; grain's DatasetIterator has both.
ArrayIterator is a small deterministic one over in-memory arrays:

    it = ArrayIterator({"tokens": tokens}, batch_size=8, seed=0)
    batch = next(it)          # {"tokens": array[8 // process_count, ...]}
    saved = it.get_state()    # {"epoch": e, "position": i}
    it.set_state(saved)       # the next batch is the one that followed `saved`

`num_epochs=1` gives a finite pass (for eval_data); the default repeats forever.
Each epoch is a fresh permutation drawn from (seed, epoch); the global batch is split evenly
across processes, so every host reads only its own rows.
"""

from __future__ import annotations

import numpy as np


class ArrayIterator:
    def __init__(
        self,
        arrays,
        batch_size,
        seed=0,
        shuffle=True,
        num_epochs=None,
        process_index=None,
        process_count=None,
    ):
        if process_index is None or process_count is None:
            import jax

            process_index, process_count = jax.process_index(), jax.process_count()
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.n = len(next(iter(self.arrays.values())))
        if batch_size % process_count or batch_size > self.n:
            raise ValueError(
                f"global batch {batch_size} must divide over {process_count} processes "
                f"and fit in {self.n} examples"
            )
        self.batch_size, self.seed, self.shuffle = batch_size, seed, shuffle
        self.num_epochs = num_epochs  # None: repeat forever (training); 1: one pass (evaluation)
        self.process_index, self.process_count = process_index, process_count
        self.epoch, self.position = 0, 0

    def _order(self):
        if not self.shuffle:
            return np.arange(self.n)
        return np.random.default_rng([self.seed, self.epoch]).permutation(self.n)

    def __iter__(self):
        return self

    def __next__(self):
        if self.position + self.batch_size > self.n:  # drop the ragged tail, start a new epoch
            self.epoch, self.position = self.epoch + 1, 0
        if self.num_epochs is not None and self.epoch >= self.num_epochs:
            raise StopIteration
        rows = self._order()[self.position : self.position + self.batch_size]
        self.position += self.batch_size
        share = self.batch_size // self.process_count
        rows = rows[self.process_index * share : (self.process_index + 1) * share]
        return {k: v[rows] for k, v in self.arrays.items()}

    def get_state(self):
        return {"epoch": int(self.epoch), "position": int(self.position)}

    def set_state(self, state):
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
