"""LayerNorm LSTM, one step, written out with torch ops (PyTorch's gate order i, f, g, o; autograd does
the backward pass).

The same equations and symbols as ``deeprnn/numpy_engine/ln_lstm.py``, whose backward pass is written
by hand. N: layernorm.py. Shapes: x_t (B, I), h_{t-1} (B, P), c_{t-1} (B, H), G = 4H; P = proj_size or H.

Forward (the same block as in numpy_engine/ln_lstm.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh     (B, G), split into a_i, a_f, a_g, a_o
    i_t = σ(a_i)     f_t = σ(a_f)     g_t = tanh(a_g)     o_t = σ(a_o)
    c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    s_t = γ_c ⊙ N(c_t) + β_c                                                (B, H)
    m_t = o_t ⊙ tanh(s_t)
    h_t = m_t                      (with proj_size:  h_t = m_t W_hrᵀ,  W_hr (P, H))

``ln_lstm_core`` is one step given gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih, which the time loop
(recurrence.py) computes for all steps at once (layernorm.ln_input).
"""

from __future__ import annotations

from . import require_torch
from .layernorm import norm
from .lstm import lstm_gates

torch = require_torch()


def ln_lstm_core(gx, h, c, w_hh, gamma_hh, gamma_c, b_hh=None, beta_c=None, w_hr=None):
    """One step given gx (B, G). h (B, P) = h_{t-1}, c (B, H) = c_{t-1}, w_hh (G, P), gamma_hh (G,),
    gamma_c (H,), b_hh (G,), beta_c (H,) or None, w_hr (P, H) or None. Returns (h_t (B, P), c_t (B, H))."""
    a = gx + gamma_hh * norm(h @ w_hh.T)  # (B, G) a_t
    if b_hh is not None:
        a = a + b_hh
    o, c_next = lstm_gates(a, c)  # (B, H) o_t, and c_t: the state carried on
    s = gamma_c * norm(c_next)  # (B, H) s_t
    if beta_c is not None:
        s = s + beta_c
    m = o * torch.tanh(s)  # (B, H) m_t
    h_next = m if w_hr is None else m @ w_hr.T  # (B, P) h_t
    return h_next, c_next
