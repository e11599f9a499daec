"""The deeplearning.ai "Building a Recurrent Neural Network step by step" functions, over the NumPy engine.

Column layout: x (n_x, m, T_x), xt (n_x, m), a (n_a, m), biases (n, 1); m is the batch.

    RNN:   a⟨t⟩ = tanh(W_aa a⟨t-1⟩ + W_ax x⟨t⟩ + b_a)                      (engine: rnn_step_forward)
           ŷ⟨t⟩ = softmax(W_ya a⟨t⟩ + b_y)
    LSTM:  concat = [a⟨t-1⟩; x⟨t⟩]
           Γ_f = σ(W_f concat + b_f)   Γ_i = σ(W_i concat + b_i)   Γ_o = σ(W_o concat + b_o)
           c̃⟨t⟩ = tanh(W_c concat + b_c)                                   (engine: lstm_step_forward,
           c⟨t⟩ = Γ_f ⊙ c⟨t-1⟩ + Γ_i ⊙ c̃⟨t⟩                                  gate order i, f, g=c̃, o)
           a⟨t⟩ = Γ_o ⊙ tanh(c⟨t⟩)
           ŷ⟨t⟩ = softmax(W_y a⟨t⟩ + b_y)

The engine works in rows (x (B, I) = xtᵀ) with torch's weights: W_ih = W_ax (RNN) or the x-columns
of [W_i; W_f; W_c; W_o] (LSTM), W_hh = W_aa or the a-columns, b_ih = b, b_hh = 0. Derivatives come from
the engine's ``*_step_backward``; the backward functions rebuild the engine's cache by re-running its
step forward from the (xt, a_prev, c_prev, parameters) held in the course's cache tuples.
"""

from __future__ import annotations

import numpy as np

from ..numpy_engine.elman import rnn_step_forward
from ..numpy_engine.lstm import lstm_step_backward, lstm_step_forward
from ..checks import fmt_shape
from ._arrays import expect_shape, floats, rows, vector
from ._steps import elman_backward

__all__ = ["softmax", "rnn_cell_forward", "rnn_forward", "rnn_cell_backward", "rnn_backward",
           "lstm_cell_forward", "lstm_forward", "lstm_cell_backward", "lstm_backward"]

GATES = ("i", "f", "c", "o")  # the engine's gate order i, f, g, o; the course's c̃ is the engine's g


def softmax(x):
    """softmax over axis 0 (the classes of each column)."""
    (x,) = floats(x)
    e = np.exp(x - x.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def _get(parameters, *names):
    if not isinstance(parameters, dict):
        raise TypeError(f"expected parameters to be a dict, got {type(parameters).__name__}")
    missing = [n for n in names if n not in parameters]
    if missing:
        raise KeyError(f"expected parameters to have keys {list(names)}, got {sorted(parameters)} (missing {missing})")
    return [parameters[n] for n in names]


def _columns(xt, a_prev, n_x, n_a, names=("xt", "a_prev")):
    """Check xt (n_x, m) and a_prev (n_a, m); return them as floats."""
    xt, a_prev = floats(xt, a_prev)
    if xt.ndim != 2:
        raise ValueError(f"expected {names[0]} of shape ({n_x}, m), got {xt.shape}")
    expect_shape(names[0], xt, (n_x, xt.shape[1]))
    expect_shape(names[1], a_prev, (n_a, xt.shape[1]))
    return xt, a_prev


# ---- RNN --------------------------------------------------------------------------------------------


def _rnn_params(parameters) -> dict:
    Wax, Waa, ba = floats(*_get(parameters, "Wax", "Waa", "ba"))
    n_a = Waa.shape[0]
    expect_shape("Waa", Waa, (n_a, n_a))
    expect_shape("Wax", Wax, (n_a, Wax.shape[-1]))
    b = vector("ba", ba, n_a)
    return {"weight_ih": Wax, "weight_hh": Waa, "bias_ih": b, "bias_hh": np.zeros_like(b)}


def _head(a, parameters, w="Wya", b="by"):
    """ŷ = softmax(W_y a + b_y) over axis 0."""
    W, by = floats(*_get(parameters, w, b))
    return softmax(W @ a + vector(b, by, W.shape[0])[:, None])


def rnn_cell_forward(xt, a_prev, parameters):
    """xt (n_x, m), a_prev (n_a, m) -> a_next (n_a, m), yt_pred (n_y, m), cache (a_next, a_prev, xt, parameters)."""
    p = _rnn_params(parameters)
    xt, a_prev = _columns(xt, a_prev, p["weight_ih"].shape[1], p["weight_hh"].shape[0])
    h, _ = rnn_step_forward(rows(xt), rows(a_prev), p)  # (m, n_a)
    a_next = rows(h)  # (n_a, m)
    return a_next, _head(a_next, parameters), (a_next, a_prev, xt, parameters)


def rnn_cell_backward(da_next, cache):
    """da_next (n_a, m) = dL/da⟨t⟩ -> dict dxt (n_x, m), da_prev (n_a, m), dWax, dWaa, dba (n_a, 1)."""
    a_next, a_prev, xt, parameters = cache
    p = _rnn_params(parameters)
    xt, a_prev = _columns(xt, a_prev, p["weight_ih"].shape[1], p["weight_hh"].shape[0])
    (da_next, a_next) = floats(da_next, a_next)
    expect_shape("a_next", a_next, a_prev.shape)
    expect_shape("da_next", da_next, a_prev.shape)
    dx, dh_prev, g = elman_backward(p, rows(da_next), rows(a_next), rows(xt), rows(a_prev))  # tanh' from a_next
    return {"dxt": rows(dx), "da_prev": rows(dh_prev), "dWax": g["weight_ih"], "dWaa": g["weight_hh"],
            "dba": g["bias_ih"][:, None]}


def rnn_forward(x, a0, parameters):
    """x (n_x, m, T_x), a0 (n_a, m) -> a (n_a, m, T_x), y_pred (n_y, m, T_x), caches ([cache per step], x)."""
    (x,) = floats(x)
    if x.ndim != 3 or x.shape[2] < 1:
        raise ValueError(f"expected x of shape (n_x, m, T_x) with T_x >= 1, got {x.shape}")
    a_next, caches, a, y = a0, [], [], []
    for t in range(x.shape[2]):
        a_next, yt, cache = rnn_cell_forward(x[:, :, t], a_next, parameters)
        a.append(a_next)
        y.append(yt)
        caches.append(cache)
    return np.stack(a, axis=2), np.stack(y, axis=2), (caches, x)


def _steps(da, cell_caches, n_a: int, m: int) -> int:
    """T of da (n_a, m, T): the steps backpropagated, the first T of the caches (the notebook's own test
    passes a da shorter than its caches: steps after T are outside the loss)."""
    if da.ndim != 3 or da.shape[:2] != (n_a, m) or not 1 <= da.shape[2] <= len(cell_caches):
        raise ValueError(f"expected da of shape ({n_a}, {m}, T) with 1 <= T <= {len(cell_caches)} (the steps "
                         f"in caches), got {fmt_shape(da.shape)}")
    return da.shape[2]


def rnn_backward(da, caches):
    """da (n_a, m, T): upstream dL/da⟨t⟩ of the first T steps (T <= T_x); the recurrent part is added here.
    Returns dict dx (n_x, m, T), da0 (n_a, m), dWax, dWaa, dba (summed over time)."""
    cell_caches, _ = caches
    (da,) = floats(da)
    n_a, m = np.shape(cell_caches[0][1])
    dx, da_prev, total = [], np.zeros((n_a, m), da.dtype), {}
    for t in reversed(range(_steps(da, cell_caches, n_a, m))):
        g = rnn_cell_backward(da[:, :, t] + da_prev, cell_caches[t])
        dx.append(g.pop("dxt"))
        da_prev = g.pop("da_prev")
        for k, v in g.items():
            total[k] = total[k] + v if k in total else v
    return {"dx": np.stack(dx[::-1], axis=2), "da0": da_prev, **total}


# ---- LSTM -------------------------------------------------------------------------------------------


def _lstm_params(parameters) -> tuple[dict, int]:
    """Course weights (n_a, n_a + n_x) on [a; x] -> engine params (4n_a, n_x), (4n_a, n_a); and n_a."""
    Ws = floats(*_get(parameters, *(f"W{k}" for k in GATES)))
    bs = _get(parameters, *(f"b{k}" for k in GATES))
    n_a = Ws[0].shape[0]
    if Ws[0].ndim != 2 or Ws[0].shape[1] <= n_a:
        raise ValueError(f"expected Wi of shape (n_a, n_a + n_x) = ({n_a}, {n_a} + n_x), got {Ws[0].shape}")
    for k, W in zip(GATES, Ws):
        expect_shape(f"W{k}", W, Ws[0].shape)
    b = np.concatenate([vector(f"b{k}", bk, n_a) for k, bk in zip(GATES, bs)]).astype(Ws[0].dtype)
    params = {"weight_ih": np.concatenate([W[:, n_a:] for W in Ws]),  # (4n_a, n_x)
              "weight_hh": np.concatenate([W[:, :n_a] for W in Ws]),  # (4n_a, n_a)
              "bias_ih": b, "bias_hh": np.zeros_like(b)}
    return params, n_a


def lstm_cell_forward(xt, a_prev, c_prev, parameters):
    """xt (n_x, m), a_prev, c_prev (n_a, m) -> a_next, c_next (n_a, m), yt_pred (n_y, m),
    cache (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)."""
    p, n_a = _lstm_params(parameters)
    xt, a_prev = _columns(xt, a_prev, p["weight_ih"].shape[1], n_a)
    (c_prev,) = floats(c_prev)
    expect_shape("c_prev", c_prev, a_prev.shape)
    h, c, engine_cache = lstm_step_forward(rows(xt), rows(a_prev), rows(c_prev), p)
    gates = engine_cache.gates  # (m, 4n_a): activated i, f, g, o
    it, ft, cct, ot = (rows(gates[:, k * n_a:(k + 1) * n_a]) for k in range(4))
    a_next, c_next = rows(h), rows(c)
    cache = (a_next, c_next, a_prev, c_prev, ft, it, cct, ot, xt, parameters)
    return a_next, c_next, _head(a_next, parameters, "Wy", "by"), cache


def lstm_cell_backward(da_next, dc_next, cache):
    """da_next, dc_next (n_a, m) -> dict dxt, da_prev, dc_prev, dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo."""
    a_prev, c_prev, xt, parameters = cache[2], cache[3], cache[8], cache[9]
    p, n_a = _lstm_params(parameters)
    xt, a_prev = _columns(xt, a_prev, p["weight_ih"].shape[1], n_a)
    c_prev, da_next, dc_next = floats(c_prev, da_next, dc_next)
    for name, v in (("c_prev", c_prev), ("da_next", da_next), ("dc_next", dc_next)):
        expect_shape(name, v, a_prev.shape)
    _, _, engine_cache = lstm_step_forward(rows(xt), rows(a_prev), rows(c_prev), p)
    dx, dh_prev, dc_prev, g = lstm_step_backward(rows(da_next), rows(dc_next), engine_cache)
    out = {"dxt": rows(dx), "da_prev": rows(dh_prev), "dc_prev": rows(dc_prev)}
    for k, name in enumerate(GATES):
        block = slice(k * n_a, (k + 1) * n_a)
        out[f"dW{name}"] = np.concatenate([g["weight_hh"][block], g["weight_ih"][block]], axis=1)
        out[f"db{name}"] = g["bias_ih"][block, None]  # (n_a, 1)
    return {k: out[k] for k in ("dxt", "da_prev", "dc_prev", "dWf", "dbf", "dWi", "dbi", "dWc", "dbc", "dWo", "dbo")}


def lstm_forward(x, a0, parameters):
    """x (n_x, m, T_x), a0 (n_a, m); c0 = 0 -> a, c (n_a, m, T_x), y (n_y, m, T_x), caches ([cache per step], x).
    Returns (a, y, c, caches)."""
    (x,) = floats(x)
    if x.ndim != 3 or x.shape[2] < 1:
        raise ValueError(f"expected x of shape (n_x, m, T_x) with T_x >= 1, got {x.shape}")
    (a_next,) = floats(a0)
    c_next = np.zeros_like(a_next)
    caches, a, y, c = [], [], [], []
    for t in range(x.shape[2]):
        a_next, c_next, yt, cache = lstm_cell_forward(x[:, :, t], a_next, c_next, parameters)
        for store, value in ((a, a_next), (c, c_next), (y, yt), (caches, cache)):
            store.append(value)
    return np.stack(a, axis=2), np.stack(y, axis=2), np.stack(c, axis=2), (caches, x)


def lstm_backward(da, caches):
    """da (n_a, m, T): upstream dL/da⟨t⟩ of the first T steps (T <= T_x; dL/dc⟨T⟩ = 0).
    Returns dict dx (n_x, m, T), da0 (n_a, m), dWf, dbf, dWi, dbi, dWc, dbc, dWo, dbo (summed over time)."""
    cell_caches, _ = caches
    (da,) = floats(da)
    n_a, m = np.shape(cell_caches[0][2])
    dx, da_prev, dc_prev, total = [], np.zeros((n_a, m), da.dtype), np.zeros((n_a, m), da.dtype), {}
    for t in reversed(range(_steps(da, cell_caches, n_a, m))):
        g = lstm_cell_backward(da[:, :, t] + da_prev, dc_prev, cell_caches[t])
        dx.append(g.pop("dxt"))
        da_prev, dc_prev = g.pop("da_prev"), g.pop("dc_prev")
        for k, v in g.items():
            total[k] = total[k] + v if k in total else v
    return {"dx": np.stack(dx[::-1], axis=2), "da0": da_prev, **total}
