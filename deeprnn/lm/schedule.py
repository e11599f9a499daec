"""Learning-rate schedules: pure functions of the optimizer step, so a resumed run continues exactly."""

from __future__ import annotations

import math

from .config import TrainConfig


def learning_rate(step: int, t: TrainConfig) -> float:
    """The learning rate for training step ``step`` (0-based).

    constant:  lr
    step:      lr · gamma^(step // step_size)
    cosine:    lr · (step + 1) / warmup_steps during warm-up, then from lr down to min_lr along half a
               cosine, reaching min_lr at max_steps
    """
    if t.schedule == "constant":
        return t.lr
    if t.schedule == "step":
        return t.lr * t.gamma ** (step // t.step_size)
    if step < t.warmup_steps:
        return t.lr * (step + 1) / t.warmup_steps
    progress = min(1.0, (step - t.warmup_steps) / max(1, t.max_steps - t.warmup_steps))
    return t.min_lr + 0.5 * (t.lr - t.min_lr) * (1.0 + math.cos(math.pi * progress))
