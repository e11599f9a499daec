"""Shared helpers for tests/test_torch_engine.py and tests/test_torch_distributed.py.

torch is optional: the module imports without it (``torch`` is then None) so the tests that simulate a
missing torch still run; ``needs_torch`` marks the others, which then skip, or fail under CI=true
(conftest.require); ``needs_cuda`` skips without a GPU.
"""

from __future__ import annotations

import importlib.util
import socket

import numpy as np
import pytest

try:
    import torch
except ImportError:  # pragma: no cover - the dev extra installs torch
    torch = None

needs_torch = pytest.mark.usefixtures("torch_reference")  # conftest.torch_reference: require("torch")
needs_cuda = pytest.mark.skipif(torch is None or not torch.cuda.is_available(), reason="needs a CUDA GPU")
no_cuda = pytest.mark.skipif(torch is not None and torch.cuda.is_available(),
                             reason="checks the error given when there is no GPU")


def timeout(seconds: int):
    """pytest-timeout's marker when that plugin is installed (no unknown-marker warning otherwise); the
    subprocesses have their own time limits in any case."""
    if importlib.util.find_spec("pytest_timeout") is None:
        return lambda f: f
    return pytest.mark.timeout(seconds)


def max_rel_diff(a: dict, b: dict) -> float:
    """max over keys of max|a - b| / max|b|: the worst difference relative to each tensor's scale."""
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    worst = 0.0
    for k in a:
        x, y = np.asarray(a[k], np.float64), np.asarray(b[k], np.float64)
        assert x.shape == y.shape, (k, x.shape, y.shape)
        scale = max(float(np.abs(y).max(initial=0.0)), 1e-30)
        worst = max(worst, float(np.abs(x - y).max(initial=0.0)) / scale)
    return worst


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, let the OS choose)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def torch_one_thread():
    """torch on one intra-op thread for the test (restored afterwards). These models are tiny: on a
    loaded two-core machine, two OpenMP threads made each small LSTM call ~100x slower."""
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
