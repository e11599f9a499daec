"""What the training loop measures at every step besides the loss, summed over windows of steps.

Every step computes the global gradient norm (before clipping) for the clip; the meter keeps its mean
and maximum, the fraction of steps the clip cut, and the throughput in tokens per second of training
time (fetching the batch, forward, backward and the update; evaluation and checkpoints not included),
over two windows: since the last training row of metrics.jsonl ("log", every ``train.log_every``
steps) and since the last evaluation ("eval"). The training loss has its own running means in train.py.
"""

from __future__ import annotations

import math

from .config import TrainConfig

WINDOWS = ("log", "eval")


class StepMeter:
    """The steps since the last ``take(window)``, for each of WINDOWS."""

    def __init__(self, t: TrainConfig):
        limit = t.clip_value if t.clip == "norm" else None
        self.windows = {name: _Sums(limit) for name in WINDOWS}

    def add(self, tokens: int, seconds: float, norm: float) -> None:
        """One step of ``tokens`` tokens that took ``seconds``, with its gradient norm (a non-finite one,
        a skipped step, counts for time and tokens only)."""
        for sums in self.windows.values():
            sums.add(tokens, seconds, norm)

    def take(self, window: str) -> dict:
        """The window as metric fields (see _Sums.as_dict), then start it afresh."""
        sums = self.windows[window]
        out = sums.as_dict()
        sums.reset()
        return out


class _Sums:
    """Sums over a window of steps."""

    def __init__(self, clip_value: float | None = None):
        self.clip_value = clip_value  # the max norm of clip="norm", else None (no clip fraction)
        self.reset()

    def reset(self) -> None:
        self.tokens, self.seconds = 0, 0.0  # training tokens and time in the window
        self.norms, self.norm_sum, self.norm_max, self.clipped = 0, 0.0, 0.0, 0  # the finite gradient norms

    def add(self, tokens: int, seconds: float, norm: float) -> None:
        self.tokens += tokens
        self.seconds += seconds
        if math.isfinite(norm):
            self.norms += 1
            self.norm_sum += norm
            self.norm_max = max(self.norm_max, norm)
            self.clipped += self.clip_value is not None and norm > self.clip_value

    def as_dict(self) -> dict:
        """grad_norm (mean), grad_norm_max, clipped (the fraction of those steps whose norm the clip cut),
        tokens_per_s; only what the window has."""
        out: dict = {}
        if self.norms:
            out.update(grad_norm=self.norm_sum / self.norms, grad_norm_max=self.norm_max)
            if self.clip_value is not None:
                out["clipped"] = self.clipped / self.norms
        if self.seconds > 0:
            out["tokens_per_s"] = round(self.tokens / self.seconds, 1)
        return out
