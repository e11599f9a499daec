"""Scoring a whole split against training, at the same model size, on both engines, in one run.

    python benchmarks/bench_eval.py                          # issue 14's large config, LSTM, 1 thread
    python benchmarks/bench_eval.py --configs small --cells gru --streams 16 32

Issue 14 asks that a whole split be scored at least 3x faster (tokens/s) than training runs at the same
size. Timed in alternating blocks (common.py): the training step of bench_train_step.py, and the
evaluation ``deeprnn train`` runs on its validation split (lm/evaluate.py's ``evaluate_stream``, with
lm/data.py's chunk length, the state carried) over --tokens random token ids, for each number of
streams in --streams (train.eval_streams; its default is the first). Reported: tokens/s (targets
scored, and T·B for training) and evaluation over training of the same engine and thread count.
"""

from __future__ import annotations

import argparse

import numpy as np
from bench_train_step import CONFIGS, describe, make, training_step
from common import Load, alternate, header, median, threads

from deeprnn.lm.config import TrainConfig
from deeprnn.lm.data import EVAL_CHUNK
from deeprnn.lm.evaluate import evaluate_stream


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=["large"], choices=list(CONFIGS))
    p.add_argument("--cells", nargs="+", default=["lstm"], choices=["lstm", "gru", "rnn"])
    p.add_argument("--engines", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--streams", nargs="+", type=int, default=[TrainConfig().eval_streams, 64])
    p.add_argument("--tokens", type=int, default=16385, help="the split's length (targets scored: one fewer)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    args = p.parse_args()
    load = Load()
    print(header(f"a whole split scored ({args.tokens - 1:,} targets, chunks of {EVAL_CHUNK}, state carried) "
                 "vs the training step, same engine and size", args.threads))
    print("| config | cell | engine | train tokens/s | eval streams | eval tokens/s | eval / train |")
    print("|---|---|---|---:|---:|---:|---:|")
    for name in args.configs:
        config = CONFIGS[name]
        V, T, B = config[5], config[3], config[2]
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))  # (T, B)
        split = rng.integers(0, V, args.tokens)  # (N,)
        for cell in args.cells:
            fns = {}
            for e in args.engines:
                engine = make(e, cell, config)
                fns[(e, "train")] = training_step(engine, x, y)
                for s in args.streams:
                    fns[(e, s)] = lambda engine=engine, s=s, split=split: evaluate_stream(engine, split, EVAL_CHUNK, s)
            with threads(args.threads):
                t = {k: median(v) for k, v in alternate(fns, args.rounds, 1, args.warmup).items()}
            for e in args.engines:
                train = x.size / t[(e, "train")]
                for s in args.streams:
                    ev = (args.tokens - 1) / t[(e, s)]
                    print(f"| {describe(name, config)} | {cell.upper()} | {e} | {train:,.0f} | {s} | {ev:,.0f} | "
                          f"{ev / train:.2f} |", flush=True)
    print(load.end())


if __name__ == "__main__":
    main()
