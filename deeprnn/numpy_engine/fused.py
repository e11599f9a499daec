"""Optional accelerator: fused float32 twins of the cells' pointwise functions, compiled with numba.

Why: on CPUs without AVX-512, NumPy's float32 tanh and exp run at about 2.6 ns per element, so the
gate nonlinearities of one LSTM step cost more than its recurrent GEMM. A numba loop that evaluates
all gates of one step in a single pass, with a vectorisable rational tanh, is about 5x faster
(benchmarks/bench_engine.py measures the whole engine against torch; README has the table).

What: each kernel here computes exactly the equations of the NumPy function it replaces (named in
its docstring), with the same arguments. ``select(fn, dtype)`` returns the twin for float32 arrays
when numba is installed, and ``fn`` itself otherwise. float64 (gradient checks, parity tests) always
runs the NumPy functions. tests/test_engine_fused.py checks every twin against its NumPy function.

Turn it off with the environment variable DEEPRNN_FUSED=0 or ``set_enabled(False)``: float32 then runs
the NumPy reference functions too, which you can step through in a debugger (numba-compiled code
cannot be), with the backward equations of elman.py, gru.py and lstm.py in their docstrings.
"""

from __future__ import annotations

import os

import numpy as np

from ..checks import check_bool

_enabled = os.environ.get("DEEPRNN_FUSED", "1") != "0"
_twins: dict | None = None  # numpy function name -> compiled twin; built on first use


def set_enabled(flag: bool) -> None:
    """Use (True) or bypass (False) the numba kernels for float32."""
    global _enabled
    _enabled = check_bool("flag", flag)


def available() -> bool:
    """True when the fused kernels are enabled and numba can be imported."""
    return _enabled and bool(_load())


def select(fn, dtype):
    """The fused twin of the NumPy pointwise function ``fn`` for float32, else ``fn``."""
    if not _enabled or dtype != np.float32:
        return fn
    return _load().get(fn.__name__, fn)


def _load() -> dict:
    global _twins
    if _twins is None:
        try:
            from . import _fused_kernels
        except ImportError:  # numba not installed: the NumPy functions serve
            _twins = {}
        else:
            _twins = _fused_kernels.TWINS
    return _twins
