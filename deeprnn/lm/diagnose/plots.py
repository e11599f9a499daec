"""gradient_flow.png: ‖∂L/∂h_t⁽ˡ⁾‖ as two heatmaps, layer × time, on log colour scales (matplotlib), each
with its own: for the mean loss over all steps, and for the loss of the last step alone. Zeros and
non-finite values are left blank (grey)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..requirements import require

FLOW_PNG = "gradient_flow.png"


def plot_flow(flow_mean: np.ndarray, flow_last: np.ndarray, out_dir, title: str) -> Path:
    """Write OUT_DIR/gradient_flow.png from two (L, T) maps; returns its path."""
    matplotlib = require("matplotlib", "deeprnn diagnose --out (the heatmap PNG)")
    matplotlib.use("Agg")  # files only; works without a screen
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from ..checkpoint import atomic_write

    maps = [np.where(np.isfinite(a) & (a > 0), a, np.nan) for a in (flow_mean, flow_last)]  # (L, T) each
    L, T = flow_mean.shape
    fig, axes = plt.subplots(1, 2, figsize=(11, 2.2 + 0.4 * L), dpi=90, sharey=True, layout="constrained")
    cmap = matplotlib.colormaps["viridis"].with_extremes(bad="0.8")
    for ax, a, name in zip(axes, maps, ("mean loss over all steps", "loss of the last step alone")):
        shown = a[np.isfinite(a)]
        lo, hi = (shown.min(), shown.max()) if shown.size else (1e-12, 1.0)
        im = ax.imshow(a, aspect="auto", origin="lower", cmap=cmap, norm=LogNorm(lo, max(hi, lo * 10)),
                       extent=(-0.5, T - 0.5, 0.5, L + 0.5), interpolation="nearest")
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("time step t")
        fig.colorbar(im, ax=ax, label="‖∂L/∂h_t‖ (its own scale)")
    axes[0].set_ylabel("layer")
    axes[0].set_yticks(range(1, L + 1))
    fig.suptitle(title, fontsize=10)
    out = Path(out_dir) / FLOW_PNG
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    atomic_write(out, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)
    return out
