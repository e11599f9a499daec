"""deeprnn eval: perplexity and bits per token of a trained run over a whole split."""

from __future__ import annotations

import json

HELP = "evaluate a run: perplexity and bits per character over a whole split"


def add_arguments(p):
    p.add_argument("run", metavar="RUN_DIR")
    p.add_argument("--split", choices=("val", "test", "train"), default="val")
    p.add_argument("--last", action="store_true", help="use the last checkpoint instead of the best weights")
    p.add_argument("--engine", choices=("numpy", "torch"), help="run on this engine (default: the run's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), help="torch engine device")
    p.add_argument("--json", action="store_true", help="print one JSON line")


def run(args) -> int:
    from ...data import CorpusError
    from ..evaluate import uniform
    from ..data import prepare_data
    from ..runs import open_run

    overrides = {k: v for k, v in (("engine", args.engine), ("device", args.device)) if v}
    r = open_run(args.run, "last" if args.last else "best", overrides)
    data = prepare_data(r.cfg.data, r.cfg.train, vocab=r.vocab)
    if data.fingerprint != _saved_fingerprint(r.path):
        raise CorpusError(f"{r.path}: expected the corpus the run was trained on, got a different text "
                          f"for {r.cfg.data.corpus}")
    score = data.score(r.engine, args.split, r.cfg.train)
    base = uniform(len(r.vocab))
    unit = "char" if r.vocab.level == "char" else "word"
    out = {"run": str(r.path), "split": args.split, "weights": r.which, "step": r.step, "engine": r.engine.name,
           "ppl": score.perplexity, "bpc": score.bits, "loss": score.loss, "tokens": score.tokens,
           "uniform_ppl": float(len(r.vocab)), "uniform_bpc": base.bits}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{args.split}: perplexity {score.perplexity:.4f}, {score.bits:.4f} bits/{unit} over {score.tokens:,} "
              f"tokens ({r.which} weights, step {r.step}, {r.engine.name} engine)")
        print(f"uniform baseline: perplexity {base.perplexity:.0f}, {base.bits:.4f} bits/{unit}")
    return 0


def _saved_fingerprint(run) -> str | None:
    from ..checkpoint import CONFIG, read_json

    return read_json(run / CONFIG, "run config").get("corpus_sha256")
