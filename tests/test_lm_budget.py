"""A time budget fits max_steps to the measured speed: the schedule decays over it, a resume keeps it."""

from __future__ import annotations

import json
import time

import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm.budget import MARGIN, fit_steps
from deeprnn.lm.compare.runner import finished
from deeprnn.lm.engines.numpy import NumpyLM
from deeprnn.lm.schedule import learning_rate
from deeprnn.lm.train import Trainer
from lm_helpers import TINY_FLAGS, assert_same_weights, cli, metrics, no_plots, run_trainer, tiny_config, weights, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark

STEP_S = 0.03  # each step sleeps this long, so its time is known to within the tiny model's own


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path)


@pytest.fixture
def slow_steps(monkeypatch):
    """Every training step of every engine takes about STEP_S seconds more."""
    real = NumpyLM.forward_backward

    def slow(self, *a, **kw):
        time.sleep(STEP_S)
        return real(self, *a, **kw)

    monkeypatch.setattr(NumpyLM, "forward_backward", slow)


def budget_config(corpus, budget=2.0, warmup_steps=2, **train):
    return tiny_config(corpus, max_steps=100000, time_budget=budget, warmup_steps=warmup_steps, eval_every=25,
                       schedule="cosine", min_lr=0.0, **train)


def test_fit_steps_formula():
    # 100 s left, 0.1 s/step, no validation: 97 % of the time in steps
    assert fit_steps(10, 100.0, 0.1, 256, 0, 50, 10**6) == 10 + int(MARGIN * 100 / 0.1)
    # validations cost their tokens at a third of a training token: with 256 tokens a step and 768
    # validation tokens, one validation costs one step; with eval_every 1, a step costs two
    assert fit_steps(0, 100.0, 0.1, 256, 768, 1, 10**6) == int((MARGIN * 100 - 0.1) / 0.2)
    assert fit_steps(10, 100.0, 0.1, 256, 0, 50, 500) == 500  # never more than the config asks
    assert fit_steps(10, 0.0, 0.1, 256, 0, 50, 500) == 11  # out of time: one more step, not fewer


def test_a_time_budget_fits_max_steps_and_finishes_the_decay(corpus, tmp_path, slow_steps):
    cfg = budget_config(corpus)
    t0 = time.perf_counter()
    trainer, summary = run_trainer(cfg, tmp_path / "run")
    took = time.perf_counter() - t0
    planned = ck.load_checkpoint(tmp_path / "run").state["progress"]["planned_steps"]
    assert 20 < planned < 2.0 / STEP_S  # fitted to about 2 s of ~STEP_S steps, evaluations included
    assert summary["steps"] == planned
    assert summary["stop_reason"] == f"max_steps={planned} reached (fitted to the time budget)"
    assert took < 2.0 * 1.5  # it ended near the budget (setup and the last evaluation on top)
    fitted = tiny_config(corpus, max_steps=planned, warmup_steps=2, schedule="cosine", min_lr=0.0).train
    last = metrics(tmp_path / "run")[-1]
    assert last["step"] == planned and last["lr"] == pytest.approx(learning_rate(planned - 1, fitted))
    assert last["lr"] < 0.1 * cfg.train.lr  # the schedule decayed over the fitted steps, to its end
    assert learning_rate(planned - 1, cfg.train) > 0.99 * cfg.train.lr  # unfitted, it would have barely begun
    assert any("so max_steps is" in line for line in trainer.logs)
    assert cfg.train.max_steps == 100000  # the caller's config is not changed


def test_without_fitting_the_budget_stops_the_run_partway(corpus, tmp_path, slow_steps):
    trainer, summary = run_trainer(budget_config(corpus, budget=1.0, fit_budget=False), tmp_path / "run")
    assert summary["stop_reason"] == "time budget of 1 s reached"
    assert ck.load_checkpoint(tmp_path / "run").state["progress"]["planned_steps"] == 0


def test_a_resume_keeps_the_fitted_steps_and_is_exact(corpus, tmp_path, slow_steps, monkeypatch):
    cfg = budget_config(corpus, budget=3.0, warmup_steps=30)  # the plan comes within warm-up
    real_step = Trainer._train_step

    def stop_midway(self, batch):  # a Ctrl-C once the plan is recorded
        real_step(self, batch)
        if self.prog.planned_steps and self.prog.step == self.prog.planned_steps // 2:
            self.request_stop()

    monkeypatch.setattr(Trainer, "_train_step", stop_midway)
    _, first = run_trainer(cfg, tmp_path / "run")
    monkeypatch.setattr(Trainer, "_train_step", real_step)
    planned = ck.load_checkpoint(tmp_path / "run").state["progress"]["planned_steps"]
    assert first["steps"] == planned // 2 < planned
    _, resumed = run_trainer(cfg, tmp_path / "run", resume=True)  # a resume with the same budget: not re-fitted
    assert resumed["steps"] == planned
    assert ck.load_checkpoint(tmp_path / "run").state["progress"]["planned_steps"] == planned
    # the same weights as a run told max_steps=planned from the start (the plan came within warm-up)
    straight = tiny_config(corpus, max_steps=planned, warmup_steps=30, eval_every=25, schedule="cosine", min_lr=0.0)
    run_trainer(straight, tmp_path / "straight")
    assert_same_weights(weights(tmp_path / "run"), weights(tmp_path / "straight"))
    lr = [r["lr"] for r in metrics(tmp_path / "run") if "val_loss" in r]
    assert lr[-1] == pytest.approx(learning_rate(planned - 1, straight.train))


def test_compare_counts_a_fitted_run_as_finished(corpus, tmp_path, slow_steps):
    cfg = budget_config(corpus, budget=1.0)
    run_trainer(cfg, tmp_path / "run")
    assert finished(tmp_path / "run", cfg)


def test_the_cli_fits_and_no_fit_budget_turns_it_off(corpus, tmp_path, capsys, slow_steps):
    flags = [*TINY_FLAGS, "--corpus", corpus, "--max-steps", "100000", "--eval-every", "1000", "--json"]
    code, out, err = cli(capsys, "train", *flags, "--time-budget", "1", "--out", tmp_path / "a")
    assert code == 0, err
    assert json.loads(out)["stop_reason"].endswith("(fitted to the time budget)")
    code, out, err = cli(capsys, "train", *flags, "--time-budget", "1", "--no-fit-budget", "--out", tmp_path / "b")
    assert code == 0, err
    assert json.loads(out)["stop_reason"] == "time budget of 1 s reached"
