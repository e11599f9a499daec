"""Divergence stops cleanly on both engines: every step checked, no garbage saved, one line, exit 2.

See deeprnn/lm/divergence.py for what counts as diverged and why.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from deeprnn.lm import checkpoint as ck
from deeprnn.lm import divergence as dv
from deeprnn.lm.divergence import DivergenceError
from deeprnn.lm.evaluate import Score
from deeprnn.lm.train import Trainer, TrainingError
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, tiny_config, tiny_engine, write_corpus
from conftest import require

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark



@pytest.fixture(params=["numpy", "torch"])
def engine(request):
    """Each engine; torch through conftest.require (a skip outside CI, a failure under CI=true)."""
    if request.param == "torch":
        require("torch")
    return request.param


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("diverge"), 900)


def error_line(err: str) -> str:
    """stderr without the [train]/[eval] log lines: what assert_one_line_error should see."""
    return "\n".join(line for line in err.splitlines() if not line.startswith("["))


def all_finite(tensors: dict) -> bool:
    return all(np.isfinite(v).all() for v in tensors.values())


# -- the runs of the issue, on the command line -------------------------------------------------------------

KNOWN = {  # flags -> what the one line says happened
    "sgd_lr_1e6_no_clip": (["--optimizer", "sgd", "--lr", "1e6", "--clip", "none"], "nats (above the limit of"),
    "adam_lr_1e5": (["--optimizer", "adam", "--lr", "1e5"], "nats (above the limit of"),
    "relu_lr_50_no_clip": (["--cell", "rnn", "--nonlinearity", "relu", "--lr", "50", "--clip", "none"],
                           "in a row were skipped, the last for a loss of"),  # nan or absurd, by engine
    "lr_1e30": (["--lr", "1e30"], "a weight of magnitude"),
}


@pytest.mark.parametrize("case", sorted(KNOWN))
def test_the_diverging_runs_of_the_issue_stop_in_one_line(corpus, tmp_path, capsys, case, engine):
    flags, what = KNOWN[case]
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--engine", engine,
                         "--eval-every", "3", "--max-bad-steps", "2", "--threads", "1", *flags)
    line = assert_one_line_error(code, error_line(err), "training diverged at step", what, "try a lower --lr")
    assert out == "" and "Traceback" not in err
    if (run / ck.STATE).exists():  # whatever was written holds finite weights, and the line says which
        c = ck.load_checkpoint(run)
        assert all_finite(c.model) and f"the checkpoint of step {c.state['step']} in {run} is intact" in line
    else:
        assert "no checkpoint was written" in line and not (run / ck.MODEL).exists()
    if (run / ck.BEST / ck.MODEL).exists():
        assert all_finite(ck.load_tensors(run / ck.BEST / ck.MODEL, ck.MODEL_FORMAT)[0])


# -- every step, not only at evaluations ---------------------------------------------------------------------

def trainer(cfg, run) -> Trainer:
    return Trainer(cfg, run, progress_bar=False, log=lambda msg: None)


def poison_weights_after(t: Trainer, step: int, value: float = math.nan) -> None:
    """The optimizer step that ends training step ``step`` leaves ``value`` in one weight (either engine)."""
    real = t.engine.optimizer_step

    def optimizer_step(lr):
        real(lr)
        if t.prog.step == step:
            sd = t.engine.state_dict()
            sd["head.bias"][0] = value
            t.engine.load_state_dict(sd)

    t.engine.optimizer_step = optimizer_step


def poison_losses_from(t: Trainer, step: int) -> None:
    """Every training step from ``step`` on reports a NaN loss (either engine)."""
    real = t.engine.forward_backward

    def forward_backward(x, y, state):
        loss, final = real(x, y, state)
        return (math.nan if t.prog.step + 1 >= step else loss), final

    t.engine.forward_backward = forward_backward


@pytest.mark.parametrize("value", [math.nan, math.inf, 2e6])
def test_bad_weights_stop_at_the_step_that_made_them_and_the_last_checkpoint_is_kept(corpus, tmp_path, engine,
                                                                                      value):
    t = trainer(tiny_config(corpus, engine=engine, eval_every=5, max_steps=40, threads=1), tmp_path / "run")
    poison_weights_after(t, 8, value)
    with pytest.raises(TrainingError) as info:
        t.fit()
    message = str(info.value)
    assert message.startswith("training diverged at step 8: the optimizer step gave ")
    assert f"the checkpoint of step 5 in {tmp_path / 'run'} is intact (best weights: step 5)" in message
    c = ck.load_checkpoint(tmp_path / "run")  # step 5's, not overwritten by the evaluation at step 10
    assert c.state["step"] == 5 and all_finite(c.model)


@pytest.mark.parametrize("eval_every", [2, 20])  # evaluations inside the bad stretch, and none before it ends
def test_the_clean_stop_does_not_depend_on_eval_every_versus_max_bad_steps(corpus, tmp_path, engine, eval_every):
    t = trainer(tiny_config(corpus, engine=engine, eval_every=eval_every, max_steps=40, max_bad_steps=5, threads=1),
                tmp_path / "run")
    poison_losses_from(t, 3)
    with pytest.raises(TrainingError, match=r"diverged at step 7: 5 steps in a row were skipped, the last for a "
                                            r"loss of nan \(not finite\)"):
        t.fit()
    if eval_every == 2:  # step 2 trained; the evaluations at 4 and 6 saw only skipped steps, and saved step 2's weights
        assert ck.load_checkpoint(tmp_path / "run").state["step"] == 6
    else:
        assert not (tmp_path / "run" / ck.STATE).exists()


def test_a_validation_loss_that_is_absurd_stops_before_anything_is_saved(corpus, tmp_path):
    t = trainer(tiny_config(corpus, eval_every=3, max_steps=12), tmp_path / "run")
    real = t.data.score

    def score(engine, split, cfg):  # what weights gone wrong would score; the weights themselves stay finite
        return Score(1e5, real(engine, split, cfg).tokens)

    t.data.score = score
    with pytest.raises(TrainingError, match=r"step 3: the validation gave a loss of 1e\+05 nats .*no checkpoint"):
        t.fit()
    assert not (tmp_path / "run" / ck.STATE).exists() and not (tmp_path / "run" / ck.BEST).exists()


def test_the_limits_leave_normal_training_alone():
    limit = dv.loss_limit(104)
    assert limit == pytest.approx(100 * math.log(104))
    assert dv.bad_step(8.3 * math.log(104), 50.0, limit) is None  # the largest spike that recovered, measured
    assert dv.bad_step(101 * math.log(104), 1.0, limit).startswith("a loss of 469.1 nats (above the limit of 464")
    assert dv.bad_step(2.0, math.inf, limit) == "a gradient norm of inf (not finite)"
    assert dv.bad_step(2.0, 1e30, limit) is None  # large gradients are what clipping is for
    assert dv.loss_limit(1) == dv.loss_limit(2) == pytest.approx(100 * math.log(2))
    assert dv.bad_weights(11.0) is None and dv.bad_weights(1e6) is None
    assert dv.bad_weights(1.5e6) == "a weight of magnitude 1.5e+06 (above the limit of 1e+06)"
    assert dv.bad_weights(math.nan) == "weights that are not finite (nan)"
    assert math.isnan(dv.max_abs([np.ones(3), np.array([1.0, np.nan])]))
    assert dv.max_abs([np.array([-7.0, 2.0]), np.array([3.0])]) == 7.0


def test_an_ordinary_run_is_not_stopped(corpus, tmp_path):
    t = trainer(tiny_config(corpus, lr=0.05, warmup_steps=0, max_steps=12), tmp_path / "run")
    summary = t.fit()
    assert summary["stop_reason"] == "max_steps=12 reached" and t.prog.skipped == 0


# -- nothing non-finite is written; nothing non-finite is evaluated ------------------------------------------

def test_no_checkpoint_file_is_written_with_a_non_finite_tensor(corpus, tmp_path):
    t = trainer(tiny_config(corpus, max_steps=6, eval_every=6), tmp_path / "run")
    t.fit()
    run = tmp_path / "run"
    before = {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()}
    model = t.engine.state_dict()
    bad = dict(model, **{"head.bias": np.full_like(model["head.bias"], np.nan)})
    with pytest.raises(DivergenceError, match=r"model.safetensors: refusing to write non-finite values in head.bias "
                                              r"\(46 NaN\); the file on disk is unchanged"):
        ck.save_checkpoint(run, bad, {"step": np.array([1])}, {"step": 7})
    optim = t.engine.optimizer_state_dict()
    optim["exp_avg_sq.head.bias"][:2] = np.inf
    with pytest.raises(DivergenceError, match=r"optimizer.safetensors: .*exp_avg_sq.head.bias \(2 infinite\)"):
        ck.save_checkpoint(run, model, optim, {"step": 7})
    with pytest.raises(DivergenceError, match="best/model.safetensors"):
        ck.save_best_model(run, bad, 7, 1.0)
    with pytest.raises(DivergenceError, match="x.safetensors"):
        ck.write_safetensors(tmp_path / "x.safetensors", bad, {})
    assert {p.name: p.read_bytes() for p in run.iterdir() if p.is_file()} == before  # no .new files either
    assert not (tmp_path / "x.safetensors").exists()


def diverged_copy(run, which: str, change) -> None:
    """Rewrite ``run``'s best or last weights with ``change(tensors)`` applied, bypassing the guard (as a
    run from an older version, or a hand-edited file, would be)."""
    from safetensors.numpy import save_file

    path = run / ck.BEST / ck.MODEL if which == "best" else run / ck.MODEL
    tensors, meta = ck.load_tensors(path, ck.MODEL_FORMAT)
    change(tensors)
    save_file(tensors, str(path), metadata=meta)
    if which == "last":  # keep the checkpoint consistent: only its values are wrong
        state = json.loads((run / ck.STATE).read_text())
        state["sha256"][ck.MODEL] = ck.sha256(path)
        (run / ck.STATE).write_text(json.dumps(state))


@pytest.fixture
def cli_run(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    assert cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--cell", "rnn", "--nonlinearity",
               "relu")[0] == 0
    return run


@pytest.mark.parametrize("which", ["best", "last"])
def test_eval_generate_and_export_refuse_non_finite_weights(cli_run, tmp_path, capsys, which):
    diverged_copy(cli_run, which, lambda t: t["rnn.weight_hh_l0"].__setitem__((0, 0), np.nan))
    last = ["--last"] if which == "last" else []
    for argv in (["eval", cli_run], ["generate", cli_run, "--length", "5"], ["export", cli_run, tmp_path / "w.st"]):
        code, out, err = cli(capsys, *argv, *last)
        assert_one_line_error(code, err, "expected finite weights, got non-finite values in rnn.weight_hh_l0 (1 NaN)",
                              "the run diverged")
        assert out == ""
    assert not (tmp_path / "w.st").exists()


def test_weights_that_overflow_are_an_error_and_a_huge_loss_prints_as_inf(cli_run, capsys):
    diverged_copy(cli_run, "best", lambda t: t["head.weight"].__imul__(1e5))  # finite, enormous logits
    code, out, err = cli(capsys, "eval", cli_run)
    assert code == 0 and out.startswith("val: perplexity inf, "), err
    code, out, err = cli(capsys, "eval", cli_run, "--json")
    assert code == 0 and json.loads(out)["ppl"] == math.inf
    # relu with a huge recurrent weight: the state grows 1e5-fold a step until it overflows
    diverged_copy(cli_run, "best", lambda t: t["rnn.weight_hh_l0"].__setitem__(slice(None), 1e5))
    assert_one_line_error(*cli(capsys, "eval", cli_run)[::2], "expected a finite loss from the best weights, got nan",
                          "the model overflows")
    code, out, err = cli(capsys, "generate", cli_run, "--length", "50", "--prefix", "the ")
    assert_one_line_error(code, err, "expected finite logits", "the model's weights overflow")


def test_load_state_dict_refuses_integer_tensors_instead_of_casting(engine):
    lm = tiny_engine(train={"engine": engine})
    sd = {k: np.ones(v.shape, np.int64) for k, v in lm.state_dict().items()}
    with pytest.raises(TypeError, match=r"expected .* to hold floating-point numbers, got dtype int64 \(not cast "
                                        r"silently"):
        lm.load_state_dict(sd)
    sd = {k: v.astype(np.float16) for k, v in lm.state_dict().items()}  # floats of another width are converted
    lm.load_state_dict(sd)


def test_an_integer_tensor_in_a_run_is_one_line(cli_run, capsys):
    diverged_copy(cli_run, "best", lambda t: t.__setitem__("head.bias", t["head.bias"].astype(np.int64)))
    assert_one_line_error(*cli(capsys, "eval", cli_run)[::2], "do not fit its config.json",
                          "expected head.bias to hold floating-point numbers, got dtype int64")
