"""compare.png: the validation perplexity of every run against steps and against seconds, overlaid."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; works without a screen
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

from ..checkpoint import atomic_write  # noqa: E402


def plot_comparison(rows, out: Path, title: str = "") -> bool:
    """Draw the rows' validation curves (table.Row.curve) into ``out``; False when no run has any."""
    drawn = [r for r in rows if r.curve]
    if not drawn:
        return False
    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4.4), dpi=110, sharey=True)
    for r in drawn:
        steps, seconds, ppl = zip(*r.curve)
        label = ", ".join(f"{k}={v}" for k, v in r.cell.labels().items())
        line, = by_step.plot(steps, ppl, marker=".", label=label)
        by_time.plot(seconds, ppl, marker=".", color=line.get_color(), label=label)
    by_step.set_xlabel("step")
    by_time.set_xlabel("seconds (wall time, evaluation included)")
    by_step.set_ylabel("validation perplexity")
    values = [p for r in drawn for _, _, p in r.curve]
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax in (by_step, by_time):
        ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
    by_step.yaxis.set_major_formatter(plain)  # 3, 10, 20 rather than 3x10^0 ...
    by_step.yaxis.set_minor_formatter(plain if max(values) < 10 * min(values) else NullFormatter())
    by_step.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    atomic_write(Path(out), lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return True
