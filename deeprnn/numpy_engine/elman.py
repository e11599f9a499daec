"""Elman RNN: one step forward and, right below it, one step backward.

Shapes: x_t (B, I), h_{t-1} (B, H), G = H.

Forward (the same block is in torch_engine/elman.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh     (B, H)
    h_t = φ(a_t)          φ = tanh  or  φ = relu

Backward, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t and from step
t+1. φ' is written with the forward's output h_t::

    da_t     = dh_t ⊙ φ'(a_t)               (B, H)   tanh: φ'(a_t) = 1 - h_t²
                                                     relu: φ'(a_t) = 1 where h_t > 0, else 0
    dh_{t-1} = da_t W_hh                    (B, H)   (plus what the output at t-1 sends)
    dx_t     = da_t W_ih                    (B, I)
    dW_ih    = Σ_t da_tᵀ x_t                (G, I)
    dW_hh    = Σ_t da_tᵀ h_{t-1}            (G, H)
    db_ih    = db_hh = Σ_t Σ_b da_t         (G,)

The code uses the same names (``da``, ``dh_prev``, ``dx``, ``dw_ih`` ... in weights.linear_backward);
the sums over t are one GEMM each over all T·B rows, after the backward loop (recurrence.py).

Which code runs: for float32 with numba installed (``deeprnn[fast]``), ``select`` (fused.py) swaps the
two pointwise functions for their compiled twins in _fused_kernels.py, which compute the same lines
one element at a time. float64 always runs the NumPy functions here; set ``DEEPRNN_FUSED=0`` to run
them for float32 too, e.g. to step through them in a debugger.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ..checks import check_choice
from ..layout import GATE_MULT, NONLINEARITIES
from .ops import linear, tanh_grad
from .fused import select
from .weights import (
    CellKernel, Weights, cell_grads, check_step_cache,
    check_step_grad, input_bias, linear_backward, step_weights,
)


def rnn_pointwise_forward(gx, h, relu: bool) -> None:
    """h (B, H) comes in as h_{t-1} W_hhᵀ and leaves as h_t = φ(h + gx) (the NumPy reference)."""
    h += gx  # a_t = gx + h_{t-1} W_hhᵀ, in h's buffer
    if relu:
        np.maximum(h, 0.0, out=h)  # h_t = relu(a_t)
    else:
        np.tanh(h, out=h)  # h_t = tanh(a_t)


def rnn_pointwise_backward(dh, h, da, relu: bool) -> None:
    """Backprop rnn_pointwise_forward. dh (B, H) = dL/dh_t, h = h_t. Writes da (B, H) = dL/da_t."""
    if relu:
        np.multiply(dh, h > 0, out=da)  # into a_t: da_t = dh_t where h_t > 0, else 0
    else:
        tanh_grad(h, out=da)
        da *= dh  # into a_t: da_t = dh_t ⊙ (1 - h_t²)


def rnn_core_forward(gx, h_prev, w: Weights, h, nonlinearity: str = "tanh") -> None:
    """One step. gx (B, H) = x_t W_ihᵀ + b_ih + b_hh. Writes h (B, H)."""
    np.matmul(h_prev, w.w_hh.T, out=h)  # (B, H) h_{t-1} W_hhᵀ
    select(rnn_pointwise_forward, h.dtype)(gx, h, nonlinearity == "relu")


def rnn_core_backward(dh, h, w: Weights, da, dh_prev, nonlinearity: str = "tanh") -> None:
    """Backprop one step. dh (B, H) = dL/dh_t, h (B, H) = h_t. Writes da (B, H) = dL/da_t and dh_prev."""
    select(rnn_pointwise_backward, dh.dtype)(dh, h, da, nonlinearity == "relu")
    np.matmul(da, w.w_hh, out=dh_prev)  # (B, H) into h_{t-1}: dh_{t-1} = da_t W_hh


class RNNStepCache(NamedTuple):
    """What rnn_step_backward needs."""

    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    h: np.ndarray  # (B, H) h_t, whose value gives φ'
    w: Weights
    nonlinearity: str


def rnn_step_forward(x, h, params: dict, nonlinearity: str = "tanh"):
    """One Elman step. x (B, I), h (B, H); params has torch.nn.RNNCell names.
    Returns (h_next (B, H), cache)."""
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    w = step_weights(params, GATE_MULT["RNN_TANH"], x, h)
    gx = linear(x, w.w_ih, input_bias(w, fold_hh=True))  # (B, H)
    h_next = np.empty_like(h)  # (B, H)
    rnn_core_forward(gx, h, w, h_next, nonlinearity)
    return h_next, RNNStepCache(x, h, h_next, w, nonlinearity)


def rnn_step_backward(dh, cache):
    """Backprop rnn_step_forward. Returns (dx (B, I), dh_prev (B, H), dparams)."""
    check_step_cache(cache, RNNStepCache, "rnn_step_forward")
    x, h_prev, h, w, nonlinearity = cache
    check_step_grad("dh", dh, h_prev)
    check_step_grad("h", h, h_prev)  # a cache edited with _replace(h=...) (the course adapters do)
    da, dh_prev = np.empty_like(h), np.empty_like(h_prev)  # (B, H)
    rnn_core_backward(dh, h, w, da, dh_prev, nonlinearity)
    dx, g = linear_backward(da, da, x, h_prev, w)
    return dx, dh_prev, cell_grads(g)


# ---- adapters for the time loop in recurrence.py ------------------------------------------------


def _kernel(nonlinearity: str) -> CellKernel:
    def alloc(T, B, H, P, dtype, proj):
        return {}, None

    def forward(gx_t, prev, w, cache_t, new, scratch):
        rnn_core_forward(gx_t, prev[0], w, new[0], nonlinearity)

    def backward(dstate, prev, new, gx_t, cache_t, w, dgx_t, dgh_t, dprev, scratch):
        rnn_core_backward(dstate[0], new[0], w, dgx_t, dprev[0], nonlinearity)

    name = f"RNN_{nonlinearity.upper()}"
    return CellKernel(name=name, gate_mult=GATE_MULT[name], n_states=1, fold_hh_bias=True,
                      alloc=alloc, forward=forward, backward=backward)


RNN_TANH_KERNEL = _kernel("tanh")
RNN_RELU_KERNEL = _kernel("relu")
