"""Hand-written backward passes against central finite differences, in float64.

Loss: sum(out * R) + sum(h_n * S) (+ sum(c_n * U)) with random R, S, U, so the gradient enters both
through the outputs and through the final states. Checked: every parameter, the input x and the
initial states h0 (and c0), with relative error ||a - n|| / max(||a||, ||n||) <= 1e-6 per tensor.
"""

from __future__ import annotations

import numpy as np
import pytest

import deeprnn as dr
from deeprnn.numpy_engine import (
    gru_step_backward, gru_step_forward, lstm_step_backward, lstm_step_forward, rnn_step_backward,
    rnn_step_forward,
)
from conftest import (
    KIND_NAMES, as_tuple, assert_fd_close, cell_backward_seq, cell_forward_seq, is_lstm, make_cell, make_layer,
    pack, randn, random_inputs, weighted_sum,
)

TOL = 1e-6

# name -> (constructor kwargs, T, B, forward extras); sizes stay tiny so the whole file runs in seconds
LAYER_CONFIGS = {
    "1layer": (dict(num_layers=1), 4, 2, {}),
    "3layers": (dict(num_layers=3, H=2), 3, 2, {}),
    "bidirectional": (dict(num_layers=2, H=2, bidirectional=True), 3, 2, {}),
    "no_bias": (dict(num_layers=2, H=2, bias=False), 3, 2, {}),
    "dropout": (dict(num_layers=3, H=2, dropout=0.4), 3, 2, {}),
    "lengths": (dict(num_layers=2, H=2, bidirectional=True), 4, 3, {"lengths": [4, 1, 2]}),
    "batch_first_lengths": (dict(num_layers=2, H=2, batch_first=True), 3, 2, {"lengths": [2, 3]}),
    "unbatched": (dict(num_layers=2, H=2, bidirectional=True), 3, None, {}),
}
PROJ_CONFIGS = {
    "proj": (dict(num_layers=2, H=3, proj_size=2), 3, 2, {}),
    "proj_bidir_lengths_dropout": (dict(num_layers=2, H=2, proj_size=1, bidirectional=True, dropout=0.3),
                                   3, 3, {"lengths": [1, 3, 2]}),
    "proj_no_bias_unbatched": (dict(num_layers=2, H=3, proj_size=2, bias=False), 3, None, {}),
}


def check_layer(model, T, B, lengths=None, dropout_seed=7, tol=TOL):
    """Finite differences for every parameter, x, h0 (and c0) of a layer, dropout mask held fixed."""
    rng = np.random.default_rng(42)
    x, hx = random_inputs(model, T, B, rng, unbatched=B is None)

    def run():
        model.rng = np.random.default_rng(dropout_seed)  # the same dropout mask at every forward
        out, h_n = model(x, hx, lengths)
        return out, as_tuple(h_n)

    out, h_n = run()
    R, S = randn(rng, out.shape), [randn(rng, s.shape) for s in h_n]

    def loss():
        with dr.no_grad():
            out, h_n = run()
        return weighted_sum([out, *h_n], [R, *S])

    model.zero_grad()
    run()
    dx, dh0 = model.backward(R, pack(model, S))
    analytic = {**{k: g.copy() for k, g in model.grads.items()}, "x": dx}
    tensors = {**model.params, "x": x}
    for name, a, d in zip(("h0", "c0"), as_tuple(hx), as_tuple(dh0)):
        tensors[name], analytic[name] = a, d
    assert_fd_close(loss, tensors, analytic, tol)


@pytest.mark.parametrize("config", LAYER_CONFIGS)
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_layer_gradients(kind, config):
    kw, T, B, extra = LAYER_CONFIGS[config]
    check_layer(make_layer(kind, **kw), T, B, **extra)


@pytest.mark.parametrize("config", PROJ_CONFIGS)
def test_lstm_projection_gradients(config):
    kw, T, B, extra = PROJ_CONFIGS[config]
    check_layer(make_layer("lstm", **kw), T, B, **extra)


def test_dropout_mask_is_really_applied_in_the_gradcheck():
    """Guards the dropout cases above: with the seed they use, the mask drops something."""
    model = make_layer("gru", H=2, num_layers=3, dropout=0.4)
    x, hx = random_inputs(model, 3, 2, np.random.default_rng(42))
    model.rng = np.random.default_rng(7)
    dropped, _ = model(x, hx)
    with dr.no_grad():
        plain, _ = model.eval()(x, hx)
    assert not np.allclose(dropped, plain)


# ---- pure step functions -------------------------------------------------------------------------


def step_params(rng, I, H, G, bias=True, proj=0):
    """Parameters with torch.nn.*Cell names: G gate rows, P = proj or H columns of weight_hh."""
    P = proj or H
    p = {"weight_ih": randn(rng, (G, I)), "weight_hh": randn(rng, (G, P))}
    if bias:
        p.update(bias_ih=randn(rng, (G,)), bias_hh=randn(rng, (G,)))
    if proj:
        p["weight_hr"] = randn(rng, (P, H))
    return p


def _lstm_forward(x, states, params):
    h, c, cache = lstm_step_forward(x, *states, params)
    return (h, c), cache


def _one_state(forward):
    def run(x, states, params):
        h, cache = forward(x, states[0], params)
        return (h,), cache
    return run


# name -> (gate multiple, forward(x, states, params) -> (new states, cache), backward(*dstates, cache))
STEPS = {
    "rnn_tanh": (1, _one_state(lambda x, h, p: rnn_step_forward(x, h, p, "tanh")), rnn_step_backward),
    "rnn_relu": (1, _one_state(lambda x, h, p: rnn_step_forward(x, h, p, "relu")), rnn_step_backward),
    "gru": (3, _one_state(gru_step_forward), gru_step_backward),
    "lstm": (4, _lstm_forward, lstm_step_backward),
}
STEP_CASES = [(k, bias, 0) for k in KIND_NAMES for bias in (True, False)] + [("lstm", True, 2), ("lstm", False, 1)]


@pytest.mark.parametrize("kind, bias, proj", STEP_CASES)
def test_step_functions(kind, bias, proj):
    rng = np.random.default_rng(3)
    B, I, H = 2, 3, 3
    mult, forward, backward = STEPS[kind]
    params = step_params(rng, I, H, mult * H, bias, proj)
    x = randn(rng, (B, I))
    states = [randn(rng, (B, proj or H))] + ([randn(rng, (B, H))] if kind == "lstm" else [])
    new, cache = forward(x, states, params)
    W = [randn(rng, s.shape) for s in new]

    def loss():
        return weighted_sum(forward(x, states, params)[0], W)

    dx, *dstates, dparams = backward(*W, cache)
    assert set(dparams) == set(params)
    tensors = {**params, "x": x, **{f"state{k}": s for k, s in enumerate(states)}}
    analytic = {**dparams, "x": dx, **{f"state{k}": d for k, d in enumerate(dstates)}}
    assert_fd_close(loss, tensors, analytic, TOL)


# ---- cells, over a short sequence with LIFO backward -------------------------------------------------


@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_cells_over_a_sequence(kind, bias, batched):
    rng = np.random.default_rng(5)
    T, B, I, H = 3, 2, 3, 3
    cell = make_cell(kind, I, H, bias=bias)
    lead = (B,) if batched else ()
    xs = randn(rng, (T, *lead, I))
    state0 = [randn(rng, (*lead, H)) for _ in range(2 if is_lstm(cell) else 1)]
    out, final = cell_forward_seq(cell, xs, pack(cell, state0))
    R, S = randn(rng, out.shape), [randn(rng, s.shape) for s in as_tuple(final)]

    def loss():
        with dr.no_grad():
            out, final = cell_forward_seq(cell, xs, pack(cell, state0))
        return weighted_sum([out, *as_tuple(final)], [R, *S])

    dx, dstate0 = cell_backward_seq(cell, R, pack(cell, S))
    tensors = {**cell.params, "xs": xs, **{f"state{k}": s for k, s in enumerate(state0)}}
    analytic = {**cell.grads, "xs": dx, **{f"state{k}": d for k, d in enumerate(as_tuple(dstate0))}}
    assert_fd_close(loss, tensors, analytic, TOL)
