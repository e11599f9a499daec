"""The optional numba float32 kernels (numpy_engine/fused.py, _fused_kernels.py).

Every twin must compute what its NumPy function computes, argument for argument (including what it
leaves in its in-out buffers); the rational tanh must stay within 5e-7 of float64 tanh; a layer must
give the same numbers with the kernels on and off; float64 must never reach them.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from deeprnn.numpy_engine import elman, fused, gru, layernorm, ln_lstm, lstm, mingru, minlstm
from conftest import KIND_NAMES, as_tuple, make_cell, make_layer, pack, randn, random_inputs

pytest.importorskip("numba")
from deeprnn.numpy_engine._fused_kernels import TWINS  # noqa: E402  (needs numba)

B, H = 3, 37  # H not a multiple of the vector width: both the vector body and the remainder run
GARBAGE = 123.0  # pre-fill of output buffers, so an element a twin forgets to write shows up


def numpy_function(name):
    for module in (elman, gru, lstm, mingru, minlstm, ln_lstm, layernorm):
        if hasattr(module, name):
            return getattr(module, name)
    raise AssertionError(f"no NumPy function {name} for the twin")


def _in(rng, *shape, scale=3.0):
    return (scale * rng.standard_normal(shape)).astype(np.float32)


def _unit(rng, *shape):  # activations: values in (0, 1)
    return rng.uniform(0.01, 0.99, shape).astype(np.float32)


def _gates(rng, n):  # n gates in (0, 1), then a candidate g(p) > 0 on both sides of g's kink at 0.5
    return np.concatenate([_unit(rng, B, n * H), rng.uniform(0.01, 3.0, (B, H)).astype(np.float32)], axis=1)


def _normalised(rng, *shape):  # rows of mean 0 and variance 1, as N(c_t)
    u = rng.standard_normal(shape)
    return ((u - u.mean(-1, keepdims=True)) / u.std(-1, keepdims=True)).astype(np.float32)


def _out(*shape):
    return np.full(shape, GARBAGE, np.float32)


# name -> rng -> arguments (inputs random, outputs pre-filled with garbage), for every twin
ARGS = {
    "lstm_pointwise_forward": lambda r: [_in(r, B, 4 * H), _in(r, B, 4 * H), _in(r, B, H), _out(B, H),
                                         _out(B, H), _out(B, H)],
    "lstm_pointwise_backward": lambda r: [_in(r, B, H), _in(r, B, H), _in(r, B, H), _unit(r, B, 4 * H),
                                          2 * _unit(r, B, H) - 1, _out(B, 4 * H), _out(B, H)],
    "gru_pointwise_forward": lambda r: [_in(r, B, 3 * H), _in(r, B, 3 * H), _in(r, 3 * H), _in(r, B, H),
                                        _out(B, H)],
    "gru_pointwise_backward": lambda r: [_in(r, B, H), _in(r, B, H), _unit(r, B, 3 * H), _in(r, B, 3 * H),
                                         _out(B, 3 * H), _out(B, 3 * H), _out(B, H)],
    "rnn_pointwise_forward": lambda r: [_in(r, B, H), _in(r, B, H)],
    "rnn_pointwise_backward": lambda r: [_in(r, B, H), 2 * _unit(r, B, H) - 1, _out(B, H)],
    "mingru_pointwise_forward": lambda r: [_in(r, B, 2 * H), _out(B, H), _out(B, H)],
    "mingru_pointwise_backward": lambda r: [_in(r, B, H), _in(r, B, H), _gates(r, 1), _unit(r, B, H), _out(B, 2 * H)],
    "minlstm_gates_forward": lambda r: [_in(r, B, 3 * H), _in(r, B, H), _out(B, H), _out(B, H)],
    "minlstm_pointwise_backward": lambda r: [_in(r, B, H), _in(r, B, H), _gates(r, 2), _unit(r, B, H),
                                             _out(B, 3 * H)],
    "ln_lstm_pointwise_forward": lambda r: [_in(r, B, 4 * H), _in(r, B, H), _in(r, H, scale=1), _in(r, H, scale=1),
                                            _out(B, H), _out(B, H), _out(B, 1), _out(B, H), _out(B, H)],
    "ln_lstm_pointwise_backward": lambda r: [_in(r, B, H), _in(r, B, H), _in(r, B, H), _unit(r, B, 4 * H),
                                             _in(r, H, scale=1), _normalised(r, B, H), _unit(r, B, 1),
                                             2 * _unit(r, B, H) - 1, _out(B, 4 * H), _out(B, H), _out(B, H),
                                             _out(B, H)],
    "ln_forward": lambda r: [_in(r, B, 4 * H), _out(B, 4 * H), _out(B, 1)],
    "ln_backward": lambda r: [_in(r, B, 4 * H), _normalised(r, B, 4 * H), _unit(r, B, 1), _out(B, 4 * H)],
}


def test_every_twin_has_a_numpy_function_and_arguments():
    assert set(TWINS) == set(ARGS)
    for name in TWINS:
        assert numpy_function(name).__name__ == name


@pytest.mark.parametrize("name, relu", [(n, False) for n in sorted(TWINS)]
                         + [(n, True) for n in sorted(TWINS) if n.startswith("rnn")])
def test_twin_equals_numpy_function(name, relu):
    args = ARGS[name](np.random.default_rng(sorted(ARGS).index(name)))
    if name.startswith("rnn"):
        if relu:  # relu'(a) reads the sign of h: half the units off
            args[1] = np.where(args[1] > 0, args[1], 0).astype(np.float32)
        args.append(relu)
    ref = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    numpy_function(name)(*ref)
    TWINS[name](*args)
    for k, (a, b) in enumerate(zip(args, ref)):
        if isinstance(a, np.ndarray):
            assert not (b == GARBAGE).any(), f"NumPy reference left argument {k} unwritten"
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, err_msg=f"{name}, argument {k}")


def test_rational_tanh_is_within_5e_7_of_float64_tanh():
    grid = np.linspace(-10, 10, 2_000_001, dtype=np.float32)[None]  # (1, N), step 1e-5
    h = np.zeros_like(grid)
    TWINS["rnn_pointwise_forward"](grid, h, False)  # h = tanh(0 + grid) through the kernels' _tanh
    err = np.abs(h.astype(np.float64) - np.tanh(grid.astype(np.float64)))
    assert err.max() < 5e-7, f"max abs error {err.max():.3e} at x = {grid[0, err.argmax()]}"
    assert np.abs(h).max() <= 1.0


def test_kernels_propagate_nan():
    gx = np.array([[np.nan, 0.5]], np.float32)
    for relu in (False, True):
        h = np.zeros_like(gx)
        TWINS["rnn_pointwise_forward"](gx, h, relu)
        assert np.isnan(h[0, 0]) and np.isfinite(h[0, 1])


def layer_run(model, x, hx, R, S):
    model.zero_grad()
    out, h_n = model(x, hx)
    dx, dh0 = model.backward(R, pack(model, S))
    return {"out": out, **dict(zip(("h_n", "c_n"), as_tuple(h_n))), "dx": dx,
            **dict(zip(("dh0", "dc0"), as_tuple(dh0))), **{k: g.copy() for k, g in model.grads.items()}}


@pytest.mark.parametrize("layer_norm", [False, True])
@pytest.mark.parametrize("kind", KIND_NAMES)
def test_layer_with_kernels_off_and_on_agrees(fused_on, kind, layer_norm):
    model = make_layer(kind, 5, 33, num_layers=2, bidirectional=True, dtype=np.float32, layer_norm=layer_norm)
    rng = np.random.default_rng(0)
    x, hx = random_inputs(model, 6, 4, rng)
    R = randn(rng, (6, 4, 66), np.float32)
    S = [randn(rng, s.shape, np.float32) for s in as_tuple(hx)]
    on = layer_run(model, x, hx, R, S)
    fused.set_enabled(False)
    off = layer_run(model, x, hx, R, S)
    assert set(on) == set(off)
    for k in on:
        # LayerNorm divides by each row's spread, which scales up the rational tanh's 4e-7 (same twins)
        tol = dict(rtol=1e-4, atol=1e-5 * max(1.0, np.abs(off[k]).max())) if layer_norm else dict(rtol=1e-5, atol=2e-6)
        np.testing.assert_allclose(on[k], off[k], err_msg=k, **tol)


def test_select_routes_float32_only(monkeypatch):
    monkeypatch.setattr(fused, "_enabled", True)
    for name, twin in TWINS.items():
        fn = numpy_function(name)
        assert fused.select(fn, np.float32) is twin
        assert fused.select(fn, np.float64) is fn
    assert fused.available()
    fused.set_enabled(False)
    assert not fused.available()
    assert all(fused.select(numpy_function(n), np.float32) is numpy_function(n) for n in TWINS)


def _poisoned(name):
    def twin(*args):
        raise AssertionError(f"fused kernel {name} called")
    return twin


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_float64_never_uses_the_kernels(monkeypatch, kind):
    monkeypatch.setattr(fused, "_enabled", True)
    monkeypatch.setattr(fused, "_twins", {n: _poisoned(n) for n in TWINS})
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        model = make_layer(kind, num_layers=2, dtype=dtype)
        cell = make_cell(kind, dtype=dtype)
        x, _ = random_inputs(model, 3, 2, rng)

        def run():
            out, _ = model(x)
            model.backward(np.ones_like(out))
            h = as_tuple(cell(x[0]))[0]
            cell.backward(np.ones_like(h))

        if dtype == np.float64:
            run()  # no kernel called
        else:
            with pytest.raises(AssertionError, match="fused kernel"):  # the poison works for float32
                run()


def test_environment_variable_turns_the_kernels_off():
    code = "from deeprnn.numpy_engine import fused; print(fused.available())"
    env = {**os.environ, "DEEPRNN_FUSED": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

