"""Why a deep RNN learns or stalls: ``deeprnn diagnose TARGET`` (lm/commands/diagnose.py) in pieces.

    target.py    the weights to look at: a run folder's, or a preset's / config's (initial or trained)
    gates.py     each layer's gates, recomputed from its input and h_t
    measure.py   the measurements on real training batches: gradient flow ‖∂L/∂h_t⁽ˡ⁾‖, gradient and
                 weight norms, update/weight ratios, W_hh singular values, saturation, hidden-state RMS
    verdict.py   healthy | vanishing | exploding | saturated, the reason and the flag to try
    plots.py     gradient_flow.png, the heatmaps
    report.py    the JSON object and the readable report

    from deeprnn.lm.diagnose import diagnose
    from deeprnn.lm.diagnose.target import open_target
    result = diagnose(open_target("d2l-deep-rnn", {}), batches=2)   # the --json object, as a dict
"""

from __future__ import annotations

import math

from ..baselines import at_baseline, baselines, describe
from .measure import measure
from .report import summary
from .target import Target
from .verdict import head_bias_note, judge


def diagnose(target: Target, batches: int = 2, out_dir=None) -> dict:
    """Measure ``target`` on its first ``batches`` training batches (each from a zero state); with
    ``out_dir``, draw gradient_flow.png there. Returns the JSON-ready summary (report.summary)."""
    cfg, data = target.cfg, target.data
    it = data.train_batcher(cfg.train).iterate(start_step=0)
    taken = [next(it) for _ in range(batches)]
    pairs = [(b.x, b.y) for b in taken if b.x.shape == taken[0].x.shape]  # the d2l protocol's last batch is smaller
    m = measure(cfg.model, cfg.train, target.params, pairs)
    base = baselines(data, cfg.train)
    notes = _baseline_notes(target, m.loss, base)
    note = head_bias_note(m)
    if note:
        notes.append(note)
    v = judge(m, cfg.model, cfg.train, notes)
    info = {"target": target.source, "weights": target.weights, "model": describe_model(cfg.model),
            "cell": cfg.model.cell, "num_layers": cfg.model.num_layers, "hidden_size": cfg.model.hidden_size,
            "batch_size": pairs[0][0].shape[1], "num_steps": pairs[0][0].shape[0],
            "val_loss": target.val_loss, "train_loss": target.train_loss, "baselines": base,
            "baselines_line": describe(base, data.unit), "plot": None}
    result = summary(m, v, info)
    if out_dir is not None:
        from .plots import plot_flow

        title = f"{target.source}, {target.weights} weights: {v.kind}"
        result["plot"] = str(plot_flow(m.flow_mean, m.flow_last, out_dir, title))
    return result


def describe_model(m) -> str:
    cell = m.cell.upper() + (f" ({m.nonlinearity})" if m.cell == "rnn" else "")
    extras = [k for k in ("residual", "layer_norm") if getattr(m, k)]
    inp = f"embedding {m.embedding_dim}" if m.embedding_dim else "one-hot input"
    return f"{cell} {m.num_layers}x{m.hidden_size}, {inp}" + "".join(f", {k}" for k in extras)


def _baseline_notes(target: Target, batch_loss: float, base: dict) -> list:
    """Notes when a loss sits at the unigram baseline: the model has learned letter frequencies only."""
    notes = []
    ppl = base["unigram_train_ppl"]
    for what, loss, ref in (("the validation", target.val_loss, base["unigram_val_loss"]),
                            ("the training", target.train_loss, base["unigram_train_loss"]),
                            ("the measured batches'", batch_loss, base["unigram_train_loss"])):
        if loss is not None and at_baseline(loss, ref):
            notes.append(f"{what} loss, perplexity {math.exp(loss):.3f}, sits at the unigram baseline "
                         f"({math.exp(ref):.3f}; {ppl:.3f} on the training text): the model predicts the letter "
                         "frequencies and nothing else")
            break
    return notes
