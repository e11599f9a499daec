"""Resume equals uninterrupted, and kills (simulated and real SIGKILL / SIGINT) leave loadable checkpoints."""

from __future__ import annotations

import json
import random
import signal
import time

import pytest

from deeprnn.lm import checkpoint as ck
from lm_helpers import (
    Killed, assert_loadable, assert_same_weights, cli, kill_after_moves, metrics, no_plots, run_trainer, stop_at,
    tiny_config, train_process, wait_for, weights, write_corpus,
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
    for kind in ("val_loss", "loss"):  # evaluation rows and training rows: each step once, in order
        steps = [r["step"] for r in metrics(run) if kind in r]
        assert steps == sorted(set(steps)) and steps[-1] == (N if kind == "val_loss" else 20), kind


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


def test_sigkill_at_random_moments_leaves_a_loadable_checkpoint(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    rng = random.Random(1234)
    steps = [0]
    for round_ in range(3):
        extra = ["--resume", run] if round_ else ["--out", run, "--max-steps", "100000"]
        proc = train_process(corpus, run, *extra, "--eval-every", "1", plots=False)
        try:
            wait_for(run / ck.STATE, proc, past_step=steps[-1])  # this process is training
            time.sleep(rng.uniform(0.1, 0.5))
        finally:
            proc.kill()  # SIGKILL: no handler, no cleanup
            proc.communicate()
        assert proc.returncode == -signal.SIGKILL
        steps.append(assert_loadable(run))
    assert steps == sorted(set(steps)), steps  # each round went on from the last checkpoint
    code, out, err = cli(capsys, "train", "--resume", run, "--max-steps", steps[-1] + 2, "--no-progress", "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == steps[-1] + 2
    rows = [r for r in metrics(run) if "val_loss" in r]
    assert [r["step"] for r in rows] == list(range(1, steps[-1] + 3))  # rows after the checkpoint were dropped


def test_sigint_stops_gracefully_with_a_checkpoint(tmp_path):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    proc = train_process(corpus, run, "--out", run, "--max-steps", "100000", "--eval-every", "5", plots=False)
    try:
        wait_for(run / ck.STATE, proc)  # inside fit(), where Ctrl-C is handled
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert b"interrupted" in out and b"Traceback" not in err
    step = assert_loadable(run)
    assert metrics(run)[-1]["step"] == step  # the stop evaluated and saved at the step it reached


def test_sigterm_stops_gracefully_with_a_checkpoint(tmp_path):
    corpus = write_corpus(tmp_path, 900)
    run = tmp_path / "run"
    proc = train_process(corpus, run, "--out", run, "--max-steps", "100000", "--eval-every", "5", plots=False)
    try:
        wait_for(run / ck.STATE, proc)
        proc.send_signal(signal.SIGTERM)  # what `kill PID`, a job scheduler or systemd sends
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err.decode()  # 128 + SIGTERM, after saving
    assert b"; terminated)" in out and b"Traceback" not in err  # the report: "run: ... (N steps, ...; terminated)"
    assert b"[train] terminated (SIGTERM): finishing this step and saving a checkpoint" in err
    step = assert_loadable(run)
    assert [r for r in metrics(run) if "val_loss" in r][-1]["step"] == step  # it evaluated and saved where it stopped


@pytest.mark.parametrize("every, last_saved", [({"save_every": 4}, 8), ({"save_every_seconds": 1e-6}, 9)])
def test_checkpoints_between_evaluations_resume_bit_identical(corpus, tmp_path, every, last_saved):
    """save_every / save_every_seconds checkpoint without validating; a kill after step 10 loses only
    the steps since, and the resumed run ends with the weights of an uninterrupted one."""
    cfg = lambda: _cfg(corpus, "lstm_adamw", eval_every=100, log_every=3, **every)  # noqa: E731 - validation at the end
    run_trainer(cfg(), tmp_path / "straight")
    run = tmp_path / "run"
    trainer = Trainer(cfg(), run, progress_bar=False, log=lambda m: None)
    step = trainer.engine.optimizer_step

    def killed_after_10(lr):
        step(lr)
        if trainer.prog.step == 10:
            raise Killed("killed after step 10")

    trainer.engine.optimizer_step = killed_after_10
    with pytest.raises(Killed):
        trainer.fit()
    assert ck.load_checkpoint(run).state["step"] == last_saved
    assert [r["step"] for r in metrics(run)] == [3, 6, 9]  # training rows; no validation happened
    _, summary = run_trainer(cfg(), run, resume=True)
    assert summary["steps"] == N
    assert_same_weights(weights(run), weights(tmp_path / "straight"))
    a, b = ck.load_checkpoint(run), ck.load_checkpoint(tmp_path / "straight")
    assert_same_weights(a.optimizer, b.optimizer)
    assert a.state["rng"] == b.state["rng"]
    assert [r["step"] for r in metrics(run) if "loss" in r] == [3, 6, 9, 12, 15, 18, 21, 24]  # no row twice
