"""minGRU and minLSTM against the LSTM at equal parameters: a training step and generation at batch 1.

    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_min_cells.py              # both engines, 1 thread
    python benchmarks/bench_min_cells.py --engines numpy --batch 64 --seq 128

The reference is the LSTM of the tinyshakespeare-lstm preset's size (2 layers, H 256, embedding 64,
65 symbols). Each min cell gets the hidden size whose model has the nearest total parameter count
(embedding + stack + head), printed beside it. For every engine, the training step (forward, backward,
clip, AdamW, float32; ``LMEngine`` as the trainer calls it) of each model is timed in alternating blocks
(--rounds blocks of --iters steps after --warmup), so a noisy neighbour slows all alike, and reported as
tokens/s (T·B over the median step) and as a ratio to the LSTM of the same engine, measured in the same
run. The min cells run with each form of the scan (numpy_engine/scan.py): sequential and the log-space
parallel one. Generation: ``engine.logits`` one token at a time with the state carried (what ``deeprnn
generate`` does, without sampling), tokens/s over --gen-tokens tokens.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from deeprnn import set_num_threads
from deeprnn.lm.config import ModelConfig, TrainConfig
from deeprnn.lm.engines import make_engine, param_shapes

MIN_CELLS = ("mingru", "minlstm")


def num_params(model: ModelConfig, V: int) -> int:
    return sum(int(np.prod(s)) for s in param_shapes(model, V).values())


def equal_hidden(cell: str, reference: ModelConfig, V: int) -> int:
    """The hidden size of ``cell`` whose model's parameter count is nearest the reference's."""
    target = num_params(reference, V)
    size = lambda H: num_params(ModelConfig(cell=cell, num_layers=reference.num_layers, hidden_size=H,  # noqa: E731
                                            embedding_dim=reference.embedding_dim), V)
    return min(range(1, 8 * reference.hidden_size), key=lambda H: abs(size(H) - target))


def set_scan(engine, scan: str) -> None:
    """The form of the scan in the engine's min-cell stack (a benchmark's reach into the engine)."""
    rnn = engine.rnn if engine.name == "numpy" else engine.module.rnn
    rnn.scan = scan


def cases(args) -> list[tuple]:
    """(label, ModelConfig, scan or None) for the LSTM and each min cell with each scan."""
    ref = ModelConfig(cell="lstm", num_layers=args.layers, hidden_size=args.hidden, embedding_dim=args.embedding)
    out = [("lstm", ref, None)]
    for cell in MIN_CELLS:
        m = ModelConfig(cell=cell, num_layers=args.layers, hidden_size=equal_hidden(cell, ref, args.vocab),
                        embedding_dim=args.embedding)
        out += [(f"{cell} {scan}", m, scan) for scan in ("sequential", "parallel")]
    return out


def build(engine_name: str, model: ModelConfig, scan, V: int):
    engine = make_engine(model, TrainConfig(engine=engine_name, batch_size=1, num_steps=1), V)
    if scan is not None:
        set_scan(engine, scan)
    return engine


def time_training(engines: dict, args) -> dict:
    rng = np.random.default_rng(0)
    x = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    y = rng.integers(0, args.vocab, (args.seq, args.batch))  # (T, B)
    times: dict = {k: [] for k in engines}
    for _ in range(args.rounds):
        for key, engine in engines.items():
            state = None
            for i in range(args.warmup + args.iters):
                t0 = time.perf_counter()
                _, state = engine.forward_backward(x, y, state)  # the state is carried, as in training
                engine.clip("norm", 1.0)
                engine.optimizer_step(1e-3)
                if i >= args.warmup:
                    times[key].append(time.perf_counter() - t0)
    return {k: x.size / statistics.median(v) for k, v in times.items()}


def time_generation(engines: dict, args) -> dict:
    out = {}
    for key, engine in engines.items():
        state = engine.initial_state(1)
        tok = np.zeros((1, 1), np.int64)
        for _ in range(10):  # warm-up
            _, state = engine.logits(tok, state)
        t0 = time.perf_counter()
        for i in range(args.gen_tokens):
            z, state = engine.logits(tok, state)  # (1, 1, V)
            tok[0, 0] = int(np.argmax(z[0, 0]))
        out[key] = args.gen_tokens / (time.perf_counter() - t0)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", nargs="+", default=["numpy", "torch"], choices=["numpy", "torch"])
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--hidden", type=int, default=256, help="the LSTM's hidden size")
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--vocab", type=int, default=65)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--gen-tokens", type=int, default=300)
    args = p.parse_args()
    todo = cases(args)
    print(f"# {platform.machine()}, numpy {np.__version__}, torch {torch.__version__}, {args.threads} thread(s), "
          f"L={args.layers} E={args.embedding} V={args.vocab} B={args.batch} T={args.seq}, AdamW + clip, float32; "
          f"{time.strftime('%Y-%m-%d %H:%M')}")
    torch.set_num_threads(args.threads)
    with set_num_threads(args.threads):  # BLAS threads
        for engine_name in args.engines:
            engines = {label: build(engine_name, m, scan, args.vocab) for label, m, scan in todo}
            train = time_training(engines, args)
            gen = time_generation(engines, args)
            print(f"\n## {engine_name} engine\n")
            print("| cell | H | parameters | train tokens/s | / LSTM | generate tokens/s (B=1) | / LSTM |")
            print("|---|---:|---:|---:|---:|---:|---:|")
            for label, m, _ in todo:
                print(f"| {label} | {m.hidden_size} | {num_params(m, args.vocab):,} | {train[label]:,.0f} | "
                      f"{train[label] / train['lstm']:.2f} | {gen[label]:,.0f} | {gen[label] / gen['lstm']:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
