"""The PyTorch engine (deeprnn/lm/engines/torch.py) against the NumPy engine and plain torch.

* engine and device selection, from the command line and from Python, and the errors for impossible
  combinations (no GPU, the numpy engine on a GPU or distributed);
* a missing torch (simulated in a subprocess): an install hint for the torch engine, the core unharmed;
* checkpoints in both directions: logits, gradients, perplexity, generation and resume (optimizer state
  included) agree whichever engine trained and whichever engine continues;
* weights to and from plain torch.nn.LSTM/GRU/RNN (``deeprnn export`` and ``deeprnn.lm.export``);
* determinism: the same command twice, and resume equals uninterrupted with dropout on.

Everything is tiny (hidden 8-16, one or two layers, batches of 4x8, a corpus of ~1,500 characters).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import deeprnn as dr
from deeprnn.lm import checkpoint as ck
from deeprnn.lm import runs as runs_module
from deeprnn.lm.config import ModelConfig, TrainConfig
from deeprnn.lm.engines import make_engine
from deeprnn.lm.runs import open_run, read_config
from deeprnn.lm.train import Trainer
from deeprnn.lm.engines.numpy import NumpyLM
from deeprnn.torch_engine import INSTALL_HINT
from lm_helpers import (
    TINY_FLAGS, assert_one_line_error, assert_same_weights, cli, metrics, no_plots, run_trainer, stop_at,
    tiny_config, weights, write_corpus,
)
from torch_helpers import max_rel_diff, needs_cuda, needs_torch, no_cuda, torch, torch_one_thread

pytestmark = pytest.mark.usefixtures("no_plots", "torch_one_thread")
assert no_plots and torch_one_thread  # fixtures, imported for pytestmark

ENGINES = ("numpy", "torch")
OTHER = {"numpy": "torch", "torch": "numpy"}
CELLS = {  # name -> ModelConfig fields; embedding or one-hot inputs
    "rnn_tanh_onehot": dict(cell="rnn", nonlinearity="tanh", embedding_dim=0),
    "rnn_relu_embedding": dict(cell="rnn", nonlinearity="relu", embedding_dim=5),
    "gru_onehot": dict(cell="gru", embedding_dim=0),
    "gru_embedding": dict(cell="gru", embedding_dim=5),
    "lstm_onehot": dict(cell="lstm", embedding_dim=0),
    "lstm_embedding": dict(cell="lstm", embedding_dim=5),
    "mingru_onehot": dict(cell="mingru", embedding_dim=0),
    "minlstm_embedding": dict(cell="minlstm", embedding_dim=5),
}
RUNS = {  # name -> (engine that trains it, model overrides of the tiny config)
    "lstm_numpy": ("numpy", {"num_layers": 2}),
    "gru_onehot_torch": ("torch", {"cell": "gru", "embedding_dim": 0}),
    "rnn_relu_numpy": ("numpy", {"cell": "rnn", "nonlinearity": "relu", "num_layers": 2}),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("torch_corpus"), 1500)


@pytest.fixture(scope="module")
def runs(corpus, tmp_path_factory):
    """Three tiny trained runs, {name: run folder}: two trained on numpy, one on torch."""
    if torch is None:
        pytest.skip("PyTorch is not installed")
    out = {}
    for name, (engine, model) in RUNS.items():
        out[name] = tmp_path_factory.mktemp(name) / "run"
        run_trainer(tiny_config(corpus, model=model, engine=engine, max_steps=8, eval_every=4), out[name])
    return out


def _pair(model: dict, V: int, dtype: str = "float32", H: int = 16, L: int = 2, scale: float = 2.0, **train):
    """A NumPy and a torch engine holding the same (scaled-up, so less trivial) weights."""
    m = ModelConfig(hidden_size=H, num_layers=L, **model)
    a = make_engine(m, TrainConfig(engine="numpy", dtype=dtype, seed=1, **train), V)
    b = make_engine(m, TrainConfig(engine="torch", dtype=dtype, seed=2, **train), V)
    sd = {k: v * scale for k, v in a.state_dict().items()}
    a.load_state_dict(sd)
    b.load_state_dict(sd)
    assert_same_weights(a.state_dict(), b.state_dict())
    return a, b, m


def _random_state(m: ModelConfig, B: int, rng) -> dict:
    shape = (m.num_layers, B, m.hidden_size)
    return {k: 0.5 * rng.standard_normal(shape) for k in ("hc" if m.cell == "lstm" else "h")}


# -- engine and device selection --------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("engine", ENGINES)
def test_engine_flag_selects_the_engine_for_train_eval_and_generate(engine, corpus, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    device = ["--device", "auto"] if engine == "torch" else []
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--engine", engine, *device,
                         "--max-steps", 4, "--eval-every", 2, "--json")
    assert code == 0, err
    assert json.loads(out)["steps"] == 4
    assert f"| {engine} engine" in err
    assert read_config(run).train.engine == engine
    rng = ck.load_checkpoint(run).state["rng"]
    assert ("torch_ranks" in rng) == (engine == "torch")  # the engine's own dropout RNG state was saved

    made = []
    real = runs_module.make_engine
    monkeypatch.setattr(runs_module, "make_engine", lambda *a: made.append(real(*a)) or made[-1])
    for flag, expected in ((None, engine), ("numpy", "numpy"), ("torch", "torch")):
        extra = ["--engine", flag] if flag else []
        code, out, err = cli(capsys, "eval", run, *extra, "--json")
        assert code == 0, err
        assert json.loads(out)["engine"] == expected
        assert made[-1].name == expected
        code, out, err = cli(capsys, "generate", run, *extra, "--greedy", "--length", 10)
        assert code == 0, err
        assert made[-1].name == expected and len(out) > 10


@needs_torch
@pytest.mark.parametrize("engine", ENGINES)
def test_train_config_engine_selects_the_engine_in_python(engine, corpus, tmp_path):
    from deeprnn.lm.engines.torch import TorchLM

    cfg = tiny_config(corpus, engine=engine, max_steps=3, eval_every=3)
    assert cfg.train.engine == engine
    trainer, summary = run_trainer(cfg, tmp_path / "run")
    assert isinstance(trainer.engine, {"numpy": NumpyLM, "torch": TorchLM}[engine])
    assert trainer.engine.name == engine and summary["steps"] == 3
    assert np.isfinite(summary["val_ppl"])


@needs_torch
@pytest.mark.parametrize("device", ["cpu", "auto"])
def test_device_cpu_and_auto(device):
    engine = make_engine(ModelConfig(hidden_size=8, num_layers=1), TrainConfig(engine="torch", device=device), 7)
    expected = "cuda" if device == "auto" and torch.cuda.is_available() else "cpu"
    assert engine.device.type == expected
    assert {p.device.type for p in engine.module.parameters()} == {expected}
    z, _ = engine.logits(np.zeros((3, 2), np.int64), None)
    assert z.shape == (3, 2, 7) and isinstance(z, np.ndarray)


@needs_torch
@no_cuda
def test_device_cuda_without_a_gpu_is_a_one_line_error(corpus, runs, tmp_path, capsys):
    run = tmp_path / "run"
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--engine", "torch",
                         "--device", "cuda", "--max-steps", 2)
    assert_one_line_error(code, err, "--device cuda", "CUDA", "--device cpu")
    assert not run.exists()  # nothing written
    for command in (["eval", runs["lstm_numpy"]], ["generate", runs["lstm_numpy"], "--length", 5]):
        code, out, err = cli(capsys, *command, "--engine", "torch", "--device", "cuda")
        assert_one_line_error(code, err, "--device cuda", "CUDA")
        assert out == ""
    with pytest.raises(ValueError, match="CUDA"):
        make_engine(ModelConfig(hidden_size=8), TrainConfig(engine="torch", device="cuda"), 7)


def test_numpy_engine_with_cuda_or_distributed_is_a_clear_error(corpus, tmp_path, capsys):
    run = tmp_path / "run"
    for flags, what in ((["--device", "cuda"], "--device cuda"), (["--distributed"], "--distributed")):
        code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--engine", "numpy",
                             *flags)
        assert_one_line_error(code, err, "--engine torch", what, "numpy engine")
        assert not run.exists()
    for kw in ({"device": "cuda"}, {"distributed": True}):
        with pytest.raises(ValueError, match="expected --engine torch"):
            make_engine(ModelConfig(hidden_size=8), TrainConfig(engine="numpy", **kw), 7)
    # eval/generate of a run on the numpy engine, asked to use a GPU
    run_trainer(tiny_config(corpus, max_steps=2, eval_every=2), run)
    code, out, err = cli(capsys, "eval", run, "--engine", "numpy", "--device", "cuda")
    assert_one_line_error(code, err, "--engine torch", "--device cuda")


def test_unknown_engine_is_an_error(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "r", "--engine", "jax")
    assert_one_line_error(code, err, "--engine", "jax")
    with pytest.raises(ValueError, match="expected engine 'numpy' or 'torch', got 'jax'"):
        make_engine(ModelConfig(hidden_size=8), TrainConfig(engine="jax"), 7)


@needs_cuda
@pytest.mark.parametrize("name", ["gru_onehot", "lstm_embedding"])
def test_logits_agree_on_cuda(name, monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)  # full float32 in cuDNN's RNN
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    a, b, m = _pair(CELLS[name], V=11, device="cuda")
    assert b.device.type == "cuda"
    x = np.random.default_rng(0).integers(0, 11, (16, 4))
    (za, _), (zb, _) = a.logits(x, None), b.logits(x, None)
    np.testing.assert_allclose(zb, za, rtol=0, atol=1e-5)


# -- without torch ------------------------------------------------------------------------------------------

NO_TORCH = "import sys; sys.modules['torch'] = None; "  # any `import torch` now raises ImportError


def _without_torch(cwd, *argv, timeout=120) -> subprocess.CompletedProcess:
    """``deeprnn ARGV`` in a fresh interpreter where torch cannot be imported."""
    code = NO_TORCH + "from deeprnn.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)


def _assert_install_hint(p: subprocess.CompletedProcess) -> None:
    assert_one_line_error(p.returncode, p.stderr, INSTALL_HINT)
    assert "pip install" in p.stderr and p.stdout == ""


def test_without_torch_the_torch_engine_gives_an_install_hint(corpus, tmp_path):
    run = tmp_path / "numpy_run"
    run_trainer(tiny_config(corpus, max_steps=2, eval_every=2), run)
    p = _without_torch(tmp_path, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "t", "--engine", "torch")
    _assert_install_hint(p)
    assert not (tmp_path / "t").exists()
    _assert_install_hint(_without_torch(tmp_path, "eval", run, "--engine", "torch"))
    _assert_install_hint(_without_torch(tmp_path, "generate", run, "--engine", "torch", "--length", 5))
    # the same hint from the Python API
    check = NO_TORCH + (
        "from deeprnn.lm.config import ModelConfig, TrainConfig\n"
        "from deeprnn.lm.engines import make_engine\n"
        "from deeprnn.lm import export as interop\n"
        "from deeprnn.torch_engine import INSTALL_HINT\n"
        "for call in (lambda: make_engine(ModelConfig(hidden_size=4), TrainConfig(engine='torch'), 5),\n"
        "             lambda: interop.rnn_state_dict({})):\n"
        "    try:\n"
        "        call()\n"
        "    except ImportError as e:\n"
        "        assert str(e) == INSTALL_HINT, e\n"
        "    else:\n"
        "        raise AssertionError('no ImportError')\n"
        "print('ok')\n")
    p = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


def test_without_torch_the_core_and_the_numpy_engine_work(corpus, tmp_path):
    run = tmp_path / "run"
    p = _without_torch(tmp_path, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--engine", "numpy",
                       "--max-steps", 4, "--eval-every", 2, "--json")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["steps"] == 4 and "Traceback" not in p.stderr
    p = _without_torch(tmp_path, "train", "--resume", run, "--max-steps", 6, "--json", "--no-progress")
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["steps"] == 6
    p = _without_torch(tmp_path, "eval", run, "--json")
    assert p.returncode == 0 and json.loads(p.stdout)["engine"] == "numpy", p.stderr
    p = _without_torch(tmp_path, "generate", run, "--length", 8, "--seed", 1)
    assert p.returncode == 0 and len(p.stdout) > 8, p.stderr
    p = _without_torch(tmp_path, "export", run, tmp_path / "rnn.safetensors")
    assert p.returncode == 0 and (tmp_path / "rnn.safetensors").is_file(), p.stderr
    core = NO_TORCH + (
        "import numpy as np, deeprnn as dr, deeprnn.torch_engine\n"
        "lstm = dr.LSTM(3, 4, num_layers=2)\n"
        "out, (h, c) = lstm(np.ones((5, 2, 3), np.float32))\n"
        "dx, _ = lstm.backward(np.ones_like(out))\n"
        "assert out.shape == (5, 2, 4) and dx.shape == (5, 2, 3)\n"
        "assert sys.modules['torch'] is None\n"
        "print('ok')\n")
    p = subprocess.run([sys.executable, "-c", core], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "ok", p.stderr


# -- checkpoints across engines --------------------------------------------------------------------------


@needs_torch
@pytest.mark.parametrize("name", sorted(CELLS))
def test_logits_agree_float32(name):
    V, T, B = 13, 16, 4
    a, b, m = _pair(CELLS[name], V)
    rng = np.random.default_rng(0)
    x = rng.integers(0, V, (T, B))
    y = rng.integers(0, V, (T, B))
    s0 = _random_state(m, B, rng)
    za, fa = a.logits(x, a.carry_from_numpy(s0))
    zb, fb = b.logits(x, b.carry_from_numpy(s0))
    assert za.shape == zb.shape == (T, B, V)
    assert np.abs(za).max() > 0.5  # not a trivially small function
    np.testing.assert_allclose(zb, za, rtol=0, atol=1e-5)
    fa, fb = a.carry_to_numpy(fa), b.carry_to_numpy(fb)
    assert sorted(fa) == sorted(fb) == sorted(s0)
    for k in fa:
        np.testing.assert_allclose(fb[k], fa[k], rtol=0, atol=1e-5)
    (na, _), (nb, _) = a.nll(x, y, None), b.nll(x, y, None)
    np.testing.assert_allclose(nb, na, rtol=0, atol=1e-5)
    # continuing from each engine's own final state gives the same next logits
    (za2, _), (zb2, _) = a.logits(x[:3], a.carry_from_numpy(fa)), b.logits(x[:3], b.carry_from_numpy(fb))
    np.testing.assert_allclose(zb2, za2, rtol=0, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("name", ["rnn_relu_embedding", "gru_onehot", "lstm_embedding", "mingru_onehot",
                                  "minlstm_embedding"])
def test_forward_backward_gradients_agree_float64(name):
    V, T, B = 11, 8, 4
    a, b, m = _pair(CELLS[name], V, dtype="float64", H=8, optimizer="sgd", momentum=0.0)
    rng = np.random.default_rng(1)
    x, y = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    s0 = _random_state(m, B, rng)
    la, fa = a.forward_backward(x, y, a.carry_from_numpy(s0))
    lb, fb = b.forward_backward(x, y, b.carry_from_numpy(s0))
    assert lb == pytest.approx(la, rel=1e-12)
    assert b.grad_norm() == pytest.approx(a.grad_norm(), rel=1e-10) and a.grad_norm() > 0
    fa, fb = a.carry_to_numpy(fa), b.carry_to_numpy(fb)
    for k in fa:
        np.testing.assert_allclose(fb[k], fa[k], rtol=1e-12, atol=1e-14)
    # the gradients, read through the interface: plain SGD with lr 1 subtracts them from the weights
    before = a.state_dict()
    a.optimizer_step(1.0)
    b.optimizer_step(1.0)
    ga = {k: before[k] - v for k, v in a.state_dict().items()}
    gb = {k: before[k] - v for k, v in b.state_dict().items()}
    assert all(np.abs(g).max() > 0 for g in ga.values())
    assert max_rel_diff(gb, ga) < 1e-9
    # and after clipping to a small norm, both hold the same clipped gradients
    a.forward_backward(x, y, None)
    b.forward_backward(x, y, None)
    assert b.clip("norm", 0.01) == pytest.approx(a.clip("norm", 0.01), rel=1e-10)
    assert b.grad_norm() == pytest.approx(0.01, rel=1e-4) and a.grad_norm() == pytest.approx(0.01, rel=1e-4)


def _eval(capsys, run, engine) -> dict:
    code, out, err = cli(capsys, "eval", run, "--engine", engine, "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["engine"] == engine
    return result


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_evaluation_perplexity_agrees_across_engines(runs, name, capsys):
    a, b = _eval(capsys, runs[name], "numpy"), _eval(capsys, runs[name], "torch")
    assert a["tokens"] == b["tokens"] > 0 and a["step"] == b["step"]
    assert b["ppl"] == pytest.approx(a["ppl"], rel=1e-3)
    assert b["loss"] == pytest.approx(a["loss"], rel=1e-5)  # in fact much closer than 0.1 %


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_generation_agrees_across_engines(runs, name, capsys):
    texts = {}
    for engine in ENGINES:
        code, out, err = cli(capsys, "generate", runs[name], "--engine", engine, "--greedy", "--length", 40,
                             "--prefix", "The ")
        assert code == 0, err
        texts[engine] = out
    assert texts["numpy"] == texts["torch"] and len(texts["numpy"]) > 40


RESUME_CASES = {  # optimizer -> train overrides
    "adamw": {"optimizer": "adamw", "weight_decay": 0.1},
    "sgd_momentum": {"optimizer": "sgd", "momentum": 0.9, "lr": 0.3, "schedule": "step", "step_size": 5},
}


@needs_torch
@pytest.mark.parametrize("source", ENGINES)
@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resume_on_the_other_engine(case, source, corpus, tmp_path, capsys):
    """Trained on one engine to step k, resumed on each engine to N: the same weights within float32
    rounding, which needs the optimizer state and the carried recurrent state to carry over."""
    N, k, target = 16, 7, OTHER[source]

    def cfg(engine):
        return tiny_config(corpus, model={"num_layers": 2}, engine=engine, max_steps=N, eval_every=5,
                           **RESUME_CASES[case])

    first = tmp_path / "first"
    trainer = Trainer(cfg(source), first, progress_bar=False, log=lambda m: None)
    stop_at(trainer, k)
    assert trainer.fit()["steps"] == k
    optim = ck.load_checkpoint(first).optimizer
    buffers = {"adamw": "exp_avg_sq.", "sgd_momentum": "momentum_buffer."}[case]
    assert any(key.startswith(buffers) for key in optim) and "carry.c" in optim

    same, other = tmp_path / "same", tmp_path / "other"
    shutil.copytree(first, same)
    shutil.copytree(first, other)
    run_trainer(cfg(source), same, resume=True)
    code, out, err = cli(capsys, "train", "--resume", other, "--engine", target, "--json", "--no-progress")
    assert code == 0, err
    assert json.loads(out)["steps"] == N
    assert f"| {target} engine" in err and read_config(other).train.engine == target

    assert max_rel_diff(weights(other), weights(same)) < 1e-4
    a, b = ck.load_checkpoint(other).optimizer, ck.load_checkpoint(same).optimizer
    assert int(a["step"][0]) == int(b["step"][0]) == N
    assert max_rel_diff({k: v for k, v in a.items() if k != "step"}, {k: v for k, v in b.items() if k != "step"}) < 1e-3
    losses = [[r["train_loss"] for r in metrics(run) if r["step"] > k and "train_loss" in r] for run in (other, same)]
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-5)


# -- weights to and from plain torch -----------------------------------------------------------------------


def _torch_class(cell: str):
    return {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cell]


def _plain_torch_logits(params: dict, rnn, x: np.ndarray, V: int) -> np.ndarray:
    """embedding (or one-hot) -> rnn -> linear head, in plain torch with the canonical parameters."""
    p = {k: torch.as_tensor(v) for k, v in params.items()}
    xt = torch.from_numpy(x)
    e = p["embedding.weight"][xt] if "embedding.weight" in p else torch.nn.functional.one_hot(xt, V).float()
    with torch.no_grad():
        out, _ = rnn(e)
        return (out @ p["head.weight"].T + p["head.bias"]).double().numpy()


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_export_loads_into_plain_torch_modules(runs, name, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.torch import load_file

    run = runs[name]
    cfg = read_config(run).model
    numpy_run, torch_run = open_run(run, "best", {"engine": "numpy"}), open_run(run, "best", {"engine": "torch"})
    V = len(numpy_run.vocab)
    I = cfg.embedding_dim or V

    code, out, err = cli(capsys, "export", run, tmp_path / "rnn.safetensors")
    assert code == 0, err
    sd = load_file(str(tmp_path / "rnn.safetensors"))
    assert all(not k.startswith("rnn.") for k in sd)
    with safe_open(str(tmp_path / "rnn.safetensors"), framework="numpy") as f:
        assert f.metadata()["cell"] == cfg.cell
    kwargs = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
    module = _torch_class(cfg.cell)(I, cfg.hidden_size, num_layers=cfg.num_layers, **kwargs)
    module.load_state_dict(sd)  # strict: every key and shape

    rng = np.random.default_rng(0)
    x = rng.standard_normal((9, 3, I)).astype(np.float32)
    with torch.no_grad():
        ref, ref_final = module(torch.from_numpy(x))
        mine, mine_final = torch_run.engine.module.rnn(torch.from_numpy(x))
    np.testing.assert_array_equal(mine.numpy(), ref.numpy())
    ours = numpy_run.engine.rnn
    ours.train(False)
    with dr.no_grad():
        out_np, final_np = ours(x)
    np.testing.assert_allclose(out_np, ref.numpy(), rtol=0, atol=1e-5)
    for a, b in zip(final_np if cfg.cell == "lstm" else (final_np,), ref_final if cfg.cell == "lstm" else (ref_final,)):
        np.testing.assert_allclose(a, b.numpy(), rtol=0, atol=1e-5)

    # --all: the whole model; plain torch computes the same logits as both engines
    code, out, err = cli(capsys, "export", run, tmp_path / "all.safetensors", "--all")
    assert code == 0, err
    whole = {k: v.numpy() for k, v in load_file(str(tmp_path / "all.safetensors")).items()}
    assert sorted(whole) == sorted(numpy_run.engine.state_dict())
    ids = rng.integers(0, V, (12, 3))
    z = _plain_torch_logits(whole, module, ids, V)
    for r in (numpy_run, torch_run):
        np.testing.assert_allclose(r.engine.logits(ids, None)[0], z, rtol=0, atol=1e-5)


@needs_torch
@pytest.mark.parametrize("name", sorted(RUNS))
def test_interop_round_trip(runs, name):
    from deeprnn.lm import export as interop

    run = runs[name]
    cfg = read_config(run).model
    module = interop.torch_rnn_from_run(run)
    assert type(module) is _torch_class(cfg.cell)
    assert (module.num_layers, module.hidden_size) == (cfg.num_layers, cfg.hidden_size)
    if cfg.cell == "rnn":
        assert module.nonlinearity == cfg.nonlinearity
    params, _ = ck.load_model(run, "best")
    sd = interop.rnn_state_dict(params)
    assert sorted(sd) == sorted(module.state_dict())
    for k, v in module.state_dict().items():
        assert torch.equal(v, sd[k]), k
    assert_same_weights(interop.with_torch_rnn(params, module.state_dict()), params)  # round trip

    # the other way: weights changed in plain torch go into a language model on either engine
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(1.5).add_(0.01)
    new = interop.with_torch_rnn(params, module.state_dict())
    assert sorted(new) == sorted(params) and not np.array_equal(new["rnn.weight_hh_l0"], params["rnn.weight_hh_l0"])
    assert all(new[k].dtype == params[k].dtype for k in new)
    V = params["head.bias"].shape[0]
    ids = np.random.default_rng(2).integers(0, V, (10, 2))
    z = _plain_torch_logits(new, module, ids, V)
    for engine in ENGINES:
        lm = open_run(run, "best", {"engine": engine}).engine
        lm.load_state_dict(new)
        np.testing.assert_allclose(lm.logits(ids, None)[0], z, rtol=0, atol=1e-5)


@needs_torch
def test_interop_wrong_keys_and_shapes_are_clear_errors(runs, tmp_path, capsys):
    from deeprnn.lm import export as interop

    run = runs["lstm_numpy"]  # LSTM 2x12, embedding 6
    params, _ = ck.load_model(run, "best")
    sd = interop.rnn_state_dict(params)
    missing = {k: v for k, v in sd.items() if k != "bias_hh_l1"}
    with pytest.raises(ValueError, match=r"expected a torch state_dict with keys .*bias_hh_l1"):
        interop.with_torch_rnn(params, missing)
    with pytest.raises(ValueError, match="expected a torch state_dict with keys"):
        interop.with_torch_rnn(params, {**sd, "weight_hr_l0": torch.zeros(3, 12)})
    gru = torch.nn.GRU(6, 12, num_layers=2)  # same names, 3 gates instead of 4
    with pytest.raises(ValueError, match=r"expected weight_ih_l0 of shape \(48, 6\), got \(36, 6\)"):
        interop.with_torch_rnn(params, gru.state_dict())
    with pytest.raises(ValueError, match=r"expected parameters named 'rnn\.\*'"):
        interop.rnn_state_dict({"head.weight": np.zeros((2, 2))})

    # either engine checks every key and shape of a whole state_dict
    for engine in ENGINES:
        lm = open_run(run, "best", {"engine": engine}).engine
        with pytest.raises(ValueError, match="weight_hh_l1"):
            lm.load_state_dict({**params, "rnn.weight_hh_l1": np.zeros((48, 5), np.float32)})
        with pytest.raises(ValueError, match="head.bias"):
            lm.load_state_dict({k: v for k, v in params.items() if k != "head.bias"})
        with pytest.raises(ValueError, match="exp_avg.nope"):
            lm.load_optimizer_state_dict({"step": np.array([1]), "exp_avg.nope": np.zeros(3, np.float32)})
        with pytest.raises(ValueError, match=r"exp_avg.head.bias"):
            lm.load_optimizer_state_dict({"step": np.array([1]), "exp_avg.head.bias": np.zeros(3, np.float32)})

    # a run whose weights do not fit its config: one line, on the torch engine too
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    raw = json.loads((broken / ck.CONFIG).read_text())
    raw["model"]["hidden_size"] = 10
    (broken / ck.CONFIG).write_text(json.dumps(raw))
    code, out, err = cli(capsys, "eval", broken, "--engine", "torch")
    assert_one_line_error(code, err, "do not fit", "expected")
    code, out, err = cli(capsys, "export", tmp_path / "nowhere", tmp_path / "x.safetensors")
    assert_one_line_error(code, err, "nowhere")


# -- determinism -------------------------------------------------------------------------------------------

DROPOUT_FLAGS = ["--engine", "torch", "--layers", "2", "--dropout", "0.3", "--output-dropout", "0.2",
                 "--threads", "1", "--max-steps", "8", "--eval-every", "4", "--json"]


@needs_torch
def test_the_same_torch_command_twice_gives_identical_weights(corpus, tmp_path, capsys):
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "a", *DROPOUT_FLAGS)
    assert code == 0, err
    argv = [sys.executable, "-m", "deeprnn", "train", *TINY_FLAGS, "--corpus", str(corpus), "--out",
            str(tmp_path / "b"), *DROPOUT_FLAGS]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    p = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)  # a fresh process
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["val_ppl"] == json.loads(out)["val_ppl"]
    assert_same_weights(weights(tmp_path / "a"), weights(tmp_path / "b"))
    a, b = ck.load_checkpoint(tmp_path / "a"), ck.load_checkpoint(tmp_path / "b")
    assert_same_weights(a.optimizer, b.optimizer)
    assert a.state["rng"] == b.state["rng"]


@needs_torch
@pytest.mark.parametrize("k", [3, 6])
def test_torch_resume_equals_uninterrupted_with_dropout(k, corpus, tmp_path):
    def cfg():
        return tiny_config(corpus, model={"num_layers": 2, "dropout": 0.3, "output_dropout": 0.2}, engine="torch",
                           max_steps=10, eval_every=4, optimizer="adamw", weight_decay=0.1)

    run_trainer(cfg(), tmp_path / "straight")
    run = tmp_path / "run"
    trainer = Trainer(cfg(), run, progress_bar=False, log=lambda m: None)
    stop_at(trainer, k)
    summary = trainer.fit()
    assert summary["steps"] == k and summary["stop_reason"] == "interrupted"
    assert "torch_ranks" in ck.load_checkpoint(run).state["rng"]  # the dropout RNG state is saved

    trainer, summary = run_trainer(cfg(), run, resume=True)
    assert summary["steps"] == 10
    a, b = weights(run), weights(tmp_path / "straight")
    assert max_rel_diff(a, b) <= 1e-6
    assert_same_weights(a, b)  # in fact bitwise
    ca, cb = ck.load_checkpoint(run), ck.load_checkpoint(tmp_path / "straight")
    assert_same_weights(ca.optimizer, cb.optimizer)
    assert ca.state["rng"] == cb.state["rng"]
    last, straight_last = metrics(run)[-1], metrics(tmp_path / "straight")[-1]
    assert last["step"] == straight_last["step"] == 10
    assert (last["train_loss"], last["val_loss"]) == (straight_last["train_loss"], straight_last["val_loss"])
