"""A learner's code, loaded from a file (or a course's handout folder) and called defensively.

Everything the learner's code does goes through ``Learner``: its prints are swallowed, its
exceptions (SystemExit too) become ``LearnerError`` (type, message and the learner's file:line, never a
traceback), a call that does not fit the function's signature is caught before the call, and absent
functions, attributes, dict keys or return values are named.

``Learner`` runs inside the child process that supervise.py starts: the time limit of each call, and
the learner's code ending or crashing the process, are handled from outside, by the parent. ``watch``
tells the parent when a call of the learner's code starts and ends.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import importlib.machinery
import importlib.util
import inspect
import io
import itertools
import os
import sys
import traceback
import types
import warnings
from pathlib import Path

import numpy as np

from ..checks import describe
from ..errors import ConfigError, DeeprnnError

_counter = itertools.count()
_OURS = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))  # the deeprnn package


class LearnerError(DeeprnnError):
    """Stops one function's check. kind: 'import', 'missing', 'signature', 'exception', 'return' or
    'internal'. ``where`` is the learner's file:line when known."""

    def __init__(self, kind: str, message: str, where: str | None = None):
        super().__init__(message)
        self.kind, self.message, self.where = kind, message, where

    def __reduce__(self):  # results travel from the child process to the parent pickled
        return type(self), (self.kind, self.message, self.where)

    def __str__(self) -> str:
        return self.message + (f"  ({self.where})" if self.where else "")


class Missing:
    """Stands for an absent attribute, dict key or part of a result; ``reason`` is reported as the failure."""

    def __init__(self, reason: str):
        self.reason = reason


class Learner:
    """The learner's code loaded from ``path``: a Python file or, for a course with a handout layout
    (``files``: paths relative to the folder, e.g. 'mytorch/rnn_cell.py'), the handout's folder.

    ``package_root``: a folder put first on sys.path (needle's python/ folder); a file inside it is
    imported under its package name, so its relative imports work. Use as a context manager: on exit the
    modules imported from the learner's folders are forgotten, so the next learner's load afresh.
    """

    def __init__(self, path, files: tuple = (), package_root=None):
        self.path = Path(path).resolve()
        if not self.path.exists():
            raise ConfigError(f"expected PATH to be your Python file, got {path} (no such file or folder)")
        if self.path.is_dir() and not files:
            raise ConfigError(f"expected PATH to be a Python file, got a folder: {path}")
        self.files = files
        self.root = self.path if self.path.is_dir() else self.path.parent
        self.package_root = None if package_root is None else Path(package_root).resolve()
        if self.package_root is not None and not self.package_root.is_dir():
            raise ConfigError(f"expected a folder holding your package, got {package_root} (no such folder)")
        self.folders = [str(p) for p in (self.package_root, self.root) if p is not None]
        self.module = None
        self.import_error: LearnerError | None = None
        self.watch = None  # set by supervise.py: .start() and .stop() around each call of the learner's code

    @property
    def name(self) -> str:
        return self.path.name

    def __enter__(self) -> Learner:
        self._modules_before = set(sys.modules)
        for folder in reversed(self.folders):
            sys.path.insert(0, folder)  # so that `from rnn_cell import RNNCell` finds a sibling file
        try:
            self.module = self._guarded(self._load)
        except LearnerError as e:
            self.import_error = LearnerError("import", f"importing {self.name} failed: {e.message}", e.where)
        return self

    def __exit__(self, *exc) -> None:
        for folder in self.folders:
            with contextlib.suppress(ValueError):
                sys.path.remove(folder)
        for name in set(sys.modules) - self._modules_before:
            file = getattr(sys.modules[name], "__file__", None)
            if name.startswith("_deeprnn_learner_") or (file and self._is_theirs(file)):
                del sys.modules[name]

    def _load(self):
        if self.path.is_dir():  # a handout folder: every course file present, merged into one namespace
            merged = types.SimpleNamespace()
            present = [f for f in self.files if (self.path / f).is_file()]
            if not present:
                raise ImportError(f"expected the course's files in {self.path} ({', '.join(self.files)}), got none")
            for rel in present:
                module = importlib.import_module(rel[: -len(".py")].replace("/", "."))
                for key, value in vars(module).items():
                    if not key.startswith("_") and not hasattr(merged, key):
                        setattr(merged, key, value)
            return merged
        dotted = self._dotted_name()
        if dotted is not None:
            return importlib.import_module(dotted)
        name = f"_deeprnn_learner_{next(_counter)}"
        loader = importlib.machinery.SourceFileLoader(name, str(self.path))
        spec = importlib.util.spec_from_file_location(name, str(self.path), loader=loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loader.exec_module(module)
        return module

    def _dotted_name(self) -> str | None:
        """'needle.nn.nn_sequence' for python/needle/nn/nn_sequence.py under package_root python/."""
        if self.package_root is None or self.package_root not in self.path.parents:
            return None
        parts = self.path.relative_to(self.package_root).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)

    def _is_theirs(self, file: str) -> bool:
        real = os.path.realpath(file)
        if real.startswith(_OURS + os.sep):
            return False
        return any(real.startswith(folder + os.sep) for folder in map(os.path.realpath, self.folders))

    # ---- lookups ------------------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return self.module is not None and hasattr(self.module, name)

    def arity(self, name: str) -> int | None:
        """How many positional arguments the learner's function ``name`` requires (None if absent)."""
        if not self.has(name):
            return None
        try:
            params = inspect.signature(getattr(self.module, name)).parameters.values()
        except (TypeError, ValueError):
            return None
        kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return sum(p.kind in kinds and p.default is inspect.Parameter.empty for p in params)

    def get(self, name: str):
        """A function or class of the learner's code."""
        if self.import_error:
            raise self.import_error
        if not self.has(name):
            raise LearnerError("missing", f"{self.name} defines no {name}")
        return getattr(self.module, name)

    def attr(self, obj, name: str):
        """obj.name, or Missing."""
        try:
            return self._guarded(getattr, obj, name)
        except LearnerError as e:
            if e.kind == "exception" and e.message.startswith("AttributeError"):
                return Missing(f"missing attribute: {type(obj).__name__} has no attribute {name!r}")
            raise

    def method(self, obj, name: str):
        """obj.name, which must be callable."""
        m = self.attr(obj, name)
        if isinstance(m, Missing) or not callable(m):
            raise LearnerError("missing", f"{type(obj).__name__} has no method {name}()")
        return m

    def set(self, obj, name: str, value) -> None:
        self._guarded(setattr, obj, name, value)

    def set_item(self, seq, index, value) -> None:
        self._guarded(seq.__setitem__, index, value)

    @staticmethod
    def item(result, key: str):
        """result[key] of a returned dict, or Missing."""
        if key in result:
            return result[key]
        return Missing(f"missing key: the returned dict has no key {key!r} (keys: {', '.join(map(repr, result))})")

    # ---- calls --------------------------------------------------------------------------------------

    def call(self, label: str, fn, args: tuple, params: tuple, returns=None, copy_args: bool = True):
        """fn(*deep copies of args). ``label`` names it in messages, ``params`` are the expected
        parameter names. returns: None (any), a tuple of names (unpacked into a dict), or dict."""
        try:
            sig = inspect.signature(fn)
        except (TypeError, ValueError):
            sig = None
        if sig is not None:
            try:
                sig.bind(*args)
            except TypeError:
                raise LearnerError("signature", f"wrong signature: expected {label}({', '.join(params)}), "
                                                f"got {label}{sig}") from None
        result = self._guarded(fn, *(copy.deepcopy(args) if copy_args else args))
        if isinstance(returns, tuple):
            n = len(returns)
            if not isinstance(result, (tuple, list)) or len(result) != n:
                raise LearnerError("return", f"expected {label} to return {n} values ({', '.join(returns)}), "
                                             f"got {describe(result)}")
            return dict(zip(returns, result))
        if returns is dict and not isinstance(result, dict):
            raise LearnerError("return", f"expected {label} to return a dict, got {type(result).__name__}")
        return result

    def _guarded(self, fn, *args):
        """fn(*args) with output, warnings and floating-point errors silenced; exceptions -> LearnerError."""
        out = io.StringIO()
        if self.watch is not None:
            self.watch.start()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings(), \
                    np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                return fn(*args)
        except KeyboardInterrupt:
            raise
        except BaseException as e:  # SystemExit too: a learner's exit() must not end the check
            raise LearnerError("exception", _describe(e), self.where(e)) from None
        finally:
            if self.watch is not None:
                self.watch.stop()

    def where(self, e: BaseException) -> str | None:
        """file:line of the innermost frame of the learner's code (SyntaxError: its own position)."""
        if isinstance(e, SyntaxError) and e.filename:
            return f"{self.relative(e.filename)}:{e.lineno}"
        return self.frame_where((f.filename, f.lineno) for f in traceback.extract_tb(e.__traceback__))

    def frame_where(self, frames) -> str | None:
        """The last of ``frames`` ((filename, line) pairs, outermost first) in the learner's code, as file:line."""
        found = None
        for filename, line in frames:
            if self._is_theirs(filename):
                found = f"{self.relative(filename)}:{line}"
        return found

    def relative(self, filename: str) -> str:
        real = Path(os.path.realpath(filename))
        for folder in (self.root, self.package_root):
            if folder is not None and folder in real.parents:
                return real.relative_to(folder).as_posix()
        return real.name


def _describe(e: BaseException) -> str:
    msg = e.msg if isinstance(e, SyntaxError) else " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
