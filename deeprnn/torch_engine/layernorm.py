"""Layer normalisation for recurrent cells, written with torch ops (autograd does the backward pass).

The same normalisation N as ``deeprnn/numpy_engine/layernorm.py``, whose backward pass is written by
hand: each row of K entries to mean 0 and variance 1 (biased), ε = 1e-5. Here it is
``torch.nn.functional.layer_norm`` without its own gain and shift (the cells apply theirs), so the
NumPy engine's hand-written N is checked against torch's own LayerNorm.

* ``norm``: N(u) over the last axis;
* ``ln_input``: the input side of every LayerNorm cell for all T steps at once,
  gx = γ_ih ⊙ N(x_t W_ihᵀ) + b_ih (only the recurrent side waits for h_{t-1}).
"""

from __future__ import annotations

from . import require_torch

torch = require_torch()
F = torch.nn.functional

EPS = 1e-5  # as numpy_engine/layernorm.py and torch.nn.LayerNorm's default


def norm(u):
    """N(u) = (u - mean(u)) / √(var(u) + ε) over the last axis (var biased)."""
    return F.layer_norm(u, u.shape[-1:], eps=EPS)


def ln_input(x, w_ih, gamma_ih, b_ih=None):
    """x (..., I) -> γ_ih ⊙ N(x W_ihᵀ) + b_ih (..., G): one matmul for every step given."""
    gx = gamma_ih * norm(x @ w_ih.T)
    return gx if b_ih is None else gx + b_ih
