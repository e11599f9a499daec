"""lm/units.py: regex patterns as on/off signals over tokens, Pearson correlation, and the unit ranking."""

from __future__ import annotations

import numpy as np
import pytest

from deeprnn.lm.inside import Activations, activations
from deeprnn.lm.units import correlations, pattern_mask, rank_units
from lm_helpers import tiny_engine


def on_chars(text: str, pattern: str, **kw) -> str:
    mask = pattern_mask(list(text), pattern, **kw)
    return "".join(c if m else "." for c, m in zip(text, mask))


@pytest.mark.parametrize("timeout", [None, 1.0])  # re, or the regex package with a time limit
def test_the_characters_inside_matches_are_on(timeout):
    text = 'say "hi" (to (me)) now\nnext "line"\n'
    assert on_chars(text, r'"[^"\n]*"', timeout=timeout) == "." * 4 + '"hi"' + "." * 20 + '"line"' + "."
    assert on_chars(text, r"\([^()]*\)", timeout=timeout) == "." * 13 + "(me)" + "." * 18  # the innermost
    assert on_chars(text, r"(?m)^.", timeout=timeout) == "s" + "." * 22 + "n" + "." * 11
    assert not pattern_mask(list(text), r"q*", timeout=timeout).any()  # empty matches mark nothing


def test_overlapping_spans_and_words():
    assert on_chars("abcabc", r"(?=(abc))abc|bca") == "abcabc"
    words = ["the", "cat", "(sat", "on)", "mats"]
    assert pattern_mask(words, r"\([^)]*\)", level="word").tolist() == [False, False, True, True, False]
    assert pattern_mask(words, r"s\b", level="word").tolist() == [False, False, False, False, True]


def test_bad_and_slow_patterns():
    with pytest.raises(ValueError, match=r"expected a regular expression, got '\(ab'"):
        pattern_mask(list("abc"), "(ab")
    with pytest.raises(ValueError, match="expected a regular expression"):
        pattern_mask(list("abc"), "(ab", timeout=1.0)
    with pytest.raises(TimeoutError):  # catastrophic backtracking, stopped by the time limit
        pattern_mask(list("a" * 3000 + "!"), r"(a+)+$", timeout=0.05)


def test_correlations_are_pearson_and_zero_for_a_flat_unit():
    rng = np.random.default_rng(0)
    signal = rng.random(50) > 0.5
    values = rng.standard_normal((50, 4))
    values[:, 1] += 3 * signal
    values[:, 3] = 0.25  # a unit that never moves
    r = correlations(values, signal)
    for j in range(3):
        assert r[j] == pytest.approx(np.corrcoef(values[:, j], signal)[0, 1], abs=1e-12)
    assert r[3] == 0.0 and r[1] > 0.7


def _acts_with(signal: np.ndarray, L=2, H=5, seed=0) -> Activations:
    rng = np.random.default_rng(seed)
    T = signal.size
    h = rng.standard_normal((L, T, H)) * 0.1
    c = rng.standard_normal((L, T, H)) * 0.1
    h[0, :, 2] = -signal + 0.05 * rng.standard_normal(T)  # low where the pattern is on
    c[1, :, 3] = signal + 0.01 * rng.standard_normal(T)  # high where it is on
    return Activations(h, c, np.zeros((T, 3)))


def test_rank_finds_the_planted_units_with_their_signs():
    signal = (np.arange(40) % 7 < 3).astype(float)
    found = rank_units(_acts_with(signal), signal > 0, top=3)
    assert [(u.layer, u.state, u.unit) for u in found[:2]] == [(1, "c", 3), (0, "h", 2)]
    assert found[0].r > 0.99 and found[1].r < -0.95
    assert abs(found[0].r) >= abs(found[1].r) >= abs(found[2].r) and len(found) == 3


def test_rank_on_a_real_model_agrees_with_numpy():
    engine = tiny_engine(V=11, seed=5, num_layers=2)
    ids = np.random.default_rng(1).integers(0, 11, 60)
    acts = activations(engine.cfg, engine.state_dict(), ids)
    on = ids % 3 == 0
    found = rank_units(acts, on, top=40)  # 2 layers x 2 states x 5 units = 20: all of them
    assert len(found) == 20
    for u in found:
        assert u.r == pytest.approx(np.corrcoef(acts.state(u.state, u.layer)[:, u.unit], on)[0, 1], abs=1e-10)
    assert [abs(u.r) for u in found] == sorted((abs(u.r) for u in found), reverse=True)


def test_rank_needs_a_signal_that_changes():
    acts = _acts_with(np.zeros(10))
    with pytest.raises(ValueError, match="marks some characters and not others, got none of the 10 marked"):
        rank_units(acts, np.zeros(10, bool))
    with pytest.raises(ValueError, match="got all of the 10 marked"):
        rank_units(acts, np.ones(10, bool))
    with pytest.raises(ValueError, match=r"expected an on/off signal of shape \(10,\), got \(9,\)"):
        rank_units(acts, np.ones(9, bool))
    with pytest.raises(ValueError, match="expected top >= 1, got 0"):
        rank_units(acts, np.arange(10) < 5, top=0)
