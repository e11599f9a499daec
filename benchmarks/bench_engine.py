"""Forward + backward of a stacked RNN/GRU/LSTM: deeprnn's NumPy engine against torch.nn.* in one run.

    python benchmarks/bench_engine.py                 # standard config, 1 and 2 threads
    python benchmarks/bench_engine.py --threads 2 --cells lstm --iters 50

Both sides run the same shapes, dtype (float32) and thread count. Their timings alternate in blocks
(--rounds blocks of --iters iterations each, after warm-up iterations in every block), so a noisy
neighbour slows both alike, while neither side's idle BLAS/OpenMP threads, which spin-wait for a
while after each call, steal a core from the other side's iteration (common.alternate). Reported:
tokens/s (T·B per forward+backward, median over iterations) and the ratio deeprnn / torch (above 1.0:
deeprnn is faster), with the machine, the BLAS kernels and the load average at start and end.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import Load, alternate, header, median, threads

import deeprnn as dr
from deeprnn.layout import CELL_CLASSES

CELLS = {cell: (getattr(dr, name), getattr(torch.nn, name))  # ours, torch (torch.nn has no minGRU, minLSTM)
         for cell, name in CELL_CLASSES.items() if hasattr(torch.nn, name)}


def time_pair(name, args, n):
    ours_cls, torch_cls = CELLS[name]
    T, B, I, H, L = args.seq, args.batch, args.input, args.hidden, args.layers
    ours = ours_cls(I, H, num_layers=L, seed=0)
    ref = torch_cls(I, H, num_layers=L)
    ref.load_state_dict({k: torch.from_numpy(v) for k, v in ours.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I), dtype=np.float32)  # (T, B, I)
    d_out = rng.standard_normal((T, B, H), dtype=np.float32)  # (T, B, H)
    xt, dt = torch.from_numpy(x).requires_grad_(), torch.from_numpy(d_out)

    def step_ours():
        ours(x)
        ours.backward(d_out)

    def step_torch():
        out, _ = ref(xt)
        out.backward(dt)

    with threads(n):
        t = alternate({"ours": step_ours, "torch": step_torch}, args.rounds, args.iters, args.warmup)
    tok = T * B
    return tok / median(t["ours"]), tok / median(t["torch"])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cells", nargs="+", default=["lstm", "gru", "rnn"], choices=list(CELLS))
    p.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=35)
    p.add_argument("--input", type=int, default=28)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    args = p.parse_args()
    load = Load()
    print(header(f"forward + backward of the stack, L={args.layers} H={args.hidden} B={args.batch} T={args.seq} "
                 f"I={args.input}: deeprnn vs torch.nn", "/".join(map(str, args.threads))))
    print("| cell | threads | deeprnn tokens/s | torch tokens/s | ratio |")
    print("|---|---:|---:|---:|---:|")
    for n in args.threads:
        for name in args.cells:
            ours, ref = time_pair(name, args, n)
            print(f"| {name.upper()} | {n} | {ours:,.0f} | {ref:,.0f} | {ours / ref:.2f} |", flush=True)
    print(load.end())


if __name__ == "__main__":
    main()
