"""Initialisation as a model setting (lm/initialization.py through engines/base.py ``init_params``).

* each scheme's statistics: "normal" N(0, σ²) with zero biases (the head too), "xavier" Glorot uniform
  per gate block, "orthogonal" W_hh blocks with QᵀQ = I and W_ih as "xavier"; LayerNorm constants
  1 and 0 under every scheme; minGRU and minLSTM; hidden size 1 and one layer;
* ``forget_bias``: b_ih's forget block holds it and b_hh's is 0, the rest as without it; refused for
  cells without a forget gate;
* the same seed gives the same weights on the NumPy and the torch engine, for every scheme;
* ``--init``, ``--init-std`` and ``--forget-bias`` on the command line, bad values refused in one line.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from deeprnn.errors import ConfigError
from deeprnn.lm.config import ModelConfig, RunConfig, TrainConfig, merge
from deeprnn.lm.engines import init_params, make_engine
from deeprnn.lm.runs import read_config
from lm_helpers import TINY_FLAGS, assert_one_line_error, cli, no_plots, write_corpus
from torch_helpers import needs_torch, torch_one_thread

assert no_plots and torch_one_thread  # fixtures, imported for use below

E, H, V = 16, 64, 30
SCHEMES = ("torch", "normal", "xavier", "orthogonal")
MULT = {"rnn": 1, "gru": 3, "lstm": 4, "mingru": 2, "minlstm": 3}


def _params(init="torch", cell="lstm", **model):
    cfg = dict(cell=cell, num_layers=2, hidden_size=H, embedding_dim=E, init=init, **model)
    return init_params(ModelConfig(**cfg), V, seed=3)


def _blocks(w: np.ndarray, hidden: int = H) -> list[np.ndarray]:
    return [w[i:i + hidden] for i in range(0, w.shape[0], hidden)]


def _assert_uniform(w: np.ndarray, bound: float, what: str) -> None:
    """Values of U(-bound, bound): within it, reaching near it, mean 0, std bound/√3."""
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound, what
    assert abs(w.mean()) < 0.1 * bound and abs(w.std() / (bound / math.sqrt(3)) - 1) < 0.1, what


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm", "mingru", "minlstm"])
def test_normal_draws_every_weight_from_n0_sigma_and_zeroes_every_bias(cell):
    p = _params("normal", cell, init_std=0.05)
    weights = [k for k in p if "weight" in k]
    assert "embedding.weight" in weights and "head.weight" in weights
    for k in weights:
        assert abs(p[k].mean()) < 0.01 and abs(p[k].std() / 0.05 - 1) < 0.15, k
    for k in (k for k in p if "bias" in k):
        assert not p[k].any(), k
    every = np.concatenate([p[k].ravel() for k in weights if k.startswith("rnn.")])
    assert abs(every.std() / 0.05 - 1) < 0.02  # σ is init_std, not its default 0.01


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm", "mingru", "minlstm"])
def test_xavier_is_glorot_uniform_per_gate_block(cell):
    p = _params("xavier", cell)
    for k in range(2):
        fan_in = E if k == 0 else H
        w = p[f"rnn.weight_ih_l{k}"]
        assert w.shape == (MULT[cell] * H, fan_in)
        for b in _blocks(w):  # fan_out = H (one gate), not G: the bound is √(6/(I + H))
            _assert_uniform(b, math.sqrt(6 / (fan_in + H)), f"weight_ih_l{k}")
        if f"rnn.weight_hh_l{k}" in p:
            for b in _blocks(p[f"rnn.weight_hh_l{k}"]):
                _assert_uniform(b, math.sqrt(6 / (2 * H)), f"weight_hh_l{k}")
    _assert_uniform(p["head.weight"], math.sqrt(6 / (H + V)), "head.weight")
    assert not any(p[k].any() for k in p if "bias" in k)
    assert abs(p["embedding.weight"].std() - 1) < 0.15  # the embedding stays N(0, 1)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_orthogonal_gives_each_w_hh_block_orthonormal_columns(cell):
    p, xavier = _params("orthogonal", cell), _params("xavier", cell)
    for k in range(2):
        blocks = _blocks(p[f"rnn.weight_hh_l{k}"])
        assert len(blocks) == MULT[cell]
        for b in blocks:
            np.testing.assert_allclose(b.T @ b, np.eye(H), atol=1e-12)
        if len(blocks) > 1:  # each block drawn on its own
            assert not np.allclose(blocks[0], blocks[1])
        for b in _blocks(p[f"rnn.weight_ih_l{k}"]):
            _assert_uniform(b, math.sqrt(6 / ((E if k == 0 else H) + H)), f"weight_ih_l{k}")
    assert p["head.weight"].shape == xavier["head.weight"].shape
    _assert_uniform(p["head.weight"], math.sqrt(6 / (H + V)), "head.weight")
    assert not any(p[k].any() for k in p if "bias" in k)


def test_orthogonal_with_a_projection_has_orthonormal_h_by_p_blocks():
    from deeprnn.lm.initialization import draw, orthogonal

    rng = np.random.default_rng(0)
    q = orthogonal(rng, 6, 3)
    np.testing.assert_allclose(q.T @ q, np.eye(3), atol=1e-12)
    out = draw("orthogonal", {"rnn.weight_hh_l0": (4 * 6, 3), "rnn.weight_hr_l0": (3, 6)}, 6, rng, 0.01)
    for b in _blocks(out["rnn.weight_hh_l0"], 6):
        np.testing.assert_allclose(b.T @ b, np.eye(3), atol=1e-12)
    assert np.abs(out["rnn.weight_hr_l0"]).max() <= math.sqrt(6 / 9)  # W_hr (P, H): one Xavier block


@pytest.mark.parametrize("init", SCHEMES)
def test_layer_norm_gains_and_shifts_start_at_one_and_zero_under_every_scheme(init):
    p = _params(init, "lstm", layer_norm=True)
    ln = [k for k in p if ".ln_" in k]
    assert len(ln) == 2 * 4
    for k in ln:
        np.testing.assert_array_equal(p[k], 1.0 if "_weight" in k else 0.0, err_msg=k)
    plain = _params(init, "lstm")
    for k in plain:  # the other arrays get the same draws as without layer_norm
        np.testing.assert_array_equal(p[k], plain[k], err_msg=k)


@pytest.mark.parametrize("init", SCHEMES)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "minlstm"])
def test_hidden_size_one_and_one_layer(init, cell):
    p = init_params(ModelConfig(cell=cell, num_layers=1, hidden_size=1, embedding_dim=0, init=init), 3, seed=0)
    assert all(np.isfinite(v).all() for v in p.values())
    assert p["rnn.weight_ih_l0"].shape == (MULT[cell], 3)
    if init == "orthogonal" and cell != "minlstm":
        np.testing.assert_allclose(np.abs(p["rnn.weight_hh_l0"]), 1.0)  # a 1×1 orthogonal block is ±1
    if init in ("xavier", "orthogonal"):
        assert np.abs(p["rnn.weight_ih_l0"]).max() <= math.sqrt(6 / (3 + 1))


def test_the_schemes_differ_and_each_follows_the_seed():
    drawn = {init: _params(init) for init in SCHEMES}
    for a in SCHEMES:
        for b in SCHEMES:
            if a < b:
                assert not np.array_equal(drawn[a]["rnn.weight_hh_l0"], drawn[b]["rnn.weight_hh_l0"])
        again = _params(a)
        assert all(np.array_equal(again[k], drawn[a][k]) for k in again)
        other = init_params(ModelConfig(num_layers=2, hidden_size=H, embedding_dim=E, init=a), V, seed=4)
        assert not np.array_equal(other["rnn.weight_hh_l0"], drawn[a]["rnn.weight_hh_l0"])


# -- the forget-gate bias ---------------------------------------------------------------------------


@pytest.mark.parametrize("init", SCHEMES)
@pytest.mark.parametrize("cell, block, two_biases", [("lstm", 1, True), ("minlstm", 0, False)])
def test_forget_bias_goes_into_b_ih_and_zeroes_b_hh(init, cell, block, two_biases):
    p, plain = _params(init, cell, forget_bias=1.5), _params(init, cell)
    f = slice(block * H, (block + 1) * H)
    for k in range(2):
        np.testing.assert_array_equal(p[f"rnn.bias_ih_l{k}"][f], 1.5)
        if two_biases:
            np.testing.assert_array_equal(p[f"rnn.bias_hh_l{k}"][f], 0.0)
            np.testing.assert_array_equal(p[f"rnn.bias_ih_l{k}"][f] + p[f"rnn.bias_hh_l{k}"][f], 1.5)
    for name, v in plain.items():  # everything else as without it
        if "bias" in name and name.startswith("rnn."):
            keep = np.ones(v.shape, bool)
            keep[f] = False
            np.testing.assert_array_equal(p[name][keep], v[keep], err_msg=name)
        else:
            np.testing.assert_array_equal(p[name], v, err_msg=name)


@pytest.mark.parametrize("cell", ["rnn", "gru", "mingru"])
def test_forget_bias_is_refused_for_cells_without_a_forget_gate(cell):
    with pytest.raises(ConfigError, match=rf"expected model.forget_bias = 0 for cell='{cell}' \(only lstm and "
                                          r"minlstm have a forget gate\), got 1.0"):
        merge(RunConfig(), {"model": {"cell": cell, "forget_bias": 1.0}}, "test")


@pytest.mark.parametrize("updates, message", [
    ({"init": "he"}, "expected model.init in ('torch', 'normal', 'xavier', 'orthogonal'), got 'he'"),
    ({"init_std": 0.0}, "expected model.init_std > 0 (the σ of init='normal'), got 0.0"),
    ({"init_std": -1}, "expected model.init_std > 0 (the σ of init='normal'), got -1.0"),
])
def test_bad_settings_name_the_expected_and_the_actual_value(updates, message):
    with pytest.raises(ConfigError) as e:
        merge(RunConfig(), {"model": updates}, "test")
    assert message in str(e.value)


# -- one source for both engines --------------------------------------------------------------------


@needs_torch
@pytest.mark.usefixtures("torch_one_thread")
@pytest.mark.parametrize("init", SCHEMES)
@pytest.mark.parametrize("cell, extra", [("lstm", {"forget_bias": 1.0}), ("gru", {}), ("rnn", {"embedding_dim": 0}),
                                         ("mingru", {}), ("minlstm", {"forget_bias": 2.0}),
                                         ("lstm", {"layer_norm": True, "residual": True})])
def test_the_same_seed_gives_the_same_weights_on_both_engines(init, cell, extra):
    model = ModelConfig(**{"cell": cell, "num_layers": 2, "hidden_size": 7, "embedding_dim": 5, "init": init,
                           **extra})
    engines = [make_engine(model, TrainConfig(engine=e, dtype="float64", seed=11), 9) for e in ("numpy", "torch")]
    a, b = (e.state_dict() for e in engines)
    expected = init_params(model, 9, 11)
    assert list(a) == list(expected) and sorted(b) == sorted(expected)
    for k in expected:
        np.testing.assert_array_equal(a[k], expected[k], err_msg=k)
        np.testing.assert_array_equal(b[k], expected[k], err_msg=k)
    if init != "torch":  # the scheme reaches the engines
        default = init_params(ModelConfig(**{**model.__dict__, "init": "torch"}), 9, 11)
        assert not np.array_equal(a["rnn.weight_ih_l0"], default["rnn.weight_ih_l0"])


# -- the command line -------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_plots")
def test_the_flags_set_the_fields_and_the_run_starts_from_them(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 600)
    run = tmp_path / "run"
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", run, "--max-steps", 1,
                       "--eval-every", 1, "--init", "normal", "--init-std", "0.02", "--forget-bias", "1")
    assert code == 0, err
    m = read_config(run).model
    assert (m.init, m.init_std, m.forget_bias) == ("normal", 0.02, 1.0)


def test_bad_flags_are_one_line_errors(tmp_path, capsys):
    corpus = write_corpus(tmp_path, 600)
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "a", "--init", "he")
    assert_one_line_error(code, err, "--init", "'he'", "torch", "orthogonal")
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "b", "--cell", "gru",
                       "--forget-bias", "1")
    assert_one_line_error(code, err, "expected model.forget_bias = 0 for cell='gru'", "got 1.0")
    code, _, err = cli(capsys, "train", *TINY_FLAGS, "--corpus", corpus, "--out", tmp_path / "c", "--init-std", "0")
    assert_one_line_error(code, err, "expected model.init_std > 0", "got 0.0")
