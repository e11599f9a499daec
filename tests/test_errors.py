"""One error base class: every public exception class of the package subclasses DeeprnnError."""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

import pytest

import deeprnn
from deeprnn.errors import DeeprnnError



# Exceptions that are control flow inside deeprnn and never reach a user (each caught where it is raised).
INTERNAL = {"deeprnn.compat.report.CannotBorrow": "the checker cannot swap in deeprnn's part; caught by its runner"}


def _modules():
    """Every module of the package but __main__ (which runs the command). Without torch, the modules
    that need it are left out."""
    has_torch = importlib.util.find_spec("torch") is not None
    for info in pkgutil.walk_packages(deeprnn.__path__, "deeprnn."):
        if info.name == "deeprnn.__main__":
            continue
        try:
            yield importlib.import_module(info.name)
        except ImportError:
            if has_torch:
                raise


def public_error_classes() -> dict[str, type]:
    found = {}
    for module in _modules():
        for name, obj in vars(module).items():
            if (isinstance(obj, type) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                    and not name.startswith("_")):
                found[f"{module.__name__}.{name}"] = obj
    return found


def test_every_public_error_class_is_a_deeprnn_error():
    found = public_error_classes()
    assert {"deeprnn.errors.ConfigError", "deeprnn.errors.DependencyError", "deeprnn.data.errors.CorpusError",
            "deeprnn.data.errors.DownloadError", "deeprnn.lm.checkpoint.CheckpointError",
            "deeprnn.lm.trainer_files.TrainingError", "deeprnn.compat.learner.LearnerError"} <= set(found)  # the walk sees them
    stray = sorted(name for name, cls in found.items() if not issubclass(cls, DeeprnnError) and name not in INTERNAL)
    assert stray == [], f"public error classes that are not DeeprnnErrors: {stray}"
    assert set(INTERNAL) <= set(found), "an INTERNAL entry names a class that no longer exists"


@pytest.mark.parametrize("name, also", [
    ("deeprnn.errors.DeeprnnError", ValueError),
    ("deeprnn.errors.DependencyError", ImportError),  # `except ImportError` around an optional import still works
    ("deeprnn.data.errors.DownloadError", OSError),  # a failed fetch is an environment problem too
    ("deeprnn.data.DownloadError", OSError),  # ... and still importable from deeprnn.data
])
def test_errors_stay_catchable_as_the_builtin_they_were(name, also):
    module, _, attr = name.rpartition(".")
    cls = getattr(importlib.import_module(module), attr)
    assert issubclass(cls, DeeprnnError) and issubclass(cls, also)
    e = cls("a message")
    assert str(e) == "a message"

