"""deeprnn train: train a language model (or resume one) and report validation perplexity."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import ConfigError
from ..checkpoint import CURVES
from ..config import MOVABLE, RESUMABLE, RunConfig, merge
from ..presets import PRESETS
from ..signals import STOP_EXIT_CODES
from .options import add_config_flags, build_config, flag_overrides

HELP = "train a deep RNN language model, or resume a run"


def add_arguments(p):
    p.add_argument("--preset", choices=sorted(PRESETS), help="named starting point (see deeprnn/lm/presets.py)")
    p.add_argument("--config", metavar="FILE.toml", help="TOML file with [model], [data], [train] tables")
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default runs/<preset or 'run'>)")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--json", action="store_true", help="print one JSON line with the results (logs go to stderr)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(p)


def run(args) -> int:
    from ..requirements import check_requirements
    from ..train import Trainer

    for flag, value in (("--out", args.out), ("--resume", args.resume), ("--config", args.config)):
        if value is not None and not value.strip():
            raise ConfigError(f"expected a path after {flag}, got {value!r}")
    if args.resume is not None:
        cfg, run_dir = resumed_config(args)
    else:
        cfg = build_config(args.preset, args.config, flag_overrides(args))
        run_dir = Path(args.out or f"runs/{args.preset or 'run'}")
    check_requirements(cfg.train)
    trainer = Trainer(cfg, run_dir, resume=args.resume is not None, overwrite=args.overwrite,
                      progress_bar=not (args.no_progress or args.json))
    summary = trainer.fit()
    if not trainer.is_main:  # under torchrun, rank 0 reports
        return 0
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(report(summary, trainer.data.unit), flush=True)
    return STOP_EXIT_CODES.get(summary["stop_reason"], 0)


def resumed_config(args) -> tuple[RunConfig, Path]:
    """The config saved in the --resume folder with the run-time flags (RESUMABLE) applied."""
    from ..runs import read_config

    overrides = flag_overrides(args)
    if args.preset or args.config or args.out:
        raise ConfigError("expected only run-time flags with --resume (the run keeps its config.json), "
                         "got --preset/--config/--out")
    fixed = sorted(f"{s}.{k}" for s, kv in overrides.items() for k in kv
                   if (s, k) not in MOVABLE and (s != "train" or k not in RESUMABLE))
    if fixed:
        raise ConfigError(f"expected --resume to keep the run's model and data, got changes to {', '.join(fixed)}")
    run_dir = Path(args.resume)
    cfg = read_config(run_dir)
    merge(cfg, overrides, "command line")
    return cfg, run_dir


def report(s: dict, unit: str) -> str:
    """The summary (Trainer.summary()) as the lines the command prints; ``unit`` is what a token is
    ("char" or "word", LMData.unit)."""
    speed = f", {s['tokens_per_s']:,.0f} tokens/s" if s.get("tokens_per_s") else ""
    lines = [f"run: {s['run']}  ({s['steps']} steps, {s['tokens']:,} tokens, {s['seconds']:.0f} s{speed}; "
             f"{s['stop_reason']})"]
    if "val_ppl" in s:
        lines.append(f"validation: perplexity {s['val_ppl']:.3f}, {s['val_bpc']:.3f} bits/{unit} over "
                     f"{s['val_tokens']:,} tokens ({s.get('val_scope', 'the whole split')})")
    lines.append(f"uniform baseline: perplexity {s['uniform_ppl']:.0f}, {s['uniform_bpc']:.3f} bits/{unit} "
                 f"(vocabulary of {s['vocab_size']})")
    lines.append(f"unigram baseline (letter frequencies of the training text): perplexity "
                 f"{s['unigram_val_ppl']:.3f} on validation, {s['unigram_train_ppl']:.3f} on training")
    if "train_ppl" in s:
        lines.append(f"training (mean since the last evaluation, in training mode): perplexity {s['train_ppl']:.3f}")
    lines.append(f"plot: {Path(s['run']) / CURVES}   best weights: step {s['best_step']}")
    return "\n".join(lines)
