"""The scan of the input-gated cells, h_t = a_t ⊙ h_{t-1} + b_t, written with torch ops (autograd does the
backward pass; deeprnn/numpy_engine/scan.py has it by hand, with the same two forms):

* sequential: one step at a time;
* parallel: the log-space scan (Heinsen 2023) with which the paper trains, no loop over t::

    a*_t = Σ_{s≤t} log a_s
    h_t  = exp(a*_t) ⊙ h0 + exp(a*_t + log Σ_{s≤t} exp(log b_s - a*_s))     (torch.logcumsumexp)

  h0 enters in linear space, so any real h0 works (zeros included); chunks of CHUNK steps bound |a*_t|.

``scan="auto"`` runs the parallel form on a GPU and the sequential one on a CPU, where
``torch.logcumsumexp`` (and its backward) costs far more than T small steps (benchmarks/bench_min_cells.py).
"""

from __future__ import annotations

from ..numpy_engine.scan import CHUNK
from . import require_torch

torch = require_torch()

SCANS = ("auto", "sequential", "parallel")


def sequential_scan(a, b, h0):
    """a, b (T, B, H), h0 (B, H) -> h (T, B, H)."""
    h, outs = h0, []
    for a_t, b_t in zip(a.unbind(0), b.unbind(0)):  # unbind: one backward for all steps, not T slices
        h = a_t * h + b_t  # h_t = a_t ⊙ h_{t-1} + b_t
        outs.append(h)
    return torch.stack(outs)  # (T, B, H)


def parallel_scan(log_a, log_b, h0):
    """log a, log b (T, B, H) (log b may be -inf: b = 0), h0 (B, H) -> h (T, B, H)."""
    h, chunks = h0, []
    for start in range(0, log_a.shape[0], CHUNK):
        la, lb = log_a[start:start + CHUNK], log_b[start:start + CHUNK]  # (C, B, H)
        a_star = la.cumsum(0)  # a*_t from the chunk's start
        out = torch.exp(a_star + torch.logcumsumexp(lb - a_star, 0)) + torch.exp(a_star) * h
        chunks.append(out)
        h = out[-1]
    return torch.cat(chunks)  # (T, B, H)
