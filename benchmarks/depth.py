"""Deep stacks at equal wall time on Tiny Shakespeare: 2, 4 and 8 layers, with and without residual and
layer_norm.

    DEEPRNN_MIRROR=file:///path/to/shared/data python benchmarks/depth.py            # the full grid, 10 min a run
    python benchmarks/depth.py --layers 2 4 --hidden 128 --minutes 3 --threads 1     # a small check (~30 min)
    python benchmarks/depth.py --variants plain both --corpus path/to/input.txt

Every run trains the same character model (``--cell``, embedding 64, B32 T64, AdamW lr 3e-3 with weight
decay 0.01, clipping at norm 1, no dropout: short runs underfit) on the first 90% of the text and is
scored on the whole next 5% (validation loss in nats per character; lower is better).

Equal wall time, on a shared machine: these 2-core machines run other work whose load changes by the
minute, so wall time would hand one run twice another's compute. Each run gets the same budget of CPU
time instead (``--minutes``, one thread: what the same wall time gives on a quiet machine), and a full
cosine schedule fitted to it: a probe times a few training steps and an evaluation of that model for a
first plan (the max_steps in config.json); then the run itself is timed over its first 40 steps, still
inside the 50-step warm-up, and max_steps and eval_every are fixed to what fits into ``--fill`` (0.9) of
the budget after five evaluations, so the decay always completes. ``train.time_budget`` stops a run
after ``--wall-factor`` (8) budgets of wall time, and the table marks it. One seed per run: differences
of a few hundredths of a nat are within seed noise.

Variants: plain (neither option), residual, layer_norm, both. The table is printed as markdown, with
the machine, the threads and the date; the run folders go to ``--out``/<name> (curves.png, metrics).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from deeprnn.lm.config import RunConfig, merge
from deeprnn.lm.data import prepare_data
from deeprnn.lm.engines import make_engine
from deeprnn.lm.train import Trainer
from deeprnn.numpy_engine.threads import set_num_threads

VARIANTS = {"plain": {}, "residual": {"residual": True}, "layer_norm": {"layer_norm": True},
            "both": {"residual": True, "layer_norm": True}}


def base_config(args, layers: int, variant: str) -> RunConfig:
    cfg = RunConfig()
    merge(cfg, {
        "data": {"corpus": [args.corpus], "preprocess": "raw", "splits": [0.9, 0.05, 0.05]},
        "model": {"cell": args.cell, "num_layers": layers, "hidden_size": args.hidden, "embedding_dim": 64,
                  **VARIANTS[variant]},
        "train": {"engine": args.engine, "batch_size": args.batch, "num_steps": args.seq, "optimizer": "adamw",
                  "lr": args.lr, "weight_decay": 0.01, "schedule": "cosine", "warmup_steps": 50,
                  "threads": args.threads, "seed": args.seed, "eval_streams": 16,
                  "time_budget": 60.0 * args.minutes * args.wall_factor, "fit_budget": False},  # planned here
    }, "benchmarks/depth.py")
    return cfg


def probe(cfg: RunConfig, vocab_size: int, steps: int) -> tuple[float, float]:
    """CPU seconds of one training step (forward, backward, clip, AdamW; the median of ``steps``) and of
    scoring one token in evaluation mode, for this model."""
    engine = make_engine(cfg.model, cfg.train, vocab_size)
    rng = np.random.default_rng(0)
    T, B = cfg.train.num_steps, cfg.train.batch_size
    x, y = rng.integers(0, vocab_size, (T, B)), rng.integers(0, vocab_size, (T, B))
    times, state = [], None
    for i in range(steps + 2):  # two warm-up steps
        t0 = time.process_time()
        _, state = engine.forward_backward(x, y, state)
        engine.clip("norm", 1.0)
        engine.optimizer_step(1e-4)
        if i >= 2:
            times.append(time.process_time() - t0)
    t0 = time.process_time()
    for _ in range(3):
        engine.nll(x, y, None)
    return statistics.median(times), (time.process_time() - t0) / (3 * x.size)


def plan_steps(sec_per_step: float, seconds_left: float, eval_seconds: float) -> int:
    """The steps that fit into seconds_left after the evaluations."""
    return max(20, int((seconds_left - eval_seconds) / sec_per_step))


def refit_at(trainer: Trainer, budget: float, eval_seconds: float, at: int = 40, start: int = 5) -> None:
    """Time steps start..at of the run itself (CPU time, inside the warm-up) and fix max_steps and
    eval_every to what fits into the rest of the budget: the cosine decay starts only after the warm-up."""
    t, step, marks = trainer.cfg.train, trainer.engine.optimizer_step, {}

    def optimizer_step(lr):
        step(lr)
        k = trainer.prog.step
        if k in (start, at):
            marks[k] = time.process_time()
        if k == at:
            sec = (marks[at] - marks[start]) / (at - start)
            t.max_steps = at + plan_steps(sec, budget - (marks[at] - trainer.cpu0), eval_seconds)
            t.eval_every = max(1, t.max_steps // 4)

    trainer.engine.optimizer_step = optimizer_step


def run_one(args, layers: int, variant: str, vocab_size: int, val_tokens: int) -> dict:
    cfg = base_config(args, layers, variant)
    budget = 60.0 * args.minutes * args.fill  # CPU seconds the planned steps and evaluations may take
    sec, eval_sec_per_token = probe(cfg, vocab_size, args.probe_steps)
    eval_seconds = 5 * val_tokens * eval_sec_per_token  # at 1/4, 2/4, 3/4 and 4/4, and maybe once at the end
    steps = plan_steps(sec, budget, eval_seconds)
    merge(cfg, {"train": {"max_steps": steps, "eval_every": max(steps, 41)}}, "benchmarks/depth.py")
    name = f"L{layers}-{variant}"
    trainer = Trainer(cfg, Path(args.out) / name, overwrite=True, progress_bar=False, log=lambda m: None)
    refit_at(trainer, budget, eval_seconds)
    wall0 = time.perf_counter()
    trainer.cpu0 = cpu0 = time.process_time()
    summary = trainer.fit()
    cpu = time.process_time() - cpu0
    return {"name": name, "layers": layers, "variant": variant, "params": trainer.num_parameters(),
            "planned": cfg.train.max_steps, "steps": summary["steps"], "cpu": cpu,
            "wall": time.perf_counter() - wall0, "tokens_per_cpu_s": summary["tokens"] / cpu,
            "best": trainer.prog.best_val_loss, "best_step": summary["best_step"],
            "cut": "budget" in summary["stop_reason"]}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, nargs="+", default=[2, 4, 8])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--cell", choices=["rnn", "gru", "lstm"], default="lstm")
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--minutes", type=float, default=10.0, help="compute budget of each run (CPU minutes)")
    p.add_argument("--wall-factor", type=float, default=8.0, help="the wall-clock stop, in budgets")
    p.add_argument("--engine", choices=["numpy", "torch"], default="numpy")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--corpus", default="tinyshakespeare", help="a corpus name or a path to a text file")
    p.add_argument("--fill", type=float, default=0.9, help="fraction of the budget the planned steps take")
    p.add_argument("--probe-steps", type=int, default=8)
    p.add_argument("--out", default="runs/depth")
    args = p.parse_args()
    if args.threads:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    first = base_config(args, 2, "plain")
    data = prepare_data(first.data, first.train)
    V, val_tokens = len(data.vocab), data.bounds[1] - data.bounds[0]
    print(f"# Tiny Shakespeare depth grid: {args.cell.upper()} H{args.hidden} E64 B{args.batch} T{args.seq}, "
          f"{args.engine} engine, {args.threads} thread(s), {args.minutes:g} CPU minutes a run, vocab {V}, "
          f"{val_tokens:,} validation characters; {platform.machine()}, {os.cpu_count()} cores, "
          f"{datetime.date.today()}", flush=True)
    print("| layers | variant | parameters | steps (planned) | CPU s | wall s | tokens per CPU s "
          "| best val loss (nats/char) | at step |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    if args.threads:
        set_num_threads(args.threads)  # BLAS threads, for the probes too (the runs set train.threads)
    for layers in args.layers:
        for variant in args.variants:
            r = run_one(args, layers, variant, V, val_tokens)
            cut = " (wall stop)" if r["cut"] else ""
            print(f"| {layers} | {variant} | {r['params']:,} | {r['steps']}{cut} ({r['planned']}) | {r['cpu']:.0f} | "
                  f"{r['wall']:.0f} | {r['tokens_per_cpu_s']:,.0f} | {r['best']:.4f} | {r['best_step']} |", flush=True)


if __name__ == "__main__":
    main()
