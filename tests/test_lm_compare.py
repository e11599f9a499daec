"""deeprnn compare: a grid of normal runs, resumable, in a table, a CSV and a plot, with fair timing."""

from __future__ import annotations

import csv
import json
import math
import shutil

import pytest

from deeprnn.errors import ConfigError
from deeprnn.lm import checkpoint as ck
from deeprnn.lm.config import CHOICES
from deeprnn.lm.compare import compare, expand, parse_grid
from deeprnn.lm.compare import plot as plot_module
from deeprnn.lm.compare import runner
from deeprnn.lm.compare.load import LoadRecorder, Session, load_warnings, own_load
from deeprnn.lm.runs import open_run
from lm_helpers import (
    Killed, TINY_FLAGS, assert_one_line_error, assert_same_weights, cli, metrics, no_plots, run_trainer, stop_at,
    tiny_config, weights, write_corpus,
)

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("compare"), 900)


@pytest.fixture
def no_compare_plot(monkeypatch):
    monkeypatch.setattr(plot_module, "plot_comparison", lambda *a, **kw: False)


def _compare(base, grid, out, **kw):
    logs = []
    result = compare(base, parse_grid(grid, base), out, progress_bar=False, log=logs.append, **kw)
    return result, logs


def test_grid_keys_take_an_optional_section_and_values_the_field_type():
    axes = parse_grid(["cell=lstm,gru", "model.num_layers=1,2", "lr=0.01,1e-3", "corpus=a.txt+b.txt,b.txt",
                       "distributed=false", "splits=0.8+0.2+0"])
    assert [a.key for a in axes] == ["model.cell", "model.num_layers", "train.lr", "data.corpus",
                                     "train.distributed", "data.splits"]
    assert [a.values for a in axes] == [("lstm", "gru"), (1, 2), (0.01, 0.001), (["a.txt", "b.txt"], ["b.txt"]),
                                        (False,), ([0.8, 0.2, 0.0],)]
    assert type(axes[1].values[0]) is int and type(axes[2].values[0]) is float


@pytest.mark.parametrize("item, message", [
    ("cel=lstm", "expected a config field such as cell or model.cell, got 'cel' (did you mean cell?)"),
    ("train.cell=lstm", "got 'train.cell'"),
    ("num_layers=two", "expected model.num_layers to be int, got 'two'"),
    ("lr=fast", "expected train.lr to be float, got 'fast'"),
    ("cell=lstm,xyz", f"expected model.cell in {CHOICES['cell']}, got 'xyz'"),
    ("num_layers=0", "expected model.num_layers >= 1, got 0"),
    ("distributed=maybe", "expected train.distributed to be bool, got 'maybe'"),
    ("cell", "expected KEY=VALUE[,VALUE...]"),
    ("cell=lstm,lstm", "expected distinct values"),
])
def test_grid_errors_name_the_item_the_expected_and_the_actual_value(item, message):
    with pytest.raises(ConfigError) as e:
        parse_grid([item])
    assert str(e.value).startswith(f"--grid {item}: ") and message in str(e.value)
    with pytest.raises(ConfigError, match="expected each setting once, got model.cell twice"):
        parse_grid(["cell=lstm", "model.cell=gru"])


def test_cells_are_every_combination_named_after_their_settings():
    cells = expand(parse_grid(["cell=lstm,gru", "num_layers=1,2"]))
    assert [c.name for c in cells] == ["cell=lstm,num_layers=1", "cell=lstm,num_layers=2", "cell=gru,num_layers=1",
                                       "cell=gru,num_layers=2"]
    assert cells[2].overrides() == {"model": {"cell": "gru", "num_layers": 1}}
    books = expand(parse_grid(["corpus=books/a.txt,books/a.txt+/x/b.txt", "lr=0.01"]))
    assert [c.name for c in books] == ["corpus=a,lr=0.01", "corpus=a+b,lr=0.01"]
    assert books[1].labels() == {"corpus": "books/a.txt+/x/b.txt", "lr": "0.01"}


def test_every_cell_is_a_normal_run_and_the_table_reads_them(corpus, tmp_path, monkeypatch):
    loads = iter([0.4, 0.4, 2.9, 2.9])  # the machine gets busy between the two runs
    monkeypatch.setattr("deeprnn.lm.compare.load.os.getloadavg", lambda: (next(loads), 0.0, 0.0))
    monkeypatch.setattr("deeprnn.lm.compare.load.os.cpu_count", lambda: 8)
    base = tiny_config(corpus, max_steps=4, eval_every=2)
    result, logs = _compare(base, ["cell=lstm,gru"], tmp_path / "cmp")
    assert [r.status for r in result.rows] == ["done", "done"] and not result.interrupted
    alone, _ = run_trainer(tiny_config(corpus, model={"cell": "gru"}, max_steps=4, eval_every=2, threads=1),
                           tmp_path / "alone")
    gru = tmp_path / "cmp" / "cell=gru"
    assert_same_weights(weights(gru), weights(tmp_path / "alone"))  # the same training as deeprnn train
    assert open_run(gru).cfg.model.cell == "gru" and open_run(gru).cfg.train.threads == 1  # fair: 1 thread each
    with open(tmp_path / "cmp" / "results.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [(t["cell"], t["run"], t["status"]) for t in table] == [("lstm", "cell=lstm", "done"),
                                                                   ("gru", "cell=gru", "done")]
    for t, row in zip(table, result.rows):
        state = json.loads((row.run / ck.STATE).read_text())["progress"]
        best = min(r["val_ppl"] for r in metrics(row.run) if "val_ppl" in r)
        assert int(t["parameters"]) == sum(w.size for w in weights(row.run).values())
        assert int(t["steps"]) == 4 and float(t["seconds"]) == state["seconds"]
        assert float(t["tokens_per_s"]) == pytest.approx(state["tokens"] / state["train_seconds"])
        assert float(t["best_val_ppl"]) == pytest.approx(best, rel=1e-12)
        assert float(t["best_val_bits"]) == pytest.approx(math.log2(best), rel=1e-12)
    md = (tmp_path / "cmp" / "results.md").read_text()
    assert "| cell | parameters | steps | seconds | tokens/s | best val ppl | bits/char | load |" in md
    best_row = min(result.rows, key=lambda r: r.best_ppl)
    assert f"| {best_row.cell.labels()['cell']} | {best_row.parameters:,} | 4 |" in md
    assert f"**{best_row.best_ppl:.3f}**" in md and "| 0.4 → 0.4 |" in md and "| 2.9 → 2.9 |" in md
    assert "seed 0, threads 1" in md
    assert "varied from 0.4 (cell=lstm) to 2.9 (cell=gru) across the runs" in md  # the load warning
    record = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [s["load_start"] for s in record["runs"]["cell=gru"]] == [2.9]
    assert (tmp_path / "cmp" / "compare.png").stat().st_size > 10_000
    assert logs[0].startswith("[compare] 1/2 ") and logs[0].endswith("cell=lstm: training")


@pytest.fixture(scope="module")
def finished(corpus, tmp_path_factory):
    """A finished two-run comparison (copy it before changing it)."""
    out = tmp_path_factory.mktemp("finished") / "cmp"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plot_module, "plot_comparison", lambda *a, **kw: False)
        mp.setattr("deeprnn.lm.train._plot", lambda run: None)
        _compare(tiny_config(corpus, max_steps=4, eval_every=2), ["cell=lstm,gru"], out)
    return out


def test_finished_runs_are_skipped(corpus, finished, tmp_path, monkeypatch, no_compare_plot):
    out = shutil.copytree(finished, tmp_path / "cmp")
    monkeypatch.setattr(runner.Trainer, "fit", lambda self: pytest.fail("a finished run trained again"))
    monkeypatch.setattr(runner, "warm_up", lambda cfg: pytest.fail("nothing to train, nothing to warm up"))
    before = {p.name: (p / ck.STATE).read_bytes() for p in out.iterdir() if p.is_dir()}
    result, logs = _compare(tiny_config(corpus, max_steps=4, eval_every=2), ["cell=lstm,gru"], out)
    assert logs == [f"[compare] 1/2 {out / 'cell=lstm'}: finished, skipped",
                    f"[compare] 2/2 {out / 'cell=gru'}: finished, skipped"]
    assert before == {p.name: (p / ck.STATE).read_bytes() for p in out.iterdir() if p.is_dir()}
    assert [r.steps for r in result.rows] == [4, 4] and all(r.best_ppl for r in result.rows)


def test_a_raised_max_steps_trains_finished_runs_on(corpus, finished, tmp_path, no_compare_plot):
    out = shutil.copytree(finished, tmp_path / "cmp")
    result, logs = _compare(tiny_config(corpus, max_steps=6, eval_every=2), ["cell=lstm,gru"], out)
    assert [r.steps for r in result.rows] == [6, 6] and sum("resuming" in line for line in logs) == 2
    assert len(json.loads((out / "compare.json").read_text())["runs"]["cell=gru"]) == 2  # two sessions


def test_a_folder_holding_another_configuration_is_refused(corpus, finished, tmp_path, no_compare_plot):
    out = shutil.copytree(finished, tmp_path / "cmp")
    other = tiny_config(corpus, model={"hidden_size": 16}, max_steps=4, eval_every=2)
    with pytest.raises(ConfigError, match=r"cell=lstm holds a run of another configuration \(model.hidden_size "
                                          r"is 12 there, 16 here\); .* --overwrite"):
        _compare(other, ["cell=lstm,gru"], out)
    result, _ = _compare(other, ["cell=lstm,gru"], out, overwrite=True)
    assert [r.status for r in result.rows] == ["done", "done"]
    assert open_run(out / "cell=gru").cfg.model.hidden_size == 16


def test_an_interrupted_run_resumes_and_the_rest_follow(corpus, tmp_path, monkeypatch, no_compare_plot):
    base, grid, out = tiny_config(corpus, max_steps=6, eval_every=2), ["cell=lstm,gru,rnn"], tmp_path / "cmp"

    class Interrupted(runner.Trainer):  # Ctrl-C during the second run, after step 3
        def __init__(self, cfg, *a, **kw):
            super().__init__(cfg, *a, **kw)
            if cfg.model.cell == "gru":
                stop_at(self, 3)

    monkeypatch.setattr(runner, "Trainer", Interrupted)
    result, _ = _compare(base, grid, out)
    assert result.interrupted and not (out / "cell=rnn").exists()
    assert [r.status for r in result.rows] == ["done", "unfinished: step 3 of 6", "not run"]
    assert "Stopped early (interrupted): run the same command again to resume." in (out / "results.md").read_text()
    monkeypatch.undo()
    monkeypatch.setattr("deeprnn.lm.train._plot", lambda run: None)
    monkeypatch.setattr(plot_module, "plot_comparison", lambda *a, **kw: False)
    result, logs = _compare(base, grid, out)
    assert [line.rsplit(": ", 1)[1] for line in logs if line.startswith("[compare]")] == [
        "finished, skipped", "resuming", "training"]
    assert [r.status for r in result.rows] == ["done"] * 3 and [r.steps for r in result.rows] == [6] * 3
    run_trainer(tiny_config(corpus, model={"cell": "gru"}, max_steps=6, eval_every=2, threads=1), tmp_path / "alone")
    assert_same_weights(weights(out / "cell=gru"), weights(tmp_path / "alone"))  # as if never interrupted


def test_a_killed_run_resumes_from_its_last_checkpoint(corpus, tmp_path, monkeypatch, no_compare_plot):
    base, grid, out = tiny_config(corpus, max_steps=6, eval_every=2), ["cell=gru"], tmp_path / "cmp"

    class KilledAt5(runner.Trainer):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            step = self.engine.optimizer_step

            def optimizer_step(lr):
                if self.prog.step == 5:
                    raise Killed("SIGKILL")
                step(lr)

            self.engine.optimizer_step = optimizer_step

    monkeypatch.setattr(runner, "Trainer", KilledAt5)
    with pytest.raises(Killed):
        _compare(base, grid, out)
    assert "| gru |" in (out / "results.md").read_text() and "unfinished: step 4 of 6" in (
        out / "results.md").read_text()
    monkeypatch.setattr(runner, "Trainer", KilledAt5.__bases__[0])
    result, logs = _compare(base, grid, out)
    assert logs[0].endswith("cell=gru: resuming") and result.rows[0].steps == 6
    run_trainer(tiny_config(corpus, model={"cell": "gru"}, max_steps=6, eval_every=2, threads=1), tmp_path / "alone")
    assert_same_weights(weights(out / "cell=gru"), weights(tmp_path / "alone"))


def _session(start, end, own=(0.0, 0.0), threads=1):
    return Session(0.0, 1.0, threads, start, end, *own)


def test_load_warnings_only_when_other_work_came_or_went():
    steady = {"a": [_session(1.0, 1.1)], "b": [_session(1.2, 1.0)]}
    assert load_warnings(steady, cpus=4) == []
    within = load_warnings({"a": [_session(0.2, 1.5)], "b": [_session(0.2, 0.2)]}, cpus=4)
    assert within[0] == ("a: the machine load of other work changed from 0.2 to 1.5 during the run (1-minute "
                         "average): its seconds and tokens/s are not comparable")
    across = load_warnings({"a": [_session(0.1, 0.3)], "b": [_session(1.9, 2.1)], "c": [_session(1.0, 1.0)]}, cpus=4)
    assert across == ["the machine load of other work varied from 0.2 (a) to 2.0 (b) across the runs (the mean of "
                      "each run's start and end): their seconds and tokens/s are not comparable"]
    busy = load_warnings({"a": [_session(3.0, 3.0)], "b": [_session(3.0, 3.1)]}, cpus=2)
    assert busy == ["other work kept up to 3.1 of the 2 CPUs busy besides the 1 training thread(s): every run "
                    "was slower than on a quiet machine"]
    assert "unknown" in load_warnings({"a": [_session(None, None)]})[0]


def test_our_own_threads_are_not_taken_for_other_work(monkeypatch):
    clock, loads = iter([1000.0, 1000.0, 1120.0]), iter([0.1, 0.95])
    monkeypatch.setattr("deeprnn.lm.compare.load.os.getloadavg", lambda: (next(loads), 0.0, 0.0))
    recorder = LoadRecorder(clock=lambda: next(clock))
    ramp = recorder.end(recorder.start(threads=1))  # two minutes of our thread filling the 1-minute average
    assert ramp.own_end == pytest.approx(1 - math.exp(-2), abs=1e-4) and ramp.seconds == 120.0
    assert load_warnings({"a": [ramp]}, cpus=4) == []  # 0.1 -> 0.95 was us
    # The next invocation starts 30 s after that one ended: our share is still decaying from 0.86.
    clock, loads = iter([1150.0, 1150.0, 2050.0]), iter([0.9, 1.0])
    later = LoadRecorder([ramp], clock=lambda: next(clock))
    again = later.end(later.start(threads=1))
    assert again.own_start == pytest.approx(ramp.own_end * math.exp(-0.5), abs=1e-4)
    assert load_warnings({"a": [ramp], "b": [again]}, cpus=4) == []
    assert own_load(1, 900.0) == pytest.approx(1 - math.exp(-15))


def test_compare_on_the_command_line_with_several_books(tmp_path, capsys):
    a = write_corpus(tmp_path, text="the cat sat on the mat. " * 30, name="a.txt")
    b = write_corpus(tmp_path, text="a dog ran in the fog. " * 30, name="b.txt")
    held = write_corpus(tmp_path, text="the dog sat on the cat. " * 10, name="held.txt")
    flags = [*TINY_FLAGS, "--max-steps", "4", "--eval-every", "2", "--val-corpus", held, "--out", tmp_path / "cmp"]
    code, out, err = cli(capsys, "compare", *flags, "--grid", f"corpus={a},{a}+{b}", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert [r["corpus"] for r in result["rows"]] == [str(a), f"{a}+{b}"]
    assert [r["status"] for r in result["rows"]] == ["done", "done"]
    runs = [open_run(r["run"]) for r in result["rows"]]
    assert [r.cfg.data.corpus for r in runs] == [[str(a)], [str(a), str(b)]]
    scored = [row["val_tokens"] for r in runs for row in metrics(r.path) if "val_tokens" in row]
    assert set(scored) == {len("the dog sat on the cat. " * 10) - 1}  # every run scores the same held-out text
    assert any("different vocabularies" in w for w in result["warnings"])  # b adds letters: said, not hidden
    code, out, err = cli(capsys, "compare", *flags, "--grid", f"corpus={a},{a}+{b}")
    assert code == 0, err
    assert out.startswith("| corpus | parameters |") and "warning: the runs have different vocabularies" in out
    assert_one_line_error(*cli(capsys, "compare", *flags, "--grid", "cell=lstm,lsmt")[::2],
                          "--grid cell=lstm,lsmt: expected model.cell in", "got 'lsmt'")
    assert_one_line_error(*cli(capsys, "compare", *flags, "--grid", "num_layers=1,2", "--layers", "2")[::2],
                          "model.num_layers as both")


def test_every_engine_is_warmed_up_before_the_first_run_starts_its_clock(corpus, tmp_path, monkeypatch,
                                                                        no_compare_plot):
    from deeprnn.numpy_engine import fused

    if not fused.available():
        pytest.skip("numba is not installed: no kernels to load")
    monkeypatch.setattr(fused, "_twins", None)  # as in a fresh process: the compiled kernels not loaded yet
    base = tiny_config(corpus, max_steps=2, eval_every=2)
    runner.warm_up(base)
    assert fused._twins  # loaded by the throwaway step, not inside the first run's timing
    events = []
    warm = runner.warm_up
    monkeypatch.setattr(runner, "warm_up", lambda cfg: events.append(("warm", cfg.model.cell)) or warm(cfg))
    real_init = runner.Trainer.__init__

    def init(self, cfg, *a, **kw):
        events.append(("train", cfg.model.cell))
        real_init(self, cfg, *a, **kw)

    monkeypatch.setattr(runner.Trainer, "__init__", init)
    _compare(base, ["cell=lstm,gru"], tmp_path / "cmp")
    assert events == [("warm", "lstm"), ("warm", "gru"), ("train", "lstm"), ("train", "gru")]


@pytest.mark.parametrize("step, reason, done", [
    (6, "max_steps=6 reached", True), (4, "max_steps=4 reached", False),  # max_steps raised since: train on
    (4, "early stopping: no improvement in 2 evaluations", True), (4, "time budget of 60 s reached", True),
    (4, "interrupted", False), (4, "terminated", False), (4, "", False),  # Ctrl-C, SIGTERM, a kill or a crash
])
def test_what_counts_as_a_finished_run(tmp_path, step, reason, done):
    (tmp_path / ck.STATE).write_text(json.dumps({"progress": {"step": step, "stop_reason": reason}}))
    assert runner.finished(tmp_path, tiny_config("builtin", max_steps=6)) is done
