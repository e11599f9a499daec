"""LayerNorm Elman RNN, one step, written out with torch ops (autograd does the backward pass).

The same equations and symbols as ``deeprnn/numpy_engine/ln_elman.py``, whose backward pass is written
by hand. N: layernorm.py. Shapes: x_t (B, I), h_{t-1} (B, H), G = H.

Forward (the same block as in numpy_engine/ln_elman.py; tests/test_engine_docs.py keeps the two equal)::

    a_t = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih + γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh     (B, H)
    h_t = φ(a_t)          φ = tanh  or  φ = relu

``ln_rnn_core`` is one step given the input part gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih, which the time loop
(recurrence.py) computes for all steps at once (layernorm.ln_input).
"""

from __future__ import annotations

from . import require_torch
from .layernorm import norm

torch = require_torch()


def ln_rnn_core(gx, h, w_hh, gamma_hh, b_hh=None, nonlinearity: str = "tanh"):
    """One step given gx (B, H). h (B, H) = h_{t-1}, w_hh (H, H), gamma_hh (H,), b_hh (H,) or None.
    Returns h_t (B, H)."""
    a = gx + gamma_hh * norm(h @ w_hh.T)  # (B, H) a_t
    if b_hh is not None:
        a = a + b_hh
    return torch.relu(a) if nonlinearity == "relu" else torch.tanh(a)  # h_t = φ(a_t)
