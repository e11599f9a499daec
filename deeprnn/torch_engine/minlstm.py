"""minLSTM (Feng et al. 2024), written out with torch ops (autograd does the backward).

The same equations and symbols as ``deeprnn/numpy_engine/minlstm.py``, whose backward pass is written by
hand: the paper's log-space variant, with g keeping the candidate positive. Shapes: x_t (B, I),
h_{t-1} (B, H), G = 3H.

Forward (the same block is in numpy_engine/minlstm.py; tests/test_engine_min_cells.py keeps the two equal)::

    [k_f, k_i, p_t] = x_t W_ihᵀ + b_ih     (B, G): the two gates' and the candidate's pre-activations
    f_t = σ(k_f)      i_t = σ(k_i)         forget and input gates
    h̃_t = g(p_t)                           candidate, g(p) = p + 0.5 for p ≥ 0, σ(p) for p < 0
    f'_t = f_t / (f_t + i_t)               normalised: f'_t + i'_t = 1
    i'_t = i_t / (f_t + i_t)
    h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ h̃_t      = a_t ⊙ h_{t-1} + b_t,  a_t = f'_t,  b_t = i'_t ⊙ h̃_t

The parallel scan's coefficients, in log space (the same values), with d_t = log i_t - log f_t; the code
computes f'_t = σ(-d_t) and i'_t = σ(d_t) from it in both forms, exact where both gates are tiny::

    d_t     = softplus(-k_f) - softplus(-k_i)
    log a_t = log f'_t = -softplus(d_t)
    log b_t = log i'_t + log h̃_t = -softplus(-d_t) + log g(p_t)
"""

from __future__ import annotations

from . import require_torch
from .mingru import g, log_g

torch = require_torch()
F = torch.nn.functional


def minlstm_coefficients(gx):
    """gx (..., G) -> a_t = f'_t, b_t = i'_t ⊙ h̃_t (..., H); f'_t = f_t / (f_t + i_t) = σ(-d_t)."""
    k_f, k_i, p = gx.chunk(3, dim=-1)
    d = F.softplus(-k_f) - F.softplus(-k_i)  # d_t = log i_t - log f_t, f_t = σ(k_f), i_t = σ(k_i)
    return torch.sigmoid(-d), torch.sigmoid(d) * g(p)


def minlstm_log_coefficients(gx):
    """gx (..., G) -> log a_t, log b_t (..., H)."""
    k_f, k_i, p = gx.chunk(3, dim=-1)
    d = F.softplus(-k_f) - F.softplus(-k_i)  # d_t = log i_t - log f_t
    return -F.softplus(d), -F.softplus(-d) + log_g(p)


def minlstm_step(x, h, w_ih, b_ih=None):
    """One minLSTM step (the sequential form). x (B, I), h (B, H), w_ih (G, I), b_ih (G,) or None.
    Returns h_t (B, H)."""
    gx = x @ w_ih.T  # (B, G)
    if b_ih is not None:
        gx = gx + b_ih
    a, b = minlstm_coefficients(gx)
    return a * h + b
