"""The two exceptions of ``deeprnn.data``, both ``DeeprnnError``s (see deeprnn/errors.py), and its argument
checks: deeprnn.checks' rules and wording ("expected batch_size >= 1, got 0"), raising CorpusError."""

from __future__ import annotations

from typing import Any

from .. import checks
from ..errors import DeeprnnError


class CorpusError(DeeprnnError):
    """A corpus, vocabulary, split or batching request that cannot be satisfied (bad input, too short, ...)."""


class DownloadError(DeeprnnError, OSError):
    """A named corpus could not be downloaded, or its bytes do not match the published checksum. Also an
    OSError (a failed fetch is an environment problem), so ``except OSError`` catches it."""


def check_int(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= minimum, else a CorpusError naming it."""
    return checks.check_int(name, value, minimum, error=CorpusError)


def check_choice(what: str, value: str, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a CorpusError naming them."""
    return checks.check_choice(what, value, choices, error=CorpusError)
