"""Contiguous train / validation / test splits of a token-id array, by position (never shuffled).

    train, val, test = split_ids(ids, (0.9, 0.05, 0.05), num_steps=35)

The validation part is ids[b1:b2] and the test part ids[b2:]: no validation or test token sits at a
training position, so nothing of the validation text is trained on (up to text that repeats itself).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .errors import CorpusError, check_int

DEFAULT_FRACTIONS = (0.9, 0.05, 0.05)
SPLIT_NAMES = ("train", "val", "test")


class Splits(NamedTuple):
    """Three contiguous views of the id array: int64 (N_train,), (N_val,), (N_test,)."""

    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def as_ids(ids: Sequence[int] | np.ndarray, what: str = "ids") -> np.ndarray:
    """A 1-D int64 array of token ids (CorpusError otherwise)."""
    arr = np.asarray(ids)
    if arr.ndim != 1:
        raise CorpusError(f"{what} must be a 1-D array of token ids, got shape {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise CorpusError(f"{what} must hold integer token ids, got dtype {arr.dtype}")
    return arr.astype(np.int64, copy=False)


def check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    """Three finite fractions summing to 1: train and val positive, test positive or 0 (no test split,
    e.g. to hold out exactly the last 10% for validation)."""
    fr = tuple(float(f) if isinstance(f, numbers.Real) and not isinstance(f, bool) else f for f in fractions)
    if len(fr) != 3:
        raise CorpusError(f"split fractions must be three numbers (train, val, test), got {len(fr)}: {fr}")
    if not all(isinstance(f, float) and math.isfinite(f) for f in fr) or min(fr[:2]) <= 0 or fr[2] < 0:
        raise CorpusError(f"split fractions must be positive (test may be 0), got {fr}")
    if abs(sum(fr) - 1.0) > 1e-6:
        raise CorpusError(f"split fractions must sum to 1, got {fr} (sum {sum(fr):g})")
    return fr  # type: ignore[return-value]


def split_bounds(n: int, fractions: Sequence[float] = DEFAULT_FRACTIONS) -> tuple[int, int]:
    """Positions (b1, b2) cutting n ids into [0, b1), [b1, b2), [b2, n)."""
    f_train, f_val, _ = check_fractions(fractions)
    b1 = round(n * f_train)
    b2 = max(b1, min(n, round(n * (f_train + f_val))))
    return b1, b2


def split_ids(ids: Sequence[int] | np.ndarray, fractions: Sequence[float] = DEFAULT_FRACTIONS, *,
              num_steps: int = 1) -> Splits:
    """Cut ids into contiguous train / val / test parts; each must hold at least one window of
    ``num_steps`` inputs plus its target, i.e. ``num_steps + 1`` ids (CorpusError naming the split)."""
    arr = as_ids(ids)
    check_int("num_steps", num_steps)
    b1, b2 = split_bounds(len(arr), fractions)
    parts = Splits(arr[:b1], arr[b1:b2], arr[b2:])
    for name, part in zip(SPLIT_NAMES, parts):
        if len(part) < num_steps + 1 and (name != "test" or fractions[2] > 0):
            raise CorpusError(f"the {name} split has {len(part)} tokens (of {len(arr)}); at least "
                              f"{num_steps + 1} are needed for one window of num_steps={num_steps}")
    return parts
