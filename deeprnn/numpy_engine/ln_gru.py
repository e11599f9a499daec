"""LayerNorm GRU (``GRU(..., layer_norm=True)``): one step forward and, right below it, one step backward.

Ba, Kiros & Hinton (2016) normalise the input and the recurrent pre-activations separately; for the
GRU this means the same for its two halves gx and gh, PyTorch's gate order r, z, n kept. N is the
row-wise normalisation of layernorm.py (mean 0, variance 1 over the G = 3H entries of one sequence's
row, all three gates together, ε = 1e-5); γ_ih, γ_hh (G,) are gains (``ln_ih_weight``,
``ln_hh_weight``, starting at 1) and b_ih, b_hh the GRU's usual biases, which are the shifts.
Shapes: x_t (B, I), h_{t-1} (B, H), G = 3H.

Forward (the same block is in torch_engine/ln_gru.py; tests/test_engine_docs.py keeps the two equal)::

    gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih        (B, G), split into gx_r, gx_z, gx_n
    gh = γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh    (B, G), split into gh_r, gh_z, gh_n
    r_t = σ(gx_r + gh_r)
    z_t = σ(gx_z + gh_z)
    n_t = tanh(gx_n + r_t ⊙ gh_n)          (r_t scales the normalised W_hn h_{t-1} and b_hn)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}  = n_t + z_t ⊙ (h_{t-1} - n_t)

Where the reset gate sits: the recurrent row h_{t-1} W_hhᵀ is normalised first and r_t then scales its
n part, b_hn included, exactly as PyTorch's GRU scales W_hn h_{t-1} + b_hn. Normalising r_t ⊙ W_hn h_{t-1}
instead would partly undo the reset gate (a row that r_t scales down is scaled back up), and it would
need its own LayerNorm inside the step. After gx and gh, everything is gru.py's step, unchanged.

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t and from step
t+1. ∇N(u; dn) is N's backward (layernorm.py): the gradient into u when dn = ∂L/∂N(u) arrives::

    da_n     = dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)                (B, H)
    da_z     = dh_t ⊙ (h_{t-1} - n_t) ⊙ z_t ⊙ (1 - z_t)     (B, H)
    da_r     = da_n ⊙ gh_n ⊙ r_t ⊙ (1 - r_t)                (B, H)
    dgx      = [da_r, da_z, da_n]                            (B, G)
    dgh      = [da_r, da_z, da_n ⊙ r_t]                      (B, G)   gh_n, b_hn included, is scaled by r_t
    drec     = ∇N(h_{t-1} W_hhᵀ; dgh ⊙ γ_hh)                 (B, G)   into the recurrent GEMM's output
    dh_{t-1} = drec W_hh + dh_t ⊙ z_t                        (B, H)   (plus what the output at t-1 sends)
    du_ih    = ∇N(x_t W_ihᵀ; dgx ⊙ γ_ih)                     (B, G)   into the input GEMM's output
    dx_t     = du_ih W_ih                                    (B, I)
    dW_ih    = Σ_t du_ihᵀ x_t                                (G, I)
    dW_hh    = Σ_t drecᵀ h_{t-1}                             (G, H)
    dγ_ih    = Σ_t Σ_b dgx ⊙ N(x_t W_ihᵀ)                    (G,)
    dγ_hh    = Σ_t Σ_b dgh ⊙ N(h_{t-1} W_hhᵀ)                (G,)
    db_ih    = Σ_t Σ_b dgx                                   (G,)
    db_hh    = Σ_t Σ_b dgh                                   (G,)

In the code: gru.py's pointwise functions (and their fused float32 twins) compute da_r ... dgx, dgh and
dh_t ⊙ z_t; the step below adds drec and dh_{t-1}; the lines from du_ih on run once after the backward
loop, over all T·B rows (layernorm.ln_weight_grads), with dgh rebuilt there from dgx and r_t.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..layout import GATE_MULT
from .fused import select
from .gru import gru_pointwise_backward, gru_pointwise_forward
from .layernorm import ln_alloc, ln_project, ln_recurrent_backward, ln_recurrent_forward, ln_weight_grads
from .weights import CellKernel, Weights


def ln_gru_core_forward(gx, h_prev, w: Weights, cache_t: dict, h) -> None:
    """One step given gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih (B, G), which becomes the gates [r, z, n].
    Writes h (B, H) and cache_t (gh (B, G) = γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh, and N's cache)."""
    gh = cache_t["gh"]
    ln_recurrent_forward(h_prev, w, cache_t, out=gh)  # (B, G) γ_hh ⊙ N(h_{t-1} W_hhᵀ)
    b_hh = w.b_hh if w.b_hh is not None else np.zeros(gh.shape[-1], gh.dtype)
    select(gru_pointwise_forward, gx.dtype)(gx, gh, b_hh, h_prev, h)  # gh += b_hh; gru.py's gates and h_t


def ln_gru_core_backward(dh, h_prev, gates, w: Weights, cache_t: dict, dgx, drec, dh_prev, scratch) -> None:
    """Backprop one step. dh (B, H) = dL/dh_t. Writes dgx (B, G), drec (B, G) and dh_prev (B, H);
    ``scratch`` = (dgh (B, G), dh_direct (B, H), dn (B, G)) work buffers."""
    dgh, dh_direct, dn = scratch
    select(gru_pointwise_backward, dh.dtype)(dh, h_prev, gates, cache_t["gh"], dgx, dgh, dh_direct)
    ln_recurrent_backward(dgh, w, cache_t, drec, dh_prev, dn)  # drec, and drec W_hh into h_{t-1}
    dh_prev += dh_direct  # ... plus the direct path: dh_{t-1} = drec W_hh + dh_t ⊙ z_t


# ---- adapter for the time loop in recurrence.py -------------------------------------------------


def _alloc(T, B, H, P, dtype, proj):
    G = GATE_MULT["GRU"] * H
    bufs = {"gh": np.empty((T, B, G), dtype), **ln_alloc(T, B, G, dtype)}  # (T, B, G) each, rstd (T, B, 1)
    return bufs, (np.empty((B, G), dtype), np.empty((B, H), dtype), np.empty((B, G), dtype))


def _forward(gx_t, prev, w, cache_t, new, scratch):
    ln_gru_core_forward(gx_t, prev[0], w, cache_t, new[0])


def _backward(dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
    ln_gru_core_backward(dstate[0], prev[0], gates_t, w, cache_t, dgx_t, dgh_t, dprev[0], scratch)


def _weight_grads(dgx, drec, cache):
    H = dgx.shape[-1] // GATE_MULT["GRU"]
    r = cache.gx.reshape(dgx.shape)[:, :H]  # (T·B, H) r_t, as the forward left it in the gates
    dgh = dgx.copy()  # (T·B, G) dgh = [da_r, da_z, da_n ⊙ r_t]
    dgh[:, 2 * H:] *= r
    return ln_weight_grads(dgx, drec, dgh, cache)


LN_GRU_KERNEL = CellKernel(name="GRU", gate_mult=GATE_MULT["GRU"], n_states=1, fold_hh_bias=False,
                           alloc=_alloc, forward=_forward, backward=_backward,
                           project=partial(ln_project, fold_hh=False), weight_grads=_weight_grads)
