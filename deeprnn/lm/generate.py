"""Text generation: warm the state up on a prefix (as the d2l book's ``predict`` does), then sample.

    greedy:        next = argmax z
    temperature τ: p ∝ exp(z / τ)
    top-k:         keep the k largest logits, renormalise
    top-p:         keep the smallest set of most likely tokens whose probability sums to ≥ p

``<unk>`` is never sampled.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable, Iterator

import numpy as np

from ..checks import check_int
from ..data import tokenize
from ..errors import ConfigError
from .divergence import DivergenceError
from .engines import LMEngine


def sample_next(z: np.ndarray, rng: np.random.Generator, temperature: float = 1.0, top_k: int = 0,
                top_p: float = 1.0, banned: tuple = ()) -> int:
    """One token id from logits z (V,). temperature 0 means greedy."""
    z = np.array(z, dtype=np.float64)
    z[list(banned)] = -np.inf
    if temperature == 0:
        return int(np.argmax(z))
    with np.errstate(over="ignore"):  # shifted first: a tiny temperature gives -inf (p = 0), never inf - inf
        z = (z - z.max()) / temperature
    if 0 < top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z[z < kth] = -np.inf
    p = np.exp(z - z.max())
    p /= p.sum()
    if top_p < 1.0:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]  # smallest prefix reaching top_p
        q = np.zeros_like(p)
        q[keep] = p[keep]
        p = q / q.sum()
    return int(rng.choice(p.size, p=p))


def check_sampling(temperature: float, top_k: int, top_p: float, length: int, seed: int | None = None) -> None:
    """ConfigError unless the sampling settings make sense (``seed`` None draws a fresh one)."""
    if not (temperature >= 0 and math.isfinite(temperature)):
        raise ConfigError(f"expected a finite temperature >= 0 (0 = greedy), got {temperature}")
    if top_k < 0:
        raise ConfigError(f"expected top_k >= 0 (0 = off), got {top_k}")
    if not 0 < top_p <= 1:
        raise ConfigError(f"expected top_p in (0, 1], got {top_p}")
    if length < 0:
        raise ConfigError(f"expected length >= 0, got {length}")
    if seed is not None:
        check_int("seed", seed, minimum=0, error=ConfigError)


def encode_prefix(vocab, prefix: str, unknown: str = "map") -> np.ndarray:
    """Token ids of ``prefix``; tokens outside the vocabulary become ``<unk>`` with a warning
    (``unknown="map"``) or raise ConfigError (``unknown="error"``)."""
    tokens = tokenize(prefix, vocab.level)
    if not tokens:
        raise ConfigError("expected a non-empty prefix to warm up the state, got ''")
    missing = sorted({t for t in tokens if t not in vocab})
    if missing and unknown == "error":
        raise ConfigError(f"expected prefix tokens from the vocabulary, got {missing[:10]} outside it")
    if missing:
        warnings.warn(f"prefix tokens {missing[:10]} are not in the vocabulary of {len(vocab)} tokens; "
                      "mapping them to <unk>", stacklevel=3)
    return vocab.encode(tokens)


def sample_stream(engine: LMEngine, vocab, ids: np.ndarray, length: int, temperature: float = 1.0, top_k: int = 0,
                  top_p: float = 1.0, seed: int | None = None) -> Iterator[str]:
    """Warm the state up on the prefix ``ids`` (P,), then yield ``length`` sampled pieces one at a time
    (a character, or " word"). The one sampling loop of ``generate`` and ``deeprnn serve``."""
    check_sampling(temperature, top_k, top_p, length, seed)
    rng = np.random.default_rng(seed)
    banned = (vocab.unk,)
    z, state = engine.logits(np.asarray(ids)[:, None], engine.initial_state(1))  # warm-up: (P, 1, V)
    for i in range(length):
        if not np.isfinite(z[-1, 0]).all():
            raise DivergenceError(f"expected finite logits, got {z[-1, 0][~np.isfinite(z[-1, 0])][:3]} after "
                                  f"{i} generated tokens: the model's weights overflow (the run diverged)")
        nxt = sample_next(z[-1, 0], rng, temperature, top_k, top_p, banned)
        piece = vocab.decode([nxt])
        yield piece if vocab.level == "char" else " " + piece
        if i + 1 < length:  # the last token needs no prediction after it
            z, state = engine.logits(np.array([[nxt]]), state)  # (1, 1, V)


def generate(engine: LMEngine, vocab, prefix: str, length: int, temperature: float = 1.0, top_k: int = 0,
             top_p: float = 1.0, seed: int | None = None, on_text: Callable[[str], None] | None = None,
             unknown: str = "map") -> str:
    """Continue ``prefix`` by ``length`` tokens; ``on_text`` receives each new piece as it is sampled.

    Prefix tokens outside the vocabulary are mapped to ``<unk>`` with a warning (``unknown="map"``) or
    raise ConfigError (``unknown="error"``).
    """
    check_sampling(temperature, top_k, top_p, length, seed)
    ids = encode_prefix(vocab, prefix, unknown)  # (P,)
    out = []
    for piece in sample_stream(engine, vocab, ids, length, temperature, top_k, top_p, seed):
        out.append(piece)
        if on_text is not None:
            on_text(piece)
    return "".join(out)
