"""The two exceptions of ``deeprnn.data``; the CLI prints ValueError and OSError messages as one line."""

from __future__ import annotations


class CorpusError(ValueError):
    """A corpus, vocabulary, split or batching request that cannot be satisfied (bad input, too short, ...)."""


class DownloadError(OSError):
    """A named corpus could not be downloaded, or its bytes do not match the published checksum."""
