"""The scan of the input-gated cells (minGRU, minLSTM): a linear recurrence whose coefficients are known
for all T steps before it starts, because the gates read x_t only (Feng et al. 2024)::

    h_t = a_t ⊙ h_{t-1} + b_t          t = 0 .. T-1, h_{-1} = h0;   a_t ∈ (0, 1], b_t ≥ 0   (T, B, H)

Two forms of the same function, each with its backward pass right below it:

* sequential: one step at a time, T small elementwise steps (what generation does, one token at a time);
* parallel: the log-space scan (Heinsen 2023, "Efficient parallelization of a ubiquitous sequential
  computation"), with which the paper trains: no loop over t, a cumulative sum and a cumulative
  log-sum-exp over time (``np.logaddexp.accumulate``), from log a_t and log b_t::

    a*_t = Σ_{s≤t} log a_s                                        (T, B, H)   cumulative sum over time
    h_t  = exp(a*_t) ⊙ h0 + exp(a*_t + log Σ_{s≤t} exp(log b_s - a*_s))

  h0 enters in linear space (exp(a*_t) ≤ 1 cannot overflow), so any real h0 works: the zeros of a fresh
  state (whose log would be -∞) and negative entries alike. The scan runs in chunks of CHUNK steps, each
  starting from the last state of the one before, so |a*_t| stays bounded and so does the rounding.

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (T, B, H), from the outputs, with
dL/dh_{T-1} from the final state added at t = T-1. δ_t is the total gradient reaching h_t; it obeys the
same recurrence, backwards in time::

    δ_t  = dh_t + a_{t+1} ⊙ δ_{t+1}        (B, H)   δ_{T-1} = dh_{T-1}
    db_t = δ_t                             (B, H)
    da_t = δ_t ⊙ h_{t-1}                   (B, H)
    dh0  = a_0 ⊙ δ_0                       (B, H)

Parallel form of the first line: δ_t = Σ_{s≥t} exp(a*_s - a*_t) dh_s. As dh has either sign, it runs in
log space on its two parts dh⁺ = max(dh, 0) and dh⁻ = max(-dh, 0), with a reverse cumulative
log-sum-exp R±_t = log Σ_{s≥t} exp(a*_s + log dh±_s)::

    δ_t = exp(R⁺_t - a*_t) - exp(R⁻_t - a*_t)

Which form is faster depends on the machine: ``np.logaddexp`` runs one element at a time (no SIMD), so
on a CPU the sequential form's T small steps win by an order of magnitude (benchmarks/bench_min_cells.py);
the parallel form is the one for hardware that runs a whole sequence at once.
"""

from __future__ import annotations

import numpy as np

SCANS = ("sequential", "parallel")  # the two forms above
CHUNK = 128  # steps per parallel chunk: bounds |a*_t| and with it the rounding of the log-space scan


def sequential_forward(a, b, h0) -> np.ndarray:
    """a, b (T, B, H) coefficients, h0 (B, H). Returns h (T, B, H): h_t = a_t ⊙ h_{t-1} + b_t."""
    h = np.empty_like(b)  # (T, B, H)
    prev = h0
    for t in range(a.shape[0]):
        np.multiply(a[t], prev, out=h[t])  # a_t ⊙ h_{t-1}
        h[t] += b[t]  # + b_t
        prev = h[t]
    return h


def sequential_backward(a, dh) -> np.ndarray:
    """a (T, B, H), dh (T, B, H) arriving (final-state gradient included at T-1). Returns δ (T, B, H)."""
    delta = np.empty_like(dh)  # (T, B, H)
    delta[-1] = dh[-1]  # δ_{T-1} = dh_{T-1}
    for t in range(a.shape[0] - 2, -1, -1):
        np.multiply(a[t + 1], delta[t + 1], out=delta[t])  # a_{t+1} ⊙ δ_{t+1}
        delta[t] += dh[t]  # δ_t = dh_t + a_{t+1} ⊙ δ_{t+1}
    return delta


def parallel_forward(log_a, log_b, h0) -> np.ndarray:
    """log a, log b (T, B, H) (log b may be -inf: b = 0), h0 (B, H). Returns h (T, B, H), chunk by chunk."""
    h = np.empty_like(log_b)  # (T, B, H)
    prev = h0
    for start in range(0, log_a.shape[0], CHUNK):
        sl = slice(start, start + CHUNK)
        a_star = np.cumsum(log_a[sl], axis=0)  # (C, B, H) a*_t, from the chunk's start
        lse = np.logaddexp.accumulate(log_b[sl] - a_star, axis=0)  # (C, B, H) log Σ_{s≤t} exp(log b_s - a*_s)
        np.exp(a_star + lse, out=h[sl])  # the part of b: exp(a*_t + ...)
        h[sl] += np.exp(a_star) * prev  # + exp(a*_t) ⊙ h0
        prev = h[min(start + CHUNK, len(h)) - 1]
    return h


def parallel_backward(log_a, dh) -> np.ndarray:
    """log a (T, B, H), dh (T, B, H) arriving. Returns δ (T, B, H), chunk by chunk from the end: each chunk
    adds a_{c1} ⊙ δ_{c1} (from the chunk after it) to its last dh, which makes it self-contained."""
    delta = np.empty_like(dh)  # (T, B, H)
    T = dh.shape[0]
    for start in reversed(range(0, T, CHUNK)):
        stop = min(start + CHUNK, T)
        d = dh[start:stop].copy()  # (C, B, H)
        if stop < T:
            d[-1] += np.exp(log_a[stop]) * delta[stop]  # + a_{c1} ⊙ δ_{c1}
        a_star = np.cumsum(log_a[start:stop], axis=0)  # (C, B, H) a*_t
        out = delta[start:stop]
        out[...] = 0
        with np.errstate(divide="ignore"):  # log 0 = -inf: an entry without that sign
            for sign in (1.0, -1.0):
                log_part = np.log(np.maximum(sign * d, 0)) + a_star  # (C, B, H) a*_s + log dh±_s
                r = np.logaddexp.accumulate(log_part[::-1], axis=0)[::-1]  # R±_t = log Σ_{s≥t} exp(...)
                out += sign * np.exp(r - a_star)  # δ_t = exp(R⁺_t - a*_t) - exp(R⁻_t - a*_t)
    return delta
