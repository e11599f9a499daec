"""Data flow into runs: the vocabulary comes from the training split, several local files, the d2l protocol."""

from __future__ import annotations

import json

import pytest

from deeprnn.data import UNK, Vocab
from deeprnn.lm import checkpoint as ck
from deeprnn.lm.data import prepare_data
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, metrics, no_plots, tiny_config, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

TRAIN_TEXT = "the cat sat on the mat.\n" * 34  # 816 characters without 'Q' or 'z'
HELD_OUT = "Quiz: the cat sat on the Quilt.\n" * 6  # 192 characters


def test_vocabulary_comes_from_the_training_split_only(tmp_path):
    text = TRAIN_TEXT + HELD_OUT
    cfg = tiny_config(write_corpus(tmp_path, text=text), data={"splits": [0.8, 0.2, 0.0]})
    data = prepare_data(cfg.data, cfg.train)
    b1, _ = data.bounds
    assert b1 <= len(TRAIN_TEXT)
    assert set(data.vocab.idx_to_token) == set(TRAIN_TEXT[:b1]) | {UNK}
    assert "Q" not in data.vocab and "z" not in data.vocab
    val = data.split("val")
    val_text = text[b1:]
    assert len(val) == len(val_text)
    want_unk = [i for i, ch in enumerate(val_text) if ch not in data.vocab]
    assert [i for i, t in enumerate(val.tolist()) if t == data.vocab.unk] == want_unk
    assert {val_text[i] for i in want_unk} == set(val_text) - set(text[:b1]) >= {"Q", "z", ":"}


def test_held_out_tokens_map_to_unk_through_training_and_evaluation(tmp_path, capsys):
    corpus = write_corpus(tmp_path, text=TRAIN_TEXT + HELD_OUT)
    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--max-steps", "4", "--out", run)[0] == 0
    vocab = Vocab.from_json(run / ck.VOCAB)
    assert "Q" not in vocab and "t" in vocab
    code, out, err = cli(capsys, "eval", run, "--json")
    assert code == 0, err
    assert json.loads(out)["tokens"] == round(len(TRAIN_TEXT + HELD_OUT) * 0.2) - 1


def test_two_local_files(tmp_path, capsys):
    a = write_corpus(tmp_path, 700, name="a.txt")
    b = write_corpus(tmp_path, 500, name="b.txt", start=5000)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", a, b, "--max-steps", "4", "--out", run, "--json")
    assert code == 0, err
    cfg = json.loads((run / ck.CONFIG).read_text())
    assert cfg["data"]["corpus"] == [str(a), str(b)]
    data = prepare_data(tiny_config([str(a), str(b)]).data, tiny_config(a).train)
    assert len(data.ids) == 700 + len("\n\n") + 500
    assert cli(capsys, "eval", run)[0] == 0
    b.write_text(b.read_text() + "changed")  # a different text than the run was trained on
    assert_one_line_error(*cli(capsys, "eval", run)[::2], "different text")


def test_eval_and_resume_refuse_a_changed_corpus_with_one_message(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--max-steps", "4", "--out", run)[0] == 0
    corpus.write_text(corpus.read_text() + "changed")
    on_eval = assert_one_line_error(*cli(capsys, "eval", run)[::2], "different text", str(corpus))
    on_resume = assert_one_line_error(*cli(capsys, "train", "--resume", run, "--max-steps", "8")[::2])
    assert on_resume == on_eval
    assert json.loads((run / ck.STATE).read_text())["step"] == 4  # nothing trained on the changed text


D2L_FLAGS = ["--preprocess", "d2l", "--protocol", "d2l", "--batching", "d2l", "--num-train", "40", "--num-val", "20",
             "--embedding", "0", "--optimizer", "sgd", "--lr", "1", "--schedule", "constant", "--clip", "norm",
             "--batch-size", "8", "--max-steps", "6", "--eval-every", "3"]


def test_d2l_protocol_trains_and_evaluates(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 400)
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, *D2L_FLAGS, "--out", run, "--json")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["steps"] == 6 and summary["val_tokens"] == 20 * 8  # num_val windows of num_steps
    vocab = Vocab.from_json(run / ck.VOCAB)
    assert set(vocab.idx_to_token) <= set(" abcdefghijklmnopqrstuvwxyz") | {UNK}  # d2l preprocessing
    assert summary["vocab_size"] == len(vocab)
    code, out, err = cli(capsys, "eval", run, "--last", "--json")
    assert code == 0, err
    ev = json.loads(out)
    assert ev["tokens"] == 160 and ev["step"] == 6
    assert ev["ppl"] == pytest.approx(metrics(run)[-1]["val_ppl"], rel=1e-12)
    assert ev["uniform_ppl"] == len(vocab)
    assert_one_line_error(*cli(capsys, "eval", run, "--split", "test")[::2], "d2l protocol")


def test_d2l_protocol_needs_enough_windows(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 40)
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, *D2L_FLAGS, "--out", tmp_path / "run")
    assert_one_line_error(code, err, "num_train + num_val")
