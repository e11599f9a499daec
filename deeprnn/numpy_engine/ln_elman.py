"""LayerNorm Elman RNN (``RNN(..., layer_norm=True)``): one step forward and, right below it, backward.

Ba, Kiros & Hinton (2016), section 3.1, with the input and the recurrent pre-activations normalised
separately. N is the row-wise normalisation of layernorm.py (mean 0, variance 1 over the H entries of
one sequence's row, ε = 1e-5); γ_ih, γ_hh (H,) are gains (``ln_ih_weight``, ``ln_hh_weight``, starting
at 1) and b_ih, b_hh the cell's usual biases, which are the shifts. Shapes: x_t (B, I), h_{t-1} (B, H), G = H.

Forward (the same block is in torch_engine/ln_elman.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh     (B, H)
    h_t = φ(a_t)          φ = tanh  or  φ = relu

With hidden_size 1 both normalisations are over one unit and give 0, so h_t = φ(b_ih + b_hh) is
constant (layernorm.py; the stack warns). Prefer the LSTM or GRU there.

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t and from step
t+1. φ' as in elman.py (from h_t); ∇N(u; dn) is N's backward (layernorm.py): the gradient into u when
dn = ∂L/∂N(u) arrives::

    da_t     = dh_t ⊙ φ'(a_t)                          (B, H)   = dgx = dgh, both halves of the sum
    drec     = ∇N(h_{t-1} W_hhᵀ; da_t ⊙ γ_hh)          (B, H)   into the recurrent GEMM's output
    dh_{t-1} = drec W_hh                               (B, H)   (plus what the output at t-1 sends)
    du_ih    = ∇N(x_t W_ihᵀ; da_t ⊙ γ_ih)              (B, H)   into the input GEMM's output
    dx_t     = du_ih W_ih                              (B, I)
    dW_ih    = Σ_t du_ihᵀ x_t                          (G, I)
    dW_hh    = Σ_t drecᵀ h_{t-1}                       (G, H)
    dγ_ih    = Σ_t Σ_b da_t ⊙ N(x_t W_ihᵀ)             (G,)
    dγ_hh    = Σ_t Σ_b da_t ⊙ N(h_{t-1} W_hhᵀ)         (G,)
    db_ih    = db_hh = Σ_t Σ_b da_t                    (G,)

In the code: the step functions below compute da_t, drec and dh_{t-1}; the lines from du_ih on run
once after the backward loop, over all T·B rows (layernorm.ln_weight_grads). The pointwise part is
elman.py's own (and its fused float32 twin): only the LayerNorms are new.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from ..layout import GATE_MULT
from .elman import rnn_pointwise_backward, rnn_pointwise_forward
from .fused import select
from .layernorm import ln_alloc, ln_project, ln_recurrent_backward, ln_recurrent_forward, ln_weight_grads
from .weights import CellKernel, Weights


def ln_rnn_core_forward(gx, h_prev, w: Weights, cache_t: dict, h, relu: bool) -> None:
    """One step given gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + b_hh (B, H). Writes h (B, H) and cache_t."""
    ln_recurrent_forward(h_prev, w, cache_t, out=h)  # (B, H) γ_hh ⊙ N(h_{t-1} W_hhᵀ), in h's buffer
    select(rnn_pointwise_forward, h.dtype)(gx, h, relu)  # h_t = φ(gx + γ_hh ⊙ N(h_{t-1} W_hhᵀ))


def ln_rnn_core_backward(dh, h, w: Weights, cache_t: dict, da, drec, dh_prev, dn, relu: bool) -> None:
    """Backprop one step. dh (B, H) = dL/dh_t, h = h_t. Writes da (B, H), drec (B, H) and dh_prev (B, H);
    ``dn`` is a (B, H) work buffer."""
    select(rnn_pointwise_backward, dh.dtype)(dh, h, da, relu)  # into a_t: da_t = dh_t ⊙ φ'(a_t)
    ln_recurrent_backward(da, w, cache_t, drec, dh_prev, dn)  # into h_{t-1} W_hhᵀ and h_{t-1}


# ---- adapters for the time loop in recurrence.py ------------------------------------------------


def _weight_grads(dgx, drec, cache):
    return ln_weight_grads(dgx, drec, dgx, cache)  # gh's gradient is da_t, as gx's


def _kernel(nonlinearity: str) -> CellKernel:
    relu = nonlinearity == "relu"

    def alloc(T, B, H, P, dtype, proj):
        return ln_alloc(T, B, H, dtype), np.empty((B, H), dtype)  # per-step LN cache, (B, H) scratch

    def forward(gx_t, prev, w, cache_t, new, scratch):
        ln_rnn_core_forward(gx_t, prev[0], w, cache_t, new[0], relu)

    def backward(dstate, prev, new, gx_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
        ln_rnn_core_backward(dstate[0], new[0], w, cache_t, dgx_t, dgh_t, dprev[0], scratch, relu)

    name = f"RNN_{nonlinearity.upper()}"
    return CellKernel(name=name, gate_mult=GATE_MULT[name], n_states=1, fold_hh_bias=True, alloc=alloc,
                      forward=forward, backward=backward, project=partial(ln_project, fold_hh=True),
                      weight_grads=_weight_grads)


LN_RNN_TANH_KERNEL = _kernel("tanh")
LN_RNN_RELU_KERNEL = _kernel("relu")
