"""LayerNorm GRU, one step, written out with torch ops (PyTorch's gate order r, z, n; autograd does the
backward pass).

The same equations and symbols as ``deeprnn/numpy_engine/ln_gru.py``, whose backward pass is written by
hand (and which says why the reset gate scales the normalised recurrent part). N: layernorm.py.
Shapes: x_t (B, I), h_{t-1} (B, H), G = 3H.

Forward (the same block as in numpy_engine/ln_gru.py; tests/test_engine_docs.py keeps the two equal)::

    gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih        (B, G), split into gx_r, gx_z, gx_n
    gh = γ_hh ⊙ N(h_{t-1} W_hhᵀ) + b_hh    (B, G), split into gh_r, gh_z, gh_n
    r_t = σ(gx_r + gh_r)
    z_t = σ(gx_z + gh_z)
    n_t = tanh(gx_n + r_t ⊙ gh_n)          (r_t scales the normalised W_hn h_{t-1} and b_hn)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}  = n_t + z_t ⊙ (h_{t-1} - n_t)

``ln_gru_core`` is one step given gx, which the time loop (recurrence.py) computes for all steps at
once (layernorm.ln_input).
"""

from __future__ import annotations

from . import require_torch
from .gru import gru_gates
from .layernorm import norm

torch = require_torch()


def ln_gru_core(gx, h, w_hh, gamma_hh, b_hh=None):
    """One step given gx (B, G). h (B, H) = h_{t-1}, w_hh (G, H), gamma_hh (G,), b_hh (G,) or None.
    Returns h_t (B, H)."""
    gh = gamma_hh * norm(h @ w_hh.T)  # (B, G) all three gates' recurrent rows, normalised together
    if b_hh is not None:
        gh = gh + b_hh
    return gru_gates(gx, gh, h)
