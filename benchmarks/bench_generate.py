"""Generation at batch 1: the numpy engine, the torch engine and a bare torch.nn.LSTM step loop, against the
machine's memory bandwidth, all measured in one run.

    python benchmarks/bench_generate.py                    # LSTM 2x512, embedding 64, 65 symbols, 1 thread
    python benchmarks/bench_generate.py --hidden 256 --threads 2

Each side produces one token at a time with the state carried and the next input the argmax of the
logits (what ``deeprnn generate`` does, without sampling): the numpy engine and the torch engine through
``engine.logits`` (the LMEngine interface ``deeprnn generate`` uses), and the bare loop calling
torch.nn.Embedding, torch.nn.LSTM and torch.nn.Linear under torch.inference_mode (the same weights).

At batch 1 every weight is read once per token (bytes per token = 4 × the parameters read: W_ih, W_hh,
the biases, the head and one embedding row), so the limit is how fast the machine reads memory. Two
references are timed in the same alternating blocks: the sum of a large float32 array (--mib MiB, far
above the caches: DRAM bandwidth) and the sum of an array of the weights' size (where the weights
live between tokens: the caches, when they fit). Reported: tokens/s (median over blocks of --block
tokens), each side over the torch engine, and the bandwidth each side uses as a fraction of each
reference.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from common import Load, alternate, header, median, threads

from deeprnn.lm.config import ModelConfig, TrainConfig
from deeprnn.lm.engines import make_engine, param_shapes


def engine_loop(engine, block: int):
    state = [engine.initial_state(1)]
    tok = np.zeros((1, 1), np.int64)  # (T=1, B=1)

    def run():
        for _ in range(block):
            z, state[0] = engine.logits(tok, state[0])  # (1, 1, V)
            tok[0, 0] = int(np.argmax(z[0, 0]))
    return run


def bare_torch_loop(sd: dict, model: ModelConfig, V: int, block: int):
    """torch.nn modules called one token at a time, with the engines' weights."""
    emb = torch.nn.Embedding(V, model.embedding_dim)
    rnn = torch.nn.LSTM(model.embedding_dim, model.hidden_size, num_layers=model.num_layers)
    head = torch.nn.Linear(model.hidden_size, V)
    with torch.no_grad():
        emb.weight.copy_(torch.from_numpy(sd["embedding.weight"]))
        for k, p in rnn.named_parameters():
            p.copy_(torch.from_numpy(sd[f"rnn.{k}"]))
        head.weight.copy_(torch.from_numpy(sd["head.weight"]))
        head.bias.copy_(torch.from_numpy(sd["head.bias"]))
    state = [None]
    tok = torch.zeros((1, 1), dtype=torch.int64)  # (T=1, B=1)

    def run():
        with torch.inference_mode():
            for _ in range(block):
                out, state[0] = rnn(emb(tok), state[0])  # (1, 1, H)
                tok[0, 0] = int(head(out[0, 0]).argmax())
    return run


def array_sum(nbytes: int):
    a = np.ones(nbytes // 4, np.float32)
    return lambda: a.sum()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--block", type=int, default=100, help="tokens per timed call")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--iters", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--mib", type=int, default=512, help="size of the DRAM reference array, MiB")
    args = p.parse_args()
    load = Load()
    model = ModelConfig(cell="lstm", num_layers=args.layers, hidden_size=args.hidden, embedding_dim=args.embedding)
    V = args.vocab
    engines = {e: make_engine(model, TrainConfig(engine=e, batch_size=1, num_steps=1), V) for e in ("numpy", "torch")}
    sd = engines["numpy"].state_dict()
    engines["torch"].load_state_dict(sd)
    shapes = param_shapes(model, V)
    read = sum(int(np.prod(s)) for k, s in shapes.items() if k != "embedding.weight") + args.embedding
    weight_bytes = 4 * read  # float32, per token
    fns = {"numpy engine": engine_loop(engines["numpy"], args.block),
           "torch engine": engine_loop(engines["torch"], args.block),
           "bare torch.nn.LSTM loop": bare_torch_loop({k: v.astype(np.float32) for k, v in sd.items()}, model, V,
                                                      args.block),
           "dram": array_sum(args.mib << 20), "weights-size": array_sum(weight_bytes)}
    with threads(args.threads):
        t = {k: median(v) for k, v in alternate(fns, args.rounds, args.iters, args.warmup).items()}
    dram, cache = (args.mib << 20) / t["dram"], weight_bytes / t["weights-size"]  # bytes/s
    print(header(f"generation at batch 1, LSTM {args.layers}x{args.hidden}, embedding {args.embedding}, V {V}: "
                 f"{weight_bytes / 2 ** 20:.1f} MiB of weights read per token", args.threads))
    print(f"# references: sum of {args.mib} MiB {dram / 1e9:.1f} GB/s (DRAM); sum of {weight_bytes / 2 ** 20:.1f} MiB "
          f"{cache / 1e9:.1f} GB/s (the weights' size)")
    print("| loop | tokens/s | / torch engine | GB/s of weights | of DRAM bandwidth | of weights-size bandwidth |")
    print("|---|---:|---:|---:|---:|---:|")
    ref = args.block / t["torch engine"]
    for name in ("numpy engine", "torch engine", "bare torch.nn.LSTM loop"):
        tps = args.block / t[name]
        bw = tps * weight_bytes
        print(f"| {name} | {tps:,.0f} | {tps / ref:.2f} | {bw / 1e9:.2f} | {bw / dram:.0%} | {bw / cache:.0%} |")
    print(load.end())


if __name__ == "__main__":
    main()
