"""Corpora: the built-in one, named downloads, and local text files.

    corpus = load_corpus()                                  # "builtin": Python's own documentation topics
    corpus = load_corpus("timemachine", preprocess="d2l")   # downloaded once, checksum-verified
    corpus = load_corpus(["a.txt", "books/*.txt"])          # local books, joined with a blank line

A spec is a corpus name (``builtin``, ``timemachine``, ``tinyshakespeare``), the path of a text file, or a
glob (``*``, ``?``, ``[``; ``**`` recurses) matching text files, taken in sorted order. To read a local
file called like a corpus name, write it as a path (``./builtin``) or pass a ``Path``. Files are decoded as strict UTF-8
(a leading byte-order mark is dropped) and line endings are normalised to ``\\n`` as ``open()`` does.
"""

from __future__ import annotations

import glob
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .download import REMOTE, fetch
from .errors import CorpusError, check_choice
from .text import PREPROCESS_MODES, preprocess as preprocess_text

BUILTIN = "builtin"
NAMED_CORPORA = (BUILTIN, *REMOTE)
DEFAULT_CORPUS = BUILTIN
DEFAULT_SEPARATOR = "\n\n"
MIN_CHARS = 2  # one (input, target) pair


@dataclass(frozen=True)
class Corpus:
    """A text ready for tokenisation, with where it came from."""

    name: str
    text: str
    sources: tuple[str, ...] = field(default=())
    preprocess: str = "raw"

    def __len__(self) -> int:
        return len(self.text)


def builtin_text() -> str:
    """The English text of Python's documentation topics (``pydoc_data.topics``), sorted by topic name,
    joined with a blank line. Deterministic for a given Python version; needs no network."""
    try:
        from pydoc_data.topics import topics
    except ImportError as e:  # some stripped-down Python builds leave pydoc_data out
        raise CorpusError(f"the builtin corpus needs the standard module pydoc_data, which this Python lacks: {e}"
                          ) from e
    return "\n\n".join(topics[key] for key in sorted(topics))


def read_text_file(path: str | os.PathLike) -> str:
    """A file's text: strict UTF-8 (error names the byte offset), BOM dropped, newlines normalised."""
    data = Path(path).read_bytes()
    if not data:
        raise CorpusError(f"{path}: the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{path}: not valid UTF-8 at byte offset {e.start} "
                          f"(byte 0x{data[e.start]:02x}: {e.reason})") from e
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")


def _has_magic(spec: str) -> bool:
    return any(c in spec for c in "*?[")


def resolve_spec(spec: str | os.PathLike) -> list[str | Path]:
    """A named corpus (as its name) or the local files a path or glob denotes, in sorted order."""
    text = os.fspath(spec)
    if isinstance(spec, str) and spec in NAMED_CORPORA:  # a Path object is always a path
        return [text]
    path = Path(text).expanduser()
    if path.is_file():
        return [path]
    if path.is_dir():
        raise CorpusError(f"{text}: is a folder; give its files, e.g. {os.path.join(text, '*.txt')}")
    if _has_magic(text):
        matches = sorted(p for p in glob.glob(os.path.expanduser(text), recursive=True) if os.path.isfile(p))
        if not matches:
            raise CorpusError(f"the glob {text!r} matches no files")
        return [Path(p) for p in matches]
    raise CorpusError(f"{text}: no such file, and not a corpus name ({', '.join(NAMED_CORPORA)})")


def source_key(item: str | Path) -> str:
    """What identifies a resolved spec item: the corpus name, or the file's absolute path."""
    return item if isinstance(item, str) else f"file:{item.resolve()}"


def absolute_spec(spec: str) -> str:
    """``spec`` as it reads from any working directory: a corpus name as it is, a path or glob made
    absolute (``~`` expanded)."""
    return spec if spec in NAMED_CORPORA else os.path.abspath(os.path.expanduser(spec))


def _load_one(item: str | Path) -> tuple[str, str, str]:
    """(name, text, source) of one resolved spec item."""
    if item == BUILTIN:
        return BUILTIN, builtin_text(), f"pydoc_data.topics (Python {platform.python_version()})"
    if isinstance(item, str):
        return item, read_text_file(fetch(item)), REMOTE[item].url
    return item.stem, read_text_file(item), str(item)


def load_corpus(specs: str | os.PathLike | Sequence[str | os.PathLike] = DEFAULT_CORPUS,
                preprocess: str = "raw", *, separator: str = DEFAULT_SEPARATOR,
                min_chars: int = MIN_CHARS) -> Corpus:
    """Load one or several corpora (names, paths, globs), join them with ``separator``, preprocess.

    Raises CorpusError for a missing path, an empty glob, undecodable bytes, an empty file, or a text
    shorter than ``min_chars`` characters after preprocessing; DownloadError for a failed download.
    """
    check_choice("preprocessing mode", preprocess, PREPROCESS_MODES)
    if isinstance(specs, (str, os.PathLike)):
        specs = [specs]
    if not specs:
        raise CorpusError("no corpus given")
    items: list[str | Path] = []
    seen: set[str] = set()
    for spec in specs:
        for item in resolve_spec(spec):
            key = source_key(item)
            if key not in seen:  # a file matched by two specs is read once
                seen.add(key)
                items.append(item)
    names, texts, sources = zip(*(_load_one(item) for item in items))
    name = "+".join(names) if len(names) <= 3 else f"{names[0]}+{len(names) - 1} more"
    text = preprocess_text(separator.join(texts), preprocess)
    if len(text) < min_chars:
        raise CorpusError(f"corpus {name!r} has {len(text)} character{'' if len(text) == 1 else 's'} after "
                          f"{preprocess} preprocessing; "
                          f"at least {min_chars} are needed")
    return Corpus(name, text, tuple(sources), preprocess)
