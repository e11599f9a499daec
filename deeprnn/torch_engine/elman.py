"""Elman RNN, one step, written out with torch ops (autograd does the backward pass).

The same equations and symbols as ``deeprnn/numpy_engine/elman.py``, whose backward pass is written
by hand. Shapes: x_t (B, I), h_{t-1} (B, H), G = H.

Forward (the same block as in numpy_engine/elman.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh     (B, H)
    h_t = φ(a_t)          φ = tanh  or  φ = relu

Two levels, as in the NumPy engine:
* ``rnn_core``: one step given the input part gx = x_t W_ihᵀ + b_ih, which the time loop
  (recurrence.py) computes for all steps with one matmul;
* ``rnn_step``: a pure function of (x, h, weights), adding the input projection.
"""

from __future__ import annotations

from ..checks import check_choice
from ..layout import NONLINEARITIES
from . import require_torch

torch = require_torch()


def rnn_core(gx, h, w_hh, b_hh=None, nonlinearity: str = "tanh"):
    """One step given gx = x_t W_ihᵀ + b_ih (B, H). h (B, H) = h_{t-1}, w_hh (H, H), b_hh (H,) or None.
    Returns h_t (B, H)."""
    check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
    a = gx + h @ w_hh.T  # (B, H) a_t
    if b_hh is not None:
        a = a + b_hh
    return torch.relu(a) if nonlinearity == "relu" else torch.tanh(a)  # h_t = φ(a_t)


def rnn_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity: str = "tanh"):
    """One Elman step. x (B, I), h (B, H), w_ih (H, I), w_hh (H, H), b_ih and b_hh (H,) or both None.
    Returns h_t (B, H)."""
    gx = x @ w_ih.T  # (B, H) x_t W_ihᵀ
    if b_ih is not None:
        gx = gx + b_ih
    return rnn_core(gx, h, w_hh, b_hh, nonlinearity)
