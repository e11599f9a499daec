"""Corpora (builtin, local files, globs), preprocessing and tokenisation."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest
from data_fixtures import cache, mirror, shared_data  # noqa: F401 (fixtures)

from deeprnn.data import CorpusError, Vocab, builtin_text, load_corpus, preprocess, tokenize


def _no_network(*args, **kwargs):
    raise AssertionError("the network was used")


def test_builtin_is_the_default_and_is_pythons_sorted_doc_topics(monkeypatch):
    from pydoc_data.topics import topics

    monkeypatch.setattr(urllib.request, "urlopen", _no_network)
    corpus = load_corpus()
    assert corpus.name == "builtin" and corpus.preprocess == "raw"
    assert corpus.text == "\n\n".join(topics[k] for k in sorted(topics))
    assert corpus.text == builtin_text() == load_corpus("builtin").text  # deterministic
    assert len(corpus) > 100_000
    assert corpus.sources[0].startswith("pydoc_data.topics")


def test_d2l_time_machine_has_173428_characters_and_28_tokens(mirror):
    corpus = load_corpus("timemachine", preprocess="d2l")
    assert len(corpus.text) == 173_428
    vocab = Vocab(tokenize(corpus.text))
    assert len(vocab) == 28
    assert vocab.idx_to_token == [" ", "<unk>"] + [chr(c) for c in range(ord("a"), ord("z") + 1)]
    assert corpus.text.startswith("the time machine by h g wells i the time traveller")
    ids = vocab.encode(corpus.text[:10])
    assert ids.tolist() == [21, 9, 6, 0, 21, 10, 14, 6, 0, 14]  # as the book's vocab gives them


def test_preprocess_modes():
    text = "Hello, World!\n123 It's--ok"
    assert preprocess(text, "raw") == text
    assert preprocess(text) == text
    assert preprocess(text, "d2l") == "hello world it s ok"
    assert preprocess("42 Ã©t\u00e9", "d2l") == " t "  # non-ASCII letters are not letters here, as in the book
    with pytest.raises(CorpusError, match="expected preprocessing mode to be one of 'raw', 'd2l', got 'lower'"):
        preprocess(text, "lower")


def test_tokenize_by_character_and_word():
    assert tokenize("ab c") == ["a", "b", " ", "c"]
    assert tokenize("the  time\nmachine ", "word") == ["the", "time", "machine"]
    with pytest.raises(CorpusError, match="expected token level to be one of 'char', 'word', got 'byte'"):
        tokenize("abc", "byte")


def test_several_paths_are_joined_with_the_separator_in_order(tmp_path):
    (tmp_path / "b.txt").write_text("second book")
    (tmp_path / "a.txt").write_text("first book")
    corpus = load_corpus([tmp_path / "b.txt", str(tmp_path / "a.txt")])
    assert corpus.text == "second book\n\nfirst book"
    assert corpus.name == "b+a"
    assert corpus.sources == (str(tmp_path / "b.txt"), str(tmp_path / "a.txt"))
    assert load_corpus([tmp_path / "b.txt", tmp_path / "a.txt"], separator=" | ").text == "second book | first book"
    assert load_corpus([tmp_path / "b.txt", tmp_path / "a.txt"], "d2l").text == "second book first book"


def test_glob_takes_matching_files_in_sorted_order_once(tmp_path):
    for name, text in [("c.txt", "C"), ("a.txt", "A"), ("b.md", "B"), ("d.txt", "D")]:
        (tmp_path / name).write_text(text)
    (tmp_path / "sub.txt").mkdir()  # a folder matching the glob is not a file
    assert load_corpus(str(tmp_path / "*.txt")).text == "A\n\nC\n\nD"
    # a file named explicitly and matched again by a glob is read once, where first named
    assert load_corpus([str(tmp_path / "d.txt"), str(tmp_path / "*.txt")]).text == "D\n\nA\n\nC"


def test_glob_matching_nothing_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match=r"the glob '.*\*\.txt' matches no files"):
        load_corpus(str(tmp_path / "*.txt"))


def test_missing_path_and_folder_are_errors(tmp_path):
    missing = tmp_path / "missing.txt"
    with pytest.raises(CorpusError, match="missing.txt: no such file, and not a corpus name"):
        load_corpus(missing)
    with pytest.raises(CorpusError, match="is a folder"):
        load_corpus(tmp_path)
    with pytest.raises(CorpusError, match="no corpus given"):
        load_corpus([])


def test_undecodable_bytes_name_the_file_and_offset(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café au lait".encode("utf-8") + b" na\xefve")
    with pytest.raises(CorpusError) as info:
        load_corpus(path)
    message = str(info.value)
    assert str(path) in message and "byte offset 16" in message and "0xef" in message
    assert "\n" not in message


def test_empty_file_and_too_short_corpus_are_errors(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(CorpusError, match="empty.txt: the file is empty"):
        load_corpus(empty)
    digits = tmp_path / "digits.txt"
    digits.write_text("1234")
    with pytest.raises(CorpusError, match="has 1 character after d2l preprocessing; at least 2 are needed"):
        load_corpus(digits, "d2l")
    short = tmp_path / "short.txt"
    short.write_text("hello")
    with pytest.raises(CorpusError, match="'short' has 5 characters .* at least 10 are needed"):
        load_corpus(short, min_chars=10)
    assert load_corpus(short, min_chars=5).text == "hello"


def test_line_endings_are_normalised_and_bom_dropped(tmp_path):
    path = tmp_path / "dos.txt"
    path.write_bytes(b"\xef\xbb\xbfone\r\ntwo\rthree\n")
    assert load_corpus(path).text == "one\ntwo\nthree\n"


def test_a_local_file_named_like_a_corpus_is_read_as_a_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "builtin").write_text("my own builtin")
    assert load_corpus("./builtin").text == "my own builtin"
    assert load_corpus(Path("builtin")).text == "my own builtin"
    assert load_corpus("builtin").text != "my own builtin"
