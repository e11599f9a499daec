"""minGRU and minLSTM in the language model, end to end, on both engines.

* ``cell = "mingru" | "minlstm"`` from the command line; weight_drop (which has no W_hh to drop) refused;
* init_params' rule for them: torch.nn.Linear's U(-1/√I_k, 1/√I_k), while the other cells keep theirs;
* a run trained on one engine evaluates, generates and resumes on the other with the same results, and
  exports to a safetensors file that the torch engine's modules load.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from deeprnn.errors import ConfigError
from deeprnn.lm import checkpoint as ck
from deeprnn.lm.config import ModelConfig, RunConfig, merge
from deeprnn.lm.engines import init_params
from deeprnn.lm.runs import open_run, read_config
from deeprnn.lm.train import Trainer
from lm_helpers import (
    TINY_FLAGS, cli, metrics, no_plots, run_trainer, stop_at, tiny_config, weights, write_corpus,
)
from torch_helpers import max_rel_diff, needs_torch, torch, torch_one_thread

pytestmark = pytest.mark.usefixtures("no_plots", "torch_one_thread")
assert no_plots and torch_one_thread  # fixtures, imported for pytestmark

RUNS = {"mingru_numpy": ("numpy", "mingru"), "minlstm_torch": ("torch", "minlstm")}  # name -> (engine, cell)
OTHER = {"numpy": "torch", "torch": "numpy"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("min_corpus"), 1500)


def _config(corpus, engine, cell, **train):
    return tiny_config(corpus, model={"cell": cell, "num_layers": 2}, engine=engine, **train)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    if torch is None:
        pytest.skip("PyTorch is not installed")
    out = {}
    for name, (engine, cell) in RUNS.items():
        out[name] = tmp_path_factory.mktemp(name) / "run"
        run_trainer(_config(corpus, engine, cell, max_steps=8, eval_every=4), out[name])
    return out


def test_the_cells_are_config_choices_and_weight_drop_is_refused(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--cell",
                         "minlstm", "--max-steps", 2, "--eval-every", 2, "--json")
    assert code == 0, err
    assert "MINLSTM 1x12" in err and read_config(tmp_path / "run").model.cell == "minlstm"
    assert json.loads(out)["steps"] == 2
    with pytest.raises(ConfigError, match=r"expected model.weight_drop = 0 for cell='mingru' \(its gates read x_t "
                                          r"only: there is no W_hh to drop\), got 0.5"):
        merge(RunConfig(), {"model": {"cell": "mingru", "weight_drop": 0.5}}, "test")


def test_residual_stacks_min_cells_and_layer_norm_is_refused(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--cell",
                         "mingru", "--layers", 2, "--residual", "--max-steps", 2, "--eval-every", 2, "--json")
    assert code == 0, err
    assert read_config(tmp_path / "run").model.residual and json.loads(out)["steps"] == 2
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "ln", "--cell",
                         "minlstm", "--layer-norm")
    assert code == 2 and err.strip().count("\n") == 0
    assert "expected model.layer_norm = false for cell='minlstm'" in err


def test_init_params_follows_torch_linear_for_the_min_cells_only():
    E, H, V = 16, 64, 30
    for cell, mult in (("mingru", 2), ("minlstm", 3)):
        params = init_params(ModelConfig(cell=cell, num_layers=2, hidden_size=H, embedding_dim=E), V, seed=0)
        assert [k for k in params if k.startswith("rnn.")] == ["rnn.weight_ih_l0", "rnn.bias_ih_l0",
                                                                "rnn.weight_ih_l1", "rnn.bias_ih_l1"]
        assert params["rnn.weight_ih_l0"].shape == (mult * H, E)
        for name, fan in (("weight_ih_l0", E), ("bias_ih_l0", E), ("weight_ih_l1", H), ("bias_ih_l1", H)):
            bound, v = 1 / np.sqrt(fan), params[f"rnn.{name}"]
            assert bound * 0.9 < np.abs(v).max() <= bound, (cell, name)
        assert np.abs(params["head.weight"]).max() <= 1 / np.sqrt(H)
    lstm = init_params(ModelConfig(cell="lstm", num_layers=2, hidden_size=H, embedding_dim=E), V, seed=0)
    assert 0.9 / np.sqrt(H) < np.abs(lstm["rnn.weight_ih_l0"]).max() <= 1 / np.sqrt(H)  # U(-1/√H, 1/√H): unchanged


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_evaluation_and_generation_agree_across_engines(runs, name, capsys):
    results, texts = {}, {}
    for engine in ("numpy", "torch"):
        code, out, err = cli(capsys, "eval", runs[name], "--engine", engine, "--json")
        assert code == 0, err
        results[engine] = json.loads(out)
        code, out, err = cli(capsys, "generate", runs[name], "--engine", engine, "--greedy", "--length", 40,
                             "--prefix", "The ")
        assert code == 0, err
        texts[engine] = out
    assert results["numpy"]["tokens"] == results["torch"]["tokens"] > 0
    assert results["torch"]["loss"] == pytest.approx(results["numpy"]["loss"], rel=1e-5)
    assert texts["numpy"] == texts["torch"] and len(texts["numpy"]) > 40


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_resume_on_the_other_engine_equals_resume_on_the_same(runs, name, corpus, tmp_path, capsys):
    """Step k on one engine, then to N on each: the same weights, so the carried h and the optimizer
    state went across."""
    source, cell = RUNS[name]
    N, k = 12, 5
    first = tmp_path / "first"
    trainer = Trainer(_config(corpus, source, cell, max_steps=N, eval_every=4), first, progress_bar=False,
                      log=lambda m: None)
    stop_at(trainer, k)
    assert trainer.fit()["steps"] == k
    assert "carry.h" in ck.load_checkpoint(first).optimizer and "carry.c" not in ck.load_checkpoint(first).optimizer
    same, other = tmp_path / "same", tmp_path / "other"
    shutil.copytree(first, same)
    shutil.copytree(first, other)
    run_trainer(_config(corpus, source, cell, max_steps=N, eval_every=4), same, resume=True)
    code, out, err = cli(capsys, "train", "--resume", other, "--engine", OTHER[source], "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["steps"] == N
    assert max_rel_diff(weights(other), weights(same)) < 1e-4
    losses = [[r["train_loss"] for r in metrics(run) if r["step"] > k and "train_loss" in r] for run in (other, same)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


@needs_torch
def test_export_loads_into_the_torch_engines_modules(runs, tmp_path, capsys):
    from safetensors.torch import load_file

    from deeprnn.lm.export import torch_rnn_from_run
    from deeprnn.torch_engine import minrnn

    run = runs["mingru_numpy"]
    code, out, err = cli(capsys, "export", run, tmp_path / "rnn.safetensors")
    assert code == 0, err
    assert "deeprnn.torch_engine.minrnn.MinGRU state_dict" in out
    sd = load_file(str(tmp_path / "rnn.safetensors"))
    assert sorted(sd) == ["bias_ih_l0", "bias_ih_l1", "weight_ih_l0", "weight_ih_l1"]
    module = torch_rnn_from_run(run)
    assert type(module) is minrnn.MinGRU and module.num_layers == 2
    for k, v in module.state_dict().items():
        assert torch.equal(v, sd[k]), k
    numpy_run = open_run(run, "best", {"engine": "numpy"})
    x = np.random.default_rng(0).standard_normal((9, 3, read_config(run).model.embedding_dim)).astype(np.float32)
    numpy_run.engine.rnn.train(False)
    out_np, _ = numpy_run.engine.rnn(x)
    with torch.no_grad():
        out_t, _ = module(torch.from_numpy(x))
    np.testing.assert_allclose(out_t.numpy(), out_np, rtol=0, atol=1e-5)
