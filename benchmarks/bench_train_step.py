"""A full training step (forward, backward, clip, AdamW) of the language model on both engines, at 1 and 2
threads, against the machine's GEMM roofline, all measured in one run.

    python benchmarks/bench_train_step.py                           # both configs, LSTM and GRU
    python benchmarks/bench_train_step.py --configs large --cells lstm

Configurations (issue 14's "speed at the sizes people train"):

* ``small``: 2 layers, hidden 256, batch 32, sequence 35, one-hot input of 28 symbols (the Time Machine's);
* ``large``: 2 layers, hidden 512, batch 64, sequence 128, embedding 64, 65 symbols (Tiny Shakespeare's).

For each config and cell, both engines (the numpy engine; the torch engine, which runs torch.nn's fused
modules) at each thread count and the GEMM roofline probe at each thread count (common.py) are timed in
alternating blocks in the same run, so a noisy neighbour slows all alike. Reported: tokens/s (T·B over
the median step), numpy / torch, the fraction of the GEMM roofline each engine reaches, and the speed at
2 threads over the speed at 1 of each engine (below 1.0: 2 threads were slower).
"""

from __future__ import annotations

import argparse

import numpy as np
from common import GemmStep, Load, alternate, gflops, header, lm_gemms, median, square_matmul, threads

from deeprnn.lm.config import RunConfig
from deeprnn.lm.engines import make_engine

CONFIGS = {  # name: (layers, hidden, batch, seq, embedding, vocab)
    "small": (2, 256, 32, 35, 0, 28),
    "large": (2, 512, 64, 128, 64, 65),
}
ENGINES = ("numpy", "torch")


def make(engine: str, cell: str, config: tuple):
    L, H, B, T, E, V = config
    cfg = RunConfig()
    cfg.model.cell, cfg.model.num_layers, cfg.model.hidden_size, cfg.model.embedding_dim = cell, L, H, E
    cfg.train.engine, cfg.train.batch_size, cfg.train.num_steps = engine, B, T
    return make_engine(cfg.model, cfg.train, V)


def training_step(engine, x, y):
    def step():
        engine.forward_backward(x, y, None)
        engine.clip("norm", 1.0)
        engine.optimizer_step(1e-3)
    return step


def gemms_of(cell: str, config: tuple, train: bool = True, batch: int | None = None, seq: int | None = None):
    L, H, B, T, E, V = config
    return lm_gemms(cell, L, H, E or V, V, batch or B, seq or T, train=train, embedding=bool(E))


def describe(name: str, config: tuple) -> str:
    L, H, B, T, E, V = config
    return f"{name}: L{L} H{H} B{B} T{T} " + (f"E{E} V{V}" if E else f"I{V} one-hot")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    p.add_argument("--cells", nargs="+", default=["lstm", "gru"], choices=["lstm", "gru", "rnn"])
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--rounds", type=int, default=3, help="blocks of each (large: at most 2)")
    p.add_argument("--iters", type=int, default=3, help="timed steps per block (large: 1)")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps before each block (large: 0)")
    args = p.parse_args()
    load = Load()
    print(header("training step (forward, backward, clip, AdamW): numpy engine vs torch engine (torch.nn fused)",
                 "/".join(map(str, args.threads))))
    print("| config | cell | threads | numpy tokens/s | torch tokens/s | numpy / torch | numpy roofline | "
          "torch roofline | GEMM peak GFLOP/s (1024³) | model GEMMs alone GFLOP/s |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    scaling = []
    for name in args.configs:
        config = CONFIGS[name]
        L, H, B, T, E, V = config
        small = name == "small"  # a large step takes seconds: fewer of them, or a run takes minutes
        rounds, iters, warmup = (args.rounds, args.iters, args.warmup) if small else (min(2, args.rounds), 1, 0)
        rng = np.random.default_rng(0)
        x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))  # (T, B) each
        for cell in args.cells:
            gemm_step, peak = GemmStep(gemms_of(cell, config)), square_matmul()
            fns, around = {}, {}
            for n in args.threads:
                for engine in ENGINES:
                    fns[(engine, n)] = training_step(make(engine, cell, config), x, y)
                fns[("gemm", n)], fns[("peak", n)] = gemm_step, peak
                around.update({(k, n): (lambda n=n: threads(n)) for k in (*ENGINES, "gemm", "peak")})
            alternate(fns, 1, 0, 1, around)  # one untimed call of each first (numba compiles, caches fill)
            t = {k: median(v) for k, v in alternate(fns, rounds, iters, warmup, around).items()}
            tps = {k: x.size / v for k, v in t.items()}
            for n in args.threads:
                print(f"| {describe(name, config)} | {cell.upper()} | {n} | {tps[('numpy', n)]:,.0f} | "
                      f"{tps[('torch', n)]:,.0f} | {tps[('numpy', n)] / tps[('torch', n)]:.2f} | "
                      f"{t[('gemm', n)] / t[('numpy', n)]:.0%} | {t[('gemm', n)] / t[('torch', n)]:.0%} | "
                      f"{gflops(2 * 1024 ** 3, t[('peak', n)]):.0f} | {gflops(gemm_step.flops, t[('gemm', n)]):.0f} |",
                      flush=True)
            if 1 in args.threads:
                for n in (n for n in args.threads if n != 1):
                    scaling.append((describe(name, config), cell, n,
                                    *(tps[(e, n)] / tps[(e, 1)] for e in (*ENGINES, "gemm"))))
    if scaling:
        print("\n| config | cell | threads | numpy: N threads / 1 | torch: N threads / 1 | model GEMMs alone: N / 1 |")
        print("|---|---|---:|---:|---:|---:|")
        for desc, cell, n, a, b, g in scaling:
            flag = lambda r: f"{r:.2f}" + (" (slower)" if r < 1 else "")  # noqa: E731
            print(f"| {desc} | {cell.upper()} | {n} | {flag(a)} | {flag(b)} | {g:.2f} |")
    print(load.end())


if __name__ == "__main__":
    main()
