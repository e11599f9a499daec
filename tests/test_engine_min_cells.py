"""minGRU and minLSTM on the NumPy engine (numpy_engine/mingru.py, minlstm.py, gated.py, scan.py, minrnn.py).

* the two forms of the scan, sequential and log-space parallel, compute the same function, forward and
  backward, in float64 to rounding; also over several chunks, with strong decay, and in float32;
* one step at a time (the step functions, as generation runs) equals the layer over the sequence;
* hand-written backward passes against central finite differences in float64: layers in both forms
  (dropout, directions, lengths, no bias, size-1 edge cases, unbatched), the carried initial state h0
  (truncated BPTT: a zero, a positive and a negative one) and the step functions;
* the backward equations in the modules' docstrings, evaluated as written, give what the code gives;
* splitting a sequence and carrying h equals running it whole; checks name expected and actual values.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

import deeprnn as dr
from deeprnn.numpy_engine import scan as scan_module
from deeprnn.numpy_engine import (
    mingru_step_backward, mingru_step_forward, minlstm_step_backward, minlstm_step_forward,
)
from conftest import assert_fd_close, randn, weighted_sum
from test_engine_docs import EQUATION, block, check, to_python

CLASSES = {"mingru": dr.MinGRU, "minlstm": dr.MinLSTM}
STEPS = {"mingru": (mingru_step_forward, mingru_step_backward),
         "minlstm": (minlstm_step_forward, minlstm_step_backward)}
SCANS = ("sequential", "parallel")
PKG = Path(__file__).resolve().parent.parent / "deeprnn"


def make(cell, I=3, H=3, scan="sequential", dtype=np.float64, seed=0, **kw):
    return CLASSES[cell](I, H, dtype=dtype, seed=seed, scan=scan, **kw)


def other_scan(model):
    """The same layers with the other form of the scan."""
    kw = dict(num_layers=model.num_layers, bias=model.bias, batch_first=model.batch_first,
              bidirectional=model.bidirectional, dtype=model.dtype, state_dict=model.state_dict())
    return type(model)(model.input_size, model.hidden_size, scan=SCANS[model.scan == "sequential"], **kw)


def inputs(model, T, B, rng, h0_sign=0):
    """x and h0 for ``model``; h0 random of either sign, or >= 0 / <= 0 with h0_sign +1 / -1."""
    n = model.num_layers * model.num_directions
    x = randn(rng, (T, B, model.input_size) if B else (T, model.input_size), model.dtype)
    h0 = randn(rng, (n, B, model.hidden_size) if B else (n, model.hidden_size), model.dtype)
    return x, (np.abs(h0) * h0_sign if h0_sign else h0)


# -- the two forms agree --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", sorted(CLASSES))
@pytest.mark.parametrize("kw, T, lengths", [
    (dict(num_layers=2), 6, None),
    (dict(num_layers=2, bidirectional=True), 5, [5, 2, 3]),
    (dict(num_layers=1, bias=False, H=1), 4, None),
])
def test_sequential_and_parallel_scans_agree_forward_and_backward(cell, kw, T, lengths):
    a = make(cell, **kw)
    b = other_scan(a)
    rng = np.random.default_rng(0)
    x, h0 = inputs(a, T, 3, rng)
    outs = [m(x, h0, lengths) for m in (a, b)]
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-12, atol=1e-13)
    R, S = randn(rng, outs[0][0].shape), randn(rng, outs[0][1].shape)
    grads = [m.backward(R, S) for m in (a, b)]
    for g_a, g_b in zip(grads[0], grads[1]):
        np.testing.assert_allclose(g_b, g_a, rtol=1e-10, atol=1e-12)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=1e-10, atol=1e-12, err_msg=name)


def test_the_scans_agree_over_chunks_and_with_strong_decay(monkeypatch):
    """T over several chunks, log a from -40 (a vanishes) to 0 (a = 1), dh of both signs and zeros."""
    monkeypatch.setattr(scan_module, "CHUNK", 7)
    rng = np.random.default_rng(1)
    T, B, H = 23, 2, 5
    log_a = -np.abs(rng.standard_normal((T, B, H))) * rng.choice([0.0, 0.1, 1.0, 40.0], (T, B, H))
    log_b = rng.standard_normal((T, B, H))
    h0 = rng.standard_normal((B, H))
    h_seq = scan_module.sequential_forward(np.exp(log_a), np.exp(log_b), h0)
    h_par = scan_module.parallel_forward(log_a, log_b, h0)
    np.testing.assert_allclose(h_par, h_seq, rtol=1e-12, atol=1e-13)
    dh = rng.standard_normal((T, B, H)) * (rng.random((T, B, H)) > 0.2)
    d_seq = scan_module.sequential_backward(np.exp(log_a), dh)
    d_par = scan_module.parallel_backward(log_a, dh)
    assert np.isfinite(d_par).all()
    np.testing.assert_allclose(d_par, d_seq, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_float32_long_sequences_agree_and_stay_finite(cell):
    """T = 600 (five parallel chunks) in float32 with large weights: saturated gates, a* down to -10^3."""
    a = make(cell, I=4, H=6, dtype=np.float32, scan="parallel")
    a.load_state_dict({k: v * 6 for k, v in a.state_dict().items()})
    b = other_scan(a)
    x, h0 = inputs(a, 600, 2, np.random.default_rng(2), h0_sign=1)
    (pa, _), (sa, _) = a(x, h0), b(x, h0)
    assert np.isfinite(pa).all() and (pa > 0).all()  # g keeps the candidates, hence h, positive
    np.testing.assert_allclose(pa, sa, rtol=2e-4, atol=1e-5)


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_one_step_at_a_time_equals_the_layer(cell):
    """The step function, as generation calls it with a carried state, over t = 0..T-1."""
    model = make(cell, I=3, H=4, num_layers=1, scan="parallel")
    x, h0 = inputs(model, 6, 2, np.random.default_rng(3))
    out, h_n = model(x, h0)
    step, _ = STEPS[cell]
    params = {k[:-3]: v for k, v in model.params.items()}  # weight_ih_l0 -> weight_ih
    h = h0[0]
    for t in range(len(x)):
        h, _ = step(x[t], h, params)
        np.testing.assert_allclose(h, out[t], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h, h_n[0], rtol=1e-12, atol=1e-14)


def test_a_single_step_runs_the_sequential_form(monkeypatch):
    """Generation feeds one token at a time: T = 1 skips the log-space work even with scan="parallel"."""
    from deeprnn.numpy_engine import gated

    def refuse(*args):
        raise AssertionError("parallel scan called")

    monkeypatch.setattr(gated, "parallel_forward", refuse)
    model = make("mingru", scan="parallel")
    x, h0 = inputs(model, 1, 2, np.random.default_rng(0))
    model(x, h0)
    with pytest.raises(AssertionError, match="parallel scan called"):
        model(np.concatenate([x, x]), h0)


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_carrying_the_state_across_batches_equals_one_long_sequence(cell):
    """Truncated BPTT's forward: the LM runs T steps per batch and carries h into the next batch."""
    model = make(cell, num_layers=2, scan="parallel")
    x, h0 = inputs(model, 9, 2, np.random.default_rng(4), h0_sign=1)
    whole, h_whole = model(x, h0)
    first, h_mid = model(x[:4], h0)
    second, h_end = model(x[4:], h_mid)
    np.testing.assert_allclose(np.concatenate([first, second]), whole, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(h_end, h_whole, rtol=1e-12, atol=1e-14)


def test_minlstm_gates_stay_exact_where_both_underflow(monkeypatch):
    """f' = f / (f + i) with f, i below float32's σ range would be 0 / 0; it is σ(-d) instead."""
    from deeprnn.numpy_engine import fused
    from deeprnn.numpy_engine.minlstm import minlstm_pointwise_forward

    monkeypatch.setattr(fused, "_enabled", fused._enabled)
    gx = np.array([[-30.0, -40.0, -32.0, -40.0, 1.0, -1.0]], np.float32)  # k_f (2), k_i (2), p (2)
    for enabled in (False, True):  # the NumPy reference and, with numba, the fused twin
        fused.set_enabled(enabled)
        a, b = np.empty((1, 2), np.float32), np.empty((1, 2), np.float32)
        minlstm_pointwise_forward(gx.copy(), a, b)
        np.testing.assert_allclose(a, [[1 / (1 + np.exp(-2.0)), 0.5]], rtol=1e-5)  # σ(k_f - k_i) here
        np.testing.assert_allclose(b, (1 - a) * [[1.5, 1 / (1 + np.e)]], rtol=1e-5)


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_float32_kernels_on_and_off_agree_and_float64_never_uses_them(cell, fused_on, monkeypatch):
    from deeprnn.numpy_engine import fused

    model = make(cell, I=5, H=33, num_layers=2, bidirectional=True, dtype=np.float32)
    rng = np.random.default_rng(9)
    x, h0 = inputs(model, 6, 4, rng)
    R = randn(rng, (6, 4, 66), np.float32)

    def run(m, x, h0, R):
        m.zero_grad()
        out, _ = m(x, h0)
        dx, dh0 = m.backward(R)
        return [out, dx, dh0, *(g.copy() for g in m.grads.values())]

    on = run(model, x, h0, R)
    fused.set_enabled(False)
    for a, b in zip(on, run(model, x, h0, R)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=2e-6)
    fused.set_enabled(True)
    monkeypatch.setattr(fused, "_twins", {n: None for n in fused._load()})  # calling a twin would fail
    run(make(cell, num_layers=2), *inputs(make(cell, num_layers=2), 3, 2, rng)[:2], randn(rng, (3, 2, 3)))


# -- gradients against finite differences -------------------------------------------------------------


LAYER_CONFIGS = {  # name -> (constructor kwargs, T, B, lengths, h0 sign)
    "2layers": (dict(num_layers=2), 4, 2, None, 0),
    "dropout": (dict(num_layers=3, H=2, dropout=0.4), 3, 2, None, 1),
    "bidirectional_lengths": (dict(num_layers=2, H=2, bidirectional=True), 4, 3, [4, 1, 2], 0),
    "no_bias_batch_first": (dict(num_layers=2, H=2, bias=False, batch_first=True), 3, 2, None, -1),
    "batch1_hidden1_T1": (dict(num_layers=2, H=1, I=1), 1, 1, None, 1),
    "zero_h0": (dict(num_layers=2), 3, 2, None, None),
    "unbatched": (dict(num_layers=2, H=2), 3, None, None, 0),
    "residual_dropout": (dict(num_layers=3, H=2, dropout=0.4, residual=True), 3, 2, None, 1),
    "residual_bidirectional_lengths": (dict(num_layers=2, H=2, bidirectional=True, residual=True), 4, 3, [4, 1, 2], 0),
}


@pytest.mark.parametrize("scan", SCANS)
@pytest.mark.parametrize("cell", sorted(CLASSES))
@pytest.mark.parametrize("config", sorted(LAYER_CONFIGS))
def test_layer_gradients_match_finite_differences(config, cell, scan):
    kw, T, B, lengths, sign = LAYER_CONFIGS[config]
    model = make(cell, scan=scan, **kw)
    model.load_state_dict({k: v * 2 for k, v in model.state_dict().items()})  # livelier gates
    rng = np.random.default_rng(5)
    x, h0 = inputs(model, T, B, rng, h0_sign=sign or 0)
    if model.batch_first:
        x = np.ascontiguousarray(x.transpose(1, 0, 2))
    if sign is None:
        h0 = np.zeros_like(h0)  # a fresh state: its log would be -inf, its gradient is finite

    def run():
        model.rng = np.random.default_rng(7)  # the same dropout masks at every forward
        return model(x, h0, lengths)

    out, h_n = run()
    R, S = randn(rng, out.shape), randn(rng, h_n.shape)
    model.zero_grad()
    dx, dh0 = model.backward(R, S)

    def loss():
        with dr.no_grad():
            return weighted_sum(run(), [R, S])

    assert np.abs(dh0).max() > 0
    assert_fd_close(loss, {**model.params, "x": x, "h0": h0}, {**model.grads, "x": dx, "h0": dh0})


@pytest.mark.parametrize("cell", sorted(CLASSES))
@pytest.mark.parametrize("B, I, H", [(3, 4, 2), (1, 1, 1)])
def test_step_gradients_match_finite_differences(cell, B, I, H):
    step, step_back = STEPS[cell]
    rng = np.random.default_rng(6)
    G = CLASSES[cell](I, H).kernel.gate_mult * H
    params = {"weight_ih": randn(rng, (G, I)) * 2, "bias_ih": randn(rng, (G,))}
    x, h = randn(rng, (B, I)), randn(rng, (B, H))
    h_next, cache = step(x, h, params)
    R = randn(rng, h_next.shape)
    dx, dh, dparams = step_back(R, cache)
    assert_fd_close(lambda: float(np.sum(step(x, h, params)[0] * R)), {**params, "x": x, "h": h},
                    {**dparams, "x": dx, "h": dh})


# -- the docstrings' equations ------------------------------------------------------------------------------

RENAMES = {"h̃_t": "hc_t", "f'_t": "fn_t", "i'_t": "in_t", "g'_t": "dg_t"}  # symbols -> Python names


def evaluate(path: Path, env: dict) -> dict:
    """test_engine_docs.evaluate for these modules' symbols (h̃, f', i', g')."""
    env = dict(env, concat=lambda parts: np.concatenate(parts, axis=-1))
    for line in block(path, "Backward"):
        for a, b in RENAMES.items():
            line = line.replace(a, b)
        m = EQUATION.match(line.strip())
        if m is None:
            continue
        *lhs, rhs = [s.strip() for s in re.split(r"\s+=\s+", m.group(1) + m.group(2))]
        value = eval(to_python(rhs), {"__builtins__": {}}, env)  # noqa: S307 (our own docstring)
        for name in lhs:
            env[name.replace("_{t-1}", "_prev")] = value
    return env


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_backward_equations_compute_what_the_code_computes(cell):
    rng = np.random.default_rng(8)
    B, I, H = 3, 4, 5
    step, step_back = STEPS[cell]
    G = CLASSES[cell](I, H).kernel.gate_mult * H
    p = {"weight_ih": randn(rng, (G, I)), "bias_ih": randn(rng, (G,))}
    x, h = randn(rng, (B, I)), randn(rng, (B, H))
    _, cache = step(x, h, p)
    dh = randn(rng, (B, H))
    dx, dh_prev, g = step_back(dh, cache)
    if cell == "mingru":
        z, h_tilde = np.split(cache.gates, 2, axis=1)
        env = dict(z_t=z)
    else:
        f, i, h_tilde = np.split(cache.gates, 3, axis=1)
        env = dict(f_t=f, i_t=i, fn_t=f / (f + i), in_t=i / (f + i))
    dg = np.where(h_tilde >= 0.5, 1.0, h_tilde * (1 - h_tilde))
    env = evaluate(PKG / "numpy_engine" / f"{cell}.py",
                   dict(env, W_ih=p["weight_ih"], x_t=x, h_prev=h, hc_t=h_tilde, dg_t=dg, dh_t=dh))
    check(env, {"dx_t": dx, "dh_prev": dh_prev, "dW_ih": g["weight_ih"], "db_ih": g["bias_ih"]})


@pytest.mark.parametrize("cell", sorted(CLASSES))
def test_torch_modules_mirror_the_numpy_forward_equations(cell):
    assert block(PKG / "numpy_engine" / f"{cell}.py", "Forward") == block(PKG / "torch_engine" / f"{cell}.py", "Forward")
    assert block(PKG / "numpy_engine" / f"{cell}.py", "The parallel") == block(PKG / "torch_engine" / f"{cell}.py",
                                                                              "The parallel")


# -- shapes, initialisation and errors --------------------------------------------------------------------------


@pytest.mark.parametrize("cell, mult", [("mingru", 2), ("minlstm", 3)])
def test_parameters_are_input_projections_initialised_like_torch_linear(cell, mult):
    model = CLASSES[cell](50, 400, num_layers=2, bidirectional=True, seed=0)
    shapes = {k: v.shape for k, v in model.params.items()}
    assert shapes == {"weight_ih_l0": (mult * 400, 50), "bias_ih_l0": (mult * 400,),
                      "weight_ih_l0_reverse": (mult * 400, 50), "bias_ih_l0_reverse": (mult * 400,),
                      "weight_ih_l1": (mult * 400, 800), "bias_ih_l1": (mult * 400,),
                      "weight_ih_l1_reverse": (mult * 400, 800), "bias_ih_l1_reverse": (mult * 400,)}
    for name, v in model.params.items():  # U(-1/√I_k, 1/√I_k): I_0 = 50, I_1 = 2·400
        bound = 1 / np.sqrt(50 if "_l0" in name else 800)
        assert bound * 0.98 < np.abs(v).max() <= bound, name
    assert model.num_parameters() == 2 * (mult * 400 * 51 + mult * 400 * 801)


def test_errors_name_the_expected_and_the_actual_value():
    with pytest.raises(ValueError, match="expected scan to be one of 'sequential', 'parallel', got 'log'"):
        dr.MinGRU(3, 4, scan="log")
    with pytest.raises(TypeError, match="proj_size"):
        dr.MinLSTM(3, 4, proj_size=2)
    model = dr.MinGRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"expected hx of shape \(2, 5, 4\), got \(1, 5, 4\)"):
        model(np.zeros((6, 5, 3), np.float32), np.zeros((1, 5, 4), np.float32))
    with pytest.raises(ValueError, match=r"expected state_dict keys \['weight_ih_l0', 'bias_ih_l0', .*unexpected "
                                         r"\['weight_hh_l0'\]"):
        model.load_state_dict({**model.state_dict(), "weight_hh_l0": np.zeros((8, 4))})
    x, h = np.zeros((2, 3)), np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"expected params with keys weight_ih and optional bias_ih \(MinGRU has no "
                                         r"recurrent weights\), got \['weight_hh', 'weight_ih'\]"):
        mingru_step_forward(x, h, {"weight_ih": np.zeros((8, 3)), "weight_hh": np.zeros((8, 4))})
    with pytest.raises(ValueError, match=r"expected weight_ih of shape \(G, I\) with G = 3H, got \(8, 3\)"):
        minlstm_step_forward(x, h, {"weight_ih": np.zeros((8, 3))})
    with pytest.raises(ValueError, match=r"expected h of shape \(2, 4\), got \(2, 3\)"):
        mingru_step_forward(x, np.zeros((2, 3)), {"weight_ih": np.zeros((8, 3))})
