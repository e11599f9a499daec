"""What a training counts as it goes: Progress, the record trainer_state.json keeps (a resume starts
from it), and LossWindow, the running means of the training loss."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .evaluate import Score


@dataclass
class Progress:
    """What trainer_state.json records besides the checksums and the RNG state."""

    step: int = 0  # completed training steps (batches consumed)
    tokens: int = 0  # training tokens consumed
    seconds: float = 0.0  # training wall time, summed over resumed sessions
    train_seconds: float = 0.0  # of which in training steps (batch, forward, backward, update): for tokens/s
    best_val_loss: float = math.inf
    best_step: int = -1
    bad_evals: int = 0  # evaluations in a row without improvement (early stopping)
    skipped: int = 0  # steps skipped by the NaN/Inf guard, in total
    ema_updates: int = 0  # updates of the weight average (train.ema)
    planned_steps: int = 0  # max_steps fitted to the time budget (lm/budget.py), kept by a resume; 0 = not fitted
    stop_reason: str = ""


class LossWindow:
    """Running mean of the training loss between evaluations, and since the last training row."""

    def __init__(self):
        self.reset()
        self.last = math.nan
        self.recent, self.recent_tokens = 0.0, 0

    def reset(self):
        self.total, self.tokens = 0.0, 0

    def add(self, loss: float, tokens: int):
        self.total += loss * tokens
        self.tokens += tokens
        self.recent += loss * tokens
        self.recent_tokens += tokens
        self.last = loss

    def take_recent(self) -> float | None:
        """The mean loss since the last call (None if no step counted), and start anew."""
        mean = self.recent / self.recent_tokens if self.recent_tokens else None
        self.recent, self.recent_tokens = 0.0, 0
        return mean

    def score(self) -> Score | None:
        return Score(self.total / self.tokens, self.tokens) if self.tokens else None

    def as_dict(self) -> dict:
        s = self.score()
        return {} if s is None else {"train_loss": s.loss, "train_ppl": s.perplexity, "train_bpc": s.bits}
