"""Honest streaming evaluation of a whole split, the hidden state carried from start to end.

    x, y, mask = stream_layout(val_ids, num_streams=S)   # (N, S) each, time-major
    for t0 in range(0, N, T): run x[t0:t0+T] carrying the state; sum the loss of y where mask is True

The n = len(ids) - 1 (input, target) pairs are cut into S contiguous streams of N = ceil(n / S) pairs:
stream s holds pairs [s*N, (s+1)*N). Positions past pair n - 1 are padding (mask False, ids 0). Every
target of the split appears exactly once with mask True, so the mean loss over the mask is the loss of
the whole split; only each stream's first token is predicted without context.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .batching import check_int
from .errors import CorpusError
from .splits import as_ids


def stream_layout(ids: Sequence[int] | np.ndarray, num_streams: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, mask), each (N, S): x[t, s] = ids[s*N + t], y[t, s] = ids[s*N + t + 1], mask[t, s] =
    s*N + t < n; int64, int64, bool."""
    arr = as_ids(ids)
    S = check_int("num_streams", num_streams)
    n = len(arr) - 1
    if n < 1:
        raise CorpusError(f"streaming evaluation needs at least 2 tokens; got {len(arr)}")
    N = math.ceil(n / S)
    pos = np.arange(S)[None, :] * N + np.arange(N)[:, None]  # (N, S) pair index
    mask = pos < n
    pos = np.where(mask, pos, 0)
    x = np.where(mask, arr[pos], 0)
    y = np.where(mask, arr[pos + 1], 0)
    return x, y, mask
