"""The size guard (deeprnn/lm/memory.py): the estimate against a measurement, and the refusal."""

from __future__ import annotations

import math
import tracemalloc

import pytest

from deeprnn.errors import ConfigError
from deeprnn.lm import memory, runs
from deeprnn.lm import train as train_module
from deeprnn.lm.config import ModelConfig, TrainConfig
from deeprnn.lm.engines import param_shapes
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, run_trainer, tiny_config, train_cli_run, \
    write_corpus

pytestmark = pytest.mark.usefixtures("no_plots")
assert no_plots  # a fixture, imported for pytestmark


@pytest.mark.parametrize("model", [
    {"cell": "lstm", "num_layers": 2, "hidden_size": 128, "embedding_dim": 32},
    {"cell": "rnn", "num_layers": 2, "hidden_size": 192, "embedding_dim": 0},  # one-hot input
    {"cell": "lstm", "num_layers": 3, "hidden_size": 128, "embedding_dim": 32, "layer_norm": True, "residual": True},
    {"cell": "gru", "num_layers": 2, "hidden_size": 128, "embedding_dim": 32, "layer_norm": True},
])
def test_the_estimate_is_within_the_documented_factor_of_the_measured_peak(tmp_path, model):
    corpus = write_corpus(tmp_path, 12000)
    cfg = tiny_config(corpus, model, batch_size=16, num_steps=32, max_steps=3, eval_every=3, eval_streams=16)
    run_trainer(tiny_config(corpus, model, max_steps=1, eval_every=1), tmp_path / "warm-up")  # imports, numba JIT
    tracemalloc.start()
    try:  # NumPy reports its allocations to tracemalloc: start, steps, evaluation and checkpoint
        trainer, _ = run_trainer(cfg, tmp_path / "run")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    need = memory.estimate(cfg.model, cfg.train, len(trainer.data.vocab),
                           memory.eval_chunk_targets(trainer.data, cfg.train))
    assert need.parameters == trainer.num_parameters()
    assert 0.5 <= peak / need.total <= 1.5, (peak, need)  # the module docstring: measured 0.61 to 0.95


@pytest.mark.parametrize("cell, layer_norm", [("lstm", False), ("gru", False), ("rnn", False), ("mingru", False),
                                               ("minlstm", False), ("lstm", True), ("gru", True), ("rnn", True)])
@pytest.mark.parametrize("E, L", [(0, 1), (7, 1), (7, 3)])
def test_the_closed_form_parameter_count_is_the_engines(cell, E, L, layer_norm):
    m = ModelConfig(cell=cell, embedding_dim=E, num_layers=L, hidden_size=5, layer_norm=layer_norm)
    assert memory.parameter_count(m, 11) == sum(math.prod(s) for s in param_shapes(m, 11).values())


def test_an_absurd_model_is_estimated_without_allocating_anything():
    huge = memory.estimate(ModelConfig(hidden_size=10_000_000), TrainConfig(), 104)  # the issue's 23 GB crash
    assert huge.parameters == 4 * 10**7 * (64 + 10**7 + 2) + 4 * 10**7 * (2 * 10**7 + 2) + 104 * (64 + 10**7 + 1)
    assert huge.total > 10 * 2**50  # petabytes
    assert memory.fmt_bytes(huge.total).endswith("PiB")
    layers = memory.estimate(ModelConfig(num_layers=10**30), TrainConfig(), 104)  # closed form: no loop over layers
    assert memory.fmt_bytes(layers.total).endswith("EiB") and "e+" in memory.fmt_bytes(layers.total)


@pytest.fixture
def no_engine(monkeypatch):
    """Building an engine fails the test: the guard must refuse before anything is allocated."""
    def make_engine(*a, **k):
        raise AssertionError("an engine was built for a model the guard should have refused")
    monkeypatch.setattr(train_module, "make_engine", make_engine)
    monkeypatch.setattr(runs, "make_engine", make_engine)


def test_the_hidden_size_of_the_issue_is_refused_in_one_line(tmp_path, capsys, no_engine):
    corpus = write_corpus(tmp_path, 900)
    code, out, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run",
                         "--hidden-size", "10000000")
    line = assert_one_line_error(code, err, "expected a model that fits in the", "of memory available, got one that "
                                 "needs about", "PiB", "400,000,780,000,322 parameters", "--allow-large-model")
    assert "parameters: weights and optimizer" in line and not (tmp_path / "run" / "model.safetensors").exists()


def test_a_model_above_the_available_memory_is_refused_unless_allowed(tmp_path, capsys, monkeypatch):
    corpus = write_corpus(tmp_path, 900)
    monkeypatch.setattr(memory, "available_memory", lambda: 100_000)  # the tiny model needs about 200 KB
    flags = ["train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "run", "--max-steps", "2"]
    assert_one_line_error(*cli(capsys, *flags)[::2], "fits in the 97.7 KiB of memory available", "needs about")
    assert not (tmp_path / "run").exists()
    assert cli(capsys, *flags, "--allow-large-model")[0] == 0


def test_eval_and_generate_check_the_size_too_and_take_the_flag(tmp_path, capsys, monkeypatch):
    run = train_cli_run(tmp_path)
    monkeypatch.setattr(memory, "available_memory", lambda: 1000)
    for command in (["eval", run], ["generate", run, "--length", "3"]):
        assert_one_line_error(*cli(capsys, *command)[::2], "fits in the 1000 B of memory available")
        code, out, err = cli(capsys, *command, "--allow-large-model")
        assert code == 0 and out, err
    monkeypatch.setattr(memory, "available_memory", lambda: None)  # unknown: nothing refused
    assert cli(capsys, "eval", run)[0] == 0


def test_the_available_memory_is_capped_by_a_cgroup_limit(tmp_path, monkeypatch):
    limit, usage = tmp_path / "memory.max", tmp_path / "memory.current"
    usage.write_text(str(3 * 2**30))
    monkeypatch.setattr(memory, "_cgroup_files", lambda: [(str(limit), str(usage)), (str(tmp_path / "none"), "")])
    limit.write_text("max\n")  # no limit
    free = memory.available_memory()
    limit.write_text(f"{4 * 2**30}\n")
    assert memory.available_memory() == min(2**30, free)
    limit.write_text(f"{2 * 2**30}\n")  # over the limit already
    assert memory.available_memory() == 0
    with pytest.raises(ConfigError, match="fits in the 0 B of memory available"):
        memory.check_memory(ModelConfig(), TrainConfig(), 104)
