"""deeprnn diagnose: why a deep RNN learns or stalls (gradient flow, saturation, a verdict in words)."""

from __future__ import annotations

import json
import sys

from ...errors import ConfigError
from ..presets import PRESETS
from .options import add_config_flags, flag_overrides

HELP = "measure why a model learns or stalls: gradient flow through layers and time, saturation, a verdict"
MAX_BATCHES = 1000  # more would be a typo: each batch is a forward and two backward passes


def add_arguments(p):
    p.add_argument("target", metavar="TARGET", help=f"a run folder, a preset ({', '.join(sorted(PRESETS))}) or a "
                   "TOML config file")
    p.add_argument("--last", action="store_true", help="a run folder's last checkpoint instead of its best weights")
    p.add_argument("--steps", type=int, default=0, metavar="N", help="a preset or config: measure after N steps "
                   "of training (deeprnn train's loop, in a temporary folder); default 0, the initial weights")
    p.add_argument("--batches", type=int, default=2, metavar="K", help="training batches to measure on (default 2)")
    p.add_argument("--out", metavar="DIR", help="write the heatmap gradient_flow.png into DIR")
    p.add_argument("--json", action="store_true", help="print one JSON object (logs go to stderr)")
    add_config_flags(p)


def run(args) -> int:
    from ..diagnose import diagnose
    from ..diagnose.report import as_text
    from ..diagnose.target import open_target

    if args.steps < 0:
        raise ConfigError(f"expected --steps >= 0 (0: the initial weights), got {args.steps}")
    if not 1 <= args.batches <= MAX_BATCHES:
        raise ConfigError(f"expected --batches in [1, {MAX_BATCHES}], got {args.batches}")
    if args.out is not None and not args.out.strip():
        raise ConfigError(f"expected a folder after --out, got {args.out!r}")
    target = open_target(args.target, flag_overrides(args), last=args.last, steps=args.steps,
                         log=lambda msg: print(msg, file=sys.stderr, flush=True))
    result = diagnose(target, args.batches, args.out)
    if args.json:
        print(json.dumps(result, allow_nan=False), flush=True)
    else:
        print(as_text(result), flush=True)
    return 0
