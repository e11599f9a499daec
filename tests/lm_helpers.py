"""Shared helpers for tests/test_lm_*.py and tests/test_cli_*.py: tiny corpora, configs, runs and CLI calls.

Everything is sized for a 2-core machine: a corpus of ~1,500 characters, LSTM 1x12, batches of 4x8.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deeprnn.cli import main
from deeprnn.data import builtin_text
from deeprnn.lm import checkpoint as ck
from deeprnn.lm.config import ModelConfig, RunConfig, TrainConfig, merge
from deeprnn.lm.engines import make_engine
from deeprnn.lm import train as train_module
from deeprnn.lm.train import Trainer

TINY = {
    "data": {"splits": [0.8, 0.2, 0.0]},
    "model": {"cell": "lstm", "num_layers": 1, "hidden_size": 12, "embedding_dim": 6},
    "train": {"batch_size": 4, "num_steps": 8, "max_steps": 12, "eval_every": 6, "eval_streams": 4,
              "warmup_steps": 2, "lr": 0.01, "threads": 1},  # threads: no 0.2 s load probe per tiny run
}

TINY_FLAGS = ["--splits", "0.8", "0.2", "0", "--cell", "lstm", "--layers", "1", "--hidden", "12", "--embedding", "6",
              "--batch-size", "4", "--num-steps", "8", "--max-steps", "12", "--eval-every", "6",
              "--eval-streams", "4", "--warmup-steps", "2", "--lr", "0.01", "--threads", "1", "--no-progress"]


def write_corpus(folder: Path, n: int = 1500, name: str = "corpus.txt", start: int = 0,
                 text: str | None = None) -> Path:
    """A small local text file (a slice of the builtin corpus unless ``text`` is given)."""
    path = Path(folder) / name
    path.write_text(builtin_text()[start:start + n] if text is None else text, encoding="utf-8")
    return path


def tiny_config(corpus, model: dict | None = None, data: dict | None = None, **train) -> RunConfig:
    """TINY on ``corpus`` (a path or a list of corpus specs), with section overrides."""
    updates = copy.deepcopy(TINY)
    corpora = corpus if isinstance(corpus, list) else [str(corpus)]
    updates["data"].update({"corpus": corpora, **(data or {})})
    updates["model"].update(model or {})
    updates["train"].update(train)
    return merge(RunConfig(), updates, "test")


def run_trainer(cfg: RunConfig, run: Path, plots: bool = False, **kw) -> tuple[Trainer, dict]:
    """Train (or resume, resume=True) quietly; returns the trainer and fit()'s summary. Drawing
    curves.png costs ~1 s per evaluation on a small machine, so it is off unless ``plots``."""
    logs: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        if not plots:
            mp.setattr(train_module, "_plot", lambda run: None)
        trainer = Trainer(cfg, run, progress_bar=False, log=logs.append, **kw)
        trainer.logs = logs
        return trainer, trainer.fit()


@pytest.fixture
def no_plots(monkeypatch):
    """No curves.png for the CLI runs of a test (import this fixture into the test module)."""
    monkeypatch.setattr(train_module, "_plot", lambda run: None)


def tiny_engine(V: int = 11, dtype: str = "float64", seed: int = 0, train: dict | None = None, **model):
    """A NumPy LM with a few parameters: LSTM 2x5, embedding 4 (override with model fields)."""
    m = ModelConfig(**{"cell": "lstm", "num_layers": 2, "hidden_size": 5, "embedding_dim": 4, **model})
    t = TrainConfig(dtype=dtype, seed=seed, **(train or {}))
    return make_engine(m, t, V)


def weights(run: Path, which: str = ck.MODEL) -> dict[str, np.ndarray]:
    tensors, _ = ck.load_tensors(Path(run) / which, ck.MODEL_FORMAT)
    return tensors


def assert_same_weights(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]), k


def metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines() if line.strip()]


def cli(capsys, *argv) -> tuple[int, str, str]:
    """deeprnn.cli.main(argv) -> (exit code, stdout, stderr)."""
    capsys.readouterr()  # drop anything printed before
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    """Exit 2, exactly one stderr line starting with 'deeprnn: error:', containing each fragment."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert "Traceback" not in err, err
    assert len(lines) == 1 and lines[0].startswith("deeprnn: error: "), err
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def assert_loadable(run: Path) -> int:
    """load_checkpoint works, its three files agree with each other and the run opens with its weights
    (what a kill at any moment must leave); returns the step."""
    import warnings

    from deeprnn.lm.runs import open_run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a fallback to *.prev warns
        c = ck.load_checkpoint(run)
        r = open_run(run, "last")
    p = c.state["progress"]
    assert c.state["step"] == p["step"] >= 1
    assert int(c.optimizer["step"][0]) == p["step"] - p["skipped"]  # optimizer steps taken
    assert {"carry.h", "carry.c"} <= set(c.optimizer)
    for k, v in c.model.items():
        assert np.array_equal(r.engine.state_dict()[k], v), k
    return p["step"]


class Killed(BaseException):
    """Stands for a SIGKILL: not an Exception, so nothing on the way catches it."""


def stop_at(trainer: Trainer, k: int) -> None:
    """Ask ``trainer`` to stop once optimizer step k has been taken (as a first Ctrl-C would)."""
    step = trainer.engine.optimizer_step

    def optimizer_step(lr):
        step(lr)
        if trainer.prog.step == k:
            trainer.request_stop()

    trainer.engine.optimizer_step = optimizer_step


def kill_after_moves(monkeypatch, moves: int) -> None:
    """Make save_checkpoint die after ``moves`` of its final os.replace calls (the .new -> final moves)."""
    import os

    real, done = os.replace, []

    def replace(src, dst):
        if Path(src).name.endswith(".new") and Path(dst).name in (ck.MODEL, ck.OPTIM, ck.STATE):
            if len(done) == moves:
                raise Killed(f"killed before moving {Path(dst).name}")
            done.append(dst)
        return real(src, dst)

    monkeypatch.setattr(ck.os, "replace", replace)


def train_cli_run(folder: Path, *flags) -> Path:
    """A tiny run trained through the command line (no curves.png): folder/run, on folder/corpus.txt."""
    corpus = write_corpus(folder, 900)
    run = Path(folder) / "run"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(train_module, "_plot", lambda run: None)
        code = main(["train", *TINY_FLAGS, "--corpus", str(corpus), "--out", str(run), *map(str, flags)])
    assert code == 0
    return run


# ``deeprnn train`` in a real process; without curves.png (~1 s per evaluation here), so that checkpoint
# writes fill a good part of the time and random kills land in them
NO_PLOT_MAIN = ("import sys, deeprnn.lm.train as t; t._plot = lambda run: None; from deeprnn.cli import main; "
                "sys.exit(main(sys.argv[1:]))")


def train_process(corpus, run, *extra, plots=True) -> subprocess.Popen:
    command = ["-m", "deeprnn"] if plots else ["-c", NO_PLOT_MAIN]
    fresh = [] if "--resume" in extra else [*TINY_FLAGS, "--corpus", str(corpus)]
    argv = [sys.executable, *command, "train", *fresh, *map(str, extra)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=run.parent)


def wait_for(path: Path, proc: subprocess.Popen, past_step: int | None = None, timeout=60.0) -> None:
    """Until ``path`` exists (and, for trainer_state.json, records a step after ``past_step``)."""
    end = time.monotonic() + timeout
    while not path.exists() or (past_step is not None and json.loads(path.read_text())["step"] <= past_step):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.02)
