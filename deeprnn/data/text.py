"""Preprocessing (``raw`` or the d2l book's letters-only form) and tokenisation (by character or word)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from .errors import check_choice

PREPROCESS_MODES = ("raw", "d2l")
TOKEN_LEVELS = ("char", "word")

_NON_LETTERS = re.compile("[^A-Za-z]+")


def preprocess(text: str, mode: str = "raw") -> str:
    """``raw``: every character kept. ``d2l``: as the d2l book, ``re.sub('[^A-Za-z]+', ' ', text).lower()``
    (each run of non-letters becomes one space, then lower-case)."""
    check_choice("preprocessing mode", mode, PREPROCESS_MODES)
    if mode == "d2l":
        return _NON_LETTERS.sub(" ", text).lower()
    return text


def tokenize(text: str, level: str = "char") -> list[str]:
    """Characters (``char``) or whitespace-separated words (``word``)."""
    check_choice("token level", level, TOKEN_LEVELS)
    return list(text) if level == "char" else text.split()


def join_tokens(tokens: Iterable[str], level: str = "char") -> str:
    """The inverse of :func:`tokenize` (up to whitespace for words): joined with '' or ' '."""
    check_choice("token level", level, TOKEN_LEVELS)
    return ("" if level == "char" else " ").join(tokens)
