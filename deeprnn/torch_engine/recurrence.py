"""The time loop: one direction of one layer over a whole sequence (autograd does BPTT).

The cells (elman.py, gru.py, lstm.py) only know one step. This loop, like
``deeprnn/numpy_engine/recurrence.py``, adds:

* the input projection x_t W_ihᵀ + b_ih of all T steps as one matmul before the loop;
* a plain Python loop over t that calls the cell's core step;
* with ``mask`` (variable lengths), a finished sequence keeps its state: its final state is the state at
  its last valid step and its later outputs are zero, as with torch's pack_padded_sequence.

``time_loop`` takes any step function, so a custom cell needs only its own ``step(gx_t, state)``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

from ..checks import check_choice
from ..layout import GATE_MULT, INPUT_GATED
from . import require_torch
from .elman import rnn_core
from .gru import gru_core
from .layernorm import ln_input
from .ln_elman import ln_rnn_core
from .ln_gru import ln_gru_core
from .ln_lstm import ln_lstm_core
from .lstm import lstm_core

torch = require_torch()

MODES = tuple(GATE_MULT)  # torch.nn.RNNBase's mode names


class Weights(NamedTuple):
    """One direction of one layer, in PyTorch's layout (G = 4H for LSTM, 3H for GRU, H for RNN)."""

    w_ih: "torch.Tensor"  # (G, I)   input-to-hidden, gates stacked in PyTorch's order
    w_hh: "torch.Tensor"  # (G, P)   hidden-to-hidden (P = proj_size or H)
    b_ih: Optional["torch.Tensor"] = None  # (G,) or None when bias=False
    b_hh: Optional["torch.Tensor"] = None  # (G,) or None when bias=False
    w_hr: Optional["torch.Tensor"] = None  # (P, H)  LSTM projection, only when proj_size > 0
    gamma_ih: Optional["torch.Tensor"] = None  # (G,)  layer_norm: gain of N(x W_ihᵀ) (ln_*.py)
    gamma_hh: Optional["torch.Tensor"] = None  # (G,)  layer_norm: gain of N(h W_hhᵀ)
    gamma_c: Optional["torch.Tensor"] = None  # (H,)  layer_norm, LSTM: gain of N(c_t)
    beta_c: Optional["torch.Tensor"] = None  # (H,)  layer_norm, LSTM with bias: shift of N(c_t)


def core_step(mode: str, w: Weights) -> Callable:
    """The core step of a built-in cell with its recurrent weights bound: step(gx_t, state) -> new state,
    where gx_t (B, G) = x_t W_ihᵀ + b_ih and a state is a tuple (h,) or, for LSTM, (h, c). With LayerNorm
    weights (``w.gamma_hh`` set), the LayerNorm cell's step (ln_*.py)."""
    check_choice("mode", mode, tuple(m for m in MODES if m not in INPUT_GATED))  # minGRU/minLSTM: minrnn.py
    if w.gamma_hh is not None:
        return _ln_core_step(mode, w)
    if mode == "LSTM":
        def step(gx, state):
            return lstm_core(gx, state[0], state[1], w.w_hh, w.b_hh, w.w_hr)
    elif mode == "GRU":
        def step(gx, state):
            return (gru_core(gx, state[0], w.w_hh, w.b_hh),)
    else:
        nonlinearity = "relu" if mode == "RNN_RELU" else "tanh"

        def step(gx, state):
            return (rnn_core(gx, state[0], w.w_hh, w.b_hh, nonlinearity),)
    return step


def _ln_core_step(mode: str, w: Weights) -> Callable:
    if mode == "LSTM":
        def step(gx, state):
            return ln_lstm_core(gx, state[0], state[1], w.w_hh, w.gamma_hh, w.gamma_c, w.b_hh, w.beta_c, w.w_hr)
    elif mode == "GRU":
        def step(gx, state):
            return (ln_gru_core(gx, state[0], w.w_hh, w.gamma_hh, w.b_hh),)
    else:
        nonlinearity = "relu" if mode == "RNN_RELU" else "tanh"

        def step(gx, state):
            return (ln_rnn_core(gx, state[0], w.w_hh, w.gamma_hh, w.b_hh, nonlinearity),)
    return step


def time_loop(step: Callable, gx, state0: tuple, mask=None):
    """Run ``step`` over t = 0..T-1. gx (T, B, G) holds the input part of every step;
    state0 = (h0 (B, P),) or (h0, c0 (B, H)); mask (T, B, 1) bool (True where valid) or None.

    Returns (out (T, B, P), final state tuple)."""
    state, outs = tuple(state0), []
    for t in range(gx.shape[0]):
        new = step(gx[t], state)
        if mask is not None:  # a finished sequence keeps its state
            new = tuple(torch.where(mask[t], n, s) for n, s in zip(new, state))
        outs.append(new[0])  # (B, P) h_t is the output
        state = new
    out = torch.stack(outs)  # (T, B, P)
    if mask is not None:
        out = out * mask  # zero past each sequence's length
    return out, state


def recurrence(mode: str, x, state0: tuple, w: Weights, mask=None):
    """One direction of one layer. x (T, B, I), state0 = (h0 (B, P),) or (h0, c0 (B, H)),
    w: that direction's Weights, mask (T, B, 1) bool or None.

    Returns (out (T, B, P), final state tuple)."""
    if w.gamma_ih is not None:  # LayerNorm cells: γ_ih ⊙ N(x W_ihᵀ) + b_ih, all T steps at once
        return time_loop(core_step(mode, w), ln_input(x, w.w_ih, w.gamma_ih, w.b_ih), state0, mask)
    gx = x @ w.w_ih.T  # (T, B, G) the input projection of all T steps: one matmul
    if w.b_ih is not None:
        gx = gx + w.b_ih
    return time_loop(core_step(mode, w), gx, state0, mask)
