"""The unigram baseline beside the uniform one: lm/baselines.py, and train, eval print them."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest

from deeprnn.lm.baselines import at_baseline, baselines, split_text, unigram_probs, unigram_score
from deeprnn.lm.config import RunConfig, merge
from deeprnn.lm.data import prepare_data
from deeprnn.lm.presets import PRESETS
from data_fixtures import shared_data
from lm_helpers import TINY_FLAGS, cli, no_plots, tiny_config, write_corpus

assert shared_data and no_plots  # fixtures


def direct_unigram_loss(train: list, text: list, V: int) -> float:
    """Counted by hand: p_v = (c_v + 1/V) / (N + 1), the mean of -ln p over the text."""
    counts = Counter(train)
    return -sum(math.log((counts[v] + 1 / V) / (len(train) + 1)) for v in text) / len(text)


def test_unigram_equals_a_direct_count_and_unseen_symbols_stay_finite():
    train, text, V = [0, 0, 1, 2, 0, 1], [0, 1, 3, 3, 2], 4  # symbol 3 never occurs in training
    p = unigram_probs(np.array(train), V)
    assert p.sum() == pytest.approx(1.0)
    s = unigram_score(p, np.array(text))
    assert s.tokens == 5 and math.isfinite(s.loss)
    assert s.loss == pytest.approx(direct_unigram_loss(train, text, V), rel=1e-12)
    assert s.perplexity == pytest.approx(math.exp(s.loss))


def test_unigram_of_a_single_symbol_text():
    p = unigram_probs(np.array([1]), 2)  # N = 1, V = 2: p = (1.5/2, 0.5/2)
    assert p.tolist() == pytest.approx([0.25, 0.75])
    assert unigram_score(p, np.array([1])).loss == pytest.approx(-math.log(0.75))
    empty = unigram_score(p, np.array([], dtype=np.int64))  # no tokens: no loss, and no warning
    assert math.isnan(empty.loss) and empty.tokens == 0


def d2l_config(corpus) -> RunConfig:
    cfg = merge(RunConfig(), PRESETS["d2l-deep-rnn"], "test")
    cfg.data.corpus = [str(corpus)]
    return cfg


def test_the_d2l_notebook_training_text_gives_17_067(shared_data):
    """The notebook's deep RNN stalls at training perplexity 17.07: the unigram perplexity of its text."""
    cfg = d2l_config(shared_data / "timemachine.txt")
    data = prepare_data(cfg.data, cfg.train)
    b = baselines(data, cfg.train)
    assert round(b["unigram_train_ppl"], 3) == 17.067
    assert b["uniform_ppl"] == len(data.vocab) == 28
    text = data.ids[:10000 + 32]  # the tokens of the 10,000 training windows of 32 steps
    assert split_text(data, "train", cfg.train).tolist() == text.tolist()
    assert b["unigram_train_loss"] == pytest.approx(direct_unigram_loss(text.tolist(), text.tolist(), 28), rel=1e-12)
    val = data.ids[10000:15000 + 32].tolist()
    assert b["unigram_val_loss"] == pytest.approx(direct_unigram_loss(text.tolist(), val, 28), rel=1e-12)


def test_split_protocol_baselines_count_the_splits(tmp_path):
    cfg = tiny_config(write_corpus(tmp_path, 900))
    data = prepare_data(cfg.data, cfg.train)
    b = baselines(data, cfg.train)
    train, val, V = data.split("train").tolist(), data.split("val").tolist(), len(data.vocab)
    assert b["unigram_train_loss"] == pytest.approx(direct_unigram_loss(train, train, V), rel=1e-12)
    assert b["unigram_val_loss"] == pytest.approx(direct_unigram_loss(train, val, V), rel=1e-12)
    assert b["unigram_val_ppl"] < b["uniform_ppl"]


def test_at_baseline():
    assert at_baseline(2.8367, 2.8370) and not at_baseline(2.5, 2.837) and not at_baseline(math.nan, 2.8)


def test_train_and_eval_print_the_unigram_beside_the_uniform_baseline(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--json")
    assert code == 0, err
    s = json.loads(out)
    cfg = tiny_config(corpus)
    data = prepare_data(cfg.data, cfg.train)
    train, val, V = data.split("train").tolist(), data.split("val").tolist(), len(data.vocab)
    assert s["unigram_val_ppl"] == pytest.approx(math.exp(direct_unigram_loss(train, val, V)), rel=1e-9)
    assert s["unigram_train_ppl"] == pytest.approx(math.exp(direct_unigram_loss(train, train, V)), rel=1e-9)
    start = [line for line in err.splitlines() if line.startswith("[train] baselines:")]
    assert len(start) == 1 and f"uniform perplexity {V} " in start[0]
    assert f"unigram {s['unigram_val_ppl']:.3f} on val" in start[0]
    code, out, err = cli(capsys, "eval", run)
    assert code == 0, err
    assert out.splitlines()[2] == (f"unigram baseline (letter frequencies of the training text): perplexity "
                                   f"{s['unigram_val_ppl']:.4f}, {s['unigram_val_bpc']:.4f} bits/char")
    code, out, err = cli(capsys, "eval", run, "--json", "--split", "train")
    e = json.loads(out)
    assert e["unigram_ppl"] == pytest.approx(s["unigram_train_ppl"]) and e["uniform_ppl"] == V
