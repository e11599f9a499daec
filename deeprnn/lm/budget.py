"""Fitting a run to its time budget: measure the first steps, then fix max_steps to what fits.

A time budget alone would stop a run partway through its cosine schedule, with the learning rate still
high. With ``train.fit_budget`` (the default), the trainer times the first steps of a run that has a
time budget, then sets max_steps to the steps that fit in what is left of it:

    steps_left = (margin · remaining - eval_s) / (step_s + eval_s / eval_every)

where step_s is the mean time of a training step (the first step, which pays for warm-up, left out),
eval_s the estimated time of one validation (its tokens at a third of the training cost per token:
forward only) and margin = 0.97 leaves room for checkpoints. The result is recorded in the run
(``progress.planned_steps`` in trainer_state.json, saved at once), so the schedule decays over it and a
resumed run keeps it: a resume is exact, and a run of a slower or busier machine still finishes its
decay. Once fitted, the budget stops the run only if it overruns by more than GRACE (the machine became
much slower).
"""

from __future__ import annotations

import math

MARGIN = 0.97  # of the remaining budget: checkpoints, plots, timing noise
GRACE = 1.10  # a fitted run stops at the budget times this, if it has not reached its steps
EVAL_COST = 1 / 3  # time per validation token, as a fraction of a training token's (forward only)
PROBE_FRACTION = 0.05  # time the first steps for this fraction of the budget ...
PROBE_MAX_SECONDS = 60.0  # ... but at most this long ...
PROBE_MIN_STEPS = 5  # ... and at least this many steps after the first


class BudgetPlanner:
    """Collects step times until there are enough, then answers the fitted max_steps (once)."""

    def __init__(self, budget: float):
        self.budget = budget
        self.times: list[float] = []  # seconds of each step of this session, the first one included

    def add(self, seconds: float) -> None:
        self.times.append(seconds)

    def ready(self, elapsed: float) -> bool:
        """Enough steps timed: PROBE_MIN_STEPS after the first, and PROBE_FRACTION of the budget (capped)."""
        probe = min(PROBE_FRACTION * self.budget, PROBE_MAX_SECONDS)
        return len(self.times) > PROBE_MIN_STEPS and elapsed >= probe

    @property
    def step_seconds(self) -> float:
        timed = self.times[1:]  # the first step pays for warm-up (allocations, JIT, caches)
        return sum(timed) / len(timed)

    def fit(self, step: int, elapsed: float, max_steps: int, batch_tokens: int, val_tokens: int,
            eval_every: int) -> int:
        """The max_steps that fits: at most ``max_steps``, at least one more than ``step``."""
        return fit_steps(step, self.budget - elapsed, self.step_seconds, batch_tokens, val_tokens, eval_every,
                         max_steps)


def fit_steps(step: int, remaining: float, step_s: float, batch_tokens: int, val_tokens: int, eval_every: int,
              max_steps: int) -> int:
    """The last step of a run at ``step`` with ``remaining`` seconds (formula in the module docstring)."""
    eval_s = val_tokens * EVAL_COST * step_s / max(1, batch_tokens)
    left = (MARGIN * remaining - eval_s) / (step_s + eval_s / max(1, eval_every))
    return max(step + 1, min(max_steps, step + math.floor(max(0.0, left))))


def describe_fit(planned: int, max_steps: int, step_s: float, budget: float) -> str:
    """The log line that says what was fitted."""
    return (f"[train] time budget {budget:g} s: {step_s:.3g} s/step measured, so max_steps is {planned:,} "
            f"(the config asked for {max_steps:,}); recorded in the run, the schedule decays over it")
