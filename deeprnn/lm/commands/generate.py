"""deeprnn generate: continue a prefix with a trained run, streaming the text as it is sampled."""

from __future__ import annotations

import sys
import warnings

from ...errors import ConfigError
from .options import ALLOW_LARGE_HELP, run_overrides
from ..threads import THREADS_HELP

HELP = "generate text from a run: greedy, temperature, top-k or top-p sampling"


def add_arguments(p):
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--prefix", default="the ", help="text that warms up the state (default %(default)r)")
    p.add_argument("--length", type=int, default=200, help="tokens to generate (default %(default)s)")
    p.add_argument("--temperature", type=float, default=None, help="0 means greedy (default 1.0)")
    p.add_argument("--greedy", action="store_true", help="same as --temperature 0")
    p.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0 = all)")
    p.add_argument("--top-p", type=float, default=1.0, help="nucleus sampling threshold (1 = off)")
    p.add_argument("--seed", type=int, default=None, help="makes the sample reproducible")
    p.add_argument("--strict", action="store_true", help="error on prefix tokens outside the vocabulary "
                   "(default: map them to <unk> with a warning)")
    p.add_argument("--last", action="store_true", help="use the last checkpoint instead of the best weights")
    p.add_argument("--engine", choices=("numpy", "torch"), help="run on this engine (default: the run's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"))
    p.add_argument("--allow-large-model", action="store_true", help=ALLOW_LARGE_HELP)
    p.add_argument("--threads", type=int, help=THREADS_HELP)


def run(args) -> int:
    from ..divergence import quiet_numerics
    from ..generate import check_sampling, encode_prefix, generate
    from ..runs import open_run
    from ..threads import LoadProbe, use_threads

    probe = LoadProbe()
    temperature = _temperature(args)
    check_sampling(temperature, args.top_k, args.top_p, args.length, args.seed)
    overrides = run_overrides(args)
    r = open_run(args.run, "last" if args.last else "best", overrides)
    use_threads(r.engine, r.cfg.train.threads, probe)

    def emit(piece: str) -> None:
        sys.stdout.write(piece)
        sys.stdout.flush()

    unknown = "error" if args.strict else "map"
    with warnings.catch_warnings(), quiet_numerics():
        warnings.simplefilter("always")
        warnings.showwarning = lambda msg, *a, **k: print(f"deeprnn: warning: {msg}", file=sys.stderr)
        encode_prefix(r.vocab, args.prefix, unknown)  # fails before anything is printed
        warnings.simplefilter("ignore")  # warned once already
        sys.stdout.write(args.prefix)
        generate(r.engine, r.vocab, args.prefix, args.length, temperature, args.top_k, args.top_p, args.seed,
                 on_text=emit, unknown=unknown)
    sys.stdout.write("\n")
    return 0


def _temperature(args) -> float:
    """--temperature (default 1), or 0 for --greedy, which takes no sampling settings."""
    if not args.greedy:
        return 1.0 if args.temperature is None else args.temperature
    given = [f"--{name.replace('_', '-')} {value}" for name, value, unset in
             (("temperature", args.temperature, (None, 0)), ("top_k", args.top_k, (0,)), ("top_p", args.top_p, (1,)))
             if value not in unset]
    if given:
        raise ConfigError(f"expected --greedy without sampling settings (it always takes the most likely token), "
                          f"got --greedy with {' and '.join(given)}")
    return 0.0
