"""What the training loop measures at every step, summed over a window of steps for metrics.jsonl.

Every step computes the global gradient norm (before clipping) for the clip; the meter keeps its mean
and maximum, the fraction of steps the clip was active, the training loss, and the throughput in
tokens per second of training time (fetching the batch, forward, backward and the update; evaluation
and checkpoints not included), over two windows: since the last training row ("log", written every
``train.log_every`` steps) and since the last evaluation ("eval").
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

    def add(self, tokens: int, seconds: float, loss: float, norm: float) -> None:
        for sums in self.windows.values():
            sums.add(tokens, seconds, loss, norm)

    def take(self, window: str, with_loss: bool = False) -> dict:
        """The window as metric fields (see _Sums.as_dict), then start it afresh."""
        sums = self.windows[window]
        out = sums.as_dict(with_loss)
        sums.reset()
        return out


class _Sums:
    """Sums over a window of steps."""

    def __init__(self, clip_value: float | None = None):
        self.clip_value = clip_value  # the max norm of clip="norm", else None (no clip fraction)
        self.reset()

    def reset(self) -> None:
        self.steps = 0  # steps in the window, skipped ones included
        self.tokens = 0  # training tokens in the window
        self.seconds = 0.0  # training time in the window
        self.norms = 0  # steps with a finite gradient norm
        self.norm_sum, self.norm_max, self.clipped = 0.0, 0.0, 0
        self.loss_sum, self.loss_tokens = 0.0, 0

    def add(self, tokens: int, seconds: float, loss: float, norm: float) -> None:
        """One step of ``tokens`` tokens that took ``seconds``, with its loss and gradient norm (a
        non-finite loss or norm, a skipped step, counts for time and tokens only)."""
        self.steps += 1
        self.tokens += tokens
        self.seconds += seconds
        if math.isfinite(norm):
            self.norms += 1
            self.norm_sum += norm
            self.norm_max = max(self.norm_max, norm)
            self.clipped += self.clip_value is not None and norm > self.clip_value
        if math.isfinite(loss) and math.isfinite(norm):
            self.loss_sum += loss * tokens
            self.loss_tokens += tokens

    def as_dict(self, with_loss: bool = False) -> dict:
        """The window as metric fields: grad_norm (mean), grad_norm_max, clipped (fraction of steps
        with a finite norm above the clip), tokens_per_s, and train_loss / train_ppl if ``with_loss``."""
        out: dict = {}
        if with_loss and self.loss_tokens:
            loss = self.loss_sum / self.loss_tokens
            out.update(train_loss=loss, train_ppl=math.exp(min(loss, 700.0)))
        if self.norms:
            out.update(grad_norm=self.norm_sum / self.norms, grad_norm_max=self.norm_max)
            if self.clip_value is not None:
                out["clipped"] = self.clipped / self.norms
        if self.seconds > 0:
            out["tokens_per_s"] = round(self.tokens / self.seconds, 1)
        return out
