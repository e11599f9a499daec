"""A learner's module, loaded from a file and called defensively.

Everything the learner's code does goes through ``Learner``: its prints are swallowed, its
exceptions become ``LearnerError`` (type, message and the learner's file:line, never a traceback),
a call that does not fit the function's signature is caught before the call, and absent
functions, attributes, dict keys or return values are named.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.machinery
import importlib.util
import inspect
import io
import itertools
import os
import signal
import sys
import threading
import traceback
import warnings
from pathlib import Path

import numpy as np

from ._arrays import kind_of

_counter = itertools.count()


class LearnerError(Exception):
    """Stops one function's check. kind: 'import', 'missing', 'signature', 'exception' or 'return'."""

    def __init__(self, kind: str, message: str, where: str | None = None):
        super().__init__(message)
        self.kind, self.message, self.where = kind, message, where

    def __str__(self) -> str:
        return self.message + (f"  ({self.where})" if self.where else "")


class _Timeout(Exception):
    pass


class Missing:
    """Stands for an absent attribute, dict key or part of a result; ``reason`` is reported as the failure."""

    def __init__(self, reason: str):
        self.reason = reason


class Learner:
    """The learner's module loaded from ``path``. Use as a context manager: on exit the modules it
    imported from its own folder are forgotten, so the next learner's siblings load afresh."""

    def __init__(self, path, timeout: float = 10.0):
        self.timeout = timeout  # seconds per call of the learner's code (Unix, main thread only)
        self.path = Path(path).resolve()
        if not self.path.exists():
            raise FileNotFoundError(f"no such file: {path}")
        if self.path.is_dir():
            raise IsADirectoryError(f"expected a Python file, got a directory: {path}")
        self.folder = str(self.path.parent)
        self.module = None
        self.import_error: LearnerError | None = None

    def __enter__(self) -> "Learner":
        self._modules_before = set(sys.modules)
        sys.path.insert(0, self.folder)  # so that `from rnn_cell import RNNCell` finds a sibling file
        name = f"_deeprnn_learner_{next(_counter)}"
        loader = importlib.machinery.SourceFileLoader(name, str(self.path))
        spec = importlib.util.spec_from_file_location(name, str(self.path), loader=loader)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            self._guarded(loader.exec_module, module)
            self.module = module
        except LearnerError as e:
            self.import_error = LearnerError("import", f"importing {self.path.name} failed: {e.message}", e.where)
        return self

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(ValueError):
            sys.path.remove(self.folder)
        for name in set(sys.modules) - self._modules_before:
            file = getattr(sys.modules[name], "__file__", None)
            if name.startswith("_deeprnn_learner_") or (file and os.path.dirname(os.path.realpath(file)) == self.folder):
                del sys.modules[name]

    # ---- lookups ------------------------------------------------------------------------------------

    def get(self, name: str):
        """A function or class of the module."""
        if self.import_error:
            raise self.import_error
        if not hasattr(self.module, name):
            raise LearnerError("missing", f"{self.path.name} defines no {name}")
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

    @staticmethod
    def item(result, key: str):
        """result[key] of a returned dict, or Missing."""
        if key in result:
            return result[key]
        return Missing(f"missing key: the returned dict has no key {key!r} (keys: {', '.join(map(repr, result))})")

    # ---- calls --------------------------------------------------------------------------------------

    def call(self, label: str, fn, args: tuple, params: tuple, returns=None):
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
        result = self._guarded(fn, *copy.deepcopy(args))
        if isinstance(returns, tuple):
            n = len(returns)
            if not isinstance(result, (tuple, list)) or len(result) != n:
                got = kind_of(result)
                raise LearnerError("return", f"expected {label} to return {n} values ({', '.join(returns)}), got {got}")
            return dict(zip(returns, result))
        if returns is dict and not isinstance(result, dict):
            raise LearnerError("return", f"expected {label} to return a dict, got {type(result).__name__}")
        return result

    def _guarded(self, fn, *args):
        """fn(*args) with output, warnings and floating-point errors silenced; exceptions -> LearnerError."""
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings(), \
                    np.errstate(all="ignore"), _time_limit(self.timeout):
                warnings.simplefilter("ignore")
                return fn(*args)
        except KeyboardInterrupt:
            raise
        except _Timeout as e:
            message = f"no result after {self.timeout:g} s (an endless loop?)"
            raise LearnerError("exception", message, self._where(e)) from None
        except BaseException as e:  # SystemExit too: a learner's exit() must not end the check
            raise LearnerError("exception", _describe(e), self._where(e)) from None

    def _where(self, e: BaseException) -> str | None:
        """file:line of the innermost frame in the learner's folder (SyntaxError: its own position)."""
        if isinstance(e, SyntaxError) and e.filename:
            return f"{os.path.basename(e.filename)}:{e.lineno}"
        for frame in reversed(traceback.extract_tb(e.__traceback__)):
            if os.path.dirname(os.path.realpath(frame.filename)) == self.folder:
                return f"{os.path.basename(frame.filename)}:{frame.lineno}"
        return None


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Raise _Timeout in the running code after ``seconds`` (where SIGALRM exists, in the main thread)."""
    if not seconds or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Timeout()

    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _describe(e: BaseException) -> str:
    msg = e.msg if isinstance(e, SyntaxError) else " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__
