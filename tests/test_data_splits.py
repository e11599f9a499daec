"""Contiguous splits and the streaming evaluation layout."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deeprnn.data import CorpusError, split_ids, stream_layout


def test_default_split_is_contiguous_by_position():
    ids = np.arange(1000)  # each id is its position
    train, val, test = split_ids(ids)
    assert (len(train), len(val), len(test)) == (900, 50, 50)
    assert np.array_equal(np.concatenate([train, val, test]), ids)
    assert train.max() < val.min() and val.max() < test.min()  # never shuffled
    assert not set(val.tolist()) & set(train.tolist())
    assert train.dtype == np.int64


def test_validation_text_is_not_at_training_positions():
    text = "".join(chr(ord("a") + i % 26) for i in range(400))
    ids = np.array([ord(c) for c in text])
    train, val, _ = split_ids(ids, (0.5, 0.25, 0.25))
    assert "".join(map(chr, train)) == text[:200]
    assert "".join(map(chr, val)) == text[200:300]


@given(n=st.integers(30, 5000), a=st.integers(1, 98), b=st.integers(1, 98))
@settings(max_examples=60, deadline=None)
def test_any_valid_fractions_partition_the_ids(n, a, b):
    if a + b >= 100:
        a, b = a // 2, b // 2
    fractions = (a / 100, b / 100, 1 - a / 100 - b / 100)
    ids = np.arange(n)
    try:
        parts = split_ids(ids, fractions)
    except CorpusError as e:
        assert "split has" in str(e)
        return
    assert np.array_equal(np.concatenate(parts), ids)
    assert abs(len(parts.train) - n * fractions[0]) <= 1


@pytest.mark.parametrize("fractions, message", [
    ((0.9, 0.1), "three numbers"),
    ((0.9, 0.0, 0.1), "must be positive"),
    ((1.1, -0.05, -0.05), "must be positive"),
    ((0.8, 0.1, 0.05), "must sum to 1"),
    ((0.9, 0.05, float("nan")), "must be positive"),
])
def test_bad_fractions_are_errors(fractions, message):
    with pytest.raises(CorpusError, match=message):
        split_ids(np.arange(1000), fractions)


def test_a_zero_test_fraction_holds_out_exactly_the_tail_for_validation():
    parts = split_ids(np.arange(1000), (0.9, 0.1, 0.0), num_steps=5)
    assert [len(p) for p in parts] == [900, 100, 0]
    assert np.array_equal(parts.val, np.arange(900, 1000))


def test_numpy_fractions_are_accepted():
    parts = split_ids(np.arange(100), np.array([0.8, 0.1, 0.1], dtype=np.float32))
    assert [len(p) for p in parts] == [80, 10, 10]


def test_each_split_must_hold_one_window():
    assert [len(p) for p in split_ids(np.arange(200), num_steps=9)] == [180, 10, 10]
    with pytest.raises(CorpusError, match=r"the val split has 10 tokens \(of 200\); at least 11 are needed"):
        split_ids(np.arange(200), num_steps=10)
    with pytest.raises(CorpusError, match="1-D"):
        split_ids(np.zeros((10, 10), dtype=int))


@given(n_ids=st.integers(2, 300), streams=st.integers(1, 40))
@settings(max_examples=100, deadline=None)
def test_stream_layout_covers_every_target_exactly_once(n_ids, streams):
    ids = np.arange(n_ids) * 3 + 5  # position p holds 3p + 5
    x, y, mask = stream_layout(ids, streams)
    n = n_ids - 1
    N = math.ceil(n / streams)
    assert x.shape == y.shape == mask.shape == (N, streams)
    assert x.dtype == y.dtype == np.int64 and mask.dtype == bool
    assert mask.sum() == n
    assert sorted(y[mask].tolist()) == ids[1:].tolist()  # every target once
    assert np.array_equal(y[mask], x[mask] + 3)  # each target follows its input
    for s in range(streams):  # each stream is a contiguous run, valid positions first
        valid = mask[:, s]
        assert np.array_equal(valid, np.arange(N) < valid.sum())
        assert np.array_equal(x[valid, s], ids[s * N: s * N + valid.sum()])


def test_stream_layout_pads_the_end_and_checks_sizes():
    x, y, mask = stream_layout(np.arange(8), 3)  # 7 pairs -> 3 streams of 3
    assert x.T.tolist() == [[0, 1, 2], [3, 4, 5], [6, 0, 0]]
    assert y.T.tolist() == [[1, 2, 3], [4, 5, 6], [7, 0, 0]]
    assert mask.T.tolist() == [[True] * 3, [True] * 3, [True, False, False]]
    with pytest.raises(CorpusError, match="at least 2 tokens; got 1"):
        stream_layout([4], 1)
    with pytest.raises(CorpusError, match="expected num_streams >= 1, got 0"):
        stream_layout(np.arange(8), 0)
