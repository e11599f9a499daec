"""The NumPy engine's deep-stack options: LayerNorm cells (layer_norm=True) and skips (residual=True).

* every hand-written gradient (parameters, x, h0, c0) against central differences in float64, with the
  LayerNorm gains and shifts moved away from 1 and 0, for each cell, with dropout, both directions,
  variable lengths, no bias, a projection, and the size-1 edges (batch 1, sequence 1, hidden 1);
* the LayerNorm itself (mean 0, variance 1, invariance to the scale of the weights, one unit);
* what residual computes, built by hand from single layers, and how it meets dropout;
* parameter names, shapes and initialisation; warnings and argument errors.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import deeprnn as dr
from conftest import KIND_NAMES, as_tuple, make_layer, randn
from deeprnn.layout import check_stack_args, constant_init, param_shapes
from deeprnn.numpy_engine.layernorm import EPS, ln_backward, ln_forward
from test_engine_gradcheck import check_layer

LN = dict(layer_norm=True)
# name -> (constructor kwargs, T, B (None: unbatched), forward extras, tolerance)
LN_CONFIGS = {
    "1layer": (dict(num_layers=1), 4, 2, {}, 1e-6),
    "3layers_dropout": (dict(num_layers=3, dropout=0.4), 3, 2, {}, 1e-6),  # H 3: over 2 units N is ±1, too sharp
    "bidirectional_lengths": (dict(num_layers=1, bidirectional=True), 4, 3, {"lengths": [4, 1, 2]}, 1e-6),
    "no_bias_unbatched": (dict(num_layers=2, bias=False), 3, None, {}, 1e-6),
    "batch1_seq1": (dict(num_layers=2), 1, 1, {}, 1e-6),
    # hidden 1: the LayerNorm of a one-unit row is exactly 0 (see test_one_unit_layer_norm_is_its_shift);
    # with h of one unit, N(h W_hhᵀ) hardly depends on h (N(λu) = N(u)), so dL/dh0 is ~1e-5 in size
    # and central differences resolve it to ~2e-6 relative only
    "hidden1": (dict(num_layers=2, H=1), 3, 2, {}, 1e-5),
}
RESIDUAL_CONFIGS = {
    "dropout": (dict(num_layers=3, H=2, dropout=0.4, residual=True), 3, 2, {}, 1e-6),
    "bidirectional_lengths": (dict(num_layers=2, bidirectional=True, residual=True), 4, 3, {"lengths": [2, 4, 1]},
                              1e-6),
    "layer_norm_batch_first": (dict(num_layers=3, residual=True, batch_first=True, **LN), 3, 2, {}, 1e-6),
}
PROJ_CONFIGS = {
    "ln_proj_bidir_lengths": (dict(num_layers=1, proj_size=2, bidirectional=True, **LN), 3, 2, {"lengths": [1, 3]}),
    "residual_ln_proj_dropout": (dict(num_layers=3, H=4, proj_size=2, dropout=0.3, residual=True, **LN), 2, 2, {}),
}


def moved(model, seed: int = 3):
    """The model with its LayerNorm gains and shifts moved off 1 and 0, so that their gradients and every
    other one depend on them."""
    rng = np.random.default_rng(seed)
    for name, p in model.params.items():
        if name.startswith("ln_"):
            p += 0.4 * rng.standard_normal(p.shape)
    return model


def quiet_layer(kind, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the hidden-1 warning: it is tested on its own below
        return make_layer(kind, **kw)


@pytest.mark.parametrize("config", LN_CONFIGS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_layer_norm_gradients(kind, config):
    kw, T, B, extra, tol = LN_CONFIGS[config]
    check_layer(moved(quiet_layer(kind, **LN, **kw)), T, B, tol=tol, **extra)


@pytest.mark.parametrize("config", RESIDUAL_CONFIGS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_residual_gradients(kind, config):
    kw, T, B, extra, tol = RESIDUAL_CONFIGS[config]
    check_layer(moved(make_layer(kind, **kw)), T, B, tol=tol, **extra)


@pytest.mark.parametrize("config", PROJ_CONFIGS)
def test_lstm_projection_gradients_with_both_options(config):
    kw, T, B, extra = PROJ_CONFIGS[config]
    check_layer(moved(make_layer("lstm", **kw)), T, B, **extra)


# ---- the LayerNorm ---------------------------------------------------------------------------------


def test_ln_forward_and_backward_follow_their_definition():
    rng = np.random.default_rng(0)
    u = 3.0 + 2.0 * rng.standard_normal((4, 7))
    n, rstd = np.empty_like(u), np.empty((4, 1))
    ln_forward(u, n, rstd)
    np.testing.assert_allclose(n.mean(axis=1), 0, atol=1e-14)
    np.testing.assert_allclose(n.var(axis=1), u.var(axis=1) / (u.var(axis=1) + EPS), rtol=1e-12)
    np.testing.assert_allclose(rstd[:, 0], 1 / np.sqrt(u.var(axis=1) + EPS), rtol=1e-14)
    dn, du = rng.standard_normal(u.shape), np.empty_like(u)
    ln_backward(dn, n, rstd, du)
    J = np.empty((4, 7, 7))  # the Jacobian of each row, by central differences
    for k in range(7):
        up, down, e = u.copy(), u.copy(), 1e-6
        up[:, k] += e
        down[:, k] -= e
        nu, nd = np.empty_like(u), np.empty_like(u)
        ln_forward(up, nu, np.empty((4, 1)))
        ln_forward(down, nd, np.empty((4, 1)))
        J[:, :, k] = (nu - nd) / (2 * e)
    np.testing.assert_allclose(du, np.einsum("rj,rjk->rk", dn, J), rtol=1e-7, atol=1e-9)


def test_one_unit_layer_norm_is_its_shift():
    """Over one unit u - mean(u) = 0: N = 0 and its gradient 0, so an LSTM of hidden size 1 outputs
    o_t ⊙ tanh(β_c) whatever c_t is, and an Elman cell φ(b_ih + b_hh)."""
    u, n, rstd, du = np.array([[5.0], [-2.0]]), np.empty((2, 1)), np.empty((2, 1)), np.empty((2, 1))
    ln_forward(u, n, rstd)
    ln_backward(np.ones((2, 1)), n, rstd, du)
    assert np.all(n == 0) and np.all(du == 0)
    rnn = quiet_layer("rnn_tanh", H=1, **LN)
    x = randn(np.random.default_rng(1), (5, 2, 3))
    out, _ = rnn(x)
    np.testing.assert_allclose(out, np.tanh(rnn.params["bias_ih_l0"] + rnn.params["bias_hh_l0"]) + 0 * out)


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_layer_norm_makes_the_output_blind_to_the_scale_of_the_weights(kind):
    """N(λu) = N(u) up to ε: scaling W_ih and W_hh of every layer by 10 leaves the LayerNorm stack's
    output nearly as it was (ε weighs less when the rows are larger), and changes the plain stack's."""
    rng = np.random.default_rng(2)
    x = randn(rng, (6, 2, 3))
    change = {}
    for ln in (True, False):
        model = make_layer(kind, H=4, num_layers=2, layer_norm=ln)
        before, _ = model(x)
        for name, p in model.params.items():
            if name.startswith(("weight_ih", "weight_hh")):
                p *= 10.0
        change[ln] = np.abs(model(x)[0] - before).max()
    assert change[True] < 3e-3 and change[False] > 0.1, change


def test_lstm_normalises_the_cell_state_before_the_output_tanh():
    """With γ_c = 0 the output is o_t ⊙ tanh(β_c): c_t reaches h_t only through LN(c_t)."""
    model = make_layer("lstm", H=3, **LN)
    x = randn(np.random.default_rng(3), (4, 2, 3))
    model.params["ln_c_weight_l0"][:] = 0.0
    model.params["ln_c_bias_l0"][:] = 0.7
    out, _ = model(x)
    ratio = out / np.tanh(0.7)  # = o_t, a sigmoid
    assert np.all((ratio > 0) & (ratio < 1)) and np.ptp(ratio) > 0.01


# ---- residual --------------------------------------------------------------------------------------


def _single_layers(model, cls_kw):
    """One 1-layer stack per layer of ``model``, holding that layer's weights (forward direction)."""
    out = []
    for layer in range(model.num_layers):
        sd = {k.replace(f"_l{layer}", "_l0"): v for k, v in model.params.items() if f"_l{layer}" in k}
        I = model.input_size if layer == 0 else model.output_size
        out.append(type(model)(I, model.hidden_size, dtype=np.float64, state_dict=sd, **cls_kw))
    return out


@pytest.mark.parametrize("kind", KIND_NAMES)
@pytest.mark.parametrize("layer_norm", [False, True])
def test_residual_adds_each_layers_input_from_the_second_layer_on(kind, layer_norm):
    model = moved(make_layer(kind, H=3, num_layers=3, residual=True, layer_norm=layer_norm))
    extra = {"nonlinearity": model.nonlinearity} if kind.startswith("rnn") else {}
    l0, l1, l2 = _single_layers(model, dict(layer_norm=layer_norm, **extra))
    x = randn(np.random.default_rng(4), (5, 2, 3))
    y0, s0 = l0(x)
    y1 = l1(y0)[0] + y0  # y_l = layer_l(y_{l-1}) + y_{l-1}, l >= 1
    y2, s2 = l2(y1)
    out, h_n = model(x)
    np.testing.assert_allclose(out, y2 + y1, rtol=1e-12, atol=1e-14)
    # the states are the cells' own: layer 0's is the plain layer's
    for a, b in zip(as_tuple(h_n), as_tuple(s0)):
        np.testing.assert_allclose(a[0], b[0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["gru", "lstm"])
def test_residual_skip_carries_the_undropped_output(kind):
    """dropout=1 drops everything the upper layers read, but not the skip: y_1 = layer_1(0) + y_0."""
    model = make_layer(kind, H=3, num_layers=2, residual=True, dropout=1.0)
    l0, l1 = _single_layers(model, {})
    x = randn(np.random.default_rng(5), (4, 2, 3))
    y0, _ = l0(x)
    out, _ = model(x)
    np.testing.assert_allclose(out, l1(np.zeros_like(y0))[0] + y0, rtol=1e-12, atol=1e-14)
    model.eval()  # and evaluation mode drops nothing
    np.testing.assert_allclose(model(x)[0], l1(y0)[0] + y0, rtol=1e-12, atol=1e-14)


def test_residual_keeps_the_dropout_masks_of_the_plain_stack():
    """The same seed draws the same masks in the same places with and without the skips."""
    outs = {}
    for residual in (False, True):
        model = make_layer("lstm", H=3, num_layers=3, dropout=0.5, residual=residual, seed=9)
        model(randn(np.random.default_rng(6), (4, 2, 3)))
        layers = model._cache[0]
        outs[residual] = [drop for _, drop in layers]
    for a, b in zip(outs[False], outs[True]):
        assert (a is None and b is None) or np.array_equal(a, b)


# ---- parameters, initialisation, warnings and errors ----------------------------------------------------


def test_layer_norm_parameter_names_shapes_and_initial_values():
    lstm = make_layer("lstm", I=5, H=4, num_layers=2, proj_size=2, bidirectional=True, **LN)
    new = {k: v.shape for k, v in lstm.params.items() if k.startswith("ln_")}
    assert new == {f"ln_{n}{s}": shape for s in ("_l0", "_l0_reverse", "_l1", "_l1_reverse")
                   for n, shape in (("ih_weight", (16,)), ("hh_weight", (16,)), ("c_weight", (4,)), ("c_bias", (4,)))}
    assert list(lstm.params)[:6] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0", "weight_hr_l0",
                                     "ln_ih_weight_l0"]
    for k in new:
        assert np.all(lstm.params[k] == (0.0 if "bias" in k else 1.0)), k
        assert constant_init("rnn." + k) == (0.0 if "bias" in k else 1.0)
    plain = make_layer("lstm", I=5, H=4, num_layers=2, proj_size=2, bidirectional=True)
    for k, v in plain.params.items():  # the other parameters get the same draws as without layer_norm
        np.testing.assert_array_equal(lstm.params[k], v)
    gru = make_layer("gru", H=4, bias=False, **LN)
    assert [k for k in gru.params if k.startswith("ln_")] == ["ln_ih_weight_l0", "ln_hh_weight_l0"]
    assert make_layer("lstm", H=4, bias=False, **LN).params["ln_c_weight_l0"].shape == (4,)
    assert "ln_c_bias_l0" not in make_layer("lstm", H=4, bias=False, **LN).params
    spec = check_stack_args(3, 4, 2, residual=True)
    assert param_shapes(spec, 4) == param_shapes(check_stack_args(3, 4, 2), 4)  # skips have no parameters


def test_state_dict_round_trip_and_repr():
    a = moved(make_layer("gru", H=3, num_layers=2, **LN, residual=True))
    b = make_layer("gru", H=3, num_layers=2, **LN, residual=True, seed=1)
    b.load_state_dict(a.state_dict())
    x = randn(np.random.default_rng(7), (3, 2, 3))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    assert repr(b) == "GRU(3, 3, num_layers=2, layer_norm=True, residual=True)"
    with pytest.raises(ValueError, match="ln_ih_weight_l0"):
        make_layer("gru", H=3, num_layers=2).load_state_dict(a.state_dict())


def test_float32_runs_the_same_equations():
    for kind in KIND_NAMES:
        a = moved(make_layer(kind, H=4, num_layers=2, **LN, residual=True))
        b = make_layer(kind, H=4, num_layers=2, **LN, residual=True, dtype=np.float32)
        b.load_state_dict(a.state_dict())
        x = randn(np.random.default_rng(8), (5, 3, 3))
        out64, _ = a(x)
        out32, _ = b(x.astype(np.float32))
        assert out32.dtype == np.float32
        np.testing.assert_allclose(out32, out64, atol=2e-5)
        dx64, _ = a.backward(np.ones_like(out64))
        dx32, _ = b.backward(np.ones_like(out32))
        np.testing.assert_allclose(dx32, dx64, rtol=1e-3, atol=1e-4)


def test_warnings_for_options_without_effect():
    with pytest.warns(UserWarning, match="residual=True has no effect with num_layers=1"):
        dr.LSTM(3, 4, residual=True)
    with pytest.warns(UserWarning, match="layer_norm with hidden_size=1"):
        dr.GRU(3, 1, layer_norm=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dr.LSTM(3, 2, num_layers=2, residual=True, layer_norm=True)


@pytest.mark.parametrize("arg", ["layer_norm", "residual"])
def test_options_must_be_booleans(arg):
    with pytest.raises(TypeError, match=f"expected {arg} to be a bool, got str 'yes'"):
        dr.LSTM(3, 4, num_layers=2, **{arg: "yes"})
