"""The two baselines a language model must beat: uniform and unigram.

    uniform:  every token has probability 1/V                  loss = ln V nats per token
    unigram:  token v has the frequency p_v of the training text, whatever came before it
              p_v = (c_v + 1/V) / (N + 1)                       c_v: count of v in the N training tokens
              loss(text) = -(1/M) Σ_i ln p_{y_i}                over the M tokens y_i of a text

The unigram estimate adds one pseudo-token to the counts, spread evenly over the V symbols (a Dirichlet
prior of 1/V per symbol, Perks' prior): a symbol the training text lacks (``<unk>``, a letter only the
validation text has) keeps a finite loss, ln(V (N + 1)), and the frequencies of the rest move by less
than 1/N. A model that has learned the letter frequencies and nothing else scores the unigram loss: on
the d2l notebook's training text (the 10,032 tokens its 10,000 training windows of 32 steps cover) that
is perplexity 17.067, where the notebook's deep RNN stalls.

The training text is the training split (data.py), or with the d2l protocol the tokens its training
windows cover, ids[:num_train + num_steps]; the validation text likewise (its windows' tokens).
"""

from __future__ import annotations

import math

import numpy as np

from .config import TrainConfig
from .data import LMData
from .evaluate import Score, uniform


def unigram_probs(train_ids: np.ndarray, vocab_size: int) -> np.ndarray:
    """(V,) p_v = (c_v + 1/V) / (N + 1) from the training tokens (module docstring); sums to 1."""
    counts = np.bincount(np.asarray(train_ids).ravel(), minlength=vocab_size).astype(np.float64)  # (V,)
    return (counts + 1.0 / vocab_size) / (counts.sum() + 1.0)


def unigram_score(probs: np.ndarray, ids: np.ndarray) -> Score:
    """The cross-entropy (nats per token) of the tokens ``ids`` under the unigram ``probs`` (V,); nan for
    no tokens."""
    ids = np.asarray(ids).ravel()
    if ids.size == 0:
        return Score(math.nan, 0)
    return Score(float(-np.log(probs[ids]).mean()), int(ids.size))


def split_text(data: LMData, split: str, t: TrainConfig) -> np.ndarray:
    """The tokens of a split as a baseline reads them: the split, or the tokens its d2l windows cover."""
    if data.cfg.protocol == "d2l":
        lo, n = (0, data.cfg.num_train) if split == "train" else (data.cfg.num_train, data.cfg.num_val)
        if split not in ("train", "val"):
            data.split(split)  # raises the explanation
        return data.ids[lo:lo + n + t.num_steps]
    return data.split(split)


def baselines(data: LMData, t: TrainConfig, splits=("train", "val")) -> dict:
    """{"uniform_ppl", "uniform_bpc", "unigram_<split>_loss", "unigram_<split>_ppl", "unigram_<split>_bpc"}
    for each of ``splits``, under the frequencies of the training text."""
    V = len(data.vocab)
    probs = unigram_probs(split_text(data, "train", t), V)
    out = {"uniform_ppl": float(V), "uniform_bpc": uniform(V).bits}
    for split in splits:
        s = unigram_score(probs, split_text(data, split, t))
        out.update({f"unigram_{split}_loss": s.loss, f"unigram_{split}_ppl": s.perplexity,
                    f"unigram_{split}_bpc": s.bits})
    return out


def describe(b: dict, unit: str) -> str:
    """One line: the uniform and unigram perplexities (and bits per token) of ``baselines``' result."""
    parts = [f"uniform perplexity {b['uniform_ppl']:.0f} ({b['uniform_bpc']:.3f} bits/{unit})"]
    for split in ("train", "val", "test"):
        if f"unigram_{split}_ppl" in b:
            parts.append(f"unigram {b[f'unigram_{split}_ppl']:.3f} on {split} "
                         f"({b[f'unigram_{split}_bpc']:.3f} bits/{unit})")
    return "baselines: " + ", ".join(parts)


def at_baseline(loss: float, baseline_loss: float, tolerance: float = 0.02) -> bool:
    """Whether a model's loss sits at a baseline's: within ``tolerance`` nats (2% in perplexity)."""
    return math.isfinite(loss) and abs(loss - baseline_loss) <= tolerance
