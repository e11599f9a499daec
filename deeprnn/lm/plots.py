"""curves.png: training and validation perplexity against steps (matplotlib, no display needed)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works without a screen
import matplotlib.pyplot as plt  # noqa: E402

from .checkpoint import atomic_write  # noqa: E402


def plot_curves(metrics: Path, out: Path) -> None:
    rows = [json.loads(line) for line in Path(metrics).read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if "val_ppl" in r]
    if not rows:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    train = [(r["step"], r["train_ppl"]) for r in rows if "train_ppl" in r]
    if train:
        ax.plot(*zip(*train), marker=".", label="train (running mean, dropout on)")
    ax.plot([r["step"] for r in rows], [r["val_ppl"] for r in rows], marker=".", label="validation (whole split)")
    ax.set_xlabel("step")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    best = min(rows, key=lambda r: r["val_ppl"])
    ax.set_title(f"best validation perplexity {best['val_ppl']:.3f} at step {best['step']}")
    fig.tight_layout()
    atomic_write(Path(out), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
