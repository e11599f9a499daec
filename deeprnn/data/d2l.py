"""The d2l book's TimeMachine protocol (d2l 1.0, ``d2l.TimeMachine(batch_size, num_steps, 10000, 5000)``).

    array = [corpus[i:i+num_steps+1] for i in range(len(corpus)-num_steps)]
    X, Y = array[:, :-1], array[:, 1:]
    train = rows [0, num_train)   shuffled each epoch, in batches (torch DataLoader, shuffle=True)
    val   = rows [num_train, num_train+num_val)   in order

Note the protocol's train and validation windows overlap in text near the boundary (window num_train - 1
shares num_steps tokens with window num_train), and only the first num_train + num_val windows are used.
Use it to compare with the book; :func:`deeprnn.data.split_ids` gives disjoint splits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .batching import Batcher
from .errors import CorpusError, check_choice, check_int
from .splits import as_ids

D2L_SPLITS = ("train", "val")


def d2l_windows(ids: Sequence[int] | np.ndarray, num_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """The book's windows: X[i] = ids[i:i+T], Y[i] = ids[i+1:i+T+1], both (M, T), M = L - T.
    Read-only views of ``ids`` (no copy)."""
    arr = as_ids(ids)
    T = check_int("num_steps", num_steps)
    if len(arr) < T + 1:
        raise CorpusError(f"d2l windows of num_steps={T} need at least {T + 1} tokens; got {len(arr)}")
    array = np.lib.stride_tricks.sliding_window_view(arr, T + 1)  # (M, T + 1)
    return array[:, :-1], array[:, 1:]


class D2LBatcher(Batcher):
    """Batches of the book's windows: ``split="train"`` rows [0, num_train) shuffled per (seed, epoch);
    ``split="val"`` rows [num_train, num_train + num_val) in order. Yields (T, B) like every batcher,
    carry always False. ``drop_last=False`` (the default, as the book's DataLoader) keeps a smaller
    final batch; ``drop_last=True`` drops it."""

    mode = "d2l"

    def __init__(self, ids: Sequence[int] | np.ndarray, batch_size: int, num_steps: int, *,
                 num_train: int = 10000, num_val: int = 5000, split: str = "train", seed: int = 0,
                 drop_last: bool = False):
        check_choice("d2l split", split, D2L_SPLITS)
        self.num_train = check_int("num_train", num_train)
        self.num_val = check_int("num_val", num_val)
        self.split, self.drop_last = split, bool(drop_last)
        self.X, self.Y = d2l_windows(ids, num_steps)  # (M, T) each
        if len(self.X) < self.num_train + self.num_val:
            raise CorpusError(f"the d2l protocol needs num_train + num_val = {self.num_train + self.num_val} "
                              f"windows of num_steps={num_steps}, but {len(self.X) + num_steps} tokens give "
                              f"only {len(self.X)}")
        self.first_row = 0 if split == "train" else self.num_train
        self.num_rows = self.num_train if split == "train" else self.num_val
        B = check_int("batch_size", batch_size)
        if self.drop_last and self.num_rows < B:
            raise CorpusError(f"the d2l {split} split has {self.num_rows} windows, fewer than batch_size={B}, "
                              f"so drop_last=True leaves no batch")
        super().__init__(ids, batch_size, num_steps, seed=seed)

    def min_tokens(self) -> int:
        return self.num_train + self.num_val + self.num_steps

    def _count_batches(self) -> int:
        B = self.batch_size
        return self.num_rows // B if self.drop_last else math.ceil(self.num_rows / B)

    def _new_plan(self, rng: np.random.Generator) -> np.ndarray:
        if self.split == "train":
            return self.first_row + rng.permutation(self.num_rows)
        return self.first_row + np.arange(self.num_rows)

    def _xy(self, rows: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        r = rows[index * self.batch_size:(index + 1) * self.batch_size]  # (B,)
        return np.ascontiguousarray(self.X[r].T), np.ascontiguousarray(self.Y[r].T)  # (T, B)
