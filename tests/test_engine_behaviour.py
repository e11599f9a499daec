"""Behaviour of layers and cells beyond the maths: gradient bookkeeping, caches, dropout, seeds,
dtypes, initialisation, no_grad, state dicts and NaN."""

from __future__ import annotations

import math

import numpy as np
import pytest

import deeprnn as dr
from conftest import KIND_NAMES, as_tuple, is_lstm, make_cell, make_layer, pack, randn, random_inputs, require


def forward_backward(model, x, hx=None, seed=None):
    """One forward and backward with d_out = ones and dh_n = ones; returns (out, h_n)."""
    if seed is not None:
        model.rng = np.random.default_rng(seed)
    out, h_n = model(x, hx)
    model.backward(np.ones_like(out), pack(model, [np.ones_like(s) for s in as_tuple(h_n)]))
    return out, h_n


def snapshot(model) -> dict:
    return {k: v.copy() for k, v in model.params.items()}


def assert_params_equal(model, expected: dict):
    assert set(model.params) == set(expected)
    for k, v in expected.items():
        np.testing.assert_array_equal(model.params[k], v, err_msg=k)


# ---- gradients and caches ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_grads_accumulate_and_zero_grad_resets(kind):
    model = make_layer(kind, num_layers=2, bidirectional=True)
    x, hx = random_inputs(model, 4, 2, np.random.default_rng(0))
    forward_backward(model, x, hx)
    once = {k: g.copy() for k, g in model.grads.items()}
    assert all(np.abs(g).max() > 0 for g in once.values())
    arrays = {k: id(g) for k, g in model.grads.items()}
    forward_backward(model, x, hx)
    for k, g in model.grads.items():
        np.testing.assert_allclose(g, 2 * once[k], rtol=1e-12, atol=1e-14, err_msg=k)
    model.zero_grad()
    assert all(not g.any() for g in model.grads.values())
    assert arrays == {k: id(g) for k, g in model.grads.items()}  # reset in place


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_cell_grads_accumulate_and_zero_grad_resets(kind):
    cell = make_cell(kind)
    x = randn(np.random.default_rng(0), (2, 3))
    h = as_tuple(cell(x))[0]
    cell.backward(np.ones_like(h))
    once = {k: g.copy() for k, g in cell.grads.items()}
    cell(x)
    cell.backward(np.ones_like(h))
    for k, g in cell.grads.items():
        np.testing.assert_allclose(g, 2 * once[k], rtol=1e-12, err_msg=k)
    cell.zero_grad()
    assert all(not g.any() for g in cell.grads.values())


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_backward_consumes_the_cache(kind):
    model = make_layer(kind)
    x, _ = random_inputs(model, 3, 2, np.random.default_rng(0))
    out, _ = model(x)
    model.backward(np.ones_like(out))
    with pytest.raises(ValueError, match=r"expected a forward\(\) .* before backward\(\), got none"):
        model.backward(np.ones_like(out))


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_cell_backward_is_last_in_first_out_and_consumes(kind):
    cell = make_cell(kind)
    rng = np.random.default_rng(0)
    x1, x2 = randn(rng, (2, 3)), randn(rng, (2, 3))
    s1 = cell(x1)
    cell(x2, s1)
    dh = np.ones((2, 3))
    dx2, _ = cell.backward(dh)  # pops the step of x2
    dx1, _ = cell.backward(dh)  # then the step of x1
    solo = make_cell(kind)
    solo(x1)
    np.testing.assert_allclose(dx1, solo.backward(dh)[0], rtol=1e-12)
    assert not np.allclose(dx1, dx2)
    with pytest.raises(ValueError, match=r"expected a forward\(\) not yet backpropagated"):
        cell.backward(dh)
    cell(x1)
    cell.reset()
    with pytest.raises(ValueError, match="got none"):
        cell.backward(dh)


def test_lstm_cell_backward_without_dc_means_zeros():
    a, b = make_cell("lstm"), make_cell("lstm")
    x, dh = randn(np.random.default_rng(0), (2, 3)), np.ones((2, 3))
    a(x), b(x)
    dx_a, (dh_a, dc_a) = a.backward(dh)
    dx_b, (dh_b, dc_b) = b.backward(dh, np.zeros_like(dh))
    for u, v in ((dx_a, dx_b), (dh_a, dh_b), (dc_a, dc_b)):
        np.testing.assert_array_equal(u, v)


def test_no_grad_keeps_no_cache():
    model = make_layer("lstm", num_layers=2)
    x, _ = random_inputs(model, 3, 2, np.random.default_rng(0))
    model(x)  # a cache, which the no_grad forward below must drop
    with dr.no_grad():
        assert not dr.is_grad_enabled()
        out, _ = model(x)
    assert dr.is_grad_enabled()
    with pytest.raises(ValueError, match="before backward"):
        model.backward(np.ones_like(out))
    cell = make_cell("gru")
    with dr.no_grad():
        cell(x[0])
    with pytest.raises(ValueError, match="got none"):
        cell.backward(np.ones((2, 3)))
    with pytest.raises(RuntimeError), dr.no_grad():
        raise RuntimeError
    assert dr.is_grad_enabled()  # restored after an exception too


# ---- dropout -------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_dropout_is_active_only_in_training(kind):
    model = make_layer(kind, num_layers=3, dropout=0.5, seed=3)
    plain = make_layer(kind, num_layers=3, seed=4)
    plain.load_state_dict(model.state_dict())
    x, hx = random_inputs(model, 4, 3, np.random.default_rng(0))
    a, b = model(x, hx)[0], model(x, hx)[0]
    assert not np.allclose(a, b)  # a fresh mask at every training forward
    ref_out, ref_h = forward_backward(plain, x, hx)
    assert model.eval() is model and not model.training
    out1, _ = model(x, hx)
    out2, h_n = forward_backward(model, x, hx)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(out2, ref_out)
    for u, v in zip(as_tuple(h_n), as_tuple(ref_h)):
        np.testing.assert_array_equal(u, v)
    for k in plain.grads:
        np.testing.assert_array_equal(model.grads[k], plain.grads[k], err_msg=k)
    assert not np.allclose(model.train()(x, hx)[0], ref_out)  # train() switches it back on


def identity_relu_stack(p, num_layers=3, H=4):
    """A relu RNN whose layers >= 1 pass their (dropped) input through unchanged: out_l = input_l.
    Layer 0 gives strictly positive outputs for positive x, so out_last / out_0 reveals every mask."""
    model = dr.RNN(H, H, num_layers=num_layers, nonlinearity="relu", dropout=p, dtype=np.float64, seed=0)
    for k, v in model.params.items():
        v[...] = np.abs(v) + 0.1 if k.endswith("_l0") else 0.0
        if k.startswith("weight_ih") and not k.endswith("_l0"):
            v[...] = np.eye(H)
        if k.startswith("weight_hh"):
            v[...] = 0.0
    return model


def test_dropout_hits_every_layer_output_but_the_last_and_is_inverted():
    p, L = 0.5, 3
    model = identity_relu_stack(p, L)
    x = np.random.default_rng(0).uniform(0.1, 1.0, (10, 8, 4))
    with dr.no_grad():
        base, h_eval = model.eval()(x)
        out, h_n = model.train()(x)
    assert (base > 0).all()
    np.testing.assert_array_equal(h_eval[0], base[-1])
    ratio = out / base
    scale = 1 / (1 - p) ** (L - 1)  # L-1 dropped layer outputs, each kept one scaled by 1/(1-p)
    assert np.isin(ratio, [0.0, scale]).all(), np.unique(ratio)
    assert 0.15 < (ratio > 0).mean() < 0.35  # kept with probability (1-p)^(L-1) = 0.25
    np.testing.assert_array_equal(h_n[0], base[-1])  # the states themselves are never dropped
    np.testing.assert_array_equal(h_n[L - 1], out[-1])  # the last layer's output is not dropped


def test_dropout_one_gives_finite_outputs_independent_of_x():
    model = make_layer("lstm", num_layers=3, dropout=1.0)
    rng = np.random.default_rng(0)
    x1, _ = random_inputs(model, 4, 2, rng)
    x2, _ = random_inputs(model, 4, 2, rng)
    out1, _ = model(x1)
    out2, _ = model(x2)
    assert np.isfinite(out1).all() and out1.any()
    np.testing.assert_array_equal(out1, out2)  # layers >= 1 see only zeros
    dx, (dh0, dc0) = model.backward(np.ones_like(out2))
    assert np.isfinite(dx).all() and not dx.any()


def test_dropout_with_one_layer_warns():
    with pytest.warns(UserWarning, match="no effect with num_layers=1"):
        dr.GRU(3, 4, dropout=0.2)


# ---- seeds, dtypes, initialisation ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_same_seed_gives_same_init_and_dropout(kind):
    a, b, c = (make_layer(kind, num_layers=2, dropout=0.5, dtype=np.float32, seed=s) for s in (7, 7, 8))
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    assert any(not np.array_equal(a.params[k], c.params[k]) for k in a.params)
    x, _ = random_inputs(a, 4, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(a(x)[0], b(x)[0])
    cells = [make_cell(kind, seed=s) for s in (1, 1, 2)]
    assert all(np.array_equal(cells[0].params[k], cells[1].params[k]) for k in cells[0].params)
    assert not all(np.array_equal(cells[0].params[k], cells[2].params[k]) for k in cells[0].params)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_dtype_on_request(kind, dtype):
    model = make_layer(kind, num_layers=2, dtype=dtype)
    x, hx = random_inputs(model, 3, 2, np.random.default_rng(0))
    out, h_n = model(x, hx)
    dx, dh0 = model.backward(np.ones_like(out))
    arrays = [out, *as_tuple(h_n), dx, *as_tuple(dh0), *model.params.values(), *model.grads.values()]
    assert {a.dtype for a in arrays} == {np.dtype(dtype)}
    assert dr.LSTM(3, 4).dtype == np.float32  # the default


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_init_is_uniform_within_one_over_sqrt_hidden(kind):
    H = 16
    kw = dict(proj_size=5) if kind == "lstm" else {}
    for module in (make_layer(kind, 8, H, num_layers=2, bidirectional=True, **kw), make_cell(kind, 8, H)):
        values = np.concatenate([p.ravel() for p in module.params.values()])
        k = 1 / math.sqrt(H)
        assert np.abs(values).max() <= k
        assert np.abs(values).max() > 0.95 * k and abs(values.mean()) < 0.15 * k  # spread over the range
        assert all(p.std() > 0.3 * k for p in module.params.values())


# ---- state dicts -------------------------------------------------------------------------------


def test_state_dict_returns_copies_with_torch_names():
    model = make_layer("lstm", num_layers=2, bidirectional=True, proj_size=2)
    sd = model.state_dict()
    assert "weight_hr_l1_reverse" in sd and "bias_hh_l0" in sd and list(sd) == list(model.params)
    before = snapshot(model)
    for v in sd.values():
        v += 1.0
    assert_params_equal(model, before)


def test_load_state_dict_copies_in_place():
    model, other = make_layer("gru", num_layers=2, seed=0), make_layer("gru", num_layers=2, seed=1)
    ids = {k: id(v) for k, v in model.params.items()}
    sd = other.state_dict()
    model.load_state_dict(sd)
    assert ids == {k: id(v) for k, v in model.params.items()}
    assert_params_equal(model, sd)
    for v in sd.values():
        v *= 2.0
    assert_params_equal(model, other.params)


def test_load_state_dict_accepts_torch_tensors():
    torch = require("torch")
    model, ref = make_layer("lstm", seed=0), make_layer("lstm", seed=1)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in ref.state_dict().items()})
    assert_params_equal(model, ref.params)


@pytest.mark.parametrize("change", ["missing", "unexpected", "shape_of_last"])
def test_load_state_dict_rejects_bad_dicts_without_half_loading(change):
    model, other = make_layer("lstm", num_layers=2, seed=0), make_layer("lstm", num_layers=2, seed=1)
    sd, before = other.state_dict(), snapshot(model)
    last = list(sd)[-1]
    if change == "missing":
        del sd[last]
    elif change == "unexpected":
        sd["weight_ih_l9"] = sd[last]
    else:
        sd[last] = sd[last][..., :-1]
    with pytest.raises(ValueError, match="expected"):
        model.load_state_dict(sd)
    assert_params_equal(model, before)


# ---- hooks for models built on a stack: initial weights, a shared generator, replaced weights -----------


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_state_dict_argument_gives_the_initial_weights_without_drawing(kind):
    sd = make_layer(kind, num_layers=2, seed=5).state_dict()
    rng = np.random.default_rng(11)
    before = rng.bit_generator.state
    model = make_layer(kind, num_layers=2, seed=rng, state_dict=sd)
    assert model.rng is rng and rng.bit_generator.state == before  # nothing drawn
    assert_params_equal(model, sd)
    for v in sd.values():
        v += 1.0  # the model holds copies
    assert not any(np.array_equal(model.params[k], sd[k]) for k in sd)
    with pytest.raises(ValueError, match=r"expected state_dict keys .*got missing \['bias_hh_l1'\]$"):
        make_layer(kind, num_layers=2, state_dict={k: v for k, v in sd.items() if k != "bias_hh_l1"})


def test_a_generator_as_seed_is_shared_for_dropout():
    rng = np.random.default_rng(3)
    model = make_layer("gru", num_layers=2, dropout=0.5, seed=rng)
    twin = make_layer("gru", num_layers=2, dropout=0.5, seed=3)  # the same draws from a fresh generator
    x, _ = random_inputs(model, 4, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(model(x)[0], twin(x)[0])
    assert rng.bit_generator.state == twin.rng.bit_generator.state  # the dropout masks came from rng


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_weights_replace_parameters_for_one_forward_and_its_backward(kind):
    """forward(weights=...) runs as a model holding those values would, leaves the parameters alone and
    puts the gradient with respect to the replaced arrays into grads under the same names."""
    model = make_layer(kind, num_layers=2, bidirectional=True, seed=0)
    x, hx = random_inputs(model, 5, 2, np.random.default_rng(1))
    before = snapshot(model)
    rng = np.random.default_rng(2)
    weights = {n: model.params[n] * rng.uniform(0, 2, model.params[n].shape)
               for n in ("weight_hh_l0", "weight_hh_l1_reverse")}
    ref = make_layer(kind, num_layers=2, bidirectional=True, seed=0)
    ref.load_state_dict({**before, **weights})

    out, h_n = model(x, hx, weights=weights)
    model.backward(np.ones_like(out), pack(model, [np.ones_like(s) for s in as_tuple(h_n)]))
    ref_out, ref_h_n = forward_backward(ref, x, hx)
    with dr.no_grad():
        assert not np.array_equal(out, model(x, hx)[0])  # without weights=, the parameters run
    np.testing.assert_array_equal(out, ref_out)
    for a, b in zip(as_tuple(h_n), as_tuple(ref_h_n)):
        np.testing.assert_array_equal(a, b)
    assert_params_equal(model, before)
    for k in model.grads:
        np.testing.assert_array_equal(model.grads[k], ref.grads[k], err_msg=k)


def test_weights_are_checked():
    model = make_layer("lstm", num_layers=2, seed=0)
    x, _ = random_inputs(model, 3, 2, np.random.default_rng(0))
    w = model.params["weight_hh_l0"]
    with pytest.raises(ValueError, match=r"expected weights named among \['weight_ih_l0', .*got \['weight_hh_l7'\]"):
        model(x, weights={"weight_hh_l7": w})
    with pytest.raises(ValueError, match=r"expected weight_hh_l0 of shape \(12, 3\), got \(12, 2\)"):
        model(x, weights={"weight_hh_l0": w[:, :2]})
    with pytest.raises(TypeError, match="expected weight_hh_l0 of dtype float64"):
        model(x, weights={"weight_hh_l0": w.astype(np.float32)})
    with pytest.raises(TypeError, match="expected weights to be a dict"):
        model(x, weights=[w])


# ---- NaN ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_nan_in_x_propagates(kind, dtype):
    model = make_layer(kind, 3, 4, num_layers=2, dtype=dtype)
    x, _ = random_inputs(model, 5, 2, np.random.default_rng(0))
    x[2, 0, 1] = np.nan
    out, h_n = model(x)
    assert np.isfinite(out[:2]).all() and np.isfinite(out[:, 1]).all()  # before the NaN, other sequence
    assert np.isnan(out[2:, 0]).all()  # every unit of every later step
    assert all(np.isnan(s[:, 0]).all() and np.isfinite(s[:, 1]).all() for s in as_tuple(h_n))
    assert is_lstm(model) == isinstance(h_n, tuple)
