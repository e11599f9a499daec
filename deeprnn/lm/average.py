"""Weight averaging for evaluation (train.ema): an exponential moving average of the parameters."""

from __future__ import annotations

import numpy as np

from ..checks import check_state_dict
from .checkpoint import CheckpointError


class WeightAverage:
    """An exponential moving average of the parameters (Polyak averaging), updated after every
    optimizer step: avg ← d·avg + (1 − d)·θ with d = min(decay, (1 + n) / (10 + n)) after n updates,
    so early averages are not dominated by the initial weights."""

    def __init__(self, params: dict, decay: float):
        self.params = {k: v.astype(np.float64) for k, v in params.items()}
        self.decay, self.n = decay, 0

    def update(self, params: dict) -> None:
        d = min(self.decay, (1 + self.n) / (10 + self.n))
        for k, v in params.items():
            a = self.params[k]
            a *= d
            a += (1 - d) * v
        self.n += 1

    def load(self, saved: dict, updates: int) -> None:
        shapes = {k: v.shape for k, v in self.params.items()}
        arrays = check_state_dict(saved, shapes, "a weight average (train.ema) of parameters", error=CheckpointError)
        self.params = {k: a.astype(np.float64) for k, a in arrays.items()}
        self.n = updates

    def __repr__(self) -> str:
        return f"WeightAverage(decay={self.decay}, updates={self.n})"
