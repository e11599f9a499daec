"""The d2l book's own protocol, on deeprnn and on an independent plain-PyTorch loop with the same settings.

    DEEPRNN_MIRROR=file:///path/to/shared/data python benchmarks/d2l_protocol.py [--models d2l-gru ...]

Settings (deeprnn/lm/presets.py, from d2l 1.0): TimeMachine(batch_size=1024, num_steps=32) windows,
10,000 train / 5,000 validation, one-hot inputs, 32 hidden units, SGD, clipping at norm 1; RNN lr 1 for
100 epochs, LSTM and GRU lr 4 for 50, the 2-layer GRU lr 2 for 100.

Two validation perplexities are printed for each model: exp of the mean loss over all 160,000
validation targets (what deeprnn reports), and the book's figure, the mean over the five validation
batches of exp(batch loss). The PyTorch column is a separate ~40-line loop written in the book's style
below (nn.RNN/GRU/LSTM + nn.Linear with torch's own init, torch.optim.SGD, the book's clipping), so it
checks deeprnn against PyTorch rather than against itself. "book" is the last validation point of the
official d2l 1.0 notebooks (read from their saved plots, one unseeded run each).
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from deeprnn.lm.config import RunConfig, merge
from deeprnn.lm.data import prepare_data
from deeprnn.lm.engines.base import build_rnn
from deeprnn.lm.presets import PRESETS
from deeprnn.lm.train import Trainer

BOOK = {"d2l-rnn": 7.19, "d2l-lstm": 6.69, "d2l-gru": 6.55, "d2l-deep-gru": 6.11, "d2l-deep-rnn": 6.95}


def val_scores(nll_batch, X, Y, batch=1024):
    """(exp of the mean loss over all targets, mean over batches of exp(batch mean loss))."""
    total, per_batch = 0.0, []
    for s in range(0, len(X), batch):
        nll = nll_batch(X[s:s + batch], Y[s:s + batch])  # (b, T)
        total += nll.sum()
        per_batch.append(math.exp(nll.mean()))
    return math.exp(total / Y.size), float(np.mean(per_batch))


def run_deeprnn(name: str, seed: int, out: str):
    cfg = RunConfig()
    merge(cfg, PRESETS[name], name)
    merge(cfg, {"train": {"seed": seed, "eval_every": cfg.train.max_steps}}, "benchmark")
    t0 = time.perf_counter()
    trainer = Trainer(cfg, out, overwrite=True, progress_bar=False, log=lambda m: None)
    trainer.fit()
    seconds = time.perf_counter() - t0
    data, engine = trainer.data, trainer.engine
    X, Y = data_windows(data, cfg)

    def nll(xb, yb):
        v, _ = engine.nll(np.ascontiguousarray(xb.T), np.ascontiguousarray(yb.T), engine.initial_state(len(xb)))
        return v.T

    return val_scores(nll, X, Y) + (seconds,)


def data_windows(data, cfg):
    from deeprnn.data import d2l_windows

    X, Y = d2l_windows(data.ids, cfg.train.num_steps)
    lo, n = cfg.data.num_train, cfg.data.num_val
    return X[lo:lo + n], Y[lo:lo + n]


def run_torch(name: str, seed: int):
    """The book's training loop in plain PyTorch."""
    cfg = RunConfig()
    merge(cfg, PRESETS[name], name)
    m, t = cfg.model, cfg.train
    data = prepare_data(cfg.data, t)
    from deeprnn.data import d2l_windows

    Xall, Yall = (torch.from_numpy(np.ascontiguousarray(a)) for a in d2l_windows(data.ids, t.num_steps))
    Xtr, Ytr = Xall[:cfg.data.num_train], Yall[:cfg.data.num_train]
    V = len(data.vocab)
    torch.manual_seed(seed)
    rnn = build_rnn(torch.nn, m, V)  # one-hot inputs: V wide
    head = torch.nn.Linear(m.hidden_size, V)
    params = list(rnn.parameters()) + list(head.parameters())
    opt = torch.optim.SGD(params, lr=t.lr)

    def logits(xb):  # xb (b, T) -> (T, b, V)
        out, _ = rnn(torch.nn.functional.one_hot(xb.T, V).float())
        return head(out)

    t0 = time.perf_counter()
    epochs = t.max_steps // 10
    for _ in range(epochs):
        perm = torch.randperm(len(Xtr))
        for s in range(0, len(Xtr), t.batch_size):
            idx = perm[s:s + t.batch_size]
            loss = torch.nn.functional.cross_entropy(logits(Xtr[idx]).reshape(-1, V), Ytr[idx].T.reshape(-1))
            opt.zero_grad()
            loss.backward()
            norm = torch.sqrt(sum((p.grad ** 2).sum() for p in params))  # the book's clip_gradients
            if norm > t.clip_value:
                for p in params:
                    p.grad[:] *= t.clip_value / norm
            opt.step()
    seconds = time.perf_counter() - t0
    X, Y = data_windows(data, cfg)

    @torch.no_grad()
    def nll(xb, yb):
        logp = torch.log_softmax(logits(torch.from_numpy(np.ascontiguousarray(xb))).double(), -1)  # (T, b, V)
        return -logp.gather(-1, torch.from_numpy(np.ascontiguousarray(yb.T))[..., None]).squeeze(-1).T.numpy()

    return val_scores(nll, X, Y) + (seconds,)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["d2l-rnn", "d2l-lstm", "d2l-gru", "d2l-deep-gru"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", default="runs/d2l-benchmark")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print("| preset | deeprnn ppl (all targets / book-style) | PyTorch ppl (all targets / book-style) | book | "
          "deeprnn s | PyTorch s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in args.models:
        ours = run_deeprnn(name, args.seed, f"{args.out}/{name}")
        ref = run_torch(name, args.seed)
        print(f"| `{name}` | {ours[0]:.2f} / {ours[1]:.2f} | {ref[0]:.2f} / {ref[1]:.2f} | {BOOK.get(name, float('nan')):.2f} | "
              f"{ours[2]:.0f} | {ref[2]:.0f} |", flush=True)


if __name__ == "__main__":
    main()
