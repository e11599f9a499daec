"""The training loop: determinism, NaN/Inf guard, early stopping, time budget, metrics, best model."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm.data import prepare_data
from deeprnn.lm.runs import open_run
from deeprnn.lm.schedule import learning_rate
from deeprnn.lm.train import TrainingError
from deeprnn.lm.engines.numpy import NumpyLM
from lm_helpers import (
    TINY_FLAGS, assert_one_line_error, assert_same_weights, cli, metrics, no_plots, run_trainer, tiny_config,
    weights, write_corpus,
)

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("train"), 900)


def test_same_command_twice_gives_identical_weights(corpus, tmp_path, capsys):
    flags = [*TINY_FLAGS, "--corpus", corpus, "--layers", "2", "--dropout", "0.2", "--output-dropout", "0.2",
             "--batching", "shuffled", "--max-steps", "8"]
    for name in ("a", "b"):
        assert cli(capsys, "train", *flags, "--out", tmp_path / name)[0] == 0
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    assert cli(capsys, "train", *flags, "--seed", "1", "--out", tmp_path / "c")[0] == 0
    assert not np.array_equal(weights(tmp_path / "a")["head.weight"], weights(tmp_path / "c")["head.weight"])


def _poison(monkeypatch, bad):
    """NumpyLM.forward_backward with call n (1-based) made non-finite: bad(n) = "loss", "grad" or None."""
    real, calls = NumpyLM.forward_backward, []

    def forward_backward(self, x, y, state):
        calls.append(1)
        loss, final = real(self, x, y, state)
        kind = bad(len(calls))
        if kind == "loss":
            loss = math.nan
        elif kind == "grad":
            self.grads["head.bias"][0] = math.inf
        return loss, final

    monkeypatch.setattr(NumpyLM, "forward_backward", forward_backward)


def test_non_finite_steps_are_skipped_and_logged(corpus, tmp_path, monkeypatch):
    _poison(monkeypatch, {3: "loss", 5: "loss", 7: "grad"}.get)
    trainer, summary = run_trainer(tiny_config(corpus, eval_every=5, max_steps=12), tmp_path / "run")
    assert summary["steps"] == 12 and summary["stop_reason"] == "max_steps=12 reached"
    assert trainer.prog.skipped == 3
    skipped = [r for r in metrics(tmp_path / "run") if r.get("skipped")]
    assert [r["step"] for r in skipped] == [3, 5, 7]
    assert math.isnan(skipped[0]["loss"]) and skipped[2]["grad_norm"] == math.inf
    assert sum("step skipped" in m for m in trainer.logs) == 3
    c = ck.load_checkpoint(tmp_path / "run")
    assert int(c.optimizer["step"][0]) == 12 - 3  # no optimizer step on a skipped batch
    assert all(np.isfinite(v).all() for v in c.model.values())


def test_too_many_bad_steps_in_a_row_stop_with_the_checkpoint_intact(corpus, tmp_path, monkeypatch):
    _poison(monkeypatch, lambda n: "loss" if n >= 7 else None)
    with pytest.raises(TrainingError, match=r"at step 9: 3 steps in a row .*checkpoint of step 5 .* is intact"):
        run_trainer(tiny_config(corpus, eval_every=5, max_steps=40, max_bad_steps=3), tmp_path / "run")
    c = ck.load_checkpoint(tmp_path / "run")  # the checkpoint of step 5, no fallback needed
    assert c.state["progress"]["step"] == 5
    assert open_run(tmp_path / "run", "last").step == 5


def test_too_many_bad_steps_exit_2_on_the_command_line(corpus, tmp_path, monkeypatch, capsys):
    _poison(monkeypatch, lambda n: "loss")
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--max-bad-steps", "2",
                         "--out", tmp_path / "run")
    err = "\n".join(line for line in err.splitlines() if not line.startswith("[train]"))
    assert_one_line_error(code, err, "2 steps in a row", "not finite", "--lr")
    assert out == ""


def test_early_stopping_after_patience_evaluations(corpus, tmp_path):
    cfg = tiny_config(corpus, lr=0.0, schedule="constant", eval_every=3, patience=2, max_steps=100)
    _, summary = run_trainer(cfg, tmp_path / "run")  # lr 0: the validation loss never improves
    assert summary["steps"] == 9 and summary["best_step"] == 3
    assert summary["stop_reason"] == "early stopping: no improvement in 2 evaluations"
    assert [r["step"] for r in metrics(tmp_path / "run")] == [3, 6, 9]


def test_time_budget_stops_early(corpus, tmp_path, capsys):
    t0 = time.perf_counter()
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--time-budget", "1", "--no-fit-budget",
                         "--max-steps", "1000000", "--eval-every", "100000", "--out", tmp_path / "run", "--json")
    assert code == 0, err
    assert time.perf_counter() - t0 < 30
    s = json.loads(out)
    assert s["stop_reason"] == "time budget of 1 s reached"
    assert 0 < s["steps"] < 1000000 and "val_ppl" in s  # it still evaluated and saved at the end
    assert ck.load_checkpoint(tmp_path / "run").state["progress"]["step"] == s["steps"]


def test_metrics_rows_and_best_model(corpus, tmp_path):
    cfg = tiny_config(corpus, eval_every=5, max_steps=12, lr=0.05)
    trainer, summary = run_trainer(cfg, tmp_path / "run")
    rows = [r for r in metrics(tmp_path / "run") if "val_loss" in r]  # the evaluation rows
    assert [r["step"] for r in rows] == [5, 10, 12]
    data = prepare_data(cfg.data, cfg.train)
    B, T = cfg.train.batch_size, cfg.train.num_steps
    for r in rows:
        assert r["tokens"] == r["step"] * B * T
        assert r["lr"] == pytest.approx(learning_rate(r["step"] - 1, cfg.train))
        assert r["val_tokens"] == len(data.split("val")) - 1
        assert r["val_ppl"] == pytest.approx(math.exp(r["val_loss"]))
        assert r["val_bpc"] == pytest.approx(r["val_loss"] / math.log(2))
        assert r["train_ppl"] == pytest.approx(math.exp(r["train_loss"]))
        assert r["seconds"] >= 0
    assert rows[-1]["val_loss"] < rows[0]["val_loss"]  # it learns something
    best = min(rows, key=lambda r: r["val_loss"])
    assert summary["best_step"] == best["step"]
    assert summary["val_ppl"] == pytest.approx(rows[-1]["val_ppl"])
    assert summary["train_ppl"] == pytest.approx(rows[-1]["train_ppl"])
    r = open_run(tmp_path / "run")  # best weights: they score the best validation loss
    assert r.which == "best" and r.step == best["step"]
    assert data.score(r.engine, "val", cfg.train).loss == pytest.approx(best["val_loss"], rel=1e-12)


def test_training_rows_make_a_curve_of_a_short_run(corpus, tmp_path, monkeypatch):
    """Every log_every steps a training row (the mean loss since the row before), plotted in curves.png:
    a run that validates once still shows a curve."""
    from deeprnn.lm.plots import curve_series

    monkeypatch.undo()  # the module's no_plots
    _poison(monkeypatch, {3: "loss"}.get)  # a skipped step counts in no mean
    cfg = tiny_config(corpus, eval_every=100, max_steps=12, log_every=2)
    trainer, summary = run_trainer(cfg, tmp_path / "run", plots=True)
    rows = metrics(tmp_path / "run")
    training = [r for r in rows if "loss" in r and not r.get("skipped")]
    assert [r["step"] for r in training] == [2, 4, 6, 8, 10, 12]
    B, T = cfg.train.batch_size, cfg.train.num_steps
    assert [r["tokens"] for r in training] == [r["step"] * B * T for r in training]
    assert all(r["lr"] == pytest.approx(learning_rate(r["step"] - 1, cfg.train)) for r in training)
    (evaluation,) = [r for r in rows if "val_loss" in r]  # 11 finite steps: 1 at step 3's row, 2 at the others
    means = [r["loss"] for r in training]
    assert evaluation["train_loss"] == pytest.approx((sum(means) * 2 - means[1]) / 11)
    series = curve_series(rows)
    assert series["train"] == [(r["step"], pytest.approx(math.exp(r["loss"]))) for r in training]
    assert series["val"] == [(12, evaluation["val_ppl"])]
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curves_png_is_drawn(corpus, tmp_path, monkeypatch):
    monkeypatch.undo()  # the module's no_plots
    run_trainer(tiny_config(corpus, eval_every=4, max_steps=8), tmp_path / "run", plots=True)
    assert (tmp_path / "run" / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_existing_run_needs_overwrite_or_resume(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=4, eval_every=4)
    run_trainer(cfg, tmp_path / "run")
    with pytest.raises(TrainingError, match="--resume .*--overwrite"):
        run_trainer(cfg, tmp_path / "run")
    _, summary = run_trainer(cfg, tmp_path / "run", overwrite=True)
    assert summary["steps"] == 4 and [r["step"] for r in metrics(tmp_path / "run")] == [4]


def test_resume_at_max_steps_does_nothing(corpus, tmp_path):
    cfg = tiny_config(corpus, max_steps=4, eval_every=4)
    _, first = run_trainer(cfg, tmp_path / "run")
    files = {name: (tmp_path / "run" / name).read_bytes() for name in (ck.STATE, ck.MODEL, ck.OPTIM, "metrics.jsonl")}
    trainer, summary = run_trainer(cfg, tmp_path / "run", resume=True)
    assert summary["steps"] == 4 and any("nothing to do" in m for m in trainer.logs)
    assert summary["val_ppl"] == pytest.approx(first["val_ppl"], rel=1e-12)
    for name, data in files.items():  # no second metrics row for step 4, no new checkpoint
        assert (tmp_path / "run" / name).read_bytes() == data, name


def test_weight_average_follows_its_formula():
    from deeprnn.lm.average import WeightAverage

    rng = np.random.default_rng(0)
    thetas = [{"w": rng.standard_normal((3, 2))} for _ in range(40)]
    avg = WeightAverage(thetas[0], decay=0.9)
    expected = thetas[0]["w"].copy()
    for n, th in enumerate(thetas[1:]):
        avg.update(th)
        d = min(0.9, (1 + n) / (10 + n))
        expected = d * expected + (1 - d) * th["w"]
    assert np.allclose(avg.params["w"], expected, rtol=0, atol=1e-12)
    assert avg.n == len(thetas) - 1


def test_ema_runs_keep_and_report_the_averaged_weights(tmp_path, capsys):
    """With train.ema the best model is the average (not the last iterate), the logged validation score
    is the average's, and `deeprnn eval` reproduces it from best/."""
    corpus = write_corpus(tmp_path)
    run = tmp_path / "run"
    trainer, summary = run_trainer(tiny_config(corpus, ema=0.8, max_steps=12, eval_every=12), run)
    best = weights(run, "best/" + ck.MODEL)
    last = weights(run)
    assert any(not np.array_equal(best[k], last[k]) for k in best)
    for k, v in trainer.ema.params.items():
        assert np.allclose(best[k], v.astype(best[k].dtype))
    code, out, _ = cli(capsys, "eval", run, "--json")
    assert code == 0 and json.loads(out)["ppl"] == pytest.approx(summary["val_ppl"], rel=1e-9)
