"""What training logs besides validation: the gradient norm of every step, tokens/s, training time."""

from __future__ import annotations

import json
import math
import time

import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm import data as data_module
from deeprnn.lm.meter import StepMeter
from deeprnn.lm.train import Trainer
from lm_helpers import TINY_FLAGS, cli, metrics, no_plots, run_trainer, tiny_config, write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("metrics"), 900)


def _recording_trainer(cfg, run):
    """A trainer whose engine records each step's loss and pre-clip gradient norm."""
    trainer = Trainer(cfg, run, progress_bar=False, log=lambda msg: None)
    losses, norms = [], []
    fb, clip = trainer.engine.forward_backward, trainer.engine.clip

    def forward_backward(x, y, state):
        loss, final = fb(x, y, state)
        losses.append(loss)
        return loss, final

    def clipped(mode, value):
        norms.append(clip(mode, value))
        return norms[-1]

    trainer.engine.forward_backward, trainer.engine.clip = forward_backward, clipped
    return trainer, losses, norms


def test_every_step_gradient_norm_reaches_metrics_jsonl(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=8, eval_every=4, log_every=2, clip_value=0.4)
    trainer, losses, norms = _recording_trainer(cfg, tmp_path / "run")
    trainer.fit()
    rows = metrics(tmp_path / "run")
    train_rows = [r for r in rows if "val_loss" not in r]
    eval_rows = [r for r in rows if "val_loss" in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6, 8] and [r["step"] for r in eval_rows] == [4, 8]
    assert [r["step"] for r in rows] == [2, 4, 4, 6, 8, 8]  # the training row comes before the evaluation's
    assert len(norms) == 8 and max(norms) > 0.4 > min(norms)  # some steps clipped, some not (else: pick a limit)
    for r in train_rows:
        window, lost = norms[r["step"] - 2:r["step"]], losses[r["step"] - 2:r["step"]]
        assert r["grad_norm"] == pytest.approx(sum(window) / 2, rel=1e-12)
        assert r["grad_norm_max"] == max(window)
        assert r["clipped"] == sum(n > 0.4 for n in window) / 2
        assert r["loss"] == pytest.approx(sum(lost) / 2, rel=1e-12)  # the training row's own mean loss
        assert r["tokens"] == r["step"] * 4 * 8 and r["tokens_per_s"] > 0 and "lr" in r
    for r in eval_rows:  # the evaluation row summarises the steps since the last evaluation
        window = norms[r["step"] - 4:r["step"]]
        assert r["grad_norm"] == pytest.approx(sum(window) / 4, rel=1e-12) and r["grad_norm_max"] == max(window)
        assert r["tokens_per_s"] > 0


def test_without_log_every_only_evaluation_rows_carry_the_norms(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=6, eval_every=3, clip="none", log_every=0)
    trainer, _, norms = _recording_trainer(cfg, tmp_path / "run")
    trainer.fit()
    rows = metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [3, 6]
    assert rows[1]["grad_norm"] == pytest.approx(sum(norms[3:]) / 3, rel=1e-12)
    assert "clipped" not in rows[1]  # no clip, no clip fraction


def test_summary_reports_training_time_without_evaluation_and_tokens_per_second(corpus, tmp_path, monkeypatch):
    score = data_module.LMData.score

    def slow_score(self, *a, **kw):  # evaluation takes 0.15 s more: it must not count as training time
        time.sleep(0.15)
        return score(self, *a, **kw)

    monkeypatch.setattr(data_module.LMData, "score", slow_score)
    _, s = run_trainer(tiny_config(corpus, max_steps=6, eval_every=3, log_every=0), tmp_path / "run")
    assert s["seconds"] - s["train_seconds"] >= 0.3  # two evaluations
    assert s["tokens_per_s"] == pytest.approx(s["tokens"] / s["train_seconds"], rel=1e-3)
    assert s["tokens"] == 6 * 4 * 8


def test_training_time_adds_up_over_a_resume(corpus, tmp_path):
    run = tmp_path / "run"
    _, first = run_trainer(tiny_config(corpus, max_steps=4, eval_every=2), run)
    state = json.loads((run / ck.STATE).read_text())
    assert state["progress"]["train_seconds"] == pytest.approx(first["train_seconds"], abs=1e-3)
    trainer, second = run_trainer(tiny_config(corpus, max_steps=8, eval_every=2), run, resume=True)
    assert second["train_seconds"] > first["train_seconds"] > 0
    assert second["tokens_per_s"] == pytest.approx(second["tokens"] / second["train_seconds"], rel=1e-3)


def test_train_json_and_report_show_seconds_and_tokens_per_second(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--max-steps", "4", "--out", tmp_path / "a",
                         "--json")
    assert code == 0, err
    s = json.loads(out)
    assert s["tokens_per_s"] > 0 and s["seconds"] + 0.005 >= s["train_seconds"] > 0  # seconds: 2 decimals
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--max-steps", "4", "--out", tmp_path / "b",
                         "--log-every", "2")
    assert code == 0, err
    assert " tokens/s; max_steps=4 reached)" in out.splitlines()[0]
    assert [r["step"] for r in metrics(tmp_path / "b") if "val_loss" not in r] == [2, 4]


def test_meter_counts_skipped_steps_for_time_only():
    cfg = tiny_config("builtin", clip_value=1.0)
    meter = StepMeter(cfg.train)
    meter.add(10, 0.5, 3.0)
    meter.add(10, 0.5, math.inf)  # a skipped step
    meter.add(10, 1.0, 0.5)
    assert meter.take("log") == {"grad_norm": 1.75, "grad_norm_max": 3.0, "clipped": 0.5, "tokens_per_s": 15.0}
    assert meter.take("log") == {} and meter.take("eval")["tokens_per_s"] == 15.0
