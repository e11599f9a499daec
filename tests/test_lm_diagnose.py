"""deeprnn diagnose: exact gradient flow (against torch autograd), the measurements, the verdicts on small
models, and the command's outputs and errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from deeprnn.lm.baselines import baselines
from deeprnn.lm.config import ModelConfig, RunConfig, TrainConfig, merge
from deeprnn.lm.data import prepare_data
from deeprnn.lm.diagnose import diagnose
from deeprnn.lm.diagnose.gates import layer_gates
from deeprnn.lm.diagnose.measure import measure
from deeprnn.lm.diagnose.report import as_text
from deeprnn.lm.diagnose.target import Target
from deeprnn.lm.engines import make_engine
from deeprnn.lm.engines.base import init_params, rnn_params
from lm_helpers import assert_one_line_error, cli, no_plots, train_cli_run, write_corpus
from stack_reference import torch, torch_stack_grads

assert no_plots  # a fixture
pytestmark = pytest.mark.usefixtures("no_plots")

MODES = {"rnn": "RNN_TANH", "gru": "GRU", "lstm": "LSTM"}


def notebook_init(params: dict, std: float = 0.01, seed: int = 0) -> dict:
    """The d2l scratch notebook's initialisation: every weight from N(0, std²), every bias zero."""
    rng = np.random.default_rng(seed)
    return {k: rng.normal(0.0, std, v.shape) if "weight" in k else np.zeros_like(v) for k, v in params.items()}


# ---- exact: ‖∂L/∂h_t⁽ˡ⁾‖ equals torch autograd's ------------------------------------------------------


@pytest.mark.parametrize("cell", sorted(MODES))
@pytest.mark.parametrize("T, B, H, L", [(6, 3, 4, 3), (1, 1, 1, 1), (1, 2, 3, 2), (4, 1, 1, 2)])
def test_gradient_flow_equals_torch_retain_grad(cell, T, B, H, L):
    V = 5
    model = ModelConfig(cell=cell, num_layers=L, hidden_size=H, embedding_dim=0)
    params = init_params(model, V, seed=3)
    rng = np.random.default_rng([T, B, H, L])
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    m = measure(model, TrainConfig(), params, [(x, y)])
    W, b = torch.tensor(params["head.weight"]), torch.tensor(params["head.bias"])
    onehot = np.eye(V)[x]  # (T, B, V)
    ce = torch.nn.functional.cross_entropy

    def mean_loss(out, finals):
        return ce((out @ W.T + b).reshape(T * B, V), torch.tensor(y.reshape(-1)))

    def last_loss(out, finals):
        return ce(out[-1] @ W.T + b, torch.tensor(y[-1]))

    for loss_fn, got in ((mean_loss, m.flow_mean), (last_loss, m.flow_last)):
        grads, _ = torch_stack_grads(MODES[cell], rnn_params(params), onehot, L, loss_fn)  # (L, T, B, H)
        want = np.sqrt((grads ** 2).sum(axis=(2, 3)))  # (L, T)
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-300)
    assert m.flow_last[:, :-1].any() or T == 1  # the last step's signal reaches back


def test_measurements_of_two_batches_are_their_means():
    model = ModelConfig(cell="gru", num_layers=2, hidden_size=3, embedding_dim=2)
    params = init_params(model, 4, seed=0)
    rng = np.random.default_rng(0)
    batches = [(rng.integers(0, 4, (3, 2)), rng.integers(0, 4, (3, 2))) for _ in range(2)]
    both = measure(model, TrainConfig(), params, batches)
    one = [measure(model, TrainConfig(), params, [b]) for b in batches]
    np.testing.assert_allclose(both.flow_mean, (one[0].flow_mean + one[1].flow_mean) / 2, rtol=1e-12)
    assert both.loss == pytest.approx((one[0].loss + one[1].loss) / 2, rel=1e-12)
    assert both.tokens == 12 and both.batches == 2


@pytest.mark.parametrize("optimizer, clip", [("adam", "norm"), ("adamw", "none"), ("sgd", "norm"), ("sgd", "value")])
def test_update_ratio_is_the_first_optimizer_step(optimizer, clip):
    """The update/weight ratio is that of the engine's own first step: forward_backward, clip, step at lr."""
    model = ModelConfig(cell="lstm", num_layers=2, hidden_size=4, embedding_dim=3)
    train = TrainConfig(dtype="float64", optimizer=optimizer, lr=0.05, clip=clip, clip_value=0.01, weight_decay=0.1)
    engine = make_engine(model, train, 6)
    before = engine.state_dict()
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, 6, (5, 3)), rng.integers(0, 6, (5, 3))
    m = measure(model, train, before, [(x, y)])
    engine.forward_backward(x, y, None)
    assert m.grad_norm == pytest.approx(engine.grad_norm(), rel=1e-10)
    engine.clip(train.clip, train.clip_value)
    engine.optimizer_step(train.lr)
    after = engine.state_dict()
    for k, w in before.items():
        want = np.linalg.norm(after[k] - w) / np.linalg.norm(w)
        assert m.update_ratios[k] == pytest.approx(want, rel=1e-9), k
        assert m.weight_norms[k] == pytest.approx(np.linalg.norm(w))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_recomputed_gates_give_back_the_engines_h(cell):
    import deeprnn.numpy_engine as ne

    rnn = (ne.GRU if cell == "gru" else ne.LSTM)(3, 4, dtype=np.float64, seed=2)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    h, _ = rnn(x)
    acts = layer_gates(cell, "tanh", {k[:-3]: v for k, v in rnn.params.items()}, x, h, False)
    np.testing.assert_allclose(acts["h"], h, rtol=1e-12, atol=1e-15)
    assert acts["sigmoid"].shape == (5, 2, 4 * (2 if cell == "gru" else 3))


def test_saturation_and_rms_are_direct_counts():
    model = ModelConfig(cell="rnn", num_layers=1, hidden_size=6, embedding_dim=0)
    params = init_params(model, 4, seed=0)
    params["rnn.weight_ih_l0"] *= 20  # many |h| > 0.99
    x = np.random.default_rng(0).integers(0, 4, (7, 3))
    m = measure(model, TrainConfig(), params, [(x, x)])
    import deeprnn.numpy_engine as ne

    rnn = ne.RNN(4, 6, dtype=np.float64, state_dict=rnn_params(params))
    h, _ = rnn(np.eye(4)[x])
    assert m.layers[0].tanh_saturated == pytest.approx(float((np.abs(h) > 0.99).mean()))
    assert 0 < m.layers[0].tanh_saturated < 1
    assert m.layers[0].rms == pytest.approx(float(np.sqrt((h ** 2).mean())))
    assert m.layers[0].sigmoid_saturated is None and m.layers[0].dead_relu is None
    w = params["rnn.weight_hh_l0"]
    assert m.layers[0].sigma_max == {"h": pytest.approx(np.linalg.svd(w, compute_uv=False)[0])}


# ---- verdicts on small models ---------------------------------------------------------------------------


def small_target(tmp_path, params=None, model=None, train=None, **kw) -> Target:
    """A 4-layer tanh RNN, H 32, one-hot, on a small text; its default-init weights unless ``params``
    (a function of the default ones)."""
    cfg = merge(RunConfig(), {"data": {"corpus": [str(write_corpus(tmp_path, 3000))], "splits": [0.8, 0.2, 0.0]},
                              "model": {"cell": "rnn", "num_layers": 4, "hidden_size": 32, "embedding_dim": 0,
                                        **(model or {})},
                              "train": {"batch_size": 16, "num_steps": 16, "optimizer": "adam", "lr": 1e-3,
                                        "threads": 1, **(train or {})}}, "test")
    data = prepare_data(cfg.data, cfg.train)
    p = init_params(cfg.model, len(data.vocab), cfg.train.seed)
    return Target(cfg, data, params(p) if params else p, "test", "initial", **kw)


def test_the_notebook_init_is_vanishing(tmp_path):
    r = diagnose(small_target(tmp_path, notebook_init), batches=1)
    assert r["verdict"] == "vanishing", r["sentence"]
    assert r["flag"] == "--init torch"
    rms = [layer["hidden_rms"] for layer in r["layers"]]
    assert all(b < a / 3 for a, b in zip(rms, rms[1:])), rms  # falls layer by layer
    assert "largest singular value ≤" in r["reason"] and "hidden-state RMS falls" in r["reason"]
    assert any("only the head bias" in n for n in r["notes"])
    assert r["gradient_flow"]["depth"] < 1e-2


def test_the_default_init_is_healthy(tmp_path):
    r = diagnose(small_target(tmp_path), batches=1)
    assert r["verdict"] == "healthy", r["sentence"]
    assert r["flag"] is None and r["notes"] == []


def test_a_relu_rnn_with_large_init_and_no_clipping_is_exploding(tmp_path):
    r = diagnose(small_target(tmp_path, lambda p: {k: 5 * v for k, v in p.items()}, {"nonlinearity": "relu"},
                              {"clip": "none"}), batches=1)
    assert r["verdict"] == "exploding", r["sentence"]
    assert r["flag"] == "--clip norm --clip-value 1" and "no clipping" in r["reason"]
    assert r["gradient_flow"]["growth"] > 1e2


def test_an_overflowing_model_is_exploding_in_valid_json(tmp_path):
    r = diagnose(small_target(tmp_path, lambda p: {k: 400 * v for k, v in p.items()}, {"nonlinearity": "relu"},
                              {"clip": "none"}), batches=1)
    assert r["verdict"] == "exploding"
    text = json.dumps(r, allow_nan=False)  # no NaN or Infinity tokens
    assert json.loads(text)["verdict"] == "exploding"
    assert "verdict: exploding: " in as_text(r)  # the readable report copes with the nulls


def test_large_biases_saturate(tmp_path):
    def big_bias(p):  # |b| = 5 pins tanh(·) near ±1 whatever the input (large weights would explode instead)
        return {k: 5 * np.sign(v) if k.startswith("rnn.bias_ih") else v for k, v in p.items()}

    r = diagnose(small_target(tmp_path, big_bias), batches=1)
    assert r["verdict"] == "saturated", r["sentence"]
    assert all(layer["tanh_saturated"] > 0.9 for layer in r["layers"])
    assert "layer 1: " in r["reason"] and "% of its tanh outputs at |y| > 0.99" in r["reason"]
    assert r["flag"] == "--layer-norm"


def test_a_validation_loss_at_the_unigram_baseline_is_noted(tmp_path):
    t = small_target(tmp_path)
    unigram = baselines(t.data, t.cfg.train)["unigram_val_loss"]
    t.val_loss = unigram + 0.001
    r = diagnose(t, batches=1)
    assert any(n.startswith("the validation loss") and "unigram baseline" in n for n in r["notes"]), r["notes"]
    assert r["baselines"]["unigram_val_loss"] == pytest.approx(unigram)


# ---- the command ---------------------------------------------------------------------------------------

SMALL = ["--layers", "2", "--hidden", "8", "--embedding", "0", "--cell", "gru", "--batch-size", "4",
         "--num-steps", "6", "--threads", "1"]


def test_diagnose_a_preset_json_and_heatmap(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 2000)
    code, out, err = cli(capsys, "diagnose", "builtin-lstm", "--corpus", corpus, *SMALL, "--json", "--out",
                         tmp_path / "png")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 1
    r = json.loads(lines[0])
    assert r["weights"] == "initial" and r["target"] == "preset builtin-lstm" and r["num_layers"] == 2
    assert np.array(r["gradient_flow"]["mean_loss"]).shape == (2, 6)
    png = tmp_path / "png" / "gradient_flow.png"
    assert r["plot"] == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {"uniform_ppl", "unigram_train_ppl", "unigram_val_ppl"} <= set(r["baselines"])
    code, out, err = cli(capsys, "diagnose", "builtin-lstm", "--corpus", corpus, *SMALL)
    assert code == 0, err
    assert "verdict: " + r["sentence"] in out.splitlines()
    assert f"unigram {r['baselines']['unigram_train_ppl']:.3f} on train" in out


def test_diagnose_a_config_file_after_training_steps(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 2000)
    toml = tmp_path / "small.toml"
    toml.write_text(f'[data]\ncorpus = ["{corpus}"]\n[model]\ncell = "lstm"\nnum_layers = 2\nhidden_size = 8\n'
                    '[train]\nbatch_size = 4\nnum_steps = 6\nthreads = 1\n', encoding="utf-8")
    code, out, err = cli(capsys, "diagnose", toml, "--steps", "3", "--json")
    assert code == 0, err
    r = json.loads(out)
    assert r["weights"] == "after 3 training steps" and r["val_loss"] is not None and r["train_loss"] is not None
    assert "[train]" in err  # the training loop's log went to stderr


def test_diagnose_a_run_folder(tmp_path, capsys):
    run = train_cli_run(tmp_path)
    code, out, err = cli(capsys, "diagnose", run, "--json", "--batches", "1")
    assert code == 0, err
    best = json.loads(out)
    assert best["weights"].startswith("best (step ") and best["val_loss"] is not None
    code, out, err = cli(capsys, "diagnose", run, "--last", "--json", "--batches", "1")
    assert json.loads(out)["weights"] == "last (step 12)"


@pytest.mark.parametrize("argv, fragments", [
    (["no/such/run"], ["expected TARGET to be a run folder, a preset", "'no/such/run'", "no such folder"]),
    (["builtin-lstm", "--steps", "-1"], ["expected --steps >= 0", "got -1"]),
    (["builtin-lstm", "--steps", "two"], ["--steps", "invalid int value: 'two'"]),
    (["builtin-lstm", "--batches", "0"], ["expected --batches in [1, 1000], got 0"]),
    (["builtin-lstm", "--last"], ["expected --last only with a run folder, got the preset 'builtin-lstm'"]),
    (["builtin-lstm", "--out", " "], ["expected a folder after --out"]),
])
def test_diagnose_errors_are_one_line(capsys, argv, fragments):
    code, out, err = cli(capsys, "diagnose", *argv)
    assert_one_line_error(code, err, *fragments)
    assert out == ""


def test_diagnose_refuses_steps_and_settings_for_a_run_folder(tmp_path, capsys):
    run = train_cli_run(tmp_path)
    code, _, err = cli(capsys, "diagnose", run, "--steps", "5")
    assert_one_line_error(code, err, "expected --steps only with a preset or a config file", "--steps 5")
    code, _, err = cli(capsys, "diagnose", run, "--hidden", "64")
    assert_one_line_error(code, err, "expected no settings with a run folder", "model.hidden_size")
    notes = tmp_path / "notes.txt"
    notes.write_text("x")
    code, _, err = cli(capsys, "diagnose", notes)
    assert_one_line_error(code, err, "a file that is not .toml")


def test_diagnose_is_listed_in_help(capsys):
    code, out, _ = cli(capsys, "--help")
    assert code == 0 and "diagnose" in out


@pytest.mark.parametrize("model", [{"cell": "lstm", "embedding_dim": 5}, {"cell": "gru", "layer_norm": True},
                                   {"cell": "mingru"}, {"cell": "minlstm", "residual": True},
                                   {"cell": "rnn", "nonlinearity": "relu"}])
def test_every_cell_is_measured(tmp_path, model):
    r = diagnose(small_target(tmp_path, model={"num_layers": 2, "hidden_size": 6, **model}), batches=1)
    assert r["verdict"] in ("healthy", "vanishing", "exploding", "saturated")
    layer = r["layers"][0]
    assert layer["hidden_rms"] > 0 and len(r["gradient_flow"]["mean_loss"]) == 2
    recurrent = model["cell"] in ("rnn", "gru", "lstm")
    assert bool(layer["sigma_max_w_hh"]) == recurrent
    measured_gates = model["cell"] in ("lstm", "mingru", "minlstm") or (model["cell"] == "gru" and not
                                                                         model.get("layer_norm"))
    assert (layer["sigmoid_saturated"] is not None) == measured_gates
    assert (layer["dead_relu"] is not None) == (model.get("nonlinearity") == "relu")


def test_a_torch_engine_run_is_measured_on_the_numpy_engine(tmp_path, capsys):
    from deeprnn.lm.runs import open_run

    run = train_cli_run(tmp_path, "--engine", "torch")
    code, out, err = cli(capsys, "diagnose", run, "--json", "--batches", "1")
    assert code == 0, err
    r = json.loads(out)
    opened = open_run(run, "best")  # the torch engine's weights
    batch = next(opened.load_data().train_batcher(opened.cfg.train).iterate(start_step=0))
    m = measure(opened.cfg.model, opened.cfg.train, opened.engine.state_dict(), [(batch.x, batch.y)])
    np.testing.assert_allclose(r["gradient_flow"]["mean_loss"], m.flow_mean, rtol=1e-12)
    assert r["loss"] == pytest.approx(m.loss, rel=1e-12)
