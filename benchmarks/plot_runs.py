"""Validation curves of several run folders in one picture, and their table: the README's Tiny Shakespeare
attempts.

    python benchmarks/plot_runs.py runs/ts-np "LSTM 2x256, numpy" runs/ts-torch "LSTM 2x256, torch" \\
        --target 1.47 --out docs/tinyshakespeare.png

Left: validation loss (nats per character, the whole split) against wall seconds; right: against
training tokens, which does not depend on how busy the machine was. The table (markdown) gives each
run's engine, model, steps, tokens, wall seconds, training tokens/s and best validation loss.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path


def evaluations(run: Path) -> list[dict]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if "val_loss" in r]


def describe(run: Path) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    m, t = cfg["model"], cfg["train"]
    options = "+".join(k for k in ("residual", "layer_norm") if m.get(k))
    rows = evaluations(run)
    best = min(rows, key=lambda r: r["val_loss"])
    last = rows[-1]
    return {"engine": t["engine"], "model": f"{m['cell'].upper()} {m['num_layers']}x{m['hidden_size']}"
            + (f" {options}" if options else ""), "steps": last["step"], "tokens": last["tokens"],
            "seconds": last["seconds"], "best": best["val_loss"], "best_step": best["step"],
            "tokens_per_s": last["tokens"] / last["seconds"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("pairs", nargs="+", help="RUN LABEL RUN LABEL ...")
    p.add_argument("--target", type=float, default=None, help="draw this validation loss as a line")
    p.add_argument("--out", default="runs.png")
    args = p.parse_args()
    if len(args.pairs) % 2:
        p.error("expected pairs of RUN LABEL")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    print("| run | engine | model | steps | tokens | wall s | tokens/s (wall) | best val loss (nats/char) | ppl |")
    print("|---|---|---|---:|---:|---:|---:|---:|---:|")
    for run, label in zip(args.pairs[::2], args.pairs[1::2]):
        run = Path(run)
        rows = evaluations(run)
        a.plot([r["seconds"] for r in rows], [r["val_loss"] for r in rows], "o-", label=label)
        b.plot([r["tokens"] / 1e6 for r in rows], [r["val_loss"] for r in rows], "o-", label=label)
        d = describe(run)
        print(f"| {label} | {d['engine']} | {d['model']} | {d['steps']:,} | {d['tokens']:,} | {d['seconds']:,.0f} | "
              f"{d['tokens_per_s']:,.0f} | {d['best']:.4f} (step {d['best_step']:,}) | {math.exp(d['best']):.3f} |")
    for ax, xlabel in ((a, "wall seconds"), (b, "training tokens (millions)")):
        if args.target:
            ax.axhline(args.target, color="grey", linestyle="--", linewidth=1, label=f"target {args.target}")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    a.set_ylabel("validation loss (nats/char)")
    a.legend(fontsize=8)
    fig.suptitle("Tiny Shakespeare: validation loss over the whole validation split")
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
