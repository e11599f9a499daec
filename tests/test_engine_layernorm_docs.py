"""The LayerNorm cells' backward equations (numpy_engine/ln_*.py docstrings) compute what the code computes.

As tests/test_engine_docs.py does for the plain cells: every line of each "Backward ...::" block is
evaluated as written, on one float64 step (T = 1), with N and ∇N written here from layernorm.py's
definitions, and compared with what the time loop's hand-written backward returns.
"""

from __future__ import annotations


import numpy as np
import pytest

from deeprnn.numpy_engine.layernorm import EPS
from deeprnn.numpy_engine.ln_elman import LN_RNN_RELU_KERNEL, LN_RNN_TANH_KERNEL
from deeprnn.numpy_engine.ln_gru import LN_GRU_KERNEL
from deeprnn.numpy_engine.ln_lstm import LN_LSTM_KERNEL
from deeprnn.numpy_engine.recurrence import recurrence_backward, recurrence_forward
from deeprnn.numpy_engine.weights import Weights, cell_grads
from test_engine_docs import PKG, check, evaluate, randn

B, I, H = 3, 4, 5


def N(u):  # noqa: N802 (the docstrings' symbol)
    """layernorm.py: N(u) = (u - μ) / √(σ² + ε), row by row."""
    return (u - u.mean(-1, keepdims=True)) / np.sqrt(u.var(-1, keepdims=True) + EPS)


def dN(u, dn):  # noqa: N802
    """layernorm.py: ∇N(u; dn) = rstd ⊙ (dn - mean(dn) - n ⊙ mean(dn ⊙ n))."""
    n, rstd = N(u), 1 / np.sqrt(u.var(-1, keepdims=True) + EPS)
    return rstd * (dn - dn.mean(-1, keepdims=True) - n * (dn * n).mean(-1, keepdims=True))


def weights(rng, G, P, proj=False, lstm=False) -> Weights:
    return Weights(randn(rng, G, I), randn(rng, G, P), randn(rng, G), randn(rng, G),
                   randn(rng, P, H) if proj else None, 1 + 0.5 * randn(rng, G), 1 + 0.5 * randn(rng, G),
                   (1 + 0.5 * randn(rng, H)) if lstm else None, randn(rng, H) if lstm else None)


def one_step(kernel, w, state0, rng):
    """Forward and backward of one step through recurrence.py; dL/dh_t (and dL/dc_t) random."""
    x = randn(rng, 1, B, I)
    out, final, cache = recurrence_forward(kernel, x, state0, w)
    dstate = tuple(randn(rng, *s.shape) for s in state0)
    dx, dprev, g = recurrence_backward(np.zeros_like(out), dstate, cache)
    return x[0], cache, dstate, dx[0], dprev, g


def names(w: Weights) -> dict:
    W_hr = np.eye(H) if w.w_hr is None else w.w_hr  # without a projection dm_t = dh_t: W_hr = I
    return {"W_ih": w.w_ih, "W_hh": w.w_hh, "W_hr": W_hr, "γ_ih": w.gamma_ih, "γ_hh": w.gamma_hh,
            "γ_c": w.gamma_c, "β_c": w.beta_c, "N": N, "dN": dN}


def grads(dx, dh_prev, g: Weights) -> dict:
    grad = cell_grads(g)
    out = {"dx_t": dx, "dh_prev": dh_prev, "dW_ih": grad["weight_ih"], "dW_hh": grad["weight_hh"],
           "db_ih": grad["bias_ih"], "db_hh": grad["bias_hh"], "dγ_ih": grad["ln_ih_weight"],
           "dγ_hh": grad["ln_hh_weight"]}
    for name, key in (("dW_hr", "weight_hr"), ("dγ_c", "ln_c_weight"), ("dβ_c", "ln_c_bias")):
        if key in grad:
            out[name] = grad[key]
    return out


@pytest.mark.parametrize("proj", [False, True])
def test_ln_lstm_backward_equations_compute_what_the_code_computes(proj):
    rng = np.random.default_rng(0)
    P = 2 if proj else H
    w = weights(rng, 4 * H, P, proj=proj, lstm=True)
    h, c = randn(rng, B, P), randn(rng, B, H)
    x, cache, (dh, dc), dx, (dh_prev, dc_prev), g = one_step(LN_LSTM_KERNEL, w, (h, c), rng)
    i, f, gg, o = np.split(cache.gx[0], 4, axis=1)
    c_t = cache.states[1][1]
    m_t = cache.bufs["m"][0] if proj else cache.states[0][1]
    env = evaluate(PKG / "numpy_engine" / "ln_lstm.py", dict(
        names(w), x_t=x, h_prev=h, c_prev=c, c_t=c_t, s_t=w.gamma_c * N(c_t) + w.beta_c, m_t=m_t,
        i_t=i, f_t=f, g_t=gg, o_t=o, dh_t=dh, dc=dc))
    check(env, dict(grads(dx, dh_prev, g), dc_prev=dc_prev))


def test_ln_gru_backward_equations_compute_what_the_code_computes():
    rng = np.random.default_rng(1)
    w = weights(rng, 3 * H, H)
    h = randn(rng, B, H)
    x, cache, (dh,), dx, (dh_prev,), g = one_step(LN_GRU_KERNEL, w, (h,), rng)
    r, z, n = np.split(cache.gx[0], 3, axis=1)
    env = evaluate(PKG / "numpy_engine" / "ln_gru.py", dict(
        names(w), x_t=x, h_prev=h, r_t=r, z_t=z, n_t=n, gh_n=cache.bufs["gh"][0][:, 2 * H:], dh_t=dh))
    check(env, grads(dx, dh_prev, g))


@pytest.mark.parametrize("kernel", [LN_RNN_TANH_KERNEL, LN_RNN_RELU_KERNEL], ids=["tanh", "relu"])
def test_ln_rnn_backward_equations_compute_what_the_code_computes(kernel):
    rng = np.random.default_rng(2)
    w = weights(rng, H, H)
    h = randn(rng, B, H)
    x, cache, (dh,), dx, (dh_prev,), g = one_step(kernel, w, (h,), rng)
    h_t = cache.states[0][1]
    # φ'(a_t) in terms of h_t, as the block's comment column states it (elman.py)
    dphi = 1 - h_t**2 if kernel is LN_RNN_TANH_KERNEL else (h_t > 0).astype(h_t.dtype)
    env = evaluate(PKG / "numpy_engine" / "ln_elman.py", dict(names(w), x_t=x, h_prev=h, dh_t=dh, dphi=dphi))
    check(env, grads(dx, dh_prev, g))


def test_the_equations_hold_for_the_forward_too():
    """The quantities fed to the blocks above are the forward block's: h_t of the LSTM, as written."""
    rng = np.random.default_rng(3)
    w = weights(rng, 4 * H, H, lstm=True)
    h, c = randn(rng, B, H), randn(rng, B, H)
    x = randn(rng, 1, B, I)
    _, (h_t, c_t), _ = recurrence_forward(LN_LSTM_KERNEL, x, (h, c), w)
    def sig(a):
        return 1 / (1 + np.exp(-a))

    a = w.gamma_ih * N(x[0] @ w.w_ih.T) + w.b_ih + w.gamma_hh * N(h @ w.w_hh.T) + w.b_hh
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    c_want = sig(a_f) * c + sig(a_i) * np.tanh(a_g)
    np.testing.assert_allclose(c_t, c_want, rtol=1e-12)
    np.testing.assert_allclose(h_t, sig(a_o) * np.tanh(w.gamma_c * N(c_want) + w.beta_c), rtol=1e-12)
