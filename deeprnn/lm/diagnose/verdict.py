"""The verdict in words, from a Measurement: healthy | vanishing | exploding | saturated, with the measured
reason and the flag to try. The rules, checked in this order:

    exploding   a gradient is not finite, or the last step's gradient grows going back: somewhere in
                (layer, time) it is more than GROWTH times the one leaving the loss (top layer, last step);
                or the mean loss's gradient reaching the first layer is more than GROWTH times the last's
    saturated   some layer has more than SATURATED of its tanh outputs at |y| > 0.99, or of its sigmoid
                gates below 0.01 or above 0.99, or of its relu units dead
    vanishing   the mean loss's gradient reaching the first layer is below DEPTH of the one reaching the
                last layer (averaged over time), or the last step's signal reaches the first layer at
                t = 0 at below REACH of the one leaving the loss
    healthy     none of these

At deeprnn's default init (U(-1/√H, 1/√H)) a 4-layer tanh RNN measures a depth ratio of about 0.3 and a
reach of about 3e-7 over 32 steps; at the d2l notebook's N(0, 0.01²) about 1.5e-3 and 6e-31.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import ModelConfig, TrainConfig
from .measure import Measurement

GROWTH = 1e2  # exploding: the gradient somewhere > 100 × the one leaving the loss
SATURATED = 0.9  # saturated: > 90% of a layer's tanh outputs, sigmoid gates or relu units
DEPTH = 1e-2  # vanishing: the first layer gets < 1% of the last layer's gradient
REACH = 1e-20  # vanishing: the last step's signal at (layer 1, t = 0) < 1e-20 of the one leaving the loss
SMALL_SIGMA = 0.5  # W_hh with largest singular values at most this: a small init (torch's default gives ~1.15)


@dataclass
class Verdict:
    kind: str  # "healthy" | "vanishing" | "exploding" | "saturated"
    reason: str  # the measured reason, in words
    flag: str | None  # the flag to try ("--init torch"), None when healthy
    notes: list  # further findings (the loss at the unigram baseline, only the head bias learning)

    def sentence(self) -> str:
        return f"{self.kind}: {self.reason}" + (f"; try {self.flag}" if self.flag else "")


def ratios(m: Measurement) -> dict:
    """depth (first layer / last layer, mean loss), reach ((layer 1, t=0) / (top, last step), last step's
    loss), growth (the largest / the one leaving the loss, last step's loss)."""
    leaving = m.flow_last[-1, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"depth": float(m.flow_mean[0].mean() / m.flow_mean[-1].mean()),
                "reach": float(m.flow_last[0, 0] / leaving), "growth": float(m.flow_last.max() / leaving)}


def judge(m: Measurement, model: ModelConfig, train: TrainConfig, notes: list | None = None) -> Verdict:
    r, notes = ratios(m), list(notes or [])
    sigmas = [s for layer in m.layers for s in layer.sigma_max.values() if math.isfinite(s)]
    finite = np.isfinite(m.flow_mean).all() and np.isfinite(m.flow_last).all() and math.isfinite(m.grad_norm)
    if not finite or r["growth"] > GROWTH or r["depth"] > GROWTH:
        reason = _exploding_reason(m, r, finite, train, sigmas)
        return Verdict("exploding", reason, _exploding_flag(train, sigmas), notes)
    sat = _saturation(m)
    if sat is not None:
        return Verdict("saturated", sat, _saturated_flag(model, train), notes)
    if r["depth"] < DEPTH or r["reach"] < REACH:
        return Verdict("vanishing", _vanishing_reason(m, r, model, sigmas), _vanishing_flag(model, sigmas), notes)
    return Verdict("healthy", f"the first layer gets {r['depth']:.2g} of the last layer's gradient and the last "
                   f"step's signal reaches layer 1 at t=0 at {r['reach']:.2g} of the one leaving the loss; no layer "
                   "is saturated", None, notes)


def _init_words(model: ModelConfig) -> str:
    init = getattr(model, "init", None)  # model.init, when this deeprnn has it
    if init is None:
        return ""
    std = getattr(model, "init_std", None)
    return f" (init {init}" + (f", std {std:g})" if init == "normal" and std is not None else ")")


def _vanishing_reason(m: Measurement, r: dict, model: ModelConfig, sigmas: list) -> str:
    L = len(m.layers)
    parts = [f"the gradient reaching layer 1 at t=0 is {r['reach']:.1e} of the one leaving the loss"]
    if L > 1:
        per = r["depth"] ** (1 / (L - 1))
        parts.append(f"layer 1 gets {r['depth']:.1e} of layer {L}'s gradient (×{per:.2g} per layer)")
    if sigmas:
        parts.append(f"every W_hh has largest singular value ≤ {max(sigmas):.2g}{_init_words(model)}")
    rms = [layer.rms for layer in m.layers]
    if L > 1 and rms[-1] < rms[0] / 10:
        parts.append("the hidden-state RMS falls from " + " to ".join(f"{v:.1e}" for v in rms) + " layer by layer")
    return "; ".join(parts)


def _vanishing_flag(model: ModelConfig, sigmas: list) -> str:
    if sigmas and max(sigmas) <= SMALL_SIGMA:
        return "--init torch"
    if not model.residual and model.num_layers > 1:
        return "--residual"
    return "--cell lstm" if model.cell == "rnn" else "--layer-norm"


def _exploding_reason(m: Measurement, r: dict, finite: bool, train: TrainConfig, sigmas: list) -> str:
    clip = "no clipping" if train.clip == "none" else f"clipping by {train.clip} at {train.clip_value:g}"
    if not finite:
        what = "a gradient is not finite (inf or nan)"
    else:
        what = (f"the gradient reaching layer 1 at t=0 is {r['reach']:.1e} times the one leaving the loss "
                f"(the largest is {r['growth']:.1e} times; layer 1 gets {r['depth']:.1e} times layer "
                f"{len(m.layers)}'s)")
    parts = [what, f"global gradient norm {m.grad_norm:.2g} ({clip})"]
    if sigmas:
        parts.append(f"W_hh largest singular values {min(sigmas):.2g} to {max(sigmas):.2g}")
    return "; ".join(parts)


def _exploding_flag(train: TrainConfig, sigmas: list) -> str:
    if train.clip == "none":
        return "--clip norm --clip-value 1"
    if sigmas and max(sigmas) > 2:
        return "--init torch"
    return f"--lr {train.lr / 10:g}"


def _saturated_flag(model: ModelConfig, train: TrainConfig) -> str:
    if getattr(model, "init", "torch") != "torch":  # model.init, when this deeprnn has it
        return "--init torch"
    return "--layer-norm" if not model.layer_norm else f"--lr {train.lr / 10:g}"


def _saturation(m: Measurement) -> str | None:
    found = []
    for i, layer in enumerate(m.layers, 1):
        for what, v in (("tanh outputs at |y| > 0.99", layer.tanh_saturated),
                        ("sigmoid gates below 0.01 or above 0.99", layer.sigmoid_saturated),
                        ("relu units dead", layer.dead_relu)):
            if v is not None and v > SATURATED:
                found.append(f"layer {i}: {100 * v:.0f}% of its {what}")
    return "; ".join(found) if found else None


def head_bias_note(m: Measurement) -> str | None:
    """"Only the head bias gets a usable gradient": every weight matrix's gradient is below 1e-3 of the head
    bias's (the biases of the layers are left out: their gradient is that of the gates, not of a weight)."""
    hb = m.grad_norms.get("head.bias", 0.0)
    weights = [v for k, v in m.grad_norms.items() if "weight" in k]
    if hb > 0 and weights and max(weights) < 1e-3 * hb:
        return (f"only the head bias gets a usable gradient: {hb:.2g}, while every weight matrix's is "
                f"≤ {max(weights):.1e}")
    return None
