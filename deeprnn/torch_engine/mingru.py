"""minGRU (Feng et al. 2024), written out with torch ops (autograd does the backward).

The same equations and symbols as ``deeprnn/numpy_engine/mingru.py``, whose backward pass is written by
hand: the paper's log-space variant, with g keeping the candidate positive. Shapes: x_t (B, I),
h_{t-1} (B, H), G = 2H.

Forward (the same block is in numpy_engine/mingru.py; tests/test_engine_min_cells.py keeps the two equal)::

    [k_t, p_t] = x_t W_ihᵀ + b_ih          (B, G): the gate's and the candidate's pre-activations
    z_t = σ(k_t)                           update gate
    h̃_t = g(p_t)                           candidate, g(p) = p + 0.5 for p ≥ 0, σ(p) for p < 0
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t  = a_t ⊙ h_{t-1} + b_t,  a_t = 1 - z_t,  b_t = z_t ⊙ h̃_t

The parallel scan's coefficients, in log space (the same values)::

    log a_t = log(1 - z_t)   = -softplus(k_t)
    log b_t = log z_t + log h̃_t = -softplus(-k_t) + log g(p_t)
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()
F = torch.nn.functional


def g(p):
    """p + 0.5 for p ≥ 0, σ(p) for p < 0: positive and continuous (g'(0) = 1, as the NumPy engine's)."""
    return torch.where(p >= 0, p + 0.5, torch.sigmoid(p))


def log_g(p):
    """log g(p), without computing g first: log(p + 0.5) for p ≥ 0, -softplus(-p) for p < 0 (the clamp keeps
    the branch not taken finite, and so its zero gradient)."""
    return torch.where(p >= 0, torch.log(p.clamp(min=0) + 0.5), -F.softplus(-p))


def mingru_coefficients(gx):
    """gx (..., G) -> a_t = 1 - z_t, b_t = z_t ⊙ h̃_t (..., H)."""
    k, p = gx.chunk(2, dim=-1)
    z = torch.sigmoid(k)  # update gate
    return torch.sigmoid(-k), z * g(p)  # 1 - σ(k) = σ(-k), without cancellation


def mingru_log_coefficients(gx):
    """gx (..., G) -> log a_t, log b_t (..., H)."""
    k, p = gx.chunk(2, dim=-1)
    return -F.softplus(k), -F.softplus(-k) + log_g(p)


def mingru_step(x, h, w_ih, b_ih=None):
    """One minGRU step (the sequential form). x (B, I), h (B, H), w_ih (G, I), b_ih (G,) or None.
    Returns h_t (B, H)."""
    gx = x @ w_ih.T  # (B, G)
    if b_ih is not None:
        gx = gx + b_ih
    a, b = mingru_coefficients(gx)
    return a * h + b
