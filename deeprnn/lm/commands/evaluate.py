"""deeprnn eval: perplexity and bits per token of a trained run over a whole split."""

from __future__ import annotations

import json
import math

from .options import ALLOW_LARGE_HELP, run_overrides

from ..threads import THREADS_HELP

HELP = "evaluate a run: perplexity and bits per token (character or word) over a whole split"


def add_arguments(p):
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--split", choices=("val", "test", "train"), default="val")
    p.add_argument("--last", action="store_true", help="use the last checkpoint instead of the best weights")
    p.add_argument("--engine", choices=("numpy", "torch"), help="run on this engine (default: the run's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="torch engine device")
    p.add_argument("--threads", type=int, help=THREADS_HELP)
    p.add_argument("--corpus", nargs="+", metavar="PATH", help="the text the run was trained on, where it is now "
                   "(if it moved; its checksum is still checked)")
    p.add_argument("--json", action="store_true", help="print one JSON line")
    p.add_argument("--allow-large-model", action="store_true", help=ALLOW_LARGE_HELP)


def run(args) -> int:
    from ..divergence import DivergenceError, quiet_numerics
    from ..baselines import baselines
    from ..runs import open_run
    from ..threads import LoadProbe, use_threads

    probe = LoadProbe()
    overrides = run_overrides(args)
    r = open_run(args.run, "last" if args.last else "best", overrides)
    if args.corpus:
        r.cfg.data.corpus = list(args.corpus)
    threads = use_threads(r.engine, r.cfg.train.threads, probe)
    data = r.load_data()
    with quiet_numerics():
        score = data.score(r.engine, args.split, r.cfg.train)
    if math.isnan(score.loss):  # finite weights whose outputs overflow; an infinite perplexity is printed as inf
        raise DivergenceError(f"{r.path}: expected a finite loss from the {r.which} weights, got nan on the "
                              f"{args.split} split: the model overflows (the run diverged)")
    base = baselines(data, r.cfg.train, (args.split,))
    unigram = base[f"unigram_{args.split}_ppl"]
    out = {"run": str(r.path), "split": args.split, "weights": r.which, "step": r.step, "engine": r.engine.name,
           "threads": threads,
           "ppl": score.perplexity, "bpc": score.bits, "loss": score.loss, "tokens": score.tokens,
           "uniform_ppl": base["uniform_ppl"], "uniform_bpc": base["uniform_bpc"],
           "unigram_ppl": unigram, "unigram_bpc": base[f"unigram_{args.split}_bpc"],
           "unigram_loss": base[f"unigram_{args.split}_loss"]}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.split}: perplexity {score.perplexity:.4f}, {score.bits:.4f} bits/{data.unit} over "
              f"{score.tokens:,} tokens ({r.which} weights, step {r.step}, {r.engine.name} engine)")
        print(f"uniform baseline: perplexity {base['uniform_ppl']:.0f}, {base['uniform_bpc']:.4f} bits/{data.unit}")
        print(f"unigram baseline (letter frequencies of the training text): perplexity {unigram:.4f}, "
              f"{out['unigram_bpc']:.4f} bits/{data.unit}")
    return 0
