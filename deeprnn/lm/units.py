"""Which units track a pattern: rank every unit of every layer by its correlation with an on/off signal.

A pattern is a regular expression over the text; the characters inside its matches are "on" (1) and
the others "off" (0). Each unit's activation over the text, a_t, is compared with that signal s_t by
Pearson's correlation

    r = Σ_t (a_t - ā)(s_t - s̄) / sqrt(Σ_t (a_t - ā)² · Σ_t (s_t - s̄)²)

so r near +1 is a unit that is high exactly where the pattern is on, near -1 one that is low there.
Units are ranked by |r| (a unit that never moves has r = 0). For example ``"[^"\\n]*"`` (inside double
quotes), ``\\([^()]*\\)`` (inside parentheses), ``(?m)^.`` (the first character of each line).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .inside import Activations


@dataclass(frozen=True)
class UnitMatch:
    layer: int  # 0 = the layer next to the input
    state: str  # "h" or "c"
    unit: int  # index within the layer, 0..H-1
    r: float  # Pearson correlation with the pattern's on/off signal, in [-1, 1]


def pattern_mask(tokens: list[str], pattern: str, level: str = "char", timeout: float | None = None) -> np.ndarray:
    """Bool (T,): token t is on when any of its characters lies inside a match of the regex ``pattern``
    in the text the tokens spell (word tokens joined by one space). Empty matches mark nothing.

    With ``timeout`` (seconds) the search runs on the ``regex`` package, which raises TimeoutError when
    it takes longer (a pattern such as ``(a+)+$`` can backtrack for ages); without, on ``re``. A
    malformed pattern raises ValueError."""
    text = ("" if level == "char" else " ").join(tokens)
    engine = re
    if timeout is not None:
        import regex as engine
    try:
        compiled = engine.compile(pattern)
    except (re.error, engine.error) as e:
        raise ValueError(f"expected a regular expression, got {pattern!r} ({e})") from None
    matches = compiled.finditer(text) if timeout is None else compiled.finditer(text, timeout=timeout)
    on_chars = np.zeros(len(text) + 1, np.int64)  # +1 at each match start, -1 after its end
    for m in matches:
        on_chars[m.start()] += 1
        on_chars[m.end()] -= 1
    inside = np.cumsum(on_chars)[:-1] > 0  # (len(text),) characters covered by some match
    if level == "char":
        return inside
    starts = np.cumsum([0] + [len(t) + 1 for t in tokens[:-1]])  # where each word begins in text
    return np.array([inside[s:s + len(t)].any() for s, t in zip(starts, tokens)], bool)


def correlations(values: np.ndarray, signal: np.ndarray) -> np.ndarray:
    """Pearson r of each column of values (T, N) with signal (T,); 0 for a column that never changes."""
    a = values - values.mean(axis=0)  # (T, N)
    s = signal.astype(np.float64) - signal.mean()  # (T,)
    ss = (a * a).sum(axis=0)  # (N,)
    moves = np.sqrt(ss / len(s)) > 1e-12 * (np.abs(values).max(axis=0) + 1.0)  # (N,) not rounding noise
    r = np.zeros(values.shape[1])  # (N,)
    ok = moves & (s @ s > 0)
    r[ok] = (s @ a[:, ok]) / np.sqrt(ss[ok] * (s @ s))
    return np.clip(r, -1.0, 1.0)


def rank_units(acts: Activations, on: np.ndarray, top: int = 10) -> list[UnitMatch]:
    """The ``top`` units (every layer, h and c) whose activation best tracks ``on`` (T,), by |r|."""
    on = np.asarray(on, bool)
    T = acts.h.shape[1]
    if on.shape != (T,):
        raise ValueError(f"expected an on/off signal of shape ({T},), got {on.shape}")
    if on.all() or not on.any():
        raise ValueError(f"expected a pattern that marks some characters and not others, got "
                         f"{'all' if on.all() else 'none'} of the {T} marked")
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"expected top >= 1, got {top!r}")
    found = []
    for state in acts.states:
        for layer in range(acts.num_layers):
            r = correlations(acts.state(state, layer), on)  # (H,)
            found += [UnitMatch(layer, state, int(u), float(r[u])) for u in range(r.size)]
    found.sort(key=lambda m: (-abs(m.r), m.state, m.layer, m.unit))
    return found[:top]
