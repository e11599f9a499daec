"""Honest evaluation: every target scored exactly once, equal to running each stream as one sequence."""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeprnn.lm.data import prepare_data
from deeprnn.lm.evaluate import Score, evaluate_stream, evaluate_windows, uniform
from lm_helpers import tiny_config, tiny_engine, write_corpus

V = 9


@pytest.fixture(scope="module")
def engine():
    return tiny_engine(V=V, seed=4, cell="gru", num_layers=2, hidden_size=6)


def _ids(n=101, seed=0):
    return np.random.default_rng(seed).integers(0, V, size=n)


def _one_sequence_total(engine, ids) -> float:
    """Sum of -log p over ids[1:], the whole thing as one sequence (S = 1) from a zero state."""
    nll, _ = engine.nll(ids[:-1, None], ids[1:, None], engine.initial_state(1))
    return float(nll.sum())


def _token_by_token_total(engine, ids) -> float:
    state, total = engine.initial_state(1), 0.0
    for i in range(len(ids) - 1):
        nll, state = engine.nll(ids[i:i + 1, None], ids[i + 1:i + 2, None], state)
        total += float(nll.sum())
    return total


@pytest.mark.parametrize("chunk", [1, 3, 7, 100, 1000])
def test_single_stream_equals_one_sequence_for_any_chunk_length(engine, chunk):
    ids = _ids()
    want = _one_sequence_total(engine, ids) / (len(ids) - 1)
    score = evaluate_stream(engine, ids, chunk, 1)
    assert score.tokens == len(ids) - 1
    assert score.loss == pytest.approx(want, rel=1e-9, abs=0)


def test_one_sequence_equals_token_by_token(engine):
    ids = _ids(40, seed=2)
    assert _one_sequence_total(engine, ids) == pytest.approx(_token_by_token_total(engine, ids), rel=1e-9)


@pytest.mark.parametrize("streams", [2, 3, 7, 16])
def test_parallel_streams_score_every_target_once(engine, streams):
    ids = _ids(101, seed=1)
    n = len(ids) - 1
    N = math.ceil(n / streams)
    # reference: stream s holds pairs [s*N, (s+1)*N), each run cold as one sequence
    total = sum(_one_sequence_total(engine, ids[s * N: min((s + 1) * N, n) + 1])
                for s in range(streams) if s * N < n)
    for chunk in (4, 9, 500):
        score = evaluate_stream(engine, ids, chunk, streams)
        assert score.tokens == n
        assert score.loss == pytest.approx(total / n, rel=1e-9, abs=0)


def test_more_streams_than_targets(engine):
    ids = _ids(4, seed=3)
    score = evaluate_stream(engine, ids, 2, 16)
    assert score.tokens == 3
    assert score.loss == pytest.approx(sum(_one_sequence_total(engine, ids[i:i + 2]) for i in range(3)) / 3, rel=1e-9)


def test_uniform_model_scores_the_uniform_baseline():
    eng = tiny_engine(V=V)
    sd = eng.state_dict()
    sd["head.weight"][...] = 0
    sd["head.bias"][...] = 0.25
    eng.load_state_dict(sd)
    score = evaluate_stream(eng, _ids(), 10, 3)
    assert score.perplexity == pytest.approx(V, rel=1e-12)
    assert score.bits == pytest.approx(math.log2(V), rel=1e-12)
    base = uniform(V)
    assert base.perplexity == pytest.approx(V) and base.bits == pytest.approx(math.log2(V))
    assert base.as_dict("u")["u_ppl"] == pytest.approx(V)


def test_a_diverged_loss_has_an_infinite_perplexity_not_an_overflow():
    """A run with a huge learning rate can reach a finite loss above ~709 nats: exp() overflows there."""
    score = Score(1e4, 10)
    assert score.perplexity == math.inf and score.bits == pytest.approx(1e4 / math.log(2))
    assert score.as_dict("val")["val_ppl"] == math.inf
    assert Score(700.0, 1).perplexity == pytest.approx(math.exp(700.0))


def test_windows_score_each_window_from_a_zero_state(engine):
    seq = np.random.default_rng(5).integers(0, V, size=20)
    X = np.stack([seq[i:i + 4] for i in range(5)])  # 5 overlapping windows of 4 steps, as d2l's
    Y = np.stack([seq[i + 1:i + 5] for i in range(5)])
    want = sum(_one_sequence_total(engine, seq[i:i + 5]) for i in range(5)) / Y.size
    for bs in (1, 2, 256):
        s = evaluate_windows(engine, X, Y, bs)
        assert s.tokens == 20
        assert s.loss == pytest.approx(want, rel=1e-9)


def test_lmdata_scores_the_whole_validation_split(tmp_path):
    cfg = tiny_config(write_corpus(tmp_path, 600), dtype="float64", eval_streams=3)
    data = prepare_data(cfg.data, cfg.train)
    eng = tiny_engine(V=len(data.vocab), cell="lstm", num_layers=1, hidden_size=6)
    val = data.split("val")
    score = data.score(eng, "val", cfg.train)
    assert score.tokens == len(val) - 1
    assert score.loss == pytest.approx(evaluate_stream(eng, val, 5, 3).loss, rel=1e-9)
    with pytest.raises(ValueError, match="'dev'"):
        data.split("dev")
