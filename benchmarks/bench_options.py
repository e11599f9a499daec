"""What residual and layer_norm cost: tokens/s of a full training step against the plain stack, same run.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_options.py                  # LSTM and GRU, both engines
    python benchmarks/bench_options.py --cells lstm --layers 4 --hidden 128 --engines numpy

A training step is what the trainer runs (forward, backward, clipping at norm 1, AdamW) through the
LMEngine interface, on an embedding-64 character model of vocabulary 65 (Tiny Shakespeare's), float32.
The variants of one cell and engine are timed in alternating blocks in one process (as bench_engine.py
does), so a busy machine slows them alike; each ratio is variant tokens/s over the plain stack's, of the
same cell and engine. With one thread the clock is the process's CPU time (``--clock cpu``, the default
then): on a shared machine whose other load changes by the minute it is far steadier than wall time, and
it is what the wall time of a quiet machine would be. On the torch engine the plain stack is torch.nn's
fused kernel and every variant runs the scratch stack (torch_engine/stack.py, a Python time loop): its
ratios include leaving the fused kernel, which ``residual`` alone (nearly free in itself) shows."""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time

import numpy as np

from deeprnn import set_num_threads
from deeprnn.lm.config import RunConfig
from deeprnn.lm.engines import make_engine

VARIANTS = {"plain": {}, "residual": {"residual": True}, "layer_norm": {"layer_norm": True},
            "both": {"residual": True, "layer_norm": True}}


def make(engine: str, cell: str, variant: str, args):
    cfg = RunConfig()
    m = cfg.model
    m.cell, m.num_layers, m.hidden_size, m.embedding_dim = cell, args.layers, args.hidden, 64
    for k, v in VARIANTS[variant].items():
        setattr(m, k, v)
    cfg.train.engine, cfg.train.batch_size, cfg.train.num_steps = engine, args.batch, args.seq
    return make_engine(m, cfg.train, args.vocab)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru"])
    p.add_argument("--engines", nargs="+", default=["numpy", "torch"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=4)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--clock", choices=["cpu", "wall"], default=None, help="default: cpu with 1 thread, else wall")
    args = p.parse_args()
    cpu = (args.clock or ("cpu" if args.threads == 1 else "wall")) == "cpu"
    clock = time.process_time if cpu else time.perf_counter
    rng = np.random.default_rng(0)
    x = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    y = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    print(f"# {platform.machine()}, {os.cpu_count()} cores (shared, busy), {args.threads} thread(s), "
          f"{datetime.date.today()}: L={args.layers} H={args.hidden} E=64 B={args.batch} T={args.seq} "
          f"V={args.vocab}, AdamW + clip, float32, {'CPU' if clock is time.process_time else 'wall'} time")
    print("| cell | engine | " + " | ".join(f"{v} tokens/s" for v in VARIANTS) + " | "
          + " | ".join(f"{v} / plain" for v in list(VARIANTS)[1:]) + " |")
    print("|---|---|" + "---:|" * (2 * len(VARIANTS) - 1))
    if "torch" in args.engines:
        import torch

        torch.set_num_threads(args.threads)
    with set_num_threads(args.threads):  # BLAS threads
        for cell in args.cells:
            for name in args.engines:
                engines = {v: make(name, cell, v, args) for v in VARIANTS}
                times: dict = {}
                for _ in range(args.rounds):
                    for v, engine in engines.items():
                        for i in range(args.warmup + args.iters):
                            t0 = clock()
                            engine.forward_backward(x, y, None)
                            engine.clip("norm", 1.0)
                            engine.optimizer_step(1e-3)
                            if i >= args.warmup:
                                times.setdefault(v, []).append(clock() - t0)
                tps = {v: x.size / statistics.median(t) for v, t in times.items()}
                print(f"| {cell.upper()} | {name} | " + " | ".join(f"{tps[v]:,.0f}" for v in VARIANTS) + " | "
                      + " | ".join(f"{tps[v] / tps['plain']:.2f}" for v in list(VARIANTS)[1:]) + " |", flush=True)


if __name__ == "__main__":
    main()
