"""What ``deeprnn diagnose TARGET`` looks at: a run folder's weights (best, or the last checkpoint), or
a preset's or config file's initial weights, or those after ``steps`` of training with deeprnn train's
own loop (lm/train.py's Trainer, in a temporary run folder that is removed afterwards; max_steps is set
to ``steps``, so the schedule is that of a run of that length: the same for a constant schedule)."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ...errors import ConfigError
from .. import checkpoint as ck
from ..config import RunConfig, merge
from ..data import LMData, prepare_data
from ..engines.base import init_params
from ..presets import PRESETS


@dataclass
class Target:
    cfg: RunConfig
    data: LMData
    params: dict  # canonical parameters (engine.state_dict())
    source: str  # "run runs/x", "preset d2l-deep-rnn", "config my.toml"
    weights: str  # "initial", "after 200 training steps", "best (step 400)", "last (step 600)"
    val_loss: float | None = None  # the validation loss of these weights, when known (nats per token)
    train_loss: float | None = None  # the training loss before them (mean since the evaluation before)


def kind_of(target: str) -> str:
    """"run" (a folder), "preset" (a name in PRESETS) or "config" (a .toml file); ConfigError otherwise."""
    p = Path(target)
    if not target.strip():
        raise ConfigError(f"expected TARGET to be a run folder, a preset or a .toml config file, got {target!r}")
    if p.is_dir():
        return "run"
    if target in PRESETS:
        return "preset"
    if p.suffix == ".toml" and p.is_file():
        return "config"
    what = "a file that is not .toml" if p.is_file() else "no such folder, file or preset"
    raise ConfigError(f"expected TARGET to be a run folder, a preset ({', '.join(PRESETS)}) or a .toml config "
                      f"file, got {target!r} ({what})")


def open_target(target: str, overrides: dict, last: bool = False, steps: int = 0, log=None) -> Target:
    kind = kind_of(target)
    if kind == "run":
        if steps:
            raise ConfigError(f"expected --steps only with a preset or a config file (a run folder has its "
                              f"weights), got --steps {steps} with the run {target}")
        return _open_run(target, overrides, last)
    if last:
        raise ConfigError(f"expected --last only with a run folder, got the {kind} {target!r}")
    from ..commands.options import build_config

    cfg = build_config(target if kind == "preset" else None, target if kind == "config" else None, overrides)
    source = f"{kind} {target}"
    if steps:
        return _trained(cfg, source, steps, log)
    data = prepare_data(cfg.data, cfg.train)
    return Target(cfg, data, init_params(cfg.model, len(data.vocab), cfg.train.seed), source, "initial")


def _open_run(target: str, overrides: dict, last: bool) -> Target:
    from ..runs import open_run

    corpus = overrides.get("data", {}).get("corpus")
    changed = sorted(f"{s}.{k}" for s, kv in overrides.items() for k in kv if (s, k) != ("data", "corpus"))
    if changed:
        raise ConfigError(f"expected no settings with a run folder (it keeps its config.json; only --corpus may "
                          f"point at its moved text), got {', '.join(changed)}")
    r = open_run(target, "last" if last else "best", {"engine": "numpy", "device": "cpu"})  # any checkpoint loads
    if corpus:
        r.cfg.data.corpus = list(corpus)
    row = _eval_row(Path(target), r.step)
    return Target(r.cfg, r.load_data(), r.engine.state_dict(), f"run {target}", f"{r.which} (step {r.step})",
                  row.get("val_loss"), row.get("train_loss"))


def _eval_row(run: Path, step) -> dict:
    """The evaluation row of metrics.jsonl at ``step`` (or the last one before it); {} if none."""
    path = run / ck.METRICS
    if not path.is_file():
        return {}
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if "val_loss" in r and (step is None or r.get("step", 0) <= step)]
    return rows[-1] if rows else {}


def _trained(cfg: RunConfig, source: str, steps: int, log) -> Target:
    from ..train import Trainer

    cfg = copy.deepcopy(cfg)
    merge(cfg, {"train": {"max_steps": steps, "eval_every": steps, "save_every": 0, "save_every_seconds": 0.0,
                          "time_budget": 0.0, "patience": 0}}, "diagnose --steps")
    with tempfile.TemporaryDirectory(prefix="deeprnn-diagnose-") as tmp:
        trainer = Trainer(cfg, Path(tmp) / "run", progress_bar=False, log=log)
        summary = trainer.fit()
        last = trainer.engine.state_dict()
    return Target(cfg, trainer.data, last, source, f"after {summary['steps']} training steps",
                  _loss(summary.get("val_ppl")), _loss(summary.get("train_ppl")))


def _loss(perplexity):
    """The loss (nats per token) of a summary's perplexity, None if absent."""
    return math.log(perplexity) if perplexity else None
