"""What counts as a diverged run, and the one line that says so.

Training checks every step, not only at evaluations (lm/train.py):

* before the optimizer step, the loss and the gradient norm. A loss that is not finite, or that is
  absurd, or a gradient norm that is not finite, skips the step and resets the carried state; after
  ``train.max_bad_steps`` such steps in a row the run stops.
* after the optimizer step, the weights. A weight that is not finite, or absurd, stops the run at once:
  those weights are lost, and the last checkpoint (written only from weights that passed) is the good one.
* at each evaluation, the validation loss, by the loss rule: a failing one stops the run before it
  writes a checkpoint.

"Absurd", chosen so that normal training never comes near it:

* a loss above ``LOSS_FACTOR`` x ln V nats, the uniform model's loss (ln V, V the vocabulary size) a
  hundred times over: 464 nats for V = 104. Measured here on the builtin corpus (2x64 LSTM, GRU, tanh and
  relu RNNs; SGD up to lr 20, AdamW up to lr 0.2, with and without clipping), runs that recovered peaked
  at 8.3 x ln V (a relu RNN under AdamW at lr 0.05); runs that diverged reached 1e19 to 1e35 nats.
* a weight above ``WEIGHT_LIMIT`` = 1e6 in magnitude. The same runs kept every |w| below 11 (the
  initial embedding is N(0, 1), everything else at most 1/√H); diverged runs reached 1e28 after one step.

A gradient norm has no bound of its own: large gradients are what clipping is for, and their effect
shows in the weights and the next loss.

Checkpoint files are never written with a non-finite tensor (lm/checkpoint.py calls ``nonfinite``), and
a run whose weights are not finite cannot be evaluated or sampled from (lm/runs.py).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import DeeprnnError

LOSS_FACTOR = 100.0  # a loss above LOSS_FACTOR · ln V nats is absurd
WEIGHT_LIMIT = 1e6  # a weight above this in magnitude is absurd


class DivergenceError(DeeprnnError):
    """Weights or model outputs that are not finite: a run that diverged."""


def loss_limit(vocab_size: int) -> float:
    """The largest loss (nats per token) that is not absurd for this vocabulary."""
    return LOSS_FACTOR * math.log(max(vocab_size, 2))


def bad_loss(loss: float, limit: float) -> str | None:
    """Why this loss is unusable, or None."""
    if not math.isfinite(loss):
        return f"a loss of {loss} (not finite)"
    if loss > limit:
        return f"a loss of {loss:.4g} nats (above the limit of {limit:.0f} = {LOSS_FACTOR:g}·ln V)"
    return None


def bad_step(loss: float, grad_norm: float, limit: float) -> str | None:
    """Why this training step must be skipped, or None."""
    why = bad_loss(loss, limit)
    if why is None and not math.isfinite(grad_norm):
        why = f"a gradient norm of {grad_norm} (not finite)"
    return why


def bad_weights(max_abs: float) -> str | None:
    """Why weights whose largest magnitude is ``max_abs`` are unusable, or None."""
    if not math.isfinite(max_abs):
        return f"weights that are not finite ({max_abs})"
    if max_abs > WEIGHT_LIMIT:
        return f"a weight of magnitude {max_abs:.3g} (above the limit of {WEIGHT_LIMIT:.0e})"
    return None


def quiet_numerics():
    """NumPy's overflow and invalid-value warnings off (a context manager): the checks here report bad
    numbers, in one line, where those warnings would print several."""
    return np.errstate(over="ignore", invalid="ignore", divide="ignore")


def max_abs(arrays) -> float:
    """The largest |value| over NumPy arrays; nan if any value is nan (max and min propagate it)."""
    found = [v for a in arrays if a.size for v in (a.max(), -a.min())]
    return float(np.max(found)) if found else 0.0


def nonfinite(tensors: dict) -> str | None:
    """Which floating-point tensors hold NaN or infinity, e.g. "embedding.weight (2,240 NaN)", or None."""
    found = []
    for name, a in tensors.items():
        a = np.asarray(a)
        if a.dtype.kind != "f" or np.isfinite(a).all():
            continue
        nan = int(np.isnan(a).sum())
        inf = int(a.size - nan - np.isfinite(a).sum())
        counts = [f"{n:,} {what}" for n, what in ((nan, "NaN"), (inf, "infinite")) if n]
        found.append(f"{name} ({', '.join(counts)})")
    return ", ".join(found) if found else None


def check_weights(tensors: dict, source) -> None:
    """DivergenceError unless every weight loaded from ``source`` is finite."""
    bad = nonfinite(tensors)
    if bad:
        raise DivergenceError(f"{source}: expected finite weights, got non-finite values in {bad}: the run diverged; "
                              "train it again with a lower --lr or with clipping (--clip norm)")


def advice(cfg) -> str:
    """What to try after a divergence, for this RunConfig."""
    t, m = cfg.train, cfg.model
    tips = [f"a lower --lr (now {t.lr:g})"]
    if t.clip == "none":
        tips.append("clipping (--clip norm)")
    elif t.clip_value > 1:
        tips.append(f"a smaller --clip-value (now {t.clip_value:g})")
    if m.cell == "rnn" and m.nonlinearity == "relu":
        tips.append("--nonlinearity tanh")
    if t.optimizer in ("adam", "adamw") and t.eps < 1e-10:
        tips.append(f"a larger --eps (now {t.eps:g})")
    return "try " + (", ".join(tips[:-1]) + " or " + tips[-1] if len(tips) > 1 else tips[0])


def stop_message(what: str, step: int, run: Path, saved_step: int | None, best_step: int, cfg) -> str:
    """The one line a diverged run stops with: what happened, which checkpoint is good, what to try."""
    if saved_step is None:
        kept = "no checkpoint was written before it"
    else:
        kept = f"the checkpoint of step {saved_step} in {run} is intact"
        if best_step >= 0:
            kept += f" (best weights: step {best_step})"
    return f"training diverged at step {step}: {what}; {kept}; {advice(cfg)}"
