"""diagnose's two outputs: one JSON object (``as_json``: non-finite numbers become null, so it is valid
JSON) and a readable report (``as_text``)."""

from __future__ import annotations

import math

import numpy as np

from .measure import Measurement
from .verdict import Verdict, ratios

COLUMNS = 6  # time steps shown per row of the text report's gradient table


def clean(x):
    """x with every nan/inf replaced by None (recursively): valid JSON."""
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [clean(v) for v in x]
    if isinstance(x, np.ndarray):
        return clean(x.tolist())
    if isinstance(x, (float, np.floating)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def layer_of(name: str) -> int | None:
    """0-based layer of a canonical parameter name (rnn.weight_hh_l2 -> 2), None for the others."""
    if not name.startswith("rnn.") or "_l" not in name:
        return None
    return int(name.rsplit("_l", 1)[1].split("_")[0])


def summary(m: Measurement, v: Verdict, info: dict) -> dict:
    """Everything, as one JSON-ready dict; ``info`` holds the target's description and the baselines."""
    params = {k: {"grad_norm": m.grad_norms[k], "weight_norm": m.weight_norms[k], "update_ratio": m.update_ratios[k]}
              for k in m.grad_norms}
    layers = []
    for i, layer in enumerate(m.layers):
        layers.append({"layer": i + 1, "hidden_rms": layer.rms, "tanh_saturated": layer.tanh_saturated,
                       "sigmoid_saturated": layer.sigmoid_saturated, "dead_relu": layer.dead_relu,
                       "sigma_max_w_hh": layer.sigma_max,
                       "params": {k: p for k, p in params.items() if layer_of(k) == i}})
    out = {**info, "batches": m.batches, "tokens": m.tokens, "loss": m.loss, "ppl": _exp(m.loss),
           "global_grad_norm": m.grad_norm,
           "gradient_flow": {"mean_loss": m.flow_mean, "last_step": m.flow_last, **ratios(m)},
           "layers": layers, "other_params": {k: p for k, p in params.items() if layer_of(k) is None},
           "verdict": v.kind, "reason": v.reason, "flag": v.flag, "sentence": v.sentence(), "notes": v.notes}
    return clean(out)


def _exp(loss: float) -> float:
    return math.exp(loss) if loss < 700 else math.inf


def _g(x) -> str:
    return "-" if x is None else f"{x:.1e}"


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def as_text(s: dict) -> str:
    """The readable report of ``summary``'s dict."""
    lines = [f"diagnose: {s['target']}, {s['weights']} weights; {s['model']}; {s['batches']} training batch"
             f"{'es' if s['batches'] != 1 else ''} of {s['batch_size']}x{s['num_steps']}, measured on the numpy "
             "engine in float64",
             f"loss on these batches: {_num(s['loss'], '.4f')} nats/token (perplexity {_num(s['ppl'], '.3f')}); "
             + s["baselines_line"]]
    if s.get("val_loss") is not None:
        v = s["val_loss"]
        lines.append(f"validation loss of these weights: {v:.4f} nats/token (perplexity {math.exp(v):.3f})")
    flow = s["gradient_flow"]
    T = len(flow["mean_loss"][0])
    shown = sorted({round(i * (T - 1) / (COLUMNS - 1)) for i in range(COLUMNS)}) if T > COLUMNS else list(range(T))
    for key, name in (("mean_loss", "mean loss over all steps"), ("last_step", "loss of the last step alone")):
        lines.append(f"‖∂L/∂h_t‖ for the {name}:")
        lines.append(" " * 10 + "".join(f"{'t=' + str(t):>10}" for t in shown))
        for i in reversed(range(len(flow[key]))):
            lines.append(f"  layer {i + 1:<2}" + "".join(f"{_g(flow[key][i][t]):>10}" for t in shown))
    lines.append(f"first layer / last layer (mean loss): {_g(flow['depth'])}; (layer 1, t=0) / (top, last step): "
                 f"{_g(flow['reach'])}; global gradient norm {_g(s['global_grad_norm'])}")
    lines.append("layer  h RMS    |tanh|>0.99  sigmoid<0.01|>0.99  dead relu  σmax(W_hh) by gate      "
                 "‖∇W_ih‖  ‖∇W_hh‖  Δ/W of W_ih, W_hh")
    for layer in reversed(s["layers"]):
        p = layer["params"]
        i = layer["layer"] - 1
        w_ih, w_hh = p.get(f"rnn.weight_ih_l{i}", {}), p.get(f"rnn.weight_hh_l{i}", {})
        sig = " ".join(f"{k}={'-' if v is None else format(v, '.2g')}" for k, v in layer["sigma_max_w_hh"].items())
        lines.append(f"{layer['layer']:<6} {_g(layer['hidden_rms']):<8} {_pct(layer['tanh_saturated']):<12} "
                     f"{_pct(layer['sigmoid_saturated']):<20}{_pct(layer['dead_relu']):<10} {sig or '-':<23} "
                     f"{_g(w_ih.get('grad_norm')):<8} {_g(w_hh.get('grad_norm')):<8} "
                     f"{_g(w_ih.get('update_ratio'))}, {_g(w_hh.get('update_ratio'))}")
    others = ", ".join(f"{k} {_g(p['grad_norm'])}" for k, p in s["other_params"].items())
    lines.append(f"gradient norms outside the layers: {others}")
    lines.append(f"verdict: {s['sentence']}")
    lines += [f"note: {n}" for n in s["notes"]]
    if s.get("plot"):
        lines.append(f"heatmap: {s['plot']}")
    return "\n".join(lines)


def _num(x, fmt: str) -> str:
    return "inf" if x is None else format(x, fmt)
