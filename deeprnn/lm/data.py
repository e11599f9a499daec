"""From a DataConfig to token ids, a vocabulary, a training batcher and a scorer for each split."""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..data import CorpusError, Vocab, d2l_windows, load_corpus, make_batcher, tokenize
from ..data.splits import split_bounds
from ..errors import ConfigError
from .config import DataConfig, TrainConfig
from .engines import LMEngine
from .evaluate import Score, evaluate_stream, evaluate_windows

EVAL_CHUNK = 256  # tokens per streamed evaluation chunk; the state is carried, so any length gives the same score


@dataclass
class LMData:
    cfg: DataConfig
    name: str  # corpus name, e.g. "timemachine"
    vocab: Vocab
    ids: np.ndarray  # int64 (N,) the whole corpus
    bounds: tuple  # (b1, b2): train = ids[:b1], val = ids[b1:b2], test = ids[b2:]
    fingerprint: str  # SHA-256 of the preprocessed text and the tokenisation

    @property
    def unit(self) -> str:
        """What one token is, as in "bits/char": "char" or "word" (the vocabulary's level)."""
        return self.vocab.level

    def split(self, name: str) -> np.ndarray:
        b1, b2 = self.bounds
        parts = {"train": self.ids[:b1], "val": self.ids[b1:b2], "test": self.ids[b2:]}
        if name not in parts:
            raise ConfigError(f"expected split 'train', 'val' or 'test', got {name!r}")
        if self.cfg.protocol == "d2l" and name == "test":
            raise ConfigError("expected split 'train' or 'val' with the d2l protocol (it has no test windows), got 'test'")
        if parts[name].size < 2:
            raise CorpusError(f"expected the {name} split to hold at least 2 tokens, got {parts[name].size} "
                              f"(data.splits = {self.cfg.splits})")
        return parts[name]

    def train_batcher(self, t: TrainConfig):
        if self.cfg.protocol == "d2l":
            return make_batcher("d2l", self.ids, t.batch_size, t.num_steps, seed=t.seed,
                                num_train=self.cfg.num_train, num_val=self.cfg.num_val, split="train")
        return make_batcher(t.batching, self.split("train"), t.batch_size, t.num_steps, seed=t.seed)

    def score(self, engine: LMEngine, split: str, t: TrainConfig) -> Score:
        """Perplexity over the whole split (state carried), or over the book's windows in d2l mode."""
        if self.cfg.protocol == "d2l":
            X, Y = d2l_windows(self.ids, t.num_steps)  # (M, T) each
            lo, n = (0, self.cfg.num_train) if split == "train" else (self.cfg.num_train, self.cfg.num_val)
            if split not in ("train", "val"):
                self.split(split)  # raises the explanation
            return evaluate_windows(engine, X[lo:lo + n], Y[lo:lo + n], max(t.batch_size, 256))
        return evaluate_stream(engine, self.split(split), EVAL_CHUNK, t.eval_streams)

    def describe(self) -> str:
        b1, b2 = self.bounds
        n = len(self.ids)
        if self.cfg.protocol == "d2l":
            return (f"{self.name}: {n:,} tokens, vocabulary {len(self.vocab)}, d2l protocol "
                    f"({self.cfg.num_train} train / {self.cfg.num_val} validation windows)")
        return (f"{self.name}: {n:,} tokens, vocabulary {len(self.vocab)}, splits "
                f"{b1:,} / {b2 - b1:,} / {n - b2:,}")


def prepare_data(d: DataConfig, t: TrainConfig, vocab: Vocab | None = None) -> LMData:
    """Load, preprocess and tokenise the corpus, build (or reuse) the vocabulary and encode.

    The vocabulary comes from the training split only (the d2l protocol: the whole text, as the book),
    so nothing of the held-out text shapes it; held-out tokens it lacks map to <unk>.
    """
    corpus = load_corpus(d.corpus, preprocess=d.preprocess)
    tokens = tokenize(corpus.text, d.tokens)
    bounds = (len(tokens), len(tokens)) if d.protocol == "d2l" else split_bounds(len(tokens), d.splits)
    if vocab is None:
        source = tokens if d.protocol == "d2l" else tokens[: bounds[0]]
        vocab = Vocab(source, min_freq=d.min_freq, level=d.tokens)
        _check_vocab_size(vocab, source, d.min_freq)
    elif vocab.level != d.tokens:
        raise CorpusError(f"expected a {d.tokens}-level vocabulary, got a {vocab.level}-level one")
    ids = vocab.encode(tokens)  # (N,)
    digest = hashlib.sha256(f"{d.tokens}\n{d.preprocess}\n".encode() + corpus.text.encode("utf-8")).hexdigest()
    data = LMData(d, corpus.name, vocab, ids, bounds, digest)
    if d.protocol != "d2l":
        for name in ("train", "val"):
            data.split(name)
    return data


def _check_vocab_size(vocab: Vocab, source: list, min_freq: int) -> None:
    """CorpusError unless the vocabulary holds at least 2 tokens besides <unk>: with fewer there is
    nothing to predict (a min_freq that keeps no token gives "perplexity 1.000")."""
    known = len(vocab) - 1
    if known >= 2:
        return
    top = max(Counter(source).values(), default=0)
    raise CorpusError(f"expected a vocabulary of at least 2 tokens besides <unk>, got {known} (a vocabulary of "
                      f"{len(vocab)}) with data.min_freq={min_freq}; the most frequent token occurs {top:,} times "
                      "in the training text")
