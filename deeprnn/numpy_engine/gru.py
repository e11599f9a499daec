"""GRU: one step forward and, right below it, one step backward (PyTorch's gate order r, z, n).

Shapes: x_t (B, I), h_{t-1} (B, H), G = 3H.

Forward (the same block is in torch_engine/gru.py; tests/test_engine_docs.py keeps the two equal)::

    gx = x_t W_ihᵀ + b_ih                  (B, G), split into gx_r, gx_z, gx_n
    gh = h_{t-1} W_hhᵀ + b_hh              (B, G), split into gh_r, gh_z, gh_n
    r_t = σ(gx_r + gh_r)
    z_t = σ(gx_z + gh_z)
    n_t = tanh(gx_n + r_t ⊙ gh_n)          (b_hn sits inside r ⊙ (W_hn h + b_hn), as in PyTorch)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}  = n_t + z_t ⊙ (h_{t-1} - n_t)

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t and from step
t+1. da_r, da_z, da_n are the gradients of the pre-activations gx_r + gh_r, gx_z + gh_z and
gx_n + r_t ⊙ gh_n::

    da_n     = dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)                (B, H)
    da_z     = dh_t ⊙ (h_{t-1} - n_t) ⊙ z_t ⊙ (1 - z_t)     (B, H)
    da_r     = da_n ⊙ gh_n ⊙ r_t ⊙ (1 - r_t)                (B, H)
    dgx      = [da_r, da_z, da_n]                            (B, G)
    dgh      = [da_r, da_z, da_n ⊙ r_t]                      (B, G)   gh_n, b_hn included, is scaled by r_t
    dh_{t-1} = dgh W_hh + dh_t ⊙ z_t                         (B, H)   (plus what the output at t-1 sends)
    dx_t     = dgx W_ih                                      (B, I)
    dW_ih    = Σ_t dgxᵀ x_t                                  (G, I)
    dW_hh    = Σ_t dghᵀ h_{t-1}                              (G, H)
    db_ih    = Σ_t Σ_b dgx                                   (G,)
    db_hh    = Σ_t Σ_b dgh                                   (G,)     so db_hn sums da_n ⊙ r_t, db_in sums da_n

Because b_hn is multiplied by r_t, the input and recurrent parts are not a plain sum: they get
different gradients (dgx_n = da_n but dgh_n = da_n ⊙ r_t), and b_hh cannot be folded into the input
projection as it is for RNN and LSTM (weights.input_bias). The code uses the same names (``da_r``,
``da_z``, ``da_n`` are views of ``dgx``); the sums over t are one GEMM each over all T·B rows, after
the backward loop (recurrence.py).

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
    check_step_grad, linear_backward, step_weights,
)


def _split3(a: np.ndarray) -> tuple[np.ndarray, ...]:
    """(B, G) -> three (B, H) views, in PyTorch's gate order r, z, n."""
    H = a.shape[-1] // GATE_MULT["GRU"]
    return a[:, :H], a[:, H : 2 * H], a[:, 2 * H :]


def gru_pointwise_forward(gx, gh, b_hh, h_prev, h) -> None:
    """The gate nonlinearities and the state update of one step (the NumPy reference).

    gx (B, G) comes in as x_t W_ihᵀ + b_ih and leaves as the gates [r, z, n]; gh (B, G) comes in as
    h_{t-1} W_hhᵀ and leaves with b_hh added (its n part is needed by the backward pass);
    b_hh (G,) may be zeros. Writes h (B, H).
    """
    H = h.shape[-1]
    gh += b_hh  # gh = h_{t-1} W_hhᵀ + b_hh
    rz = gx[:, : 2 * H]
    rz += gh[:, : 2 * H]
    sigmoid(rz, out=rz)  # r_t = σ(gx_r + gh_r), z_t = σ(gx_z + gh_z) (adjacent)
    r, z, n = _split3(gx)
    np.multiply(r, gh[:, 2 * H :], out=h)  # (h used as scratch for r_t ⊙ gh_n; it gets h_t below)
    n += h
    np.tanh(n, out=n)  # n_t = tanh(gx_n + r_t ⊙ gh_n)
    np.subtract(h_prev, n, out=h)
    h *= z
    h += n  # h_t = n_t + z_t ⊙ (h_{t-1} - n_t)


def gru_pointwise_backward(dh, h_prev, gates, gh, dgx, dgh, dh_direct) -> None:
    """Backprop gru_pointwise_forward: the lines da_n ... dgh, and dh_t ⊙ z_t, of the module docstring.

    dh (B, H) = dL/dh_t. Writes dgx (B, G) = dL/d(gx), dgh (B, G) = dL/d(gh) and dh_direct (B, H) =
    dh ⊙ z, the part of dL/dh_{t-1} that skips the recurrent GEMM.
    """
    H = dh.shape[-1]
    r, z, n = _split3(gates)
    gh_n = gh[:, 2 * H :]
    da_r, da_z, da_n = _split3(dgx)
    tanh_grad(n, out=da_n)
    np.subtract(1.0, z, out=dh_direct)  # dh_direct used as scratch for 1 - z_t (it gets its value last)
    da_n *= dh_direct
    da_n *= dh  # into gx_n + r_t ⊙ gh_n: da_n = dh_t ⊙ (1 - z_t) ⊙ (1 - n_t²)
    sigmoid_grad(z, out=da_z)
    np.subtract(h_prev, n, out=dh_direct)  # dh_direct used as scratch for h_{t-1} - n_t
    da_z *= dh_direct
    da_z *= dh  # into gx_z + gh_z: da_z = dh_t ⊙ (h_{t-1} - n_t) ⊙ z_t ⊙ (1 - z_t)
    sigmoid_grad(r, out=da_r)
    da_r *= gh_n
    da_r *= da_n  # into gx_r + gh_r: da_r = da_n ⊙ gh_n ⊙ r_t ⊙ (1 - r_t)
    dgh[:, : 2 * H] = dgx[:, : 2 * H]  # into gh_r, gh_z: the same da_r, da_z as gx_r, gx_z
    np.multiply(da_n, r, out=dgh[:, 2 * H :])  # into gh_n (b_hn included): da_n ⊙ r_t
    np.multiply(dh, z, out=dh_direct)  # into h_{t-1} directly: dh_t ⊙ z_t   (dh_direct's final value)


def gru_core_forward(gx, h_prev, w: Weights, gh, h) -> None:
    """One step given gx = x_t W_ihᵀ + b_ih (B, G), which becomes the gates. Writes gh (B, G) and h (B, H)."""
    np.matmul(h_prev, w.w_hh.T, out=gh)  # (B, G) one recurrent GEMM for all three gates
    b_hh = w.b_hh if w.b_hh is not None else np.zeros(gh.shape[-1], gh.dtype)
    select(gru_pointwise_forward, gx.dtype)(gx, gh, b_hh, h_prev, h)


def gru_core_backward(dh, h_prev, gates, gh, w: Weights, dgx, dgh, dh_prev, scratch) -> None:
    """Backprop one step. dh (B, H) = dL/dh_t. Writes dgx, dgh (B, G) and dh_prev (B, H);
    ``scratch`` is a (B, H) work buffer."""
    select(gru_pointwise_backward, dh.dtype)(dh, h_prev, gates, gh, dgx, dgh, scratch)
    np.matmul(dgh, w.w_hh, out=dh_prev)  # (B, H) into h_{t-1} through gh: dgh W_hh
    dh_prev += scratch  # ... plus the direct path through z_t ⊙ h_{t-1}: dh_{t-1} = dgh W_hh + dh_t ⊙ z_t


class GRUStepCache(NamedTuple):
    """What gru_step_backward needs."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    gates: np.ndarray  # (B, G) activated [r, z, n]
    gh: np.ndarray  # (B, G) h_prev W_hhᵀ + b_hh
    w: Weights


def gru_step_forward(x, h, params: dict):
    """One GRU step. x (B, I), h (B, H); params has torch.nn.GRUCell names.
    Returns (h_next (B, H), cache)."""
    w = step_weights(params, GATE_MULT["GRU"], x, h)
    gates = linear(x, w.w_ih, w.b_ih)  # (B, G)
    gh = np.empty_like(gates)  # (B, G)
    h_next = np.empty_like(h)  # (B, H)
    gru_core_forward(gates, h, w, gh, h_next)
    return h_next, GRUStepCache(x, h, gates, gh, w)


def gru_step_backward(dh, cache):
    """Backprop gru_step_forward. Returns (dx (B, I), dh_prev (B, H), dparams)."""
    check_step_cache(cache, GRUStepCache, "gru_step_forward")
    x, h_prev, gates, gh, w = cache
    check_step_grad("dh", dh, h_prev)
    dgx, dgh = np.empty_like(gates), np.empty_like(gates)  # (B, G)
    dh_prev = np.empty_like(h_prev)
    gru_core_backward(dh, h_prev, gates, gh, w, dgx, dgh, dh_prev, np.empty_like(h_prev))
    dx, g = linear_backward(dgx, dgh, x, h_prev, w)
    return dx, dh_prev, cell_grads(g)


# ---- adapter for the time loop in recurrence.py -------------------------------------------------


def _alloc(T, B, H, P, dtype, proj):
    return {"gh": np.empty((T, B, GATE_MULT["GRU"] * H), dtype)}, np.empty((B, H), dtype)  # (T, B, G), (B, H)


def _forward(gx_t, prev, w, cache_t, new, scratch):
    gru_core_forward(gx_t, prev[0], w, cache_t["gh"], new[0])


def _backward(dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
    gru_core_backward(dstate[0], prev[0], gates_t, cache_t["gh"], w, dgx_t, dgh_t, dprev[0], scratch)


GRU_KERNEL = CellKernel(name="GRU", gate_mult=GATE_MULT["GRU"], n_states=1, fold_hh_bias=False,
                        alloc=_alloc, forward=_forward, backward=_backward)
