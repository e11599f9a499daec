"""curves.png: training and validation perplexity against steps (matplotlib, no display needed).

The training curve comes from the training rows of metrics.jsonl (every train.log_every steps: the
mean loss since the row before), so a short run shows a curve, not a dot; runs logged before those
rows existed fall back to the training mean of each evaluation row.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works without a screen
import matplotlib.pyplot as plt  # noqa: E402

from .checkpoint import atomic_write  # noqa: E402


def curve_series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{"train": [(step, perplexity)], "val": [...]} from the rows of metrics.jsonl."""
    logged = [(r["step"], math.exp(min(r["loss"], 50))) for r in rows
              if "loss" in r and not r.get("skipped") and math.isfinite(r["loss"])]
    train = logged or [(r["step"], r["train_ppl"]) for r in rows if "val_ppl" in r and "train_ppl" in r]
    return {"train": train, "val": [(r["step"], r["val_ppl"]) for r in rows if "val_ppl" in r]}


def plot_curves(metrics: Path, out: Path) -> None:
    rows = [json.loads(line) for line in Path(metrics).read_text(encoding="utf-8").splitlines() if line.strip()]
    series = curve_series(rows)
    if not series["train"] and not series["val"]:
        return
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    if series["train"]:
        marker = "." if len(series["train"]) < 60 else None
        ax.plot(*zip(*series["train"]), marker=marker, linewidth=1, label="training (running mean, dropout on)")
    if series["val"]:
        ax.plot(*zip(*series["val"]), marker="o", label="validation (whole split)")
        step, best = min(series["val"], key=lambda p: p[1])
        ax.set_title(f"best validation perplexity {best:.3f} at step {step}")
    ax.set_xlabel("step")
    ax.set_ylabel("perplexity")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(Path(out), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
