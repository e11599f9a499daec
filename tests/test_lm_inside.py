"""lm/inside.py: every layer's h (and c) at every token, from canonical weights, against the engines.

The reference for layer l at token t is the engine's own final state after reading tokens 0..t (the
engines return every layer's final h and c), so each of the L·T states is checked, not only the top
layer's output; the logits are checked against ``engine.logits`` on the same text. float64 throughout.
"""

from __future__ import annotations

import numpy as np
import pytest

from deeprnn.lm.config import ModelConfig
from deeprnn.lm.inside import STATE_NAMES, activations
from lm_helpers import tiny_engine
from torch_helpers import needs_torch, torch_one_thread

assert torch_one_thread  # a fixture, imported for the torch test

MODELS = {  # name -> model fields
    "rnn_tanh_embedding": dict(cell="rnn", nonlinearity="tanh", num_layers=3),
    "rnn_relu_onehot": dict(cell="rnn", nonlinearity="relu", num_layers=2, embedding_dim=0),
    "gru_embedding": dict(cell="gru", num_layers=3),
    "gru_onehot": dict(cell="gru", num_layers=1, embedding_dim=0),
    "lstm_embedding": dict(cell="lstm", num_layers=3),
    "lstm_onehot": dict(cell="lstm", num_layers=2, embedding_dim=0),
    "lstm_hidden_1": dict(cell="lstm", num_layers=2, hidden_size=1),
}
IDS = np.array([3, 1, 4, 1, 5, 9, 2, 6, 0])  # (T,) with V = 11


def _states(engine, state) -> tuple:
    return tuple(state) if isinstance(state, tuple) else (state,)


def assert_every_state_matches(engine, model: ModelConfig, ids, atol=1e-12):
    acts = activations(model, engine.state_dict(), ids)
    T, L, H = len(ids), model.num_layers, model.hidden_size
    assert acts.h.shape == (L, T, H) and acts.h.dtype == np.float64
    assert acts.states == STATE_NAMES[model.cell]
    assert (acts.c is None) == (model.cell != "lstm")
    for t in range(T):
        _, final = engine.logits(ids[: t + 1, None], engine.initial_state(1))  # states (L, 1, H) after token t
        for name, ref in zip(acts.states, _states(engine, final)):
            for layer in range(L):
                np.testing.assert_allclose(acts.state(name, layer)[t], np.asarray(ref)[layer, 0], rtol=0, atol=atol,
                                           err_msg=f"{name} of layer {layer} at token {t}")
    z, _ = engine.logits(ids[:, None], engine.initial_state(1))  # (T, 1, V)
    np.testing.assert_allclose(acts.logits, z[:, 0], rtol=0, atol=atol * 10)


@pytest.mark.parametrize("name", MODELS)
def test_every_layer_and_token_equals_the_numpy_engine(name):
    engine = tiny_engine(V=11, seed=3, **MODELS[name])
    assert_every_state_matches(engine, engine.cfg, IDS)


def test_one_token_and_the_float32_engine():
    e64 = tiny_engine(V=11, seed=4)
    assert_every_state_matches(e64, e64.cfg, IDS[:1])  # T = 1
    e32 = tiny_engine(V=11, seed=4, dtype="float32")
    acts = activations(e32.cfg, e32.state_dict(), IDS)  # float32 weights, float64 arithmetic
    z, _ = e32.logits(IDS[:, None], e32.initial_state(1))
    np.testing.assert_allclose(acts.logits, z[:, 0], rtol=0, atol=1e-5)


@needs_torch
@pytest.mark.usefixtures("torch_one_thread")
@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_weights_of_the_torch_engine(cell):
    """The fused torch engine exposes no inner layer; the same canonical weights give its top layer's
    output (through its logits) and every layer's final state."""
    engine = tiny_engine(V=11, seed=2, train={"engine": "torch"}, cell=cell, num_layers=2, hidden_size=6,
                         embedding_dim=4)
    assert engine.name == "torch"
    acts = activations(engine.cfg, engine.state_dict(), IDS)
    z, final = engine.logits(IDS[:, None], engine.initial_state(1))
    np.testing.assert_allclose(acts.logits, z[:, 0], rtol=0, atol=1e-10)
    for name, ref in zip(acts.states, _states(engine, final)):
        np.testing.assert_allclose(np.stack([acts.state(name, l)[-1] for l in range(2)]), np.asarray(ref)[:, 0],
                                   rtol=0, atol=1e-10)


def test_a_unit_that_is_driven_by_its_input_shows_it():
    """A hand-made one-layer RNN whose unit 0 is tanh(5·[x_t = token 2]): the activation says so."""
    engine = tiny_engine(V=4, cell="rnn", num_layers=1, hidden_size=2, embedding_dim=0)
    sd = {k: np.zeros_like(v) for k, v in engine.state_dict().items()}
    sd["rnn.weight_ih_l0"][0, 2] = 5.0  # (H, V): unit 0 reads token 2 only
    engine.load_state_dict(sd)
    ids = np.array([0, 2, 1, 2, 2, 3])
    h = activations(engine.cfg, engine.state_dict(), ids).state("h", 0)  # (T, H)
    np.testing.assert_allclose(h[:, 0], np.tanh(5.0 * (ids == 2)), atol=1e-12)
    np.testing.assert_allclose(h[:, 1], 0.0, atol=0)


def test_bad_arguments_name_expected_and_actual():
    engine = tiny_engine(V=11, cell="gru", num_layers=2)
    sd, m = engine.state_dict(), engine.cfg
    with pytest.raises(ValueError, match=r"expected token ids of shape \(T,\).*got int64 of shape \(2, 2\)"):
        activations(m, sd, np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError, match=r"T >= 1.*shape \(0,\)"):
        activations(m, sd, np.array([], np.int64))
    with pytest.raises(ValueError, match=r"expected token ids in \[0, 11\), got values from 0 to 11"):
        activations(m, sd, np.array([0, 11]))
    acts = activations(m, sd, IDS)
    with pytest.raises(ValueError, match=r"expected state in \('h',\) for this model, got 'c'"):
        acts.state("c", 0)
    with pytest.raises(ValueError, match=r"expected layer in \[0, 1\] for a model of 2 layers, got 2"):
        acts.state("h", 2)
