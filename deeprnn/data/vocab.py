"""The vocabulary: tokens <-> ids, in the d2l book's (1.0) order so ids equal the book's.

    vocab = Vocab(tokenize(text), min_freq=0, reserved_tokens=[])
    ids = vocab.encode("the time")            # int64 (N,)
    vocab.decode(ids) == "the time"
    vocab.to_json("vocab.json"); Vocab.from_json("vocab.json") == vocab

The d2l book's ``Vocab`` behaviours work too: ``vocab["t"]`` and ``vocab[["t", "h"]]`` (a list of ids),
``vocab.to_tokens(3)`` (a string) and ``vocab.to_tokens([3, 4])`` (a list), ``vocab.token_freqs``
(``(token, count)`` pairs, most frequent first) and a nested token list (one list per line) is flattened.

Order: ``sorted(set(['<unk>'] + reserved_tokens + [tok for tok, freq in counts if freq >= min_freq]))``
(code-point order), e.g. ' ', '<unk>', 'a', ..., 'z' for the Time Machine with d2l preprocessing.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from .errors import CorpusError, check_choice, check_int
from .files import atomic_output
from .text import TOKEN_LEVELS, join_tokens, tokenize

UNK = "<unk>"
_FORMAT = "deeprnn.vocab"
_VERSION = 1


class Vocab:
    """Tokens in sorted order; unknown tokens map to ``<unk>``. ``level`` ('char' or 'word') decides how
    strings are split by :meth:`encode` and ids joined by :meth:`decode`."""

    def __init__(self, tokens: Iterable[str] | Iterable[Sequence[str]] = (), min_freq: int = 0,
                 reserved_tokens: Iterable[str] = (), level: str = "char"):
        check_choice("token level", level, TOKEN_LEVELS)
        tokens = list(tokens)
        if tokens and isinstance(tokens[0], (list, tuple)):  # one list of tokens per line, as in d2l
            tokens = [tok for line in tokens for tok in line]
        check_int("min_freq", min_freq, minimum=0)
        reserved = list(reserved_tokens)
        if isinstance(reserved_tokens, str) or not all(isinstance(t, str) for t in reserved):
            raise CorpusError(f"reserved_tokens must be a list of strings, got {reserved_tokens!r}")
        counts = Counter(tokens)
        kept = [tok for tok, freq in counts.items() if freq >= min_freq]
        self._init(sorted(set([UNK] + reserved + kept)), level)
        self.token_freqs = sorted(counts.items(), key=lambda item: item[1], reverse=True)

    def _init(self, idx_to_token: list[str], level: str) -> None:
        self.level = level
        self.token_freqs: list[tuple[str, int]] = []  # (token, count), most frequent first; [] if not counted
        self.idx_to_token: list[str] = idx_to_token
        self.token_to_idx: dict[str, int] = {tok: i for i, tok in enumerate(idx_to_token)}
        self.unk: int = self.token_to_idx[UNK]

    @classmethod
    def from_tokens_list(cls, idx_to_token: Sequence[str], level: str = "char") -> Vocab:
        """A vocabulary with exactly this id order (must contain '<unk>', no duplicates)."""
        check_choice("token level", level, TOKEN_LEVELS)
        tokens = list(idx_to_token)
        if not all(isinstance(t, str) for t in tokens):
            raise CorpusError("vocabulary tokens must all be strings")
        if len(set(tokens)) != len(tokens):
            dup = next(t for t, n in Counter(tokens).items() if n > 1)
            raise CorpusError(f"vocabulary has the token {dup!r} more than once")
        if UNK not in tokens:
            raise CorpusError(f"vocabulary lacks the token {UNK!r}")
        vocab = cls.__new__(cls)
        vocab._init(tokens, level)
        return vocab

    def __len__(self) -> int:
        return len(self.idx_to_token)

    def __contains__(self, token: object) -> bool:
        return token in self.token_to_idx

    def __getitem__(self, tokens):
        """The id of one token (``unk`` if unknown), or a list of ids for a list or tuple of tokens."""
        if isinstance(tokens, (list, tuple)):
            return [self[tok] for tok in tokens]
        return self.token_to_idx.get(tokens, self.unk)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.level == other.level and self.idx_to_token == other.idx_to_token

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self.idx_to_token[:8])
        return f"Vocab(level={self.level!r}, size={len(self)}, tokens=[{head}{', ...' if len(self) > 8 else ''}])"

    def encode(self, tokens: str | Iterable[str]) -> np.ndarray:
        """Ids of a token sequence, or of a string split at this vocabulary's level: int64 (N,)."""
        if isinstance(tokens, str):
            tokens = tokenize(tokens, self.level)
        get, unk = self.token_to_idx.get, self.unk
        return np.fromiter((get(t, unk) for t in tokens), dtype=np.int64)

    def to_tokens(self, ids):
        """The token of one id (a string), or the tokens of several ids (a list); a CorpusError for an id
        outside [0, len)."""
        if np.ndim(ids) == 0:
            return self.to_tokens([ids])[0]
        arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if arr.size and (arr.min() < 0 or arr.max() >= len(self)):
            bad = int(arr[(arr < 0) | (arr >= len(self))][0])
            raise CorpusError(f"token id {bad} is outside the vocabulary [0, {len(self)})")
        return [self.idx_to_token[i] for i in arr.tolist()]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ids: tokens joined with '' (char) or ' ' (word)."""
        return join_tokens(self.to_tokens(ids), self.level)

    def to_dict(self) -> dict:
        return {"format": _FORMAT, "version": _VERSION, "level": self.level, "idx_to_token": self.idx_to_token}

    @classmethod
    def from_dict(cls, data: object, where: str = "vocabulary") -> Vocab:
        """Inverse of :meth:`to_dict`; a CorpusError names what is wrong with a damaged or foreign dict."""
        if not isinstance(data, dict):
            raise CorpusError(f"{where}: expected a JSON object, got {type(data).__name__}")
        if data.get("format") != _FORMAT:
            raise CorpusError(f"{where}: not a deeprnn vocabulary (format {data.get('format')!r}, "
                              f"expected {_FORMAT!r})")
        missing = [k for k in ("version", "level", "idx_to_token") if k not in data]
        if missing:
            raise CorpusError(f"{where}: missing key(s) {', '.join(missing)}")
        if data["version"] != _VERSION:
            raise CorpusError(f"{where}: vocabulary version {data['version']!r} is not supported "
                              f"(expected {_VERSION})")
        tokens, level = data["idx_to_token"], data["level"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise CorpusError(f"{where}: idx_to_token must be a list of strings")
        try:
            return cls.from_tokens_list(tokens, level)  # checks the level too
        except CorpusError as e:
            raise CorpusError(f"{where}: {e}") from e

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the vocabulary as JSON, atomically (temporary file in the same folder, then os.replace)."""
        with atomic_output(path, text=True) as f:
            json.dump(self.to_dict(), f, ensure_ascii=False, indent=1)
            f.write("\n")

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> Vocab:
        """Read a vocabulary written by :meth:`to_json` (CorpusError if damaged or foreign)."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusError(f"{path}: not a JSON vocabulary file ({e})") from e
        return cls.from_dict(data, where=str(path))
