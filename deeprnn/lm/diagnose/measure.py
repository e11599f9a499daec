"""What diagnose measures, on the NumPy engine in float64 from canonical parameters (any engine's), in
evaluation mode (no dropout), each batch from a zero state:

* gradient flow: ‖∂L/∂h_t⁽ˡ⁾‖ (Frobenius over the batch and the units) for every layer l and step t, the
  total gradient reaching h_t (from the layer above and from step t+1; the stack's backward ``record``),
  for L = the mean loss over all T·B targets and for L = the mean loss of the last step's B targets alone;
  (L, T) each, averaged over the batches;
* per parameter: the gradient norm (of the mean loss, averaged over the batches), the weight norm, and
  the update/weight ratio ‖Δθ‖/‖θ‖ of one optimizer step at train.lr from a fresh optimizer, after the
  configured clipping (update_step below);
* per layer: the largest singular value of each W_hh gate block, the hidden-state RMS, and saturation
  (gates.py): the fraction of tanh outputs with |y| > 0.99, of sigmoid gates below 0.01 or above 0.99,
  and of dead relu units (h = 0 at every step of every sequence measured).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ... import numpy_engine
from ..config import ModelConfig, TrainConfig
from ..engines.base import build_rnn, rnn_params
from ..engines.numpy import cross_entropy
from .gates import GATE_NAMES, layer_gates

TANH_EDGE, SIGMOID_EDGE = 0.99, 0.01  # |tanh| > 0.99; sigmoid < 0.01 or > 0.99


@dataclass
class LayerStats:
    sigma_max: dict  # gate -> largest singular value of its W_hh block (H, H); {} without W_hh
    rms: float  # sqrt(mean h²) over every step, sequence and unit
    tanh_saturated: float | None  # fraction of tanh outputs with |y| > 0.99 (None: none measured)
    sigmoid_saturated: float | None  # fraction of sigmoid gates < 0.01 or > 0.99
    dead_relu: float | None  # fraction of units whose h is 0 everywhere (relu RNN only)


@dataclass
class Measurement:
    flow_mean: np.ndarray  # (L, T) ‖∂L/∂h_t⁽ˡ⁾‖ of the mean loss over all steps
    flow_last: np.ndarray  # (L, T) the same for the loss of the last step alone
    loss: float  # the mean loss over the measured batches (nats per token)
    grad_norm: float  # global norm of the mean loss's gradient, before clipping
    grad_norms: dict  # canonical parameter name -> gradient norm
    weight_norms: dict  # name -> ‖θ‖
    update_ratios: dict  # name -> ‖Δθ‖ / ‖θ‖ (None where ‖θ‖ = 0)
    layers: list = field(default_factory=list)  # LayerStats per layer
    batches: int = 0
    tokens: int = 0


class _Sums:
    """Accumulators over batches."""

    def __init__(self, L: int, T: int):
        self.flow_mean, self.flow_last = np.zeros((L, T)), np.zeros((L, T))
        self.grads: dict = {}
        self.loss = 0.0
        self.sq, self.count = np.zeros(L), np.zeros(L)
        self.sat = {k: [[0.0, 0] for _ in range(L)] for k in ("tanh", "sigmoid")}  # [hits, entries]
        self.alive = [None] * L  # (H,) bool: units with h != 0 somewhere (relu)


def measure(model: ModelConfig, train: TrainConfig, params: dict, batches: list) -> Measurement:
    """``params``: canonical parameters (``engine.state_dict()``); ``batches``: [(x, y)] token ids (T, B)."""
    params = {k: np.asarray(v, np.float64) for k, v in params.items()}
    V, L = params["head.bias"].shape[0], model.num_layers
    rnn = build_rnn(numpy_engine, model, model.embedding_dim or V, dtype=np.float64,
                    state_dict=rnn_params(params))
    rnn.train(False)
    sums = _Sums(L, batches[0][0].shape[0])
    for x, y in batches:
        _one_batch(rnn, model, params, x, y, sums)
    n = len(batches)
    grads = {k: g / n for k, g in sums.grads.items()}
    norm = float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads.values())))
    updates = update_step(train, params, grads, norm)
    weight_norms = {k: float(np.linalg.norm(v)) for k, v in params.items()}
    layers = [_layer_stats(model, params, sums, layer) for layer in range(L)]
    return Measurement(sums.flow_mean / n, sums.flow_last / n, sums.loss / n, norm,
                       {k: float(np.linalg.norm(g)) for k, g in grads.items()}, weight_norms,
                       {k: (float(np.linalg.norm(u)) / weight_norms[k] if weight_norms[k] > 0 else None)
                        for k, u in updates.items()}, layers, n, int(sum(x.size for x, _ in batches)))


def _embed(model: ModelConfig, params: dict, x: np.ndarray) -> np.ndarray:
    if model.embedding_dim:
        return params["embedding.weight"][x]  # (T, B, E)
    return np.eye(params["head.bias"].shape[0])[x]  # (T, B, V)


def _one_batch(rnn, model: ModelConfig, params: dict, x, y, sums: _Sums) -> None:
    T, B = x.shape
    W, b = params["head.weight"], params["head.bias"]
    e = _embed(model, params, x)  # (T, B, I)
    outs: dict = {}
    out, _ = rnn(e, record=lambda layer, d, h: outs.__setitem__(layer, h))  # (T, B, H)
    z = out.reshape(T * B, -1) @ W.T + b  # (T·B, V)
    loss, dz = cross_entropy(z, y.reshape(-1))
    sums.loss += loss
    rnn.zero_grad()
    demb, _ = rnn.backward((dz @ W).reshape(T, B, -1), record=_flow(sums.flow_mean))  # (T, B, I)
    grads = {f"rnn.{k}": g.copy() for k, g in rnn.grads.items()}
    grads["head.weight"], grads["head.bias"] = dz.T @ out.reshape(T * B, -1), dz.sum(axis=0)
    if model.embedding_dim:
        grads["embedding.weight"] = np.zeros_like(params["embedding.weight"])
        np.add.at(grads["embedding.weight"], x.reshape(-1), demb.reshape(T * B, -1))  # into E rows
    for k, g in grads.items():
        sums.grads[k] = sums.grads.get(k, 0) + g
    _, dz_last = cross_entropy(z.reshape(T, B, -1)[-1], y[-1])  # the last step's B targets alone
    d_out = np.zeros_like(out)  # (T, B, H)
    d_out[-1] = dz_last @ W
    rnn(e)
    rnn.backward(d_out, record=_flow(sums.flow_last))
    _saturation(model, params, e, outs, sums)


def _flow(target: np.ndarray):
    """A backward record hook adding ‖dL/dh_t‖ over (B, H) of each layer into target (L, T)."""
    def keep(layer, direction, dh):  # dh (T, B, H)
        target[layer] += np.sqrt(np.einsum("tbh,tbh->t", dh, dh))
    return keep


def _saturation(model: ModelConfig, params: dict, e, outs: dict, sums: _Sums) -> None:
    below = None
    for layer in range(model.num_layers):
        h = outs[layer]  # (T, B, H)
        x = e if layer == 0 else below
        below = h + below if model.residual and layer > 0 else h  # what the next layer reads
        sums.sq[layer] += float(np.vdot(h, h))
        sums.count[layer] += h.size
        sfx = f"_l{layer}"
        p = {k[4:-len(sfx)]: v for k, v in params.items() if k.startswith("rnn.") and k.endswith(sfx)}
        acts = layer_gates(model.cell, model.nonlinearity, p, x, h, model.layer_norm)
        if acts["tanh"] is not None:
            _add(sums.sat["tanh"][layer], np.abs(acts["tanh"]) > TANH_EDGE)
        if acts["sigmoid"] is not None:
            s = acts["sigmoid"]
            _add(sums.sat["sigmoid"][layer], (s < SIGMOID_EDGE) | (s > 1 - SIGMOID_EDGE))
        if acts["relu"] is not None:
            alive = (acts["relu"] != 0).any(axis=(0, 1))  # (H,)
            sums.alive[layer] = alive if sums.alive[layer] is None else sums.alive[layer] | alive


def _add(acc: list, hits: np.ndarray) -> None:
    acc[0] += float(hits.sum())
    acc[1] += hits.size


def _layer_stats(model: ModelConfig, params: dict, sums: _Sums, layer: int) -> LayerStats:
    w_hh = params.get(f"rnn.weight_hh_l{layer}")
    sigma = {}
    if w_hh is not None:
        names = GATE_NAMES[model.cell]
        for name, block in zip(names, np.split(w_hh, len(names), axis=0)):  # (H, H) each
            sigma[name] = float(np.linalg.norm(block, 2)) if np.isfinite(block).all() else math.nan
    frac = {k: (v[layer][0] / v[layer][1] if v[layer][1] else None) for k, v in sums.sat.items()}
    alive = sums.alive[layer]
    return LayerStats(sigma, float(np.sqrt(sums.sq[layer] / sums.count[layer])), frac["tanh"], frac["sigmoid"],
                      None if alive is None else float(1 - alive.mean()))


def update_step(t: TrainConfig, params: dict, grads: dict, norm: float) -> dict:
    """Δθ of one step at t.lr from a fresh optimizer, after clipping the gradients as training does
    (by global norm: × clip_value / (norm + 1e-6) when below 1; by value: clamped). SGD (any momentum):
    Δθ = lr (g + wd θ). Adam and AdamW: the first step's bias-corrected moments are m̂ = g, v̂ = g², so
    Δθ = lr g / (|g| + eps) ≈ lr sign(g), plus lr wd θ (AdamW, decoupled; Adam adds wd θ to g first)."""
    scale = 1.0
    if t.clip == "norm" and np.isfinite(norm):
        scale = min(1.0, t.clip_value / (norm + 1e-6))
    out = {}
    for k, g in grads.items():
        g = np.clip(g, -t.clip_value, t.clip_value) if t.clip == "value" else g * scale
        w = params[k]
        if t.optimizer == "sgd":
            out[k] = t.lr * (g + t.weight_decay * w)
        else:
            g = g + t.weight_decay * w if t.optimizer == "adam" else g
            u = t.lr * g / (np.abs(g) + t.eps)
            out[k] = u + t.lr * t.weight_decay * w if t.optimizer == "adamw" else u
    return out
