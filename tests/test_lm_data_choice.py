"""Choosing the data: validation on a text of its own (data.val_corpus) and a capped training split
(data.max_tokens)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from deeprnn.data import UNK, CorpusError
from deeprnn.errors import ConfigError
from deeprnn.lm import checkpoint as ck
from deeprnn.lm.data import prepare_data
from deeprnn.lm.train import Trainer
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, tiny_config, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

BOOK_A = "the cat sat on the mat.\n" * 30  # 720 characters
BOOK_B = "a dog ran in the fog.\n" * 20  # 440 characters
OTHER = "Quiz: the cat sat on the Quilt.\n" * 8  # 256 characters, with 'Q', 'z' and ':' unseen in training


@pytest.fixture
def books(tmp_path):
    return [write_corpus(tmp_path, text=t, name=n) for t, n in ((BOOK_A, "a.txt"), (BOOK_B, "b.txt"),
                                                                (OTHER, "other.txt"))]


def test_val_corpus_validates_on_the_whole_given_text_and_trains_on_all_of_the_corpus(books):
    a, b, other = books
    cfg = tiny_config([str(a), str(b)], data={"val_corpus": [str(other)]})
    data = prepare_data(cfg.data, cfg.train)
    training = BOOK_A + "\n\n" + BOOK_B
    assert data.vocab.decode(data.split("train").tolist()) == training  # every training character, in order
    assert len(data.split("val")) == len(OTHER)
    assert set(data.vocab.idx_to_token) == set(training) | {UNK}  # the vocabulary: the training text only
    unk = [i for i, t in enumerate(data.split("val").tolist()) if t == data.vocab.unk]
    assert unk == [i for i, ch in enumerate(OTHER) if ch not in training] and unk
    assert "validation: other, 256 tokens" in data.describe()
    with pytest.raises(ConfigError, match="validates on data.val_corpus .* no test split, got 'test'"):
        data.split("test")


def test_the_fingerprint_covers_the_validation_text_and_is_unchanged_without_one(books):
    a, _, other = books
    plain = prepare_data(tiny_config(a).data, tiny_config(a).train)
    assert plain.fingerprint == hashlib.sha256(b"char\nraw\n" + BOOK_A.encode()).hexdigest()  # runs made before
    cfg = tiny_config(a, data={"val_corpus": [str(other)]})
    first = prepare_data(cfg.data, cfg.train).fingerprint
    other.write_text(OTHER + "more")
    assert prepare_data(cfg.data, cfg.train).fingerprint not in (first, plain.fingerprint)


def test_train_and_eval_with_val_corpus_on_the_command_line(books, tmp_path, capsys):
    a, b, other = books
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", a, b, "--val-corpus", other, "--max-steps", "4",
                         "--out", run, "--json")
    assert code == 0, err
    assert json.loads(out)["val_tokens"] == len(OTHER) - 1  # every target of the validation text, scored once
    assert json.loads((run / ck.CONFIG).read_text())["data"]["val_corpus"] == [str(other)]
    code, out, err = cli(capsys, "eval", run, "--json")
    assert code == 0, err
    assert json.loads(out)["tokens"] == len(OTHER) - 1
    assert_one_line_error(*cli(capsys, "eval", run, "--split", "test")[::2], "no test split")
    other.write_text(OTHER.replace("cat", "bat"))  # another validation text than the run's
    assert_one_line_error(*cli(capsys, "eval", run)[::2], "different text")
    assert_one_line_error(*cli(capsys, "train", "--resume", run, "--max-steps", "8")[::2], "different text")


def test_val_corpus_must_not_repeat_a_training_file(books, tmp_path, capsys):
    a, b, _ = books
    cfg = tiny_config([str(a), str(b)], data={"val_corpus": [str(tmp_path / "*.txt")]})
    with pytest.raises(CorpusError, match=r"outside data.corpus, got .*a.txt, .*b.txt in both"):
        prepare_data(cfg.data, cfg.train)


def test_val_corpus_and_max_tokens_are_refused_with_the_d2l_protocol(books):
    for data in ({"val_corpus": [str(books[2])]}, {"max_tokens": 100}):
        with pytest.raises(ConfigError, match="with data.protocol='d2l'"):
            tiny_config(books[0], data={"protocol": "d2l", **data}, batching="d2l")
    with pytest.raises(ConfigError, match="expected data.max_tokens >= 0, got -1"):
        tiny_config(books[0], data={"max_tokens": -1})


def test_max_tokens_caps_the_training_split_only(books):
    a, b, _ = books
    full_cfg = tiny_config([str(a), str(b)])
    capped_cfg = tiny_config([str(a), str(b)], data={"max_tokens": 300})
    full, capped = (prepare_data(c.data, c.train) for c in (full_cfg, capped_cfg))
    assert len(full.split("train")) > 300 and len(capped.split("train")) == 300
    assert np.array_equal(capped.split("train"), full.split("train")[:300])
    assert np.array_equal(capped.split("val"), full.split("val"))  # validation unchanged
    assert capped.vocab.idx_to_token == full.vocab.idx_to_token  # so is the vocabulary: the scores compare
    assert f"splits 300 (capped by max_tokens, of {full.bounds[0]:,}) / " in capped.describe()
    big = tiny_config([str(a), str(b)], data={"max_tokens": 10**6})
    assert np.array_equal(prepare_data(big.data, big.train).split("train"), full.split("train"))


def test_training_reads_only_the_capped_text(tmp_path):
    head, tail = "abab cdcd " * 20, "XYZ xyz! " * 40  # 200 + 360 characters, the tail all training text
    corpus = write_corpus(tmp_path, text=head + tail + "abcd " * 40)
    cfg = tiny_config(corpus, data={"splits": [0.75, 0.25, 0.0], "max_tokens": 200}, max_steps=6)
    trainer = Trainer(cfg, tmp_path / "run", progress_bar=False, log=lambda m: None)
    seen = set()
    for _, batch in zip(range(12), trainer.batcher.iterate(start_step=0)):
        seen |= set(batch.x.ravel().tolist()) | set(batch.y.ravel().tolist())
    assert {trainer.data.vocab.decode([i]) for i in seen} == set(head)
    assert set(tail) <= set(trainer.data.vocab.idx_to_token)  # in the vocabulary, never in a batch
