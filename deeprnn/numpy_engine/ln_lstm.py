"""LayerNorm LSTM (``LSTM(..., layer_norm=True)``): one step forward and, right below it, one step backward.

Ba, Kiros & Hinton (2016), the LSTM of their supplementary material: the input and the recurrent
pre-activations normalised separately, and the cell state normalised before the output tanh.
PyTorch's gate order i, f, g, o is kept. N is the row-wise normalisation of layernorm.py (mean 0,
variance 1 over the entries of one sequence's row, ε = 1e-5): over all G = 4H gate pre-activations
together for x_t W_ihᵀ and h_{t-1} W_hhᵀ, over the H units for c_t. γ_ih, γ_hh (G,) and γ_c (H,) are
gains (``ln_ih_weight``, ``ln_hh_weight``, ``ln_c_weight``, starting at 1), β_c (H,) a shift
(``ln_c_bias``, starting at 0, when bias=True); b_ih and b_hh, the LSTM's usual biases, are the shifts
of the gate LayerNorms. Shapes: x_t (B, I), h_{t-1} (B, P), c_{t-1} (B, H), G = 4H; P = proj_size or H.

Forward (the same block is in torch_engine/ln_lstm.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh     (B, G), split into a_i, a_f, a_g, a_o
    i_t = σ(a_i)     f_t = σ(a_f)     g_t = tanh(a_g)     o_t = σ(a_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    s_t = γ_c ⊙ N(c_t) + β_c                                                (B, H)
    m_t = o_t ⊙ tanh(s_t)
    h_t = m_t                      (with proj_size:  h_t = m_t W_hrᵀ,  W_hr (P, H))

The state carried to step t+1 is c_t itself, not s_t. With hidden_size 1, N(c_t) = 0, so h_t = o_t ⊙
tanh(β_c) no longer depends on c_t (layernorm.py; the stack warns); the gate LayerNorms are fine there.

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, P), from the output at t and from step
t+1, and dc (B, H) = ∂L/∂c_t through step t+1 only. ∇N(u; dn) is N's backward (layernorm.py): the
gradient into u when dn = ∂L/∂N(u) arrives::

    dm_t     = dh_t W_hr                                (B, H)   (without proj_size: dm_t = dh_t)
    dW_hr    = Σ_t dh_tᵀ m_t                            (P, H)
    ds_t     = dm_t ⊙ o_t ⊙ (1 - tanh(s_t)²)           (B, H)
    dc_t     = dc + ∇N(c_t; ds_t ⊙ γ_c)                 (B, H)   total: from step t+1 and through s_t
    da_o     = dm_t ⊙ tanh(s_t) ⊙ o_t ⊙ (1 - o_t)
    da_i     = dc_t ⊙ g_t ⊙ i_t ⊙ (1 - i_t)
    da_f     = dc_t ⊙ c_{t-1} ⊙ f_t ⊙ (1 - f_t)
    da_g     = dc_t ⊙ i_t ⊙ (1 - g_t²)
    dc_{t-1} = dc_t ⊙ f_t                               (B, H)
    da_t     = [da_i, da_f, da_g, da_o]                 (B, G)   = dgx = dgh, both halves of the sum
    drec     = ∇N(h_{t-1} W_hhᵀ; da_t ⊙ γ_hh)           (B, G)   into the recurrent GEMM's output
    dh_{t-1} = drec W_hh                                (B, P)   (plus what the output at t-1 sends)
    du_ih    = ∇N(x_t W_ihᵀ; da_t ⊙ γ_ih)               (B, G)   into the input GEMM's output
    dx_t     = du_ih W_ih                               (B, I)
    dW_ih    = Σ_t du_ihᵀ x_t                           (G, I)
    dW_hh    = Σ_t drecᵀ h_{t-1}                        (G, P)
    dγ_ih    = Σ_t Σ_b da_t ⊙ N(x_t W_ihᵀ)              (G,)
    dγ_hh    = Σ_t Σ_b da_t ⊙ N(h_{t-1} W_hhᵀ)          (G,)
    dγ_c     = Σ_t Σ_b ds_t ⊙ N(c_t)                    (H,)
    dβ_c     = Σ_t Σ_b ds_t                             (H,)
    db_ih    = db_hh = Σ_t Σ_b da_t                     (G,)

In the code (same names: ``ds``, ``dc_t``, ``da_i`` ... views of ``da``, ``drec``): the step functions
below compute dm_t ... dh_{t-1} and keep ds_t; the lines from du_ih on, and dγ_c, dβ_c, run once after
the backward loop over all T·B rows (layernorm.ln_weight_grads and _weight_grads here).

Which code runs: for float32 with numba installed, ``select`` (fused.py) swaps the two pointwise
functions (the gates, the cell update and LN(c_t) of one step, and back) for their compiled twins in
_fused_kernels.py; float64, or ``DEEPRNN_FUSED=0``, runs the NumPy functions here.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..layout import GATE_MULT
from .layernorm import (
    ln_alloc, ln_backward, ln_forward, ln_project, ln_recurrent_backward, ln_recurrent_forward, ln_weight_grads,
)
from .fused import select
from .lstm import _split4, lstm_update_backward
from .ops import sigmoid, sigmoid_grad, tanh_grad
from .weights import CellKernel, Weights


def ln_lstm_pointwise_forward(a, c_prev, gamma_c, beta_c, c, n_c, rstd_c, tanh_s, m) -> None:
    """The gates, the cell update and the normalised output of one step (the NumPy reference).

    a (B, G) comes in as the pre-activations a_t and leaves as the gates [i, f, g, o]; gamma_c, beta_c
    (H,) (beta_c may be zeros). Writes c (B, H), n_c = N(c_t) (B, H), its rstd_c (B, 1), tanh_s =
    tanh(s_t) (B, H) and m = o ⊙ tanh(s_t) (B, H).
    """
    H = c.shape[-1]
    sigmoid(a[:, : 2 * H], out=a[:, : 2 * H])  # i_t = σ(a_i), f_t = σ(a_f) (adjacent)
    np.tanh(a[:, 2 * H : 3 * H], out=a[:, 2 * H : 3 * H])  # g_t = tanh(a_g)
    sigmoid(a[:, 3 * H :], out=a[:, 3 * H :])  # o_t = σ(a_o)
    i, f, g, o = _split4(a)
    np.multiply(f, c_prev, out=c)  # c_t = f ⊙ c_{t-1}
    np.multiply(i, g, out=tanh_s)  #       (tanh_s used as scratch for i ⊙ g)
    c += tanh_s  #       + i ⊙ g
    ln_forward(c, n_c, rstd_c)  # N(c_t)
    np.multiply(n_c, gamma_c, out=tanh_s)  # s_t = γ_c ⊙ N(c_t)
    tanh_s += beta_c  #     + β_c
    np.tanh(tanh_s, out=tanh_s)  # tanh(s_t)
    np.multiply(o, tanh_s, out=m)  # m_t = o ⊙ tanh(s_t)


def ln_lstm_pointwise_backward(dm, dc, c_prev, gates, gamma_c, n_c, rstd_c, tanh_s, da, dc_prev, ds, dn_c) -> None:
    """Backprop ln_lstm_pointwise_forward: the lines ds_t ... dc_{t-1} of the module docstring.

    dm (B, H) = dL/dm_t, dc (B, H) = dL/dc_t arriving from t+1. Writes da (B, G), dc_prev (B, H),
    ds (B, H) = ds_t (kept for dγ_c, dβ_c after the loop) and dn_c (B, H) = ds_t ⊙ γ_c = ∂L/∂N(c_t).
    ``dc_t`` is another name for ``dc_prev``'s buffer until the last line makes it dc_{t-1}.
    """
    o, da_o = _split4(gates)[3], _split4(da)[3]
    tanh_grad(tanh_s, out=ds)
    ds *= o
    ds *= dm  # into s_t: ds_t = dm_t ⊙ o_t ⊙ (1 - tanh(s_t)²)
    sigmoid_grad(o, out=da_o)
    da_o *= tanh_s
    da_o *= dm  # into a_o: da_o = dm_t ⊙ tanh(s_t) ⊙ o_t ⊙ (1 - o_t)
    np.multiply(ds, gamma_c, out=dn_c)  # into N(c_t): ds_t ⊙ γ_c
    dc_t = dc_prev  # alias: dc_prev's buffer holds the total dc_t until the last line makes it dc_{t-1}
    ln_backward(dn_c, n_c, rstd_c, dc_t)
    dc_t += dc  # into c_t, total: dc_t = dc + ∇N(c_t; ds_t ⊙ γ_c)
    lstm_update_backward(dc_t, c_prev, gates, da)  # lstm.py: da_i, da_f, da_g; dc_t becomes dc_{t-1}


def _beta_c(w: Weights, H: int, dtype):
    return w.beta_c if w.beta_c is not None else np.zeros(H, dtype)  # β_c = 0 without bias


def ln_lstm_core_forward(gx, h_prev, c_prev, w: Weights, cache_t: dict, m, h, c, rec) -> None:
    """One step given gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + b_hh (B, G), which becomes the gates.
    Writes m (B, H), h (B, P), c (B, H) and cache_t; without a projection m and h are one array.
    ``rec`` is a (B, G) work buffer."""
    ln_recurrent_forward(h_prev, w, cache_t, out=rec)  # (B, G) γ_hh ⊙ N(h_{t-1} W_hhᵀ)
    gx += rec  # (B, G) a_t
    select(ln_lstm_pointwise_forward, gx.dtype)(gx, c_prev, w.gamma_c, _beta_c(w, c.shape[-1], c.dtype), c,
                                                cache_t["n_c"], cache_t["rstd_c"], cache_t["tanh_s"], m)
    if w.w_hr is not None:
        np.matmul(m, w.w_hr.T, out=h)  # (B, P) h_t = m_t W_hrᵀ


def ln_lstm_core_backward(dh, dc, c_prev, gates, w: Weights, cache_t: dict, da, drec, dh_prev, dc_prev,
                          scratch) -> None:
    """Backprop one step. dh (B, P) = dL/dh_t, dc (B, H) = dL/dc_t arriving from step t+1. Writes da,
    drec (B, G), dh_prev (B, P), dc_prev (B, H) and ds_t into cache_t; ``scratch`` = (dn (B, G),
    dm (B, H), dn_c (B, H))."""
    dn, dm_buf, dn_c = scratch
    dm = dh if w.w_hr is None else np.matmul(dh, w.w_hr, out=dm_buf)  # (B, H) into m_t: dm_t = dh_t [W_hr]
    select(ln_lstm_pointwise_backward, da.dtype)(dm, dc, c_prev, gates, w.gamma_c, cache_t["n_c"], cache_t["rstd_c"],
                                                 cache_t["tanh_s"], da, dc_prev, cache_t["ds"], dn_c)
    ln_recurrent_backward(da, w, cache_t, drec, dh_prev, dn)  # drec, and drec W_hh into h_{t-1}


# ---- adapter for the time loop in recurrence.py -------------------------------------------------


def _alloc(T, B, H, P, dtype, proj):
    G = GATE_MULT["LSTM"] * H
    bufs = {"m": np.empty((T, B, H), dtype) if proj else None, **ln_alloc(T, B, G, dtype)}
    for name in ("n_c", "tanh_s", "ds"):  # (T, B, H); ds_t is written by the backward pass
        bufs[name] = np.empty((T, B, H), dtype)
    bufs["rstd_c"] = np.empty((T, B, 1), dtype)
    scratch = (np.empty((B, G), dtype), np.empty((B, H), dtype), np.empty((B, H), dtype))  # rec/dn, dm, dn_c
    return bufs, scratch


def _forward(gx_t, prev, w, cache_t, new, scratch):
    m = new[0] if cache_t["m"] is None else cache_t["m"]
    ln_lstm_core_forward(gx_t, prev[0], prev[1], w, cache_t, m, new[0], new[1], scratch[0])


def _backward(dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
    ln_lstm_core_backward(dstate[0], dstate[1], prev[1], gates_t, w, cache_t, dgx_t, dgh_t, dprev[0], dprev[1],
                          scratch)


def _weight_grads(dgx, drec, cache):
    dx, g = ln_weight_grads(dgx, drec, dgx, cache)  # gh's gradient is da_t, as gx's
    N = dgx.shape[0]
    ds, n_c = cache.bufs["ds"].reshape(N, -1), cache.bufs["n_c"].reshape(N, -1)  # (T·B, H)
    dgamma_c = np.einsum("nh,nh->h", ds, n_c)  # (H,) into γ_c: Σ ds_t ⊙ N(c_t)
    dbeta_c = ds.sum(axis=0) if cache.w.beta_c is not None else None  # (H,) into β_c
    return dx, g._replace(gamma_c=dgamma_c, beta_c=dbeta_c)


LN_LSTM_KERNEL = CellKernel(name="LSTM", gate_mult=GATE_MULT["LSTM"], n_states=2, fold_hh_bias=True,
                            alloc=_alloc, forward=_forward, backward=_backward,
                            project=partial(ln_project, fold_hh=True), weight_grads=_weight_grads)
