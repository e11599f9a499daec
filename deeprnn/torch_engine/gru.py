"""GRU, one step, written out with torch ops (PyTorch's gate order r, z, n; autograd does the backward).

The same equations and symbols as ``deeprnn/numpy_engine/gru.py``, whose backward pass is written by
hand. Shapes: x_t (B, I), h_{t-1} (B, H), G = 3H.

Forward (the same block as in numpy_engine/gru.py; tests/test_engine_docs.py keeps the two equal)::

    gx = x_t W_ihᵀ + b_ih                  (B, G), split into gx_r, gx_z, gx_n
    gh = h_{t-1} W_hhᵀ + b_hh              (B, G), split into gh_r, gh_z, gh_n
    r_t = σ(gx_r + gh_r)
    z_t = σ(gx_z + gh_z)
    n_t = tanh(gx_n + r_t ⊙ gh_n)          (b_hn sits inside r ⊙ (W_hn h + b_hn), as in PyTorch)
    h_t = (1 - z_t) ⊙ n_t + z_t ⊙ h_{t-1}  = n_t + z_t ⊙ (h_{t-1} - n_t)

Two levels, as in the NumPy engine:
* ``gru_core``: one step given the input part gx = x_t W_ihᵀ + b_ih, which the time loop
  (recurrence.py) computes for all steps with one matmul;
* ``gru_step``: a pure function of (x, h, weights), adding the input projection.
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()


def gru_core(gx, h, w_hh, b_hh=None):
    """One step given gx = x_t W_ihᵀ + b_ih (B, G). h (B, H) = h_{t-1}, w_hh (G, H), b_hh (G,) or None.
    Returns h_t (B, H)."""
    gh = h @ w_hh.T  # (B, G) one recurrent matmul for all three gates
    if b_hh is not None:
        gh = gh + b_hh
    return gru_gates(gx, gh, h)


def gru_gates(gx, gh, h):
    """The gates and the update of one step, from both halves gx, gh (B, G) and h (B, H) = h_{t-1}
    (shared with ln_gru.py). Returns h_t (B, H)."""
    gx_r, gx_z, gx_n = gx.chunk(3, dim=-1)  # (B, H) each
    gh_r, gh_z, gh_n = gh.chunk(3, dim=-1)  # (B, H) each
    r = torch.sigmoid(gx_r + gh_r)  # reset gate
    z = torch.sigmoid(gx_z + gh_z)  # update gate
    n = torch.tanh(gx_n + r * gh_n)  # candidate: r scales W_hn h + b_hn, not b_in
    return n + z * (h - n)  # h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}


def gru_step(x, h, w_ih, w_hh, b_ih=None, b_hh=None):
    """One GRU step. x (B, I), h (B, H), w_ih (G, I), w_hh (G, H), b_ih and b_hh (G,) or both None.
    Returns h_t (B, H)."""
    gx = x @ w_ih.T  # (B, G) x_t W_ihᵀ
    if b_ih is not None:
        gx = gx + b_ih
    return gru_core(gx, h, w_hh, b_hh)
