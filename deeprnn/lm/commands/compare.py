"""deeprnn compare: train a grid of configurations on the same data and budget, and put them side by side.

    deeprnn compare --preset timemachine-lstm --grid cell=lstm,gru num_layers=1,2 --max-steps 600 --out runs/cmp
"""

from __future__ import annotations

from pathlib import Path

from ...errors import ConfigError
from ..presets import PRESETS
from ..signals import STOP_EXIT_CODES
from .options import add_config_flags, build_config, flag_overrides

HELP = "train a grid of configurations on the same data and budget, and compare them in a table and a plot"


def add_arguments(p):
    p.add_argument("--grid", nargs="+", required=True, metavar="KEY=V1,V2",
                   help="the settings to vary, e.g. cell=lstm,gru num_layers=1,2 (a config field, section optional "
                        "when unique: model.cell; list values join items with '+': corpus=a.txt+b.txt)")
    p.add_argument("--preset", choices=sorted(PRESETS), help="named starting point for every run")
    p.add_argument("--config", metavar="FILE.toml", help="TOML file with [model], [data], [train] tables")
    p.add_argument("--out", metavar="DIR", help="one run folder per grid cell, and the results (default "
                                                 "runs/compare)")
    p.add_argument("--overwrite", action="store_true", help="start every run afresh instead of skipping or "
                                                            "resuming what OUT holds")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results (logs go to stderr)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_config_flags(p)


def run(args) -> int:
    from ..compare import compare, parse_grid, summary_json
    from ..train import TrainingError

    overrides = flag_overrides(args)
    base = build_config(args.preset, args.config, overrides)
    axes = parse_grid(args.grid, base)
    both = [a.key for a in axes if a.name in overrides.get(a.section, {})]
    if both:
        raise ConfigError(f"expected each setting either as a flag or in --grid, got {', '.join(both)} as both")
    out = Path(args.out or "runs/compare")
    title = f"{args.preset or 'deeprnn defaults'}: " + " ".join(args.grid)
    result = compare(base, axes, out, overwrite=args.overwrite, progress_bar=not (args.no_progress or args.json),
                     title=title)
    if args.json:
        print(summary_json(result), flush=True)
    else:
        print(result.markdown())
        for w in result.warnings:
            print(f"warning: {w}")
        print(f"results: {out / 'results.md'}  {out / 'results.csv'}  plot: {out / 'compare.png'}", flush=True)
    if result.failures:
        raise TrainingError(f"{len(result.failures)} of {len(result.rows)} runs failed "
                            f"({', '.join(result.failures)}); the others are in {out / 'results.md'}")
    return STOP_EXIT_CODES.get(result.interrupted, 0)  # 130 after Ctrl-C, 143 after SIGTERM, as deeprnn train
