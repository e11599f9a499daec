"""LSTM, one step, written out with torch ops (PyTorch's gate order i, f, g, o; autograd does the backward).

The same equations and symbols as ``deeprnn/numpy_engine/lstm.py``, whose backward pass is written by
hand. Shapes: x_t (B, I), h_{t-1} (B, P), c_{t-1} (B, H), G = 4H; P = proj_size if set, else H.

Forward (the same block as in numpy_engine/lstm.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh       (B, G), split into a_i, a_f, a_g, a_o
    i_t = σ(a_i)     f_t = σ(a_f)     g_t = tanh(a_g)     o_t = σ(a_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    m_t = o_t ⊙ tanh(c_t)
    h_t = m_t                      (with proj_size:  h_t = m_t W_hrᵀ,  W_hr (P, H))

Two levels, as in the NumPy engine:
* ``lstm_core``: one step given the input part gx = x_t W_ihᵀ + b_ih, which the time loop
  (recurrence.py) computes for all steps with one matmul;
* ``lstm_step``: a pure function of (x, h, c, weights), adding the input projection.
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()


def lstm_core(gx, h, c, w_hh, b_hh=None, w_hr=None):
    """One step given gx = x_t W_ihᵀ + b_ih (B, G). h (B, P) = h_{t-1}, c (B, H) = c_{t-1},
    w_hh (G, P), b_hh (G,) or None, w_hr (P, H) or None. Returns (h_t (B, P), c_t (B, H))."""
    a = gx + h @ w_hh.T  # (B, G) one recurrent matmul for all four gates
    if b_hh is not None:
        a = a + b_hh
    o, c_next = lstm_gates(a, c)
    m = o * torch.tanh(c_next)  # (B, H) m_t
    h_next = m if w_hr is None else m @ w_hr.T  # (B, P) h_t
    return h_next, c_next


def lstm_gates(a, c):
    """The gates and the cell update of one step (shared with ln_lstm.py): a (B, G) = a_t, c (B, H) =
    c_{t-1}. Returns (o_t, c_t), both (B, H)."""
    a_i, a_f, a_g, a_o = a.chunk(4, dim=-1)  # (B, H) each
    i = torch.sigmoid(a_i)  # input gate
    f = torch.sigmoid(a_f)  # forget gate
    g = torch.tanh(a_g)  # candidate cell
    o = torch.sigmoid(a_o)  # output gate
    return o, f * c + i * g  # (B, H) c_t


def lstm_step(x, h, c, w_ih, w_hh, b_ih=None, b_hh=None, w_hr=None):
    """One LSTM step. x (B, I), h (B, P), c (B, H), w_ih (G, I), w_hh (G, P), b_ih and b_hh (G,) or
    both None, w_hr (P, H) or None. Returns (h_t (B, P), c_t (B, H))."""
    gx = x @ w_ih.T  # (B, G) x_t W_ihᵀ
    if b_ih is not None:
        gx = gx + b_ih
    return lstm_core(gx, h, c, w_hh, b_hh, w_hr)
