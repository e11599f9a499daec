"""Batching a token-id array into time-major (T, B) input / target pairs.

    batcher = make_batcher("sequential", train_ids, batch_size=32, num_steps=35, seed=0)
    for batch in batcher.iterate(start_step=0):        # infinite; Batch(x, y, carry, epoch, step)
        if not batch.carry: state = None               # x, y: int64 (T, B); y is x shifted one token on

Modes (the d2l book's names, chapter 9):
  sequential  B contiguous streams walked T tokens at a time; the hidden state is carried across the
              batches of an epoch (truncated BPTT; ``carry`` is False only on an epoch's first batch).
              Each epoch starts at a random offset in [0, T), as ``seq_data_iter_sequential``.
  random      non-overlapping windows from a random offset in [0, T), shuffled (``seq_data_iter_random``).
  shuffled    every overlapping window (one per start position), shuffled.
(``d2l`` -- the book's TimeMachine window protocol -- is in d2l.py.)

Reproducibility: epoch e's order comes from ``np.random.default_rng([seed, e])`` only, and every epoch
has the same number of batches (the offset is budgeted for its worst case, T - 1), so global step k is
``divmod(k, batches_per_epoch)`` = (epoch, index): ``batch(k)`` and ``iterate(start_step=k)`` cost one
epoch plan, and a run resumed at step k sees exactly the batches an uninterrupted run sees from k.
Incomplete trailing batches are dropped.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np

from .errors import CorpusError, check_int
from .splits import as_ids


class Batch(NamedTuple):
    """One training batch."""

    x: np.ndarray  # int64 (T, B) inputs
    y: np.ndarray  # int64 (T, B) targets: y[t, b] is the token after x[t, b]
    carry: bool    # True: start from the previous batch's final state; False: from a fresh state
    epoch: int
    step: int      # global step = epoch * batches_per_epoch + index within the epoch


class Batcher:
    """Base class: deterministic epochs of (T, B) batches, addressable by global step."""

    mode = ""

    def __init__(self, ids: Sequence[int] | np.ndarray, batch_size: int, num_steps: int, *, seed: int = 0):
        self.ids = as_ids(ids)                                   # (L,)
        self.batch_size = check_int("batch_size", batch_size)    # B
        self.num_steps = check_int("num_steps", num_steps)       # T
        self.seed = check_int("seed", seed, minimum=0)
        self._cached: tuple[int, Any] | None = None
        n = self._count_batches()
        if n < 1:
            raise CorpusError(f"{self.mode} batching with batch_size={self.batch_size}, num_steps={self.num_steps} "
                              f"needs at least {self.min_tokens()} tokens; got {len(self.ids)}")
        self.batches_per_epoch = n

    # -- what a mode defines
    def min_tokens(self) -> int:
        """The fewest ids giving one full batch."""
        raise NotImplementedError

    def _count_batches(self) -> int:
        raise NotImplementedError

    def _new_plan(self, rng: np.random.Generator) -> Any:
        """An epoch's random choices (offset, permutation), drawn from its own generator."""
        raise NotImplementedError

    def _xy(self, plan: Any, index: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _carry(self, index: int) -> bool:
        return False

    # -- shared
    def _plan(self, epoch: int) -> Any:
        if self._cached is None or self._cached[0] != epoch:
            self._cached = (epoch, self._new_plan(np.random.default_rng([self.seed, epoch])))
        return self._cached[1]

    def batch(self, step: int) -> Batch:
        """The batch at global step ``step`` (>= 0)."""
        step = check_int("step", step, minimum=0)
        epoch, index = divmod(step, self.batches_per_epoch)
        x, y = self._xy(self._plan(epoch), index)
        return Batch(x, y, self._carry(index), epoch, step)

    def epoch_batches(self, epoch: int) -> Iterator[Batch]:
        """The batches of one epoch, in order."""
        first = check_int("epoch", epoch, minimum=0) * self.batches_per_epoch
        return (self.batch(step) for step in range(first, first + self.batches_per_epoch))

    def iterate(self, start_step: int = 0) -> Iterator[Batch]:
        """All batches from global step ``start_step`` on, forever."""
        step = check_int("start_step", start_step, minimum=0)
        while True:
            yield self.batch(step)
            step += 1

    def _gather(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Windows starting at ``starts`` (B,): x = ids[s:s+T], y = ids[s+1:s+T+1], as (T, B)."""
        pos = starts[None, :] + np.arange(self.num_steps)[:, None]  # (T, B)
        return self.ids[pos], self.ids[pos + 1]

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(tokens={len(self.ids)}, batch_size={self.batch_size}, "
                f"num_steps={self.num_steps}, seed={self.seed}, batches_per_epoch={self.batches_per_epoch})")


class SequentialBatcher(Batcher):
    """B contiguous streams of length S = (L - T) // B from a random offset in [0, T); batch k is
    columns [kT, (k+1)T) of every stream, so each stream continues where the previous batch ended."""

    mode = "sequential"

    def min_tokens(self) -> int:
        return (self.batch_size + 1) * self.num_steps

    def _stream_len(self) -> int:  # S, the room left by the largest offset T - 1 and the final target
        return (len(self.ids) - self.num_steps) // self.batch_size

    def _count_batches(self) -> int:
        return max(self._stream_len(), 0) // self.num_steps

    def _new_plan(self, rng: np.random.Generator) -> int:
        return int(rng.integers(self.num_steps))

    def _xy(self, offset: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        B, S, T = self.batch_size, self._stream_len(), self.num_steps
        cols = slice(index * T, (index + 1) * T)
        xs = self.ids[offset:offset + B * S].reshape(B, S)           # (B, S)
        ys = self.ids[offset + 1:offset + 1 + B * S].reshape(B, S)   # (B, S)
        return np.ascontiguousarray(xs[:, cols].T), np.ascontiguousarray(ys[:, cols].T)  # (T, B)

    def _carry(self, index: int) -> bool:
        return index > 0


class RandomBatcher(Batcher):
    """Non-overlapping windows at offset + jT (j < (L - T) // T) for a random offset in [0, T),
    shuffled and cut into batches; every batch starts from a fresh state."""

    mode = "random"

    def min_tokens(self) -> int:
        return (self.batch_size + 1) * self.num_steps

    def _num_windows(self) -> int:
        return (len(self.ids) - self.num_steps) // self.num_steps

    def _count_batches(self) -> int:
        return max(self._num_windows(), 0) // self.batch_size

    def _new_plan(self, rng: np.random.Generator) -> np.ndarray:
        offset = int(rng.integers(self.num_steps))
        return offset + self.num_steps * rng.permutation(self._num_windows())  # window starts, shuffled

    def _xy(self, starts: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        B = self.batch_size
        return self._gather(starts[index * B:(index + 1) * B])


class ShuffledBatcher(Batcher):
    """All L - T overlapping windows (one per start position), shuffled each epoch, batched."""

    mode = "shuffled"

    def min_tokens(self) -> int:
        return self.batch_size + self.num_steps

    def _count_batches(self) -> int:
        return max(len(self.ids) - self.num_steps, 0) // self.batch_size

    def _new_plan(self, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(len(self.ids) - self.num_steps)

    def _xy(self, starts: np.ndarray, index: int) -> tuple[np.ndarray, np.ndarray]:
        B = self.batch_size
        return self._gather(starts[index * B:(index + 1) * B])
