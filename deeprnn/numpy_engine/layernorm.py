"""Layer normalisation for recurrent cells (Ba, Kiros & Hinton 2016), forward and, right below, backward.

The LayerNorm cells (ln_elman.py, ln_gru.py, ln_lstm.py) normalise their input and recurrent
pre-activations separately, each row of G entries (one sequence at one step) on its own. This module
holds what they share: the normalisation N itself, and the input side, which runs for all T·B rows at
once right after the one input GEMM (only the recurrent side must wait for h_{t-1}, step by step).

Forward, for one row u of K entries (ε = 1e-5, torch.nn.LayerNorm's default)::

    μ    = mean(u)          σ² = mean((u - μ)²)              over the K entries (biased variance)
    N(u) = (u - μ) / √(σ² + ε)                               written n, with rstd = 1 / √(σ² + ε)

Backward (dn = ∂L/∂n arriving, one row)::

    du   = rstd ⊙ (dn - mean(dn) - n ⊙ mean(dn ⊙ n))

With K = 1 (a LayerNorm over one unit: LN(c_t) at hidden_size 1, or an Elman cell's two LayerNorms)
u - μ = 0 exactly, so n = 0 and du = 0: γ ⊙ n carries nothing and only the shift added after it
remains. That is well defined, both engines compute it alike, and the stacks warn
(layout.check_stack_args). The LSTM's and GRU's gate LayerNorms run over G = 4H or 3H entries, so
they stay informative at hidden_size 1.

The input side of every LayerNorm cell, for all N = T·B rows (G = gate width)::

    gx      = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih (+ b_hh for RNN and LSTM: weights.input_bias)    (T·B, G)

and its backward, after the backward loop, from dgx = ∂L/∂gx (T·B, G) that the loop filled in::

    dγ_ih   = Σ_t Σ_b dgx ⊙ n_ih                    (G,)    n_ih = N(x_t W_ihᵀ)
    db_ih   = Σ_t Σ_b dgx                           (G,)    (db_hh the same sum when folded)
    du_ih   = LN backward of dn = dgx ⊙ γ_ih        (T·B, G)
    dx_t    = du_ih W_ih                            (T·B, I)
    dW_ih   = Σ_t du_ihᵀ x_t                        (G, I)

Which code runs: for float32 with numba installed, ``select`` (fused.py) swaps ln_forward and
ln_backward for compiled twins in _fused_kernels.py (one pass per row, the means in float64); float64,
or ``DEEPRNN_FUSED=0``, runs the NumPy functions here.

The recurrent side's parameter gradients are sums over all rows too, taken here after the loop:
dW_hh = Σ_t drecᵀ h_{t-1} with drec = ∂L/∂(h_{t-1} W_hhᵀ) (each step's backward writes it into the
time loop's dgh_t buffer), dγ_hh = Σ_t Σ_b dgh ⊙ n_hh and db_hh = Σ_t Σ_b dgh, where dgh is the
gradient of the normalised recurrent part gh = γ_hh ⊙ n_hh + b_hh (each cell module says what it is).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .fused import select
from .weights import Weights, input_bias

EPS = 1e-5  # ε of every LayerNorm here, as torch.nn.LayerNorm's default


def ln_forward(u: np.ndarray, n: np.ndarray, rstd: np.ndarray) -> None:
    """Row-wise normalisation (the NumPy reference). u (N, K); writes n (N, K) = (u - μ) · rstd (n may be
    u) and rstd (N, 1)."""
    np.subtract(u, u.mean(axis=-1, keepdims=True), out=n)  # u - μ
    var = np.einsum("nk,nk->n", n, n)[:, None] / n.shape[-1]  # (N, 1) σ², biased
    var += EPS
    np.sqrt(var, out=rstd)
    np.divide(1.0, rstd, out=rstd)  # rstd = 1 / √(σ² + ε)
    n *= rstd  # n = N(u)


def ln_backward(dn: np.ndarray, n: np.ndarray, rstd: np.ndarray, du: np.ndarray) -> None:
    """Backprop ln_forward: du (N, K) = rstd ⊙ (dn - mean(dn) - n ⊙ mean(dn ⊙ n)) (the NumPy reference).
    du must not be dn or n."""
    mean_dn_n = np.einsum("nk,nk->n", dn, n)[:, None] / n.shape[-1]  # (N, 1) mean(dn ⊙ n)
    np.multiply(n, mean_dn_n, out=du)
    np.subtract(dn, du, out=du)
    du -= dn.mean(axis=-1, keepdims=True)
    du *= rstd  # into u: du = rstd ⊙ (dn - mean(dn) - n ⊙ mean(dn ⊙ n))


class LNInputs(NamedTuple):
    """What the input side's backward needs (``RecurrenceCache.inputs``)."""

    n_ih: np.ndarray  # (T·B, G) N(x_t W_ihᵀ)
    rstd_ih: np.ndarray  # (T·B, 1)


def ln_project(x: np.ndarray, w: Weights, fold_hh: bool):
    """The input side of all rows: x (N, I) -> (gx (N, G) = γ_ih ⊙ N(x W_ihᵀ) + bias, LNInputs)."""
    gx = x @ w.w_ih.T  # (N, G) one GEMM for all T·B rows
    n_ih, rstd_ih = np.empty_like(gx), np.empty((gx.shape[0], 1), gx.dtype)  # (N, G), (N, 1)
    select(ln_forward, gx.dtype)(gx, n_ih, rstd_ih)
    np.multiply(n_ih, w.gamma_ih, out=gx)  # γ_ih ⊙ N(x W_ihᵀ)
    bias = input_bias(w, fold_hh)
    if bias is not None:
        gx += bias
    return gx, LNInputs(n_ih, rstd_ih)


def ln_weight_grads(dgx: np.ndarray, drec: np.ndarray, dgh: np.ndarray, cache) -> tuple[np.ndarray, Weights]:
    """Every weight gradient of a LayerNorm cell but LN(c_t)'s, after the backward loop (module docstring).

    dgx (N, G) = ∂L/∂gx; drec (N, G) = ∂L/∂(h_{t-1} W_hhᵀ); dgh (N, G) = ∂L/∂(γ_hh ⊙ n_hh + b_hh);
    ``cache``: the recurrence.RecurrenceCache. Returns (dx (N, I), gradient Weights).
    """
    N, w = dgx.shape[0], cache.w
    x, h_prev = cache.x.reshape(N, -1), cache.states[0][:-1].reshape(N, -1)  # (N, I), (N, P)
    n_ih, rstd_ih = cache.inputs
    du_ih = np.empty_like(dgx)  # (N, G)
    select(ln_backward, dgx.dtype)(dgx * w.gamma_ih, n_ih, rstd_ih, du_ih)  # into x W_ihᵀ
    dx = du_ih @ w.w_ih  # (N, I)   into x
    dw_ih = du_ih.T @ x  # (G, I)   into W_ih
    dw_hh = drec.T @ h_prev  # (G, P)   into W_hh
    dgamma_ih = np.einsum("ng,ng->g", dgx, n_ih)  # (G,)  into γ_ih
    dgamma_hh = np.einsum("ng,ng->g", dgh, cache.bufs["n_hh"].reshape(N, -1))  # (G,)  into γ_hh
    db_ih = db_hh = None
    if w.b_ih is not None:
        db_ih = dgx.sum(axis=0)  # (G,)   into b_ih
        db_hh = dgh.sum(axis=0)  # (G,)   into b_hh
    return dx, Weights(dw_ih, dw_hh, db_ih, db_hh, None, dgamma_ih, dgamma_hh)


def ln_alloc(T: int, B: int, G: int, dtype) -> dict:
    """The recurrent side's per-step cache: n_hh = N(h_{t-1} W_hhᵀ) (T, B, G) and its rstd (T, B, 1)."""
    return {"n_hh": np.empty((T, B, G), dtype), "rstd_hh": np.empty((T, B, 1), dtype)}


def ln_recurrent_forward(h_prev, w: Weights, cache_t: dict, out) -> None:
    """out (B, G) = γ_hh ⊙ N(h_{t-1} W_hhᵀ); keeps n_hh and rstd_hh in cache_t."""
    np.matmul(h_prev, w.w_hh.T, out=out)  # (B, G) h_{t-1} W_hhᵀ: one GEMM for all gates
    select(ln_forward, out.dtype)(out, cache_t["n_hh"], cache_t["rstd_hh"])
    np.multiply(cache_t["n_hh"], w.gamma_hh, out=out)


def ln_recurrent_backward(dgh, w: Weights, cache_t: dict, drec, dh_prev, dn) -> None:
    """From dgh (B, G) = ∂L/∂(γ_hh ⊙ n_hh + b_hh): writes drec (B, G) = ∂L/∂(h_{t-1} W_hhᵀ) and
    dh_prev (B, P) = drec W_hh (the caller adds any direct path); ``dn`` is a (B, G) work buffer."""
    np.multiply(dgh, w.gamma_hh, out=dn)  # into n_hh: dgh ⊙ γ_hh
    select(ln_backward, dn.dtype)(dn, cache_t["n_hh"], cache_t["rstd_hh"], drec)  # into h_{t-1} W_hhᵀ: drec
    np.matmul(drec, w.w_hh, out=dh_prev)  # (B, P) into h_{t-1}: drec W_hh
