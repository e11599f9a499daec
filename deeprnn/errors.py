"""The one base class for every error a user can cause.

Anything a user can fix (a bad flag or setting, a missing or damaged file, a corpus, a checkpoint, a
diverging run, a missing optional package) raises a subclass of ``DeeprnnError``. The command line
prints those, and ``OSError``, as one line and exits 2; any other exception is a bug in deeprnn and
shows its traceback (deeprnn/cli.py). The engines' own argument checks stay ``ValueError`` and
``TypeError``, as torch's do.

    DeeprnnError(ValueError)
        ConfigError                 a setting, flag or argument (here)
        DependencyError             an optional package is missing; also an ImportError (here)
        CorpusError                 a corpus, vocabulary, split or batching request (deeprnn/data/errors.py)
        DownloadError               a named corpus could not be fetched; also an OSError (deeprnn/data/errors.py)
        CheckpointError             a run folder or checkpoint file (deeprnn/lm/checkpoint.py)
        TrainingError               a run that cannot go on, a diverging one too (deeprnn/lm/train.py)
        DivergenceError             weights or model outputs that are not finite (deeprnn/lm/divergence.py)
"""

from __future__ import annotations


class DeeprnnError(ValueError):
    """An error caused by the user's input or environment, reported as one line."""


class ConfigError(DeeprnnError):
    """A setting, flag or argument that makes no sense (names the expected and the actual value)."""


class DependencyError(DeeprnnError, ImportError):
    """An optional package that this use of deeprnn needs is not installed; the message says what to
    ``pip install``. Also an ImportError, so ``except ImportError`` keeps working."""
