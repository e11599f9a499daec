"""The language-model adapters (deeprnn/lm/engines) and the tables and checks they share with the engines.

* ``make_engine`` builds each engine holding ``init_params`` and draws every weight once: the NumPy stack
  gets its initial weights instead of drawing its own, and torch's modules are built without drawing;
* the errors a user can cause through ``make_engine`` are ``ConfigError`` (a ``DeeprnnError``);
* the cell table of deeprnn/layout.py names real classes in both engines and in torch.nn;
* the one state_dict check and the one optimizer-state parser, as the adapters and lm/average.py use them.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn as dr
from deeprnn import numpy_engine
from deeprnn.errors import ConfigError, DeeprnnError
from deeprnn.layout import CELL_CLASSES, GATE_MULT, INPUT_GATED, NONLINEARITIES, mode_name
from deeprnn.lm.checkpoint import CheckpointError
from deeprnn.lm.config import CHOICES, ModelConfig, TrainConfig
from deeprnn.lm.engines import init_params, make_engine
from deeprnn.numpy_engine.module import Module
from deeprnn.numpy_engine.optim import parse_state_dict
from torch_helpers import needs_torch, no_cuda, torch

MODELS = {
    "lstm_embedding": dict(cell="lstm", embedding_dim=5),
    "gru_onehot": dict(cell="gru", embedding_dim=0),
    "rnn_relu": dict(cell="rnn", nonlinearity="relu", embedding_dim=4),
    "mingru_embedding": dict(cell="mingru", embedding_dim=5),
    "minlstm_onehot": dict(cell="minlstm", embedding_dim=0),
}


# -- one initialisation ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_numpy_engine_draws_each_weight_once(name, monkeypatch):
    """The stack is built from init_params' values: its own generator draws nothing."""
    drew = []
    real = Module._init_params

    def spy(self, *args, **kwargs):
        before = self.rng.bit_generator.state
        real(self, *args, **kwargs)
        drew.append(self.rng.bit_generator.state != before)

    monkeypatch.setattr(Module, "_init_params", spy)
    model = ModelConfig(hidden_size=6, num_layers=2, dropout=0.2, **MODELS[name])
    engine = make_engine(model, TrainConfig(engine="numpy", seed=4), 9)
    assert drew == [False]
    expected = init_params(model, 9, 4)
    assert list(engine.state_dict()) == list(expected)
    for k, v in engine.state_dict().items():
        np.testing.assert_array_equal(v, expected[k].astype(np.float32), err_msg=k)


@needs_torch
@pytest.mark.parametrize("name", sorted(MODELS))
def test_the_torch_engine_draws_each_weight_once(name):
    """torch's modules are built without initialising (their values would be overwritten): the generator
    seeded for dropout is untouched when the engine is ready, and it holds init_params."""
    model = ModelConfig(hidden_size=6, num_layers=2, dropout=0.2, **MODELS[name])
    engine = make_engine(model, TrainConfig(engine="torch", seed=4), 9)
    after = torch.get_rng_state()
    torch.manual_seed(4 * 1000)  # the dropout seed of rank 0
    assert torch.equal(after, torch.get_rng_state())
    expected = init_params(model, 9, 4)
    for k, v in engine.state_dict().items():
        np.testing.assert_array_equal(v, expected[k].astype(np.float32), err_msg=k)


# -- errors a user can cause ------------------------------------------------------------------------------


@pytest.mark.parametrize("train, message", [
    (dict(engine="jax"), "expected engine 'numpy' or 'torch', got 'jax'"),
    (dict(engine="numpy", device="cuda"), "expected --engine torch for --device cuda, got the numpy engine"),
    (dict(engine="numpy", distributed=True), "expected --engine torch for --distributed, got the numpy engine"),
])
def test_impossible_engine_settings_are_config_errors(train, message):
    with pytest.raises(ConfigError) as info:
        make_engine(ModelConfig(hidden_size=4), TrainConfig(**train), 5)
    assert isinstance(info.value, DeeprnnError) and str(info.value).startswith(message)


@needs_torch
@no_cuda
def test_torch_settings_this_machine_cannot_run_are_config_errors(monkeypatch):
    with pytest.raises(ConfigError, match="expected a CUDA GPU for --device cuda"):
        make_engine(ModelConfig(hidden_size=4), TrainConfig(engine="torch", device="cuda"), 5)
    from deeprnn.torch_engine import distributed

    for var in distributed.TORCHRUN_ENV:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ConfigError, match=r"expected --distributed under torchrun \(environment RANK, .*launch with"):
        make_engine(ModelConfig(hidden_size=4), TrainConfig(engine="torch", distributed=True), 5)
    with pytest.raises(ValueError, match="expected the environment torchrun sets") as info:  # the engine's own
        distributed.init("cpu")
    assert not isinstance(info.value, DeeprnnError)


# -- one table of cells --------------------------------------------------------------------------------------


def test_the_cell_table_names_the_classes_of_both_engines_and_torch():
    assert CHOICES["cell"] == tuple(CELL_CLASSES) and CHOICES["nonlinearity"] == NONLINEARITIES
    modes = {(cell, nl): mode_name(cell, nl) for cell in CELL_CLASSES for nl in NONLINEARITIES}
    assert modes == {("rnn", "tanh"): "RNN_TANH", ("rnn", "relu"): "RNN_RELU", ("gru", "tanh"): "GRU",
                     ("gru", "relu"): "GRU", ("lstm", "tanh"): "LSTM", ("lstm", "relu"): "LSTM",
                     ("mingru", "tanh"): "MinGRU", ("mingru", "relu"): "MinGRU",
                     ("minlstm", "tanh"): "MinLSTM", ("minlstm", "relu"): "MinLSTM"}
    assert set(modes.values()) == set(GATE_MULT) and set(INPUT_GATED) < set(GATE_MULT)
    for name in CELL_CLASSES.values():
        assert issubclass(getattr(dr, name), numpy_engine.RNNBase)
    if torch is not None:
        from deeprnn.torch_engine import minrnn, stack

        for name in CELL_CLASSES.values():
            if name in INPUT_GATED:  # torch.nn has no such cell: both engines use torch_engine/minrnn.py
                assert not hasattr(torch.nn, name) and issubclass(getattr(minrnn, name), stack.RNNBase)
            else:
                assert issubclass(getattr(torch.nn, name), torch.nn.RNNBase)
                assert issubclass(getattr(stack, name), stack.RNNBase)


# -- one state_dict check, one optimizer-state parser ----------------------------------------------------------


def test_the_weight_average_checks_keys_and_shapes_as_a_checkpoint_error():
    from deeprnn.lm.average import WeightAverage

    avg = WeightAverage({"w": np.zeros((3, 2)), "b": np.zeros(2)}, decay=0.9)
    with pytest.raises(CheckpointError, match=r"expected a weight average \(train\.ema\) of parameters \['w', 'b'\], "
                                              r"got missing \['b'\]"):
        avg.load({"w": np.ones((3, 2))}, 5)
    with pytest.raises(CheckpointError, match=r"expected b of shape \(2,\), got \(3,\)"):
        avg.load({"w": np.ones((3, 2)), "b": np.ones(3)}, 5)
    avg.load({"w": np.ones((3, 2), np.float32), "b": np.ones(2)}, 5)
    assert avg.n == 5 and avg.params["w"].dtype == np.float64 and avg.params["w"].sum() == 6


def test_optimizer_state_is_parsed_in_one_place():
    shapes = {"head.bias": (3,), "rnn.weight_hh_l0": (8, 2)}
    sd = {"step": np.array([7]), "exp_avg.head.bias": np.ones(3), "exp_avg_sq.rnn.weight_hh_l0": np.ones((8, 2))}
    step, state = parse_state_dict(sd, ("exp_avg", "exp_avg_sq", "momentum_buffer"), shapes)
    assert step == 7 and sorted(state) == ["exp_avg", "exp_avg_sq", "momentum_buffer"]
    assert list(state["exp_avg"]) == ["head.bias"] and list(state["exp_avg_sq"]) == ["rnn.weight_hh_l0"]
    assert state["momentum_buffer"] == {}
    with pytest.raises(ValueError, match=r"expected optimizer keys '<buffer>\.<parameter>' with buffer in "
                                         r"\('exp_avg',\), got 'exp_avg_sq.rnn.weight_hh_l0'"):
        parse_state_dict(sd, ("exp_avg",), shapes)
    with pytest.raises(ValueError, match=r"expected exp_avg.head.bias of shape \(3,\), got \(4,\)"):
        parse_state_dict({**sd, "exp_avg.head.bias": np.ones(4)}, ("exp_avg", "exp_avg_sq"), shapes)
    with pytest.raises(ValueError, match="expected optimizer state with a 'step' entry"):
        parse_state_dict({"exp_avg.head.bias": np.ones(3)}, ("exp_avg",), shapes)
