"""LSTM: one step forward and, right below it, one step backward (PyTorch's gate order i, f, g, o).

Shapes: x_t (B, I), h_{t-1} (B, P), c_{t-1} (B, H), G = 4H; P = proj_size if set, else H.

Forward (the same block is in torch_engine/lstm.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh       (B, G), split into a_i, a_f, a_g, a_o
    i_t = σ(a_i)     f_t = σ(a_f)     g_t = tanh(a_g)     o_t = σ(a_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    m_t = o_t ⊙ tanh(c_t)
    h_t = m_t                      (with proj_size:  h_t = m_t W_hrᵀ,  W_hr (P, H))

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, P), from the output at t and from step
t+1, and dc (B, H) = ∂L/∂c_t through step t+1 only; σ' = σ(1 - σ) and tanh' = 1 - tanh² are written
with the forward's outputs::

    dm_t     = dh_t W_hr                                (B, H)   (without proj_size: dm_t = dh_t)
    dW_hr    = Σ_t dh_tᵀ m_t                            (P, H)
    dc_t     = dc + dm_t ⊙ o_t ⊙ (1 - tanh²(c_t))      (B, H)   total: from step t+1 and through m_t
    da_o     = dm_t ⊙ tanh(c_t) ⊙ o_t ⊙ (1 - o_t)
    da_i     = dc_t ⊙ g_t ⊙ i_t ⊙ (1 - i_t)
    da_f     = dc_t ⊙ c_{t-1} ⊙ f_t ⊙ (1 - f_t)
    da_g     = dc_t ⊙ i_t ⊙ (1 - g_t²)
    dc_{t-1} = dc_t ⊙ f_t                               (B, H)
    da_t     = [da_i, da_f, da_g, da_o]                 (B, G)   for the input and recurrent parts alike
    dh_{t-1} = da_t W_hh                                (B, P)   (plus what the output at t-1 sends)
    dx_t     = da_t W_ih                                (B, I)
    dW_ih    = Σ_t da_tᵀ x_t                            (G, I)
    dW_hh    = Σ_t da_tᵀ h_{t-1}                        (G, P)
    db_ih    = db_hh = Σ_t Σ_b da_t                     (G,)

The code names these the same way: ``dm``, ``dc`` (arriving), ``dc_t``, ``da_i`` ... ``da_o`` (views of
``da``), ``dc_prev``, ``dh_prev``, ``dx``, ``dw_ih``/``dw_hh``/``db_ih``/``db_hh`` (weights.py) and
``w_hr`` in the gradient Weights. The sums over t are one GEMM each over all T·B rows, after the
backward loop (recurrence.py); a single step (``lstm_step_backward``) has just its own term.

Three levels, each backward right under its forward:
* ``lstm_pointwise_*``: the elementwise equations above (from a_t to m_t and back);
* ``lstm_core_*``: one step given the input part gx = x_t W_ihᵀ + b_ih + b_hh, which the time loop
  computes for all steps with one GEMM; they write into buffers owned by the caller;
* ``lstm_step_*``: pure functions of (x, state, params), adding the input projection and weight grads.

Which code runs: for float32 with numba installed (``deeprnn[fast]``), ``select`` (fused.py) swaps the
two pointwise functions for their compiled twins in _fused_kernels.py, which compute the same lines
one element at a time. float64 always runs the NumPy functions here; set ``DEEPRNN_FUSED=0`` to run
them for float32 too, e.g. to step through them in a debugger.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..layout import GATE_MULT
from .ops import linear, sigmoid, sigmoid_grad, tanh_grad
from .fused import select
from .weights import (
    CellKernel, Weights, cell_grads, check_step_cache,
    check_step_grad, input_bias, linear_backward, step_weights,
)


def _split4(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """(B, G) -> four (B, H) views, in PyTorch's gate order i, f, g, o."""
    H = a.shape[-1] // GATE_MULT["LSTM"]
    return a[:, :H], a[:, H : 2 * H], a[:, 2 * H : 3 * H], a[:, 3 * H :]


def lstm_pointwise_forward(gx, rec, c_prev, c, tanh_c, m) -> None:
    """The gate nonlinearities and the cell update of one step (the NumPy reference).

    gx (B, G) comes in as x_t W_ihᵀ + b_ih + b_hh and leaves as the gates [i, f, g, o];
    rec (B, G) = h_{t-1} W_hhᵀ. Writes c (B, H), tanh_c = tanh(c_t) (B, H) and m = o ⊙ tanh(c_t) (B, H).
    """
    H = c.shape[-1]
    gx += rec  # (B, G) pre-activations a_t
    sigmoid(gx[:, : 2 * H], out=gx[:, : 2 * H])  # i_t = σ(a_i), f_t = σ(a_f) (adjacent)
    np.tanh(gx[:, 2 * H : 3 * H], out=gx[:, 2 * H : 3 * H])  # g_t = tanh(a_g)
    sigmoid(gx[:, 3 * H :], out=gx[:, 3 * H :])  # o_t = σ(a_o)
    i, f, g, o = _split4(gx)
    np.multiply(f, c_prev, out=c)  # c_t = f ⊙ c_{t-1}
    np.multiply(i, g, out=tanh_c)  #       (tanh_c used as scratch for i ⊙ g; it gets tanh(c_t) below)
    c += tanh_c  #       + i ⊙ g
    np.tanh(c, out=tanh_c)  # tanh(c_t)
    np.multiply(o, tanh_c, out=m)  # m_t = o ⊙ tanh(c_t)


def lstm_pointwise_backward(dm, dc, c_prev, gates, tanh_c, da, dc_prev) -> None:
    """Backprop lstm_pointwise_forward: the lines dc_t ... dc_{t-1} of the module docstring.

    dm (B, H) = dL/dm_t, dc (B, H) = dL/dc_t arriving from t+1. Writes da (B, G) = dL/da_t (input and
    recurrent pre-activations share it) and dc_prev (B, H) = dL/dc_{t-1}. ``dc_t`` is another name for
    ``dc_prev``'s buffer: it holds the total dc_t until the last line turns it into dc_{t-1}.
    """
    o, da_o = _split4(gates)[3], _split4(da)[3]
    dc_t = dc_prev  # alias: dc_prev's buffer holds the total dc_t until the last line makes it dc_{t-1}
    tanh_grad(tanh_c, out=dc_t)
    dc_t *= o
    dc_t *= dm
    dc_t += dc  # into c_t, total: dc_t = dc + dm_t ⊙ o_t ⊙ (1 - tanh²(c_t))
    sigmoid_grad(o, out=da_o)
    da_o *= tanh_c
    da_o *= dm  # into a_o: da_o = dm_t ⊙ tanh(c_t) ⊙ o_t ⊙ (1 - o_t)
    lstm_update_backward(dc_t, c_prev, gates, da)  # da_i, da_f, da_g; dc_prev's buffer becomes dc_{t-1}


def lstm_update_backward(dc_t, c_prev, gates, da) -> None:
    """Backprop c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t (shared with ln_lstm.py): from the total dc_t (B, H), writes
    da_i, da_f, da_g (the first three quarters of da (B, G)) and turns dc_t into dc_{t-1} in place."""
    i, f, g, _ = _split4(gates)
    da_i, da_f, da_g, _ = _split4(da)
    sigmoid_grad(i, out=da_i)
    da_i *= g
    da_i *= dc_t  # into a_i: da_i = dc_t ⊙ g_t ⊙ i_t ⊙ (1 - i_t)
    sigmoid_grad(f, out=da_f)
    da_f *= c_prev
    da_f *= dc_t  # into a_f: da_f = dc_t ⊙ c_{t-1} ⊙ f_t ⊙ (1 - f_t)
    tanh_grad(g, out=da_g)
    da_g *= i
    da_g *= dc_t  # into a_g: da_g = dc_t ⊙ i_t ⊙ (1 - g_t²)
    dc_t *= f  # into c_{t-1}: dc_{t-1} = dc_t ⊙ f_t   (dc_t's buffer now holds dc_{t-1})


def lstm_core_forward(gx, h_prev, c_prev, w: Weights, tanh_c, m, h, c, scratch) -> None:
    """One step given gx = x_t W_ihᵀ + b_ih + b_hh (B, G), which becomes the gates.

    Writes tanh_c, m (B, H), h (B, P) and c (B, H); without a projection, m and h are one array.
    ``scratch`` is a (B, G) work buffer.
    """
    np.matmul(h_prev, w.w_hh.T, out=scratch)  # (B, G) h_{t-1} W_hhᵀ: one GEMM for all four gates
    select(lstm_pointwise_forward, gx.dtype)(gx, scratch, c_prev, c, tanh_c, m)
    if w.w_hr is not None:
        np.matmul(m, w.w_hr.T, out=h)  # (B, P) h_t = m_t W_hrᵀ


def lstm_core_backward(dh, dc, c_prev, gates, tanh_c, w: Weights, da, dh_prev, dc_prev, dm_scratch) -> None:
    """Backprop one step. dh (B, P) = dL/dh_t, dc (B, H) = dL/dc_t arriving from step t+1.
    Writes da (B, G), dh_prev (B, P) and dc_prev (B, H)."""
    if w.w_hr is not None:
        dm = np.matmul(dh, w.w_hr, out=dm_scratch)  # (B, H) into m_t: dm_t = dh_t W_hr
    else:
        dm = dh  # (B, H) into m_t: dm_t = dh_t (h_t is m_t)
    select(lstm_pointwise_backward, da.dtype)(dm, dc, c_prev, gates, tanh_c, da, dc_prev)
    np.matmul(da, w.w_hh, out=dh_prev)  # (B, P) into h_{t-1}: dh_{t-1} = da_t W_hh


class LSTMStepCache(NamedTuple):
    """What lstm_step_backward needs: the step's inputs, its gates and intermediate values."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, P)
    c_prev: np.ndarray  # (B, H)
    gates: np.ndarray  # (B, G) activated [i, f, g, o]
    tanh_c: np.ndarray  # (B, H)
    m: np.ndarray  # (B, H) o ⊙ tanh(c_t), before the projection
    w: Weights


def lstm_step_forward(x, h, c, params: dict):
    """One LSTM step. x (B, I), h (B, P), c (B, H); params has torch.nn.LSTMCell names
    (weight_ih, weight_hh, optional bias_ih, bias_hh, and weight_hr for a projection).
    Returns (h_next (B, P), c_next (B, H), cache)."""
    w = step_weights(params, GATE_MULT["LSTM"], x, h, c)
    gates = linear(x, w.w_ih, input_bias(w, fold_hh=True))  # (B, G)
    c_next, tanh_c = np.empty_like(c), np.empty_like(c)  # (B, H)
    h_next = np.empty_like(h)  # (B, P)
    m = h_next if w.w_hr is None else np.empty_like(c)  # (B, H)
    lstm_core_forward(gates, h, c, w, tanh_c, m, h_next, c_next, np.empty_like(gates))
    return h_next, c_next, LSTMStepCache(x, h, c, gates, tanh_c, m, w)


def lstm_step_backward(dh, dc, cache):
    """Backprop lstm_step_forward. dh (B, P), dc (B, H).
    Returns (dx (B, I), dh_prev (B, P), dc_prev (B, H), dparams with the names of params)."""
    check_step_cache(cache, LSTMStepCache, "lstm_step_forward")
    x, h_prev, c_prev, gates, tanh_c, m, w = cache
    check_step_grad("dh", dh, h_prev)
    check_step_grad("dc", dc, c_prev)
    da = np.empty_like(gates)  # (B, G)
    dh_prev, dc_prev = np.empty_like(h_prev), np.empty_like(c_prev)
    lstm_core_backward(dh, dc, c_prev, gates, tanh_c, w, da, dh_prev, dc_prev, np.empty_like(c_prev))
    dx, g = linear_backward(da, da, x, h_prev, w)
    if w.w_hr is not None:
        g = g._replace(w_hr=dh.T @ m)  # (P, H) into W_hr: dW_hr = dh_tᵀ m_t
    return dx, dh_prev, dc_prev, cell_grads(g)


# ---- adapter for the time loop in recurrence.py -------------------------------------------------


def _alloc(T, B, H, P, dtype, proj):
    tanh_cs = np.empty((T, B, H), dtype)  # (T, B, H)
    ms = np.empty((T, B, H), dtype) if proj else None  # (T, B, H) pre-projection outputs
    scratch = (np.empty((B, GATE_MULT["LSTM"] * H), dtype), np.empty((B, H), dtype))  # (B, G), (B, H)
    return {"tanh_c": tanh_cs, "m": ms}, scratch


def _forward(gx_t, prev, w, cache_t, new, scratch):
    m = new[0] if cache_t["m"] is None else cache_t["m"]
    lstm_core_forward(gx_t, prev[0], prev[1], w, cache_t["tanh_c"], m, new[0], new[1], scratch[0])


def _backward(dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
    lstm_core_backward(dstate[0], dstate[1], prev[1], gates_t, cache_t["tanh_c"], w, dgx_t, dprev[0], dprev[1], scratch[1])


LSTM_KERNEL = CellKernel(name="LSTM", gate_mult=GATE_MULT["LSTM"], n_states=2, fold_hh_bias=True,
                         alloc=_alloc, forward=_forward, backward=_backward)
