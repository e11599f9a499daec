"""What minGRU and minLSTM reach on Tiny Shakespeare against the LSTM, at equal wall time and equal parameters.

    DEEPRNN_MIRROR=file:///path/to/shared/data OPENBLAS_NUM_THREADS=1 \\
        python benchmarks/min_cells_quality.py --minutes 30 --threads 1          # the full comparison
    python benchmarks/min_cells_quality.py --minutes 3 --models lstm mingru   # a small one

Every model starts from the tinyshakespeare-lstm preset (2 layers, embedding 64, dropout 0.2 between
the layers and before the head, AdamW 3e-3, weight decay 0.01, cosine schedule with 100 warm-up steps,
B 32, T 64), with a 90/10 train/validation split. The LSTM keeps H 256; each min cell gets the hidden
size of the nearest total parameter count (bench_min_cells.equal_hidden). Equal wall time: each model's
speed is measured first (--probe steps after 3 warm-up steps, and one evaluation), ``max_steps`` is set
to what fits in --minutes beside its --evals evaluations, so that its cosine schedule completes, and
``time_budget`` stops it in any case. Reported: steps, tokens, seconds, and the validation loss in
nats/char over the whole validation split (the best and the last), with the curve of every evaluation.

These are the plain cells, stacked as deeprnn stacks every cell. The paper's models wrap each minGRU or
minLSTM layer in more structure (a residual connection, normalisation, an MLP, an expanded hidden size),
which this comparison does not add.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench_min_cells import equal_hidden, num_params
from deeprnn.lm.config import ModelConfig, RunConfig, merge
from deeprnn.lm.presets import PRESETS
from deeprnn.lm.train import Trainer

MARGIN = 0.95  # of the measured speed planned for, so that the schedule completes within the budget


def config(cell: str, hidden: int, args) -> RunConfig:
    cfg = RunConfig()
    merge(cfg, PRESETS["tinyshakespeare-lstm"], "preset")
    merge(cfg, {"data": {"splits": [0.9, 0.1, 0.0]},
                "model": {"cell": cell, "hidden_size": hidden},
                "train": {"engine": args.engine, "threads": args.threads, "seed": args.seed}}, "benchmark")
    return cfg


def measure(cfg: RunConfig, run: Path, probe: int) -> tuple[float, float]:
    """(training steps per second, seconds per evaluation of the validation split) of this model, from a
    throwaway run."""
    merge(cfg, {"train": {"max_steps": probe + 3, "eval_every": 10 ** 9}}, "probe")
    trainer = Trainer(cfg, run, overwrite=True, progress_bar=False, log=lambda m: None)
    batches = trainer.batcher.iterate()
    restore = trainer.engine.limit_threads(cfg.train.threads)
    try:
        for i in range(probe + 3):
            if i == 3:
                t0 = time.perf_counter()
            trainer._train_step(next(batches))  # the trainer's own step, without its evaluations
        rate = probe / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        trainer.data.score(trainer.engine, "val", cfg.train)
        return rate, time.perf_counter() - t0
    finally:
        restore()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["lstm", "mingru", "minlstm"])
    p.add_argument("--minutes", type=float, default=30.0, help="wall time per model")
    p.add_argument("--engine", default="numpy", choices=["numpy", "torch"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--probe", type=int, default=15)
    p.add_argument("--evals", type=int, default=6, help="evaluations per run (the curve's points)")
    p.add_argument("--out", default="runs/min_cells_quality")
    args = p.parse_args()
    reference = config("lstm", 256, args).model
    V = 65  # Tiny Shakespeare's symbols
    rows = []
    for cell in args.models:
        hidden = 256 if cell == "lstm" else equal_hidden(cell, reference, V)
        cfg = config(cell, hidden, args)
        run = Path(args.out) / cell
        rate, eval_seconds = measure(config(cell, hidden, args), run, args.probe)
        budget = 60 * args.minutes
        steps = max(args.evals, int(rate * (budget - (args.evals + 1) * eval_seconds) * MARGIN))
        merge(cfg, {"train": {"max_steps": steps, "eval_every": max(1, steps // args.evals),
                              "warmup_steps": min(100, steps // 10), "time_budget": budget,
                              "fit_budget": False}}, "budget")  # planned here
        trainer = Trainer(cfg, run, overwrite=True, progress_bar=False, log=lambda m: None)
        summary = trainer.fit()
        curve = [(r["step"], r["seconds"], r["val_loss"]) for r in
                 (json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip())
                 if "val_loss" in r]  # the evaluation rows
        model = ModelConfig(cell=cell, num_layers=2, hidden_size=hidden, embedding_dim=64)
        rows.append((cell, hidden, num_params(model, V), rate, summary, curve))
        print(f"{cell}: H {hidden}, {rate:.2f} steps/s and {eval_seconds:.1f} s per evaluation probed, planned {steps} steps; {summary['steps']} done in "
              f"{summary['seconds']:.0f} s ({summary['stop_reason']}); validation loss "
              + ", ".join(f"{loss:.3f}@{step}" for step, _, loss in curve), flush=True)
    print(f"\n# Tiny Shakespeare, 90/10 split, {args.minutes:g} min per model, {args.engine} engine, "
          f"{args.threads} thread(s), seed {args.seed}; {time.strftime('%Y-%m-%d %H:%M')}\n")
    print("| cell | H | parameters | steps | tokens | seconds | best val loss (nats/char) | last val loss |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for cell, hidden, n, rate, s, curve in rows:
        losses = [c[2] for c in curve]
        print(f"| {cell} | {hidden} | {n:,} | {s['steps']} | {s['tokens']:,} | {s['seconds']:.0f} | "
              f"{min(losses):.3f} | {losses[-1]:.3f} |")


if __name__ == "__main__":
    main()
