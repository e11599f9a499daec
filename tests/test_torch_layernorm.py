"""layer_norm and residual on the PyTorch side, against the NumPy engine with the weights copied across.

* the scratch stack (torch_engine/stack.py, ln_*.py; autograd) equals the NumPy stack (hand-written
  backward) in float64: outputs, final states and the gradients of x, h0, c0 and every parameter;
* the torch language model runs these options on the scratch stack (fused nn.LSTM has none of them),
  and its loss and gradients equal the NumPy engine's on the same weights and batch;
* a run trained with them on either engine evaluates, resumes and exports on the other.
"""

from __future__ import annotations

import json
import shutil
import warnings

import numpy as np
import pytest
from conftest import require

torch = require("torch")

import deeprnn as dr  # noqa: E402
from deeprnn.lm import checkpoint as ck  # noqa: E402
from deeprnn.lm.config import ModelConfig, TrainConfig  # noqa: E402
from deeprnn.lm.engines import make_engine  # noqa: E402
from deeprnn.lm.runs import read_config  # noqa: E402
from deeprnn.torch_engine import stack  # noqa: E402
from deeprnn.lm.train import Trainer  # noqa: E402
from lm_helpers import (  # noqa: E402
    TINY_FLAGS, cli, metrics, run_trainer, stop_at, tiny_config, weights, write_corpus,
)
from test_torch_scratch import KINDS, assert_same, random_io, run_layer, run_numpy_layer  # noqa: E402
from torch_helpers import max_rel_diff, torch_one_thread  # noqa: E402

pytestmark = pytest.mark.usefixtures("torch_one_thread")
assert torch_one_thread  # a fixture, imported for pytestmark
F64 = torch.float64
OPTIONS = {"layer_norm": dict(layer_norm=True), "residual": dict(residual=True),
           "both": dict(layer_norm=True, residual=True)}

# name -> (constructor kwargs, T, B (None: unbatched), lengths)
CASES = {
    "ln_3layers": (dict(num_layers=3, H=4, layer_norm=True), 4, 3, None),
    "residual_3layers": (dict(num_layers=3, H=4, residual=True), 4, 3, None),
    "both_bidir_lengths": (dict(num_layers=2, H=3, bidirectional=True, **OPTIONS["both"]), 5, 3, [5, 1, 3]),
    "ln_no_bias_unbatched": (dict(num_layers=2, H=3, bias=False, layer_norm=True), 3, None, None),
    "both_batch_first": (dict(num_layers=2, H=3, batch_first=True, **OPTIONS["both"]), 3, 2, None),
    "ln_size1": (dict(num_layers=2, H=1, layer_norm=True), 1, 1, None),  # batch 1, hidden 1, one step
}
PROJ_CASES = {
    "both_proj_bidir_lengths": (dict(num_layers=2, H=4, proj_size=2, bidirectional=True, **OPTIONS["both"]), 4, 3,
                                [2, 4, 1]),
}
GRID = [(k, c) for k in KINDS for c in CASES] + [("lstm", c) for c in PROJ_CASES]


def _moved(params: dict, seed: int = 3) -> dict:
    """NumPy parameters, LayerNorm gains and shifts moved off 1 and 0."""
    rng = np.random.default_rng(seed)
    return {k: v + 0.4 * rng.standard_normal(v.shape) if k.startswith("ln_") else v for k, v in params.items()}


@pytest.mark.parametrize("kind,case", GRID)
def test_scratch_stack_equals_numpy_engine(kind, case):
    kw, T, B, lengths = {**CASES, **PROJ_CASES}[case]
    kw = dict(kw)
    H = kw.pop("H")
    name, extra = KINDS[kind]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # layer_norm at hidden size 1
        ref = getattr(dr, name)(3, H, dtype=np.float64, seed=0, **extra, **kw)
        ours = getattr(stack, name)(3, H, dtype=F64, **extra, **kw)
    ref.load_state_dict(_moved(ref.state_dict()))
    ours.load_state_dict({k: torch.from_numpy(v) for k, v in ref.state_dict().items()})  # strict: same names
    x, h0, R, S = random_io(ours, T, B, torch.Generator().manual_seed(5))
    assert_same(run_layer(ours, x, h0, R, S, lengths), run_numpy_layer(ref, x, h0, R, S, lengths),
                dict(rtol=1e-9, atol=1e-11))


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_scratch_residual_skip_carries_the_undropped_output(kind):
    """dropout=1 in training mode: the upper layer reads zeros, the skip still carries y_0."""
    name, _ = KINDS[kind]
    torch.manual_seed(0)
    model = getattr(stack, name)(3, 4, num_layers=2, dropout=1.0, residual=True, dtype=F64)
    lower, upper = getattr(stack, name)(3, 4, dtype=F64), getattr(stack, name)(4, 4, dtype=F64)
    sd = model.state_dict()
    lower.load_state_dict({k: v for k, v in sd.items() if k.endswith("_l0")})
    upper.load_state_dict({k.replace("_l1", "_l0"): v for k, v in sd.items() if k.endswith("_l1")})
    x = torch.randn(5, 2, 3, dtype=F64)
    y0, _ = lower(x)
    torch.testing.assert_close(model(x)[0], upper(torch.zeros_like(y0))[0] + y0)
    model.eval()
    torch.testing.assert_close(model(x)[0], upper(y0)[0] + y0)


def test_scratch_layer_norm_parameters_start_at_one_and_zero():
    lstm = stack.LSTM(3, 4, num_layers=2, layer_norm=True, bidirectional=True)
    ln = {n: p for n, p in lstm.named_parameters() if n.startswith("ln_")}
    assert len(ln) == 16 and all(torch.all(p == (0 if "bias" in n else 1)) for n, p in ln.items())
    k = 1 / 2  # the others stay U(-1/√H, 1/√H)
    assert all(p.abs().max() <= k for n, p in lstm.named_parameters() if n not in ln)
    assert repr(lstm) == "LSTM(3, 4, num_layers=2, bidirectional=True, layer_norm=True)"


# ---- the language model on both engines --------------------------------------------------------------


def _pair(model: dict, V: int, dtype: str):
    m = ModelConfig(hidden_size=6, num_layers=3, embedding_dim=5, **model)
    a = make_engine(m, TrainConfig(engine="numpy", dtype=dtype, seed=1, optimizer="sgd"), V)
    b = make_engine(m, TrainConfig(engine="torch", dtype=dtype, seed=2, optimizer="sgd"), V)
    sd = {k: 2 * v if k.startswith("rnn.weight") else v for k, v in _moved(a.state_dict()).items()}
    a.load_state_dict(sd)
    b.load_state_dict(sd)
    return a, b


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
@pytest.mark.parametrize("option", sorted(OPTIONS))
def test_torch_lm_loss_and_gradients_equal_the_numpy_engine(cell, option):
    V, T, B = 11, 6, 3
    a, b = _pair(dict(cell=cell, **OPTIONS[option]), V, "float64")
    assert isinstance(b.module.rnn, getattr(stack, {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM"}[cell]))
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    state = None
    for _ in range(2):  # the second batch starts from the carried state
        la, sa = a.forward_backward(x, y, a.carry_from_numpy(state) if state else None)
        lb, sb = b.forward_backward(x, y, b.carry_from_numpy(state) if state else None)
        assert lb == pytest.approx(la, rel=1e-12)
        state = a.carry_to_numpy(sa)
        assert max_rel_diff(b.carry_to_numpy(sb), state) < 1e-12
    before = a.state_dict()
    a.optimizer_step(1.0)  # plain SGD with lr 1: the weights move by the gradients
    b.optimizer_step(1.0)
    ga = {k: before[k] - v for k, v in a.state_dict().items()}
    gb = {k: before[k] - v for k, v in b.state_dict().items()}
    assert all(np.abs(g).max() > 0 for g in ga.values())
    assert max_rel_diff(gb, ga) < 1e-9


def test_torch_lm_keeps_the_fused_kernel_without_the_options():
    b = make_engine(ModelConfig(hidden_size=6), TrainConfig(engine="torch"), 7)
    assert type(b.module.rnn) is torch.nn.LSTM


def test_float32_logits_agree():
    V = 13
    a, b = _pair(dict(cell="lstm", **OPTIONS["both"]), V, "float32")
    x = np.random.default_rng(2).integers(0, V, (16, 4))
    np.testing.assert_allclose(b.logits(x, None)[0], a.logits(x, None)[0], rtol=0, atol=2e-5)


# ---- runs across engines ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("ln_corpus"), 1500)


@pytest.mark.parametrize("source", ["numpy", "torch"])
def test_run_with_both_options_moves_between_engines(source, corpus, tmp_path, capsys):
    """Trained on one engine: config.json holds the options; the other engine evaluates it to the same
    loss, resumes it to the same weights, and deeprnn.lm.export gives the scratch module."""
    from deeprnn.lm.export import torch_rnn_from_run

    target, N, k = {"numpy": "torch", "torch": "numpy"}[source], 9, 5
    model = {"cell": "gru" if source == "torch" else "lstm", "num_layers": 2, **OPTIONS["both"]}
    cfg = tiny_config(corpus, model=model, engine=source, max_steps=N, eval_every=4)
    first = tmp_path / "first"
    trainer = Trainer(cfg, first, progress_bar=False, log=lambda m: None)
    stop_at(trainer, k)
    assert trainer.fit()["steps"] == k
    saved = json.loads((first / ck.CONFIG).read_text())["model"]
    assert saved["layer_norm"] is True and saved["residual"] is True
    assert read_config(first).model.layer_norm and any(k.startswith("rnn.ln_") for k in weights(first))

    evals = {}
    for engine in ("numpy", "torch"):
        code, out, err = cli(capsys, "eval", first, "--engine", engine, "--json")
        assert code == 0, err
        evals[engine] = json.loads(out)
    assert evals["torch"]["loss"] == pytest.approx(evals["numpy"]["loss"], rel=1e-5)

    same, other = tmp_path / "same", tmp_path / "other"
    shutil.copytree(first, same)
    shutil.copytree(first, other)
    run_trainer(cfg, same, resume=True)
    code, out, err = cli(capsys, "train", "--resume", other, "--engine", target, "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["steps"] == N
    assert max_rel_diff(weights(other), weights(same)) < 1e-4
    np.testing.assert_allclose([r["train_loss"] for r in metrics(other) if r["step"] > k],
                               [r["train_loss"] for r in metrics(same) if r["step"] > k], rtol=1e-5)

    module = torch_rnn_from_run(first)
    assert isinstance(module, stack.RNNBase) and module.layer_norm and module.residual


def test_cli_flags_turn_the_options_on(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", "--corpus", str(corpus), *TINY_FLAGS, "--layers", "2", "--max-steps", "2",
                         "--residual", "--layer-norm", "--out", run, "--json")
    assert code == 0, err
    model = read_config(run).model
    assert model.residual and model.layer_norm and model.num_layers == 2
    assert {"rnn.ln_c_weight_l1", "rnn.ln_c_bias_l0"} <= set(weights(run))
