"""Per-layer gradient norms during training (train.log_grad_norms, lm/gradnorms.py, curves.png's panel).

* ``layer_grad_norms`` groups canonical names by layer (embedding, l0 ... l{L-1} with their _reverse
  and LayerNorm parameters, head); the squares add up to the global norm;
* ``LMEngine.gradients`` gives the same gradients on both engines for the same weights and batch;
* the norms in metrics.jsonl are those of the engine's gradients of the same step, before clipping,
  in the training and the evaluation rows; with the flag off there are none;
* curves.png gets a panel of them against steps, on a log scale, one line per layer.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeprnn.lm.config import ModelConfig, TrainConfig
from deeprnn.lm.engines import make_engine
from deeprnn.lm.gradnorms import is_layer_key, layer_grad_norms, layer_of
from deeprnn.lm.plots import curves_figure, plot_curves
from deeprnn.lm.runs import read_config
from deeprnn.lm.train import Trainer
from lm_helpers import TINY_FLAGS, cli, metrics, no_plots, tiny_config, tiny_engine, write_corpus
from torch_helpers import needs_torch, torch_one_thread

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots and torch_one_thread  # fixtures, imported for use below

LAYERS = ["grad_norm_embedding", "grad_norm_l0", "grad_norm_l1", "grad_norm_head"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("gradnorms"), 900)


def _batch(V=11, T=6, B=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))


def _by_hand(grads: dict, layer: str) -> float:
    """The norm of one layer's gradients joined, from the names written out."""
    if layer == "head":
        names = ["head.weight", "head.bias"]
    elif layer == "embedding":
        names = ["embedding.weight"]
    else:
        names = [k for k in grads if k.startswith("rnn.") and (k.endswith(f"_{layer}") or f"_{layer}_" in k)]
    return float(np.linalg.norm(np.concatenate([np.ravel(grads[k]).astype(np.float64) for k in names])))


def test_names_group_by_layer_with_reverse_and_layer_norm_parameters():
    assert [layer_of(n) for n in ("embedding.weight", "rnn.weight_ih_l0", "rnn.bias_hh_l0_reverse",
                                  "rnn.ln_c_bias_l11", "rnn.weight_hr_l3_reverse", "head.bias")] == \
        ["embedding", "l0", "l0", "l11", "l3", "head"]
    with pytest.raises(ValueError, match="expected a recurrent parameter name ending in _l<k>, got 'rnn.weight'"):
        layer_of("rnn.weight")
    assert [is_layer_key(k) for k in ("grad_norm_l0", "grad_norm_l12", "grad_norm_head", "grad_norm_embedding",
                                      "grad_norm", "grad_norm_max", "grad_norm_lx")] == [True] * 4 + [False] * 3


@pytest.mark.parametrize("model", [dict(), dict(cell="gru", embedding_dim=0, num_layers=3, hidden_size=1),
                                   dict(layer_norm=True, num_layers=1), dict(cell="minlstm")])
def test_layer_norms_are_the_norms_of_the_engines_gradients_joined_by_layer(model):
    engine = tiny_engine(**model)
    engine.forward_backward(*_batch(), None)
    grads = engine.gradients()
    norms = layer_grad_norms(grads)
    L = model.get("num_layers", 2)
    expected = (["grad_norm_embedding"] if model.get("embedding_dim", 4) else []) + \
        [f"grad_norm_l{k}" for k in range(L)] + ["grad_norm_head"]
    assert list(norms) == expected
    for key, value in norms.items():
        assert value == pytest.approx(_by_hand(grads, key[len("grad_norm_"):]), rel=1e-12) and value > 0, key
    assert math.sqrt(sum(v * v for v in norms.values())) == pytest.approx(engine.grad_norm(), rel=1e-12)
    grads["head.bias"][...] = 7.0  # copies: the engine's own gradients are untouched
    assert not np.array_equal(engine.gradients()["head.bias"], grads["head.bias"])


@needs_torch
@pytest.mark.usefixtures("torch_one_thread")
@pytest.mark.parametrize("cell", ["lstm", "gru", "mingru"])
def test_both_engines_give_the_same_gradients(cell):
    model = ModelConfig(cell=cell, num_layers=2, hidden_size=5, embedding_dim=4)
    engines = [make_engine(model, TrainConfig(engine=e, dtype="float64", seed=2), 11) for e in ("numpy", "torch")]
    fresh = engines[1].gradients()
    assert sorted(fresh) == sorted(engines[0].gradients()) and not any(g.any() for g in fresh.values())  # zeros
    for e in engines:
        e.forward_backward(*_batch(), None)
    a, b = (e.gradients() for e in engines)
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=1e-9, atol=1e-12, err_msg=k)
    na, nb = layer_grad_norms(a), layer_grad_norms(b)
    assert list(na) == LAYERS and all(nb[k] == pytest.approx(na[k], rel=1e-9) for k in na)


def _recording_trainer(cfg, run):
    """A trainer whose engine records, for every step, the per-layer norms computed by hand from its
    gradients right after the backward (before clipping)."""
    trainer = Trainer(cfg, run, progress_bar=False, log=lambda msg: None)
    seen = []
    fb = trainer.engine.forward_backward

    def forward_backward(x, y, state):
        out = fb(x, y, state)
        grads = trainer.engine.gradients()
        seen.append({f"grad_norm_{layer}": _by_hand(grads, layer) for layer in ("embedding", "l0", "l1", "head")})
        seen[-1]["global"] = trainer.engine.grad_norm()
        return out

    trainer.engine.forward_backward = forward_backward
    return trainer, seen


def test_metrics_rows_carry_each_steps_layer_norms_before_clipping(corpus, tmp_path):
    cfg = tiny_config(corpus, model={"num_layers": 2}, max_steps=7, eval_every=3, log_every=2, clip_value=0.05)
    trainer, seen = _recording_trainer(cfg, tmp_path / "run")
    trainer.fit()
    rows = metrics(tmp_path / "run")
    assert [(r["step"], "val_loss" in r) for r in rows] == [(2, False), (3, True), (4, False), (6, False), (6, True),
                                                            (7, True)]  # 7: the closing evaluation at max_steps
    for r in rows:
        keys = [k for k in r if is_layer_key(k)]
        assert keys == LAYERS, r
        for k in keys:
            assert r[k] == pytest.approx(seen[r["step"] - 1][k], rel=1e-12), (r["step"], k)
        joined = math.sqrt(sum(r[k] ** 2 for k in keys))
        assert joined == pytest.approx(seen[r["step"] - 1]["global"], rel=1e-5) and joined > 0.05  # before the clip
    assert all(s["global"] > 0.05 for s in seen)  # the clip cut every step


def test_the_flag_turns_them_off(corpus, tmp_path, capsys):
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--max-steps", 4,
                       "--eval-every", 2, "--log-every", 1, "--no-log-grad-norms")
    assert code == 0, err
    assert read_config(tmp_path / "run").train.log_grad_norms is False
    rows = metrics(tmp_path / "run")
    assert len(rows) == 6 and all("grad_norm" in r for r in rows)
    assert not [k for r in rows for k in r if k.startswith("grad_norm_") and k != "grad_norm_max"]
    assert curves_figure(rows) is not None and len(curves_figure(rows).axes) == 1  # no panel without them
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "on", "--max-steps", 2,
                       "--eval-every", 2)
    assert code == 0 and read_config(tmp_path / "on").train.log_grad_norms is True  # on by default
    assert all({"grad_norm_embedding", "grad_norm_l0", "grad_norm_head"} <= set(r) for r in metrics(tmp_path / "on"))


def test_curves_png_gets_a_log_scale_panel_with_one_line_per_layer(corpus, tmp_path):
    import matplotlib.pyplot as plt

    cfg = tiny_config(corpus, model={"num_layers": 2}, max_steps=6, eval_every=3, log_every=1)
    trainer, _ = _recording_trainer(cfg, tmp_path / "run")
    trainer.fit()
    rows = metrics(tmp_path / "run")
    fig = curves_figure(rows)
    try:
        assert len(fig.axes) == 2
        panel = fig.axes[1]
        assert panel.get_yscale() == "log" and panel.get_xlabel() == "step"
        lines = {line.get_label(): line for line in panel.get_lines()}
        assert list(lines) == ["embedding", "l0", "l1", "head"]
        for name, line in lines.items():  # one point per step, the training and evaluation rows merged
            assert list(line.get_xdata()) == [1, 2, 3, 4, 5, 6]
            by_step = {r["step"]: r[f"grad_norm_{name}"] for r in rows}
            assert list(line.get_ydata()) == [by_step[s] for s in range(1, 7)]
    finally:
        plt.close(fig)
    plot_curves(tmp_path / "run" / "metrics.jsonl", tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
