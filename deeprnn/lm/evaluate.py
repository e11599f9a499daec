"""Honest evaluation: perplexity and bits per character over a WHOLE split.

The split is cut into S contiguous streams that are read T tokens at a time with the recurrent state
carried from chunk to chunk, so every target is predicted exactly once with all the context before it
in its stream (only the first token of each stream starts cold). The result is the exponent of the
mean negative log-likelihood over all targets, not an average of per-batch perplexities.

    loss = (1/N) Σ −log p(y_i | context)      (nats per token)
    perplexity = exp(loss)                    bits per token = loss / ln 2
    uniform baseline: perplexity = V, bits = log₂ V
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..data import stream_layout
from .engines import LMEngine


@dataclass
class Score:
    loss: float  # mean negative log-likelihood, nats per token
    tokens: int  # targets scored

    @property
    def perplexity(self) -> float:
        try:
            return math.exp(self.loss)
        except OverflowError:  # a diverging model: a loss above ~709 nats
            return math.inf

    @property
    def bits(self) -> float:
        """Bits per token (per character for a character vocabulary)."""
        return self.loss / math.log(2)

    def as_dict(self, prefix: str) -> dict:
        return {f"{prefix}_loss": self.loss, f"{prefix}_ppl": self.perplexity, f"{prefix}_bpc": self.bits,
                f"{prefix}_tokens": self.tokens}


def evaluate_stream(engine: LMEngine, ids: np.ndarray, num_steps: int, num_streams: int) -> Score:
    """Score every target of ``ids`` (1-D token ids) with the state carried across chunks."""
    x, y, mask = stream_layout(ids, num_streams)  # (N, S) each
    state = engine.initial_state(x.shape[1])
    total, count = 0.0, 0
    for start in range(0, x.shape[0], num_steps):
        sl = slice(start, start + num_steps)
        nll, state = engine.nll(x[sl], y[sl], state)  # (T, S)
        total += float(nll[mask[sl]].sum())
        count += int(mask[sl].sum())
    return Score(total / count, count)


def evaluate_windows(engine: LMEngine, x: np.ndarray, y: np.ndarray, batch_size: int) -> Score:
    """The d2l protocol: independent windows x, y (W, T), each from a zero state."""
    total = 0.0
    for start in range(0, x.shape[0], batch_size):
        xb, yb = x[start:start + batch_size].T, y[start:start + batch_size].T  # (T, B)
        nll, _ = engine.nll(np.ascontiguousarray(xb), np.ascontiguousarray(yb), engine.initial_state(xb.shape[1]))
        total += float(nll.sum())
    return Score(total / y.size, int(y.size))


def uniform(vocab_size: int) -> Score:
    """A model that assigns every token the same probability 1/V."""
    return Score(math.log(vocab_size), 0)
