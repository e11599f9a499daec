"""curves.png: training and validation perplexity against steps (matplotlib, no display needed).

The training curve comes from the training rows of metrics.jsonl (every train.log_every steps: the
mean loss since the row before), so a short run shows a curve, not a dot; runs logged before those
rows existed fall back to the training mean of each evaluation row. When the rows carry per-layer
gradient norms (train.log_grad_norms, lm/gradnorms.py), a second panel draws them against steps, one
line per layer, on a log scale: a layer whose line sinks decades below the head's gets no signal.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works without a screen
import matplotlib.pyplot as plt  # noqa: E402

from .checkpoint import atomic_write  # noqa: E402
from .gradnorms import PREFIX, is_layer_key  # noqa: E402


def curve_series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{"train": [(step, perplexity)], "val": [...]} from the rows of metrics.jsonl."""
    logged = [(r["step"], math.exp(min(r["loss"], 50))) for r in rows
              if "loss" in r and not r.get("skipped") and math.isfinite(r["loss"])]
    train = logged or [(r["step"], r["train_ppl"]) for r in rows if "val_ppl" in r and "train_ppl" in r]
    return {"train": train, "val": [(r["step"], r["val_ppl"]) for r in rows if "val_ppl" in r]}


def grad_norm_series(rows: list[dict]) -> dict[str, list[tuple[int, float]]]:
    """{"grad_norm_l0": [(step, norm)], ...} from the rows of metrics.jsonl, embedding first, then the
    layers in order, then the head; one point per step (the training and the evaluation row of a step
    carry the same norms), positive finite values only (the scale is logarithmic)."""
    points: dict[str, dict[int, float]] = {}
    for r in rows:
        for key, value in r.items():
            if is_layer_key(key) and isinstance(value, (int, float)) and math.isfinite(value) and value > 0:
                points.setdefault(key, {})[r["step"]] = value
    order = sorted(points, key=lambda k: (k != PREFIX + "embedding", k == PREFIX + "head", len(k), k))
    return {k: sorted(points[k].items()) for k in order}


def curves_figure(rows: list[dict]):
    """The figure of curves.png (a matplotlib Figure), or None when the rows hold no curve."""
    series, norms = curve_series(rows), grad_norm_series(rows)
    if not series["train"] and not series["val"]:
        return None
    fig, axes = plt.subplots(2 if norms else 1, 1, figsize=(7, 7.4 if norms else 4.2), dpi=110, squeeze=False)
    ax = axes[0, 0]
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
    if norms:
        ax = axes[1, 0]
        for key, points in norms.items():
            ax.plot(*zip(*points), marker="." if len(points) < 60 else None, linewidth=1,
                    label=key[len(PREFIX):])
        ax.set_title("gradient norm of each layer, before clipping")
        ax.set_xlabel("step")
        ax.set_ylabel("L2 norm")
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small", ncol=min(len(norms), 6))
    fig.tight_layout()
    return fig


def plot_curves(metrics: Path, out: Path) -> None:
    rows = [json.loads(line) for line in Path(metrics).read_text(encoding="utf-8").splitlines() if line.strip()]
    fig = curves_figure(rows)
    if fig is None:
        return
    atomic_write(Path(out), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
