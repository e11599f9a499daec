"""The vocabulary: d2l order, min_freq, reserved tokens, <unk>, encode/decode, JSON."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from deeprnn.data import CorpusError, Vocab, tokenize


def book_vocab_order(tokens, min_freq=0, reserved_tokens=()):
    """The d2l book's (1.0) Vocab.idx_to_token, written out independently."""
    counts = {}
    for t in tokens:
        counts[t] = counts.get(t, 0) + 1
    token_freqs = sorted(counts.items(), key=lambda x: x[1], reverse=True)
    return list(sorted(set(["<unk>"] + list(reserved_tokens) + [t for t, f in token_freqs if f >= min_freq])))


def test_order_is_the_books_sorted_order():
    tokens = tokenize("the time traveller (for so it will be convenient to speak of him)")
    vocab = Vocab(tokens)
    assert vocab.idx_to_token == book_vocab_order(tokens)
    assert vocab.idx_to_token[:3] == [" ", "(", ")"] and vocab.idx_to_token[3] == "<unk>"
    assert vocab.token_to_idx == {t: i for i, t in enumerate(vocab.idx_to_token)}
    assert Vocab(reversed(tokens)) == vocab  # independent of the order tokens are seen


def test_min_freq_and_reserved_tokens():
    tokens = list("banana split")
    vocab = Vocab(tokens, min_freq=2, reserved_tokens=["<pad>", "<bos>"])
    assert vocab.idx_to_token == ["<bos>", "<pad>", "<unk>", "a", "n"]
    assert vocab.idx_to_token == book_vocab_order(tokens, 2, ["<pad>", "<bos>"])
    assert len(vocab) == 5 and "<pad>" in vocab and "b" not in vocab and "a" in vocab
    assert vocab.unk == 2 and vocab["b"] == 2 and vocab["n"] == 4
    with pytest.raises(CorpusError, match="expected min_freq >= 0, got -1"):
        Vocab(tokens, min_freq=-1)
    with pytest.raises(CorpusError, match="reserved_tokens must be a list of strings"):
        Vocab(tokens, reserved_tokens="<pad>")


def test_encode_decode_char_level_with_unknowns():
    vocab = Vocab(tokenize("hello world"))
    ids = vocab.encode("hello")
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert vocab.decode(ids) == "hello"
    assert vocab.encode(["h", "i"]).tolist() == [vocab["h"], vocab.unk]
    assert vocab.decode(vocab.encode("hi!")) == "h<unk><unk>"
    assert vocab.encode("").shape == (0,) and vocab.decode([]) == ""
    with pytest.raises(CorpusError, match=r"token id 99 is outside the vocabulary \[0, 9\)"):
        vocab.decode([0, 99])


def test_word_level_splits_and_joins_with_spaces():
    vocab = Vocab(tokenize("the time machine the end", "word"), level="word")
    assert vocab.idx_to_token == ["<unk>", "end", "machine", "the", "time"]
    ids = vocab.encode("the  time\ntraveller")
    assert ids.tolist() == [3, 4, 0]
    assert vocab.decode(ids) == "the time <unk>"


def test_json_round_trip(tmp_path):
    vocab = Vocab(tokenize("Ünïcode and \"quotes\"\n\ttabs"), reserved_tokens=["<eos>"])
    path = tmp_path / "vocab.json"
    vocab.to_json(path)
    assert os.listdir(tmp_path) == ["vocab.json"]  # atomic write leaves no temporary file
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["idx_to_token"] == vocab.idx_to_token and data["level"] == "char"
    loaded = Vocab.from_json(path)
    assert loaded == vocab and loaded.unk == vocab.unk and loaded.token_to_idx == vocab.token_to_idx
    words = Vocab(["a", "b"], level="word")
    words.to_json(path)  # overwrites
    assert Vocab.from_json(path) == words and Vocab.from_json(path).level == "word"
    assert Vocab.from_json(path) != vocab


@pytest.mark.parametrize("content, message", [
    ("not json {", "not a JSON vocabulary file"),
    (b"\xff\xfe", "not a JSON vocabulary file"),
    ("[1, 2]", "expected a JSON object, got list"),
    ('{"model": "lstm"}', "not a deeprnn vocabulary"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": "char"}', "missing key.*idx_to_token"),
    ('{"format": "deeprnn.vocab", "version": 7, "level": "char", "idx_to_token": ["<unk>"]}', "version 7"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": "char", "idx_to_token": [1, 2]}', "list of strings"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": "char", "idx_to_token": "<unk>ab"}', "list of strings"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": 3, "idx_to_token": ["<unk>"]}', "expected token level to be one of 'char', 'word', got 3"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": "char", "idx_to_token": ["<unk>", "a", "a"]}',
     "token 'a' more than once"),
    ('{"format": "deeprnn.vocab", "version": 1, "level": "char", "idx_to_token": ["a", "b"]}', "lacks the token '<unk>'"),
])
def test_damaged_or_foreign_json_is_a_clear_error(tmp_path, content, message):
    path = tmp_path / "vocab.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(CorpusError, match=message) as info:
        Vocab.from_json(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_the_d2l_vocab_behaviours_a_learner_relies_on():
    """d2l's Vocab: vocab[list] -> list, token_freqs, to_tokens(int) -> str, nested token lists flattened."""
    lines = [list("the time"), list("machine")]
    vocab = Vocab(lines)
    assert vocab == Vocab(list("the time") + list("machine"))  # one level of nesting is flattened
    ids = vocab[list("tim")]
    assert isinstance(ids, list) and ids == [vocab["t"], vocab["i"], vocab["m"]]
    assert vocab[("a", "?")] == [vocab["a"], vocab.unk] and vocab[[["t"], "e"]] == [[vocab["t"]], vocab["e"]]
    assert vocab.to_tokens(vocab["m"]) == "m" and vocab.to_tokens(np.int64(vocab["e"])) == "e"
    assert vocab.to_tokens([vocab["t"]]) == ["t"] and vocab.to_tokens(ids) == list("tim")
    assert vocab.token_freqs[:3] == [("e", 3), ("t", 2), ("h", 2)]  # most frequent first; ties keep first-seen order
    assert sorted(vocab.token_freqs) == sorted({t: "the timemachine".count(t) for t in "the timemachine"}.items())
    assert Vocab.from_tokens_list(vocab.idx_to_token).token_freqs == []  # restored vocabularies have no counts
    with pytest.raises(CorpusError, match=r"token id 40 is outside the vocabulary"):
        vocab.to_tokens(40)
