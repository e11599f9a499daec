"""A full training step (forward, backward, clip, optimizer) of the language model on both engines.

    python benchmarks/bench_train_step.py                # standard config, 1 and 2 threads
    python benchmarks/bench_train_step.py --threads 2 --cells lstm

Standard configuration: 2 layers, hidden 256, batch 32, sequence 35, one-hot input of a 28-symbol
vocabulary (the Time Machine's), AdamW, clipping at norm 1, float32. Both engines run the same
config through the same LMEngine interface the trainer uses, in the same process, timed in
alternating blocks (see bench_engine.py); tokens/s is T·B over the median step time.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from deeprnn import set_num_threads
from deeprnn.lm.config import RunConfig
from deeprnn.lm.engines import make_engine


def make(engine: str, cell: str, args):
    cfg = RunConfig()
    cfg.model.cell, cfg.model.num_layers, cfg.model.hidden_size, cfg.model.embedding_dim = cell, args.layers, args.hidden, 0
    cfg.train.engine, cfg.train.batch_size, cfg.train.num_steps = engine, args.batch, args.seq
    return make_engine(cfg.model, cfg.train, args.vocab), cfg.train


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=35)
    p.add_argument("--vocab", type=int, default=28)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    x = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    y = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    print(f"# {platform.machine()}, numpy {np.__version__}, torch {torch.__version__}, L={args.layers} "
          f"H={args.hidden} B={args.batch} T={args.seq} V={args.vocab} one-hot, AdamW + clip, float32")
    print("| cell | threads | numpy engine tokens/s | torch engine tokens/s | numpy / torch |")
    print("|---|---:|---:|---:|---:|")
    for threads in args.threads:
        torch.set_num_threads(threads)
        with set_num_threads(threads):  # BLAS threads
            for cell in args.cells:
                times = {}
                engines = {name: make(name, cell, args) for name in ("numpy", "torch")}
                for _ in range(args.rounds):
                    for name, (engine, t) in engines.items():
                        def step():
                            engine.forward_backward(x, y, None)
                            engine.clip("norm", 1.0)
                            engine.optimizer_step(1e-3)
                        for _ in range(args.warmup):
                            step()
                        for _ in range(args.iters):
                            t0 = time.perf_counter()
                            step()
                            times.setdefault(name, []).append(time.perf_counter() - t0)
                tps = {k: x.size / statistics.median(v) for k, v in times.items()}
                print(f"| {cell.upper()} | {threads} | {tps['numpy']:,.0f} | {tps['torch']:,.0f} | "
                      f"{tps['numpy'] / tps['torch']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
