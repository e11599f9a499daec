"""The one base class for every error a user can cause.

Anything a user can fix (a bad flag or setting, a missing or damaged file, a corpus, a checkpoint, a
diverging run) raises a subclass of ``DeeprnnError``. The command line prints those as one line and
exits 2; any other exception is a bug in deeprnn and shows its traceback. The engines' own argument
checks stay ``ValueError`` and ``TypeError``, as torch's do.
"""

from __future__ import annotations


class DeeprnnError(ValueError):
    """An error caused by the user's input or environment, reported as one line."""


class ConfigError(DeeprnnError):
    """A setting, flag or argument that makes no sense (names the expected and the actual value)."""
