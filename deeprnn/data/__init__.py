"""Data for character- and word-level language models: corpora, download, preprocessing, tokenisation,
vocabulary, splits, batching.

    from deeprnn.data import load_corpus, tokenize, Vocab, split_ids, make_batcher
    corpus = load_corpus("timemachine", preprocess="d2l")      # or "builtin" (default), paths, globs
    tokens = tokenize(corpus.text, "char")
    vocab = Vocab(tokens)                                       # 28 tokens: ' ', '<unk>', 'a'..'z'
    train, val, test = split_ids(vocab.encode(tokens), (0.9, 0.05, 0.05), num_steps=35)
    batcher = make_batcher("sequential", train, batch_size=32, num_steps=35, seed=0)
    for batch in batcher.iterate(start_step=0): ...             # Batch(x (T, B), y (T, B), carry, epoch, step)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .batching import Batch, Batcher, RandomBatcher, SequentialBatcher, ShuffledBatcher
from .corpora import (
    DEFAULT_CORPUS, DEFAULT_SEPARATOR, NAMED_CORPORA, Corpus, builtin_text, load_corpus, read_text_file,
)
from .d2l import D2LBatcher, d2l_windows
from .download import REMOTE, RemoteFile, cache_dir, fetch
from .errors import CorpusError, DownloadError, check_choice
from .streams import stream_layout
from .splits import DEFAULT_FRACTIONS, Splits, split_ids
from .text import PREPROCESS_MODES, TOKEN_LEVELS, preprocess, tokenize
from .vocab import UNK, Vocab

BATCHERS: dict[str, type[Batcher]] = {
    "sequential": SequentialBatcher,
    "random": RandomBatcher,
    "shuffled": ShuffledBatcher,
    "d2l": D2LBatcher,
}
BATCH_MODES = tuple(BATCHERS)


def make_batcher(mode: str, ids: Sequence[int] | np.ndarray, batch_size: int, num_steps: int, *,
                 seed: int = 0, **options: Any) -> Batcher:
    """The batcher of ``mode`` (sequential, random, shuffled, d2l); ``options`` go to D2LBatcher
    (num_train, num_val, split, drop_last)."""
    check_choice("batching mode", mode, BATCH_MODES)
    if options and mode != "d2l":
        raise CorpusError(f"{mode} batching takes no options {', '.join(sorted(options))}")
    return BATCHERS[mode](ids, batch_size, num_steps, seed=seed, **options)


__all__ = [
    "BATCH_MODES", "BATCHERS", "Batch", "Batcher", "Corpus", "CorpusError", "D2LBatcher", "DEFAULT_CORPUS",
    "DEFAULT_FRACTIONS", "DEFAULT_SEPARATOR", "DownloadError", "NAMED_CORPORA", "PREPROCESS_MODES", "REMOTE",
    "RandomBatcher", "RemoteFile", "SequentialBatcher", "ShuffledBatcher", "Splits", "TOKEN_LEVELS", "UNK",
    "Vocab", "builtin_text", "cache_dir", "d2l_windows", "fetch", "load_corpus", "make_batcher", "preprocess",
    "read_text_file", "split_ids", "stream_layout", "tokenize",
]
