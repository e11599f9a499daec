"""Resume equals uninterrupted, and kills (simulated and real SIGKILL / SIGINT) leave loadable checkpoints."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm.runs import open_run
from lm_helpers import (
    TINY_FLAGS, Killed, assert_same_weights, cli, kill_after_moves, metrics, no_plots, run_trainer, stop_at,
    tiny_config, weights, write_corpus,
)
from deeprnn.lm.train import Trainer

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

N = 24  # total steps; the corpus gives 13 batches per epoch, so runs cross an epoch boundary
CASES = {  # name -> (model, train) overrides; dropout everywhere, state carried across batches
    "lstm_adamw": ({"num_layers": 2, "dropout": 0.3, "output_dropout": 0.2, "weight_drop": 0.3},
                   {"optimizer": "adamw", "weight_decay": 0.1, "ema": 0.9}),
    "gru_sgd": ({"cell": "gru", "num_layers": 2, "dropout": 0.2, "output_dropout": 0.3},
                {"optimizer": "sgd", "momentum": 0.9, "lr": 0.3, "schedule": "step", "step_size": 5}),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("resume"), 560)


def _cfg(corpus, case, **train):
    model, extra = CASES[case]
    return tiny_config(corpus, model=model, **{"max_steps": N, "eval_every": 7, "batching": "sequential",
                                               **extra, **train})


@pytest.fixture(scope="module")
def straight(corpus, tmp_path_factory):
    """Each case trained N steps without interruption: {case: run folder}."""
    out = {}
    for case in CASES:
        out[case] = tmp_path_factory.mktemp(case) / "run"
        trainer, summary = run_trainer(_cfg(corpus, case), out[case])
        assert summary["steps"] == N and trainer.batcher.batches_per_epoch < N
    return out


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("k", [10, 15])  # 7 divides neither; 15 is past the first epoch
def test_resume_equals_uninterrupted(corpus, straight, tmp_path, capsys, case, k):
    run = tmp_path / "run"
    trainer = Trainer(_cfg(corpus, case), run, progress_bar=False, log=lambda m: None)
    stop_at(trainer, k)
    summary = trainer.fit()
    assert summary["steps"] == k and summary["stop_reason"] == "interrupted"
    assert ck.load_checkpoint(run).state["progress"]["step"] == k

    code, out, err = cli(capsys, "train", "--resume", run, "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == N
    assert_same_weights(weights(run), weights(straight[case]))
    a, b = ck.load_checkpoint(run), ck.load_checkpoint(straight[case])
    assert_same_weights(a.optimizer, b.optimizer)  # optimizer buffers, the carried state and the weight average
    assert a.state["rng"] == b.state["rng"]
    assert_same_weights(weights(run, "best/" + ck.MODEL), weights(straight[case], "best/" + ck.MODEL))
    steps = [r["step"] for r in metrics(run)]
    assert steps == sorted(set(steps)) and steps[-1] == N


def test_resume_after_an_interrupted_checkpoint_write(corpus, straight, tmp_path, monkeypatch):
    run = tmp_path / "run"
    monkeypatch.setattr(ck, "save_checkpoint", _first_then_kill(ck.save_checkpoint, monkeypatch))
    with pytest.raises(Killed):  # the checkpoint of step 14 dies after moving its model in
        run_trainer(_cfg(corpus, "lstm_adamw"), run)
    monkeypatch.undo()
    with pytest.warns(UserWarning, match="interrupted.*step 7"):
        trainer, summary = run_trainer(_cfg(corpus, "lstm_adamw"), run, resume=True)
    assert summary["steps"] == N
    assert_same_weights(weights(run), weights(straight["lstm_adamw"]))


def _first_then_kill(real, monkeypatch):
    """save_checkpoint that completes the first call and is killed after one move in the second."""
    calls = []

    def save(*a, **kw):
        calls.append(1)
        if len(calls) == 2:
            kill_after_moves(monkeypatch, 1)
        return real(*a, **kw)

    return save


# -- real signals ---------------------------------------------------------------------------------------


# ``deeprnn train`` in a real process; without curves.png (~1 s per evaluation here), so that checkpoint
# writes fill a good part of the time and random kills land in them
NO_PLOT_MAIN = ("import sys, deeprnn.lm.train as t; t._plot = lambda run: None; from deeprnn.cli import main; "
                "sys.exit(main(sys.argv[1:]))")


def _train_process(corpus, run, *extra, plots=True) -> subprocess.Popen:
    command = ["-m", "deeprnn"] if plots else ["-c", NO_PLOT_MAIN]
    fresh = [] if "--resume" in extra else [*TINY_FLAGS, "--corpus", str(corpus)]
    argv = [sys.executable, *command, "train", *fresh, *map(str, extra)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=run.parent)


def _wait_for(path: Path, proc: subprocess.Popen, past_step: int | None = None, timeout=60.0) -> None:
    """Until ``path`` exists (and, for trainer_state.json, records a step after ``past_step``)."""
    end = time.monotonic() + timeout
    while not path.exists() or (past_step is not None and json.loads(path.read_text())["step"] <= past_step):
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        assert time.monotonic() < end, f"{path} did not appear"
        time.sleep(0.02)


def _assert_consistent(run: Path) -> int:
    """load_checkpoint works and its three files agree with each other; returns the step."""
    import warnings

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


def test_sigkill_at_random_moments_leaves_a_loadable_checkpoint(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    rng = random.Random(1234)
    steps = [0]
    for round_ in range(3):
        extra = ["--resume", run] if round_ else ["--out", run, "--max-steps", "100000"]
        proc = _train_process(corpus, run, *extra, "--eval-every", "1", plots=False)
        try:
            _wait_for(run / ck.STATE, proc, past_step=steps[-1])  # this process is training
            time.sleep(rng.uniform(0.1, 0.5))
        finally:
            proc.kill()  # SIGKILL: no handler, no cleanup
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        steps.append(_assert_consistent(run))
    assert steps == sorted(set(steps)), steps  # each round went on from the last checkpoint
    code, out, err = cli(capsys, "train", "--resume", run, "--max-steps", steps[-1] + 2, "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == steps[-1] + 2
    rows = [r for r in metrics(run) if "val_loss" in r]
    assert [r["step"] for r in rows] == list(range(1, steps[-1] + 3))  # rows after the checkpoint were dropped


def test_sigint_stops_gracefully_with_a_checkpoint(tmp_path):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    proc = _train_process(corpus, run, "--out", run, "--max-steps", "100000", "--eval-every", "5", plots=False)
    try:
        _wait_for(run / ck.STATE, proc)  # inside fit(), where Ctrl-C is handled
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in out and b"Traceback" not in err
    step = _assert_consistent(run)
    assert metrics(run)[-1]["step"] == step  # the stop evaluated and saved at the step it reached
