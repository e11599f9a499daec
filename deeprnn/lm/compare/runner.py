"""Run every cell of a grid as a normal run folder under OUT, one after the other, and compare them.

    OUT/<cell name>/     a run folder like any other (deeprnn eval, generate, train --resume work on it)
    OUT/compare.json     the grid and, per run, the machine load around each training session
    OUT/results.md       the table (also printed), OUT/results.csv the same at full precision
    OUT/compare.png      validation perplexity against steps and against seconds, every run overlaid

Resumable: a finished run is skipped, an unfinished one (Ctrl-C, a kill, a crash) resumes from its last
checkpoint, and a run whose max_steps was raised since trains on. A folder holding a run of another
configuration is an error, never overwritten silently (--overwrite starts every run afresh).
Fair by construction: every run has the base config's seed, data order and thread count (1 unless
train.threads names one: "auto" would pick per run, by the load); only the grid's settings differ.
The load of the machine is recorded around every run and the table warns when it made the timings
unfair (load.py). Corpus paths are made absolute, as config.json keeps them.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...errors import ConfigError
from .. import checkpoint as ck
from ..config import RESUMABLE, RunConfig
from ..engines import make_engine
from ..requirements import check_requirements
from ..progress import log_line
from ..runs import portable_corpus, read_config
from ..signals import STOP_EXIT_CODES
from ..train import Trainer, TrainingError
from .grid import Axis, Cell, expand
from .load import LoadRecorder, Session, load_warnings
from .table import Row, markdown, read_row, to_csv

RECORD, RESULTS_MD, RESULTS_CSV, PLOT = "compare.json", "results.md", "results.csv", "compare.png"
RECORD_FORMAT = "deeprnn-compare/1"
DEFAULT_THREADS = 1  # when train.threads is 0 (auto, which depends on the load): the same count for every run


@dataclass
class Comparison:
    out: Path
    rows: list[Row]
    warnings: list[str]
    fixed: dict  # the settings every run shares that make the comparison fair
    interrupted: str = ""  # why the comparison stopped early ("interrupted", "terminated"); "" = it did not
    failures: dict = field(default_factory=dict)  # run name -> error message

    def markdown(self) -> str:
        return markdown(self.rows)


def fair_base(base: RunConfig) -> RunConfig:
    """The base config with a thread count that is the same for every run."""
    if base.train.threads == 0:
        base.train.threads = DEFAULT_THREADS
    if base.train.distributed:
        raise ConfigError("expected deeprnn compare without train.distributed (it runs one process at a time), "
                          "got --distributed")
    return base


def compare(base: RunConfig, axes: list[Axis], out, *, overwrite: bool = False, progress_bar: bool = True,
            log=None, title: str = "") -> Comparison:
    """Train (or skip, or resume) every cell of the grid with the one training loop (lm/train.py);
    write and return the results. ``log`` takes each line (default: stderr)."""
    say = log or log_line
    out = Path(out)
    base = fair_base(base)
    cells = expand(axes)
    configs = [cell.config(base) for cell in cells]  # every configuration is checked before any training
    for cfg in configs:
        check_requirements(cfg.train)
        cfg.data.corpus = portable_corpus(cfg.data.corpus)  # as the run's config.json has them
        cfg.data.val_corpus = portable_corpus(cfg.data.val_corpus)
    plans = [plan(out / cell.name, cfg, overwrite) for cell, cfg in zip(cells, configs)]
    for cfg, todo in zip(configs, plans):
        if todo != "skip":
            warm_up(cfg)
    out.mkdir(parents=True, exist_ok=True)
    record = read_record(out)
    record["grid"] = [a.text for a in axes]
    previous = [Session(**s) for sessions in record["runs"].values() for s in sessions]
    recorder, failures, interrupted = LoadRecorder(previous), {}, ""
    try:
        for i, (cell, cfg, todo) in enumerate(zip(cells, configs, plans), 1):
            run = out / cell.name
            if todo == "skip":
                say(f"[compare] {i}/{len(cells)} {run}: finished, skipped")
                continue
            say(f"[compare] {i}/{len(cells)} {run}: " + ("resuming" if todo == "resume" else "training"))
            if todo != "resume":  # a run that starts afresh: the load of earlier runs in that folder is gone
                record["runs"].pop(cell.name, None)
            session = recorder.start(cfg.train.threads)
            try:
                trainer = Trainer(cfg, run, resume=todo == "resume", overwrite=todo == "fresh", log=log,
                                  progress_bar=progress_bar)
                summary = trainer.fit()
            except TrainingError as e:
                failures[cell.name] = str(e)
                say(f"[compare] {run}: failed: {e}")
                continue
            finally:
                record["runs"].setdefault(cell.name, []).append(recorder.end(session).to_dict())
                ck.write_json(out / RECORD, record)
            if trainer.stop_requested:  # Ctrl-C or SIGTERM: the run saved its checkpoint; the rest waits
                interrupted = summary["stop_reason"]
                break
    finally:
        result = collect(out, cells, configs, record, failures, interrupted)
        write_results(result, title)
    return result


def warm_up(cfg: RunConfig) -> None:
    """One throwaway step of the run's engine on a two-token batch, so that no run's timing pays for
    loading compiled kernels (numba, oneDNN) that a run before it loaded already."""
    with warnings.catch_warnings():  # the run itself repeats any warning about its settings
        warnings.simplefilter("ignore")
        engine = make_engine(cfg.model, cfg.train, 4)
    x = np.zeros((2, 1), dtype=np.int64)  # (T, B)
    engine.forward_backward(x, x, None)
    engine.clip(cfg.train.clip, cfg.train.clip_value)
    engine.nll(x, x, engine.initial_state(1))
    engine.close(True)
    try:
        from .. import plots  # noqa: F401 - matplotlib's import, once, before any run's clock
    except ImportError:
        pass


def plan(run: Path, cfg: RunConfig, overwrite: bool) -> str:
    """What to do with the run folder: "new", "fresh" (replace what is there), "resume" or "skip"."""
    if not (run / ck.CONFIG).exists() and not (run / ck.STATE).exists():
        return "new"
    if overwrite:
        return "fresh"
    differences = config_differences(read_config(run), cfg)
    if differences:
        raise ConfigError(f"{run} holds a run of another configuration ({'; '.join(differences)}); expected the "
                          "same settings as the comparison: use another --out, or --overwrite to start afresh")
    if not (run / ck.STATE).exists():  # started, but killed before its first checkpoint
        return "fresh"
    return "skip" if finished(run, cfg) else "resume"


def config_differences(saved: RunConfig, cfg: RunConfig) -> list[str]:
    """The settings that differ, other than the run-time ones a resume may change (config.RESUMABLE)."""
    a, b = saved.to_dict(), cfg.to_dict()
    out = []
    for section in ("model", "data", "train"):
        for key, value in b[section].items():
            if section == "train" and key in RESUMABLE:
                continue
            if a[section].get(key) != value:
                out.append(f"{section}.{key} is {a[section].get(key)!r} there, {value!r} here")
    return out


def finished(run: Path, cfg: RunConfig) -> bool:
    """Whether the run stopped for good: max_steps reached, early stopping or its time budget (Ctrl-C,
    SIGTERM, a kill or a crash leave it unfinished)."""
    p = _progress(run)
    reason = p.get("stop_reason", "")
    if p.get("step", 0) >= (p.get("planned_steps") or cfg.train.max_steps):  # planned: fitted to its time budget
        return True
    return bool(reason) and reason not in STOP_EXIT_CODES and not reason.startswith("max_steps")


def _progress(run: Path) -> dict:
    try:
        return ck.read_json(run / ck.STATE, "trainer state").get("progress", {})
    except ck.CheckpointError:
        return {}


def read_record(out: Path) -> dict:
    """OUT/compare.json, or a new record."""
    path = out / RECORD
    if not path.exists():
        return {"format": RECORD_FORMAT, "grid": [], "runs": {}}
    record = ck.read_json(path, "comparison record")
    if record.get("format") != RECORD_FORMAT:
        raise ck.CheckpointError(f"{path}: expected format {RECORD_FORMAT!r}, got {record.get('format')!r}")
    record.setdefault("runs", {})
    return record


def collect(out: Path, cells: list[Cell], configs: list[RunConfig], record: dict, failures: dict,
            interrupted: str) -> Comparison:
    """The rows of the table and the fairness warnings, from the run folders and the record."""
    rows, sessions = [], {}
    for cell, cfg in zip(cells, configs):
        run = out / cell.name
        mine = [Session(**s) for s in record["runs"].get(cell.name, [])]
        if mine:
            sessions[cell.name] = mine
        latest = (mine[-1].load_start, mine[-1].load_end) if mine else None
        rows.append(read_row(cell, run, status(run, cfg, failures.get(cell.name)), latest))
    varied = {a.key for a, _ in cells[0].settings} if cells else set()
    t = configs[0].train if configs else None
    fixed = {k: v for k, v in (("train.seed", t.seed), ("train.threads", t.threads), ("train.batching", t.batching),
                               ("train.max_steps", t.max_steps)) if k not in varied} if t else {}
    warnings = load_warnings(sessions)
    sizes = sorted({r.vocab_size for r in rows if r.vocab_size})
    if len(sizes) > 1:
        warnings.append(f"the runs have different vocabularies ({', '.join(map(str, sizes))} tokens; each comes from "
                        "its training text): their perplexities are not strictly comparable")
    if "train.threads" not in varied:
        counts = sorted({s.threads for ss in sessions.values() for s in ss})
        if len(counts) > 1:
            warnings.append(f"the runs trained with different thread counts ({', '.join(map(str, counts))}): "
                            "their seconds and tokens/s are not comparable")
    return Comparison(out, rows, warnings, fixed, interrupted, failures)


def status(run: Path, cfg: RunConfig, failure: str | None) -> str:
    if failure:
        return "failed: " + failure.split(";")[0]
    p = _progress(run)
    if not p:
        return "not run"
    if finished(run, cfg):
        reason = p.get("stop_reason", "")
        return "done" if p.get("step", 0) >= cfg.train.max_steps or not reason else f"done ({reason})"
    return f"unfinished: step {p.get('step', 0)} of {cfg.train.max_steps}"


def write_results(result: Comparison, title: str = "") -> None:
    """OUT/results.md, OUT/results.csv and OUT/compare.png."""
    out = result.out
    ck.atomic_write(out / RESULTS_MD, lambda tmp: tmp.write_text(report(result, title) + "\n", encoding="utf-8"))
    ck.atomic_write(out / RESULTS_CSV, lambda tmp: tmp.write_text(to_csv(result.rows), encoding="utf-8"))
    try:
        from .plot import plot_comparison
    except ImportError:  # matplotlib not installed: the table still has everything
        return
    plot_comparison(result.rows, out / PLOT, title)


def report(result: Comparison, title: str = "") -> str:
    """results.md: what was compared, the table, and what makes it unfair, if anything."""
    fixed = ", ".join(f"{k.split('.')[1]} {v}" for k, v in result.fixed.items())
    lines = [f"# {title or 'deeprnn compare'}", "",
             f"Every run shares the data, its order and the budget ({fixed}); only the settings in the first "
             "columns differ.", "", result.markdown(), "",
             "best val ppl: the lowest validation perplexity of the run (whole split, every token scored once), "
             "with its bits per token; seconds: wall time, evaluation and checkpoints included; tokens/s: training "
             f"tokens per second of training time; load: the 1-minute load average ({os.cpu_count()} CPUs) at the "
             "start and end of the latest session."]
    if result.warnings:
        lines += ["", "**Warnings:**", *(f"- {w}" for w in result.warnings)]
    if result.interrupted:
        lines += ["", f"Stopped early ({result.interrupted}): run the same command again to resume."]
    return "\n".join(lines)


def summary_json(result: Comparison) -> str:
    """One JSON object: the rows, the warnings and where the files are."""
    rows = [{**r.cell.labels(), "run": str(r.run), "status": r.status, "parameters": r.parameters,
             "steps": r.steps, "seconds": r.seconds, "tokens_per_s": r.tokens_per_s, "best_val_ppl": r.best_ppl,
             "best_val_bits": r.best_bits, "unit": r.unit} for r in result.rows]
    return json.dumps({"out": str(result.out), "rows": rows, "warnings": result.warnings, "fixed": result.fixed,
                       "interrupted": result.interrupted, "failures": result.failures})
