"""Shared by tests/test_serve_*.py: one tiny trained run per test session, servers in threads, SSE parsing.

Fixtures (import them into a test module): ``run`` (the folder), ``served`` (a ServedRun of it) and
``server`` (that served in a BackgroundServer). The run: LSTM 1x32 (embedding 16) trained for 60 steps on 30,000 characters of the builtin corpus,
about 5 s on a busy 2-core machine, trained once per pytest process.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from pathlib import Path

import pytest

from lm_helpers import run_trainer, tiny_config, write_corpus

_RUNS: dict[str, Path] = {}


def tiny_run(tmp_path_factory, cell: str = "lstm", layers: int = 1, steps: int = 60, tokens: str = "char") -> Path:
    """A trained run folder (with best weights, metrics.jsonl and a validation split), made once."""
    key = f"{cell}-{layers}-{steps}-{tokens}"
    if key not in _RUNS:
        folder = tmp_path_factory.mktemp(f"serve-{key}")
        corpus = write_corpus(folder, 30000)
        cfg = tiny_config(corpus, model={"cell": cell, "num_layers": layers, "hidden_size": 32, "embedding_dim": 16},
                          data={"splits": [0.9, 0.1, 0.0], "tokens": tokens}, max_steps=steps,
                          eval_every=max(1, steps // 2),
                          batch_size=16, num_steps=32, warmup_steps=5, lr=0.01)
        run_trainer(cfg, folder / "run")
        _RUNS[key] = folder / "run"
    return _RUNS[key]


class CountingEngine:
    """An engine that counts its ``logits`` calls and can sleep in each (to make a generation slow)."""

    def __init__(self, engine, delay: float = 0.0):
        self._engine, self.delay, self.calls = engine, delay, 0
        self._lock = threading.Lock()

    def logits(self, x, state):
        with self._lock:
            self.calls += 1
        if self.delay:
            time.sleep(self.delay)
        return self._engine.logits(x, state)

    def __getattr__(self, name):
        return getattr(self._engine, name)


def served_with(run: Path, delay: float | None = None, **limits):
    """A ServedRun of ``run``; with ``delay``, its engine is a CountingEngine sleeping that long per call."""
    from deeprnn.serve.requests import Limits
    from deeprnn.serve.server import open_served

    served = open_served(run, limits=Limits(**limits))
    if delay is not None:
        served.run = dataclasses.replace(served.run, engine=CountingEngine(served.run.engine, delay))
    return served


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    return tiny_run(tmp_path_factory)


@pytest.fixture(scope="module")
def served(run):
    return served_with(run)


@pytest.fixture(scope="module")
def server(served):
    """A BackgroundServer of ``served`` for the test module (``.url``)."""
    from deeprnn.serve.server import BackgroundServer

    with BackgroundServer(served) as s:
        yield s


def read_events(response) -> list[tuple[str, dict]]:
    """[(event name, data)] from an httpx streaming response of server-sent events."""
    out, name = [], "message"
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            out.append((name, json.loads(line[6:])))
            name = "message"
    return out


def streamed_text(events) -> str:
    return "".join(d["text"] for name, d in events if name == "text")
