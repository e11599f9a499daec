"""minGRU (Feng et al. 2024, "Were RNNs All We Needed?"): one step forward and, right below it, one step
backward. The gate and the candidate read x_t only, so a whole sequence is one GEMM and a scan (gated.py,
scan.py). This is the paper's log-space variant (its appendix B.3): the candidate goes through g, which
keeps h positive, so the parallel scan can take logs; the sequential form below computes the same function.

Shapes: x_t (B, I), h_{t-1} (B, H), G = 2H. Parameters: weight_ih (G, I) = [W_z; W_h], bias_ih (G,).

Forward (the same block is in torch_engine/mingru.py; tests/test_engine_min_cells.py keeps the two equal)::

    [k_t, p_t] = x_t W_ihᵀ + b_ih          (B, G): the gate's and the candidate's pre-activations
    z_t = σ(k_t)                           update gate
    h̃_t = g(p_t)                           candidate, g(p) = p + 0.5 for p ≥ 0, σ(p) for p < 0
    h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ h̃_t  = a_t ⊙ h_{t-1} + b_t,  a_t = 1 - z_t,  b_t = z_t ⊙ h̃_t

The parallel scan's coefficients, in log space (the same values)::

    log a_t = log(1 - z_t)   = -softplus(k_t)
    log b_t = log z_t + log h̃_t = -softplus(-k_t) + log g(p_t)

Backward of one step, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t
and from step t+1 (over a sequence, δ_t of scan.py). g'_t = g'(p_t) is 1 where p_t ≥ 0, else
h̃_t ⊙ (1 - h̃_t)::

    da_t     = dh_t ⊙ h_{t-1}              (B, H)   through a_t = 1 - z_t
    db_t     = dh_t                        (B, H)   through b_t = z_t ⊙ h̃_t
    dh_{t-1} = dh_t ⊙ (1 - z_t)            (B, H)   (plus what the output at t-1 sends)
    dz_t     = db_t ⊙ h̃_t - da_t           (B, H)
    dk_t     = dz_t ⊙ z_t ⊙ (1 - z_t)      (B, H)
    dp_t     = db_t ⊙ z_t ⊙ g'_t           (B, H)
    dgx      = [dk_t, dp_t]                (B, G)
    dx_t     = dgx W_ih                    (B, I)
    dW_ih    = Σ_t dgxᵀ x_t                (G, I)
    db_ih    = Σ_t Σ_b dgx                 (G,)

The code uses the same names (``dz``, ``dk``, ``dp`` and ``dgx``); over a sequence the sums over t are
one GEMM over all T·B rows (gated.py).
"""

from __future__ import annotations

import numpy as np

from ..layout import GATE_MULT
from .gated import GateKernel, g, g_grad, log_g, softplus, step_backward, step_forward
from .ops import sigmoid


def _split2(a: np.ndarray):
    """(N, G) -> the gate's and the candidate's halves (N, H): k, p before the activations, z, h̃ after."""
    H = a.shape[-1] // GATE_MULT["MinGRU"]
    return a[:, :H], a[:, H:]


def mingru_pointwise_forward(gx, a, b) -> None:
    """gx (N, G) comes in as [k_t, p_t] and leaves as [z_t, h̃_t]; writes a_t = 1 - z_t and b_t = z_t ⊙ h̃_t
    (N, H) (the NumPy reference; b's buffer serves as scratch first)."""
    k, p = _split2(gx)
    sigmoid(k, out=k)  # z_t = σ(k_t)
    np.subtract(1, k, out=a)  # a_t = 1 - z_t
    g(p, scratch=b)  # h̃_t = g(p_t)
    np.multiply(k, p, out=b)  # b_t = z_t ⊙ h̃_t


def mingru_log_coefficients(gx):
    """gx (N, G) = [k_t, p_t] -> log a_t = -softplus(k_t), log b_t = -softplus(-k_t) + log g(p_t) (N, H)."""
    k, p = _split2(gx)
    return -softplus(k), -softplus(-k) + log_g(p)


def mingru_pointwise_backward(da, db, gates, a, dgx) -> None:
    """da, db (N, H) = dL/da_t, dL/db_t; gates [z_t, h̃_t] (N, G), a (N, H). Writes dgx = [dk_t, dp_t] (N, G)."""
    z, h_tilde = _split2(gates)
    dk, dp = _split2(dgx)
    dz = np.multiply(db, h_tilde, out=dk)
    dz -= da  # into z_t: dz = db ⊙ h̃ - da, through b_t = z ⊙ h̃ and a_t = 1 - z
    dk *= z
    dk *= a  # into k_t: dk = dz ⊙ z ⊙ (1 - z)
    g_grad(h_tilde, out=dp)
    dp *= z
    dp *= db  # into p_t: dp = db ⊙ z ⊙ g'(p), through b_t = z ⊙ g(p)


MINGRU_KERNEL = GateKernel(name="MinGRU", gate_mult=GATE_MULT["MinGRU"], pointwise_forward=mingru_pointwise_forward,
                           log_coefficients=mingru_log_coefficients, pointwise_backward=mingru_pointwise_backward)


def mingru_step_forward(x, h, params: dict):
    """One minGRU step (the sequential form). x (B, I), h (B, H); params: weight_ih (G, I), optional
    bias_ih (G,). Returns (h_next (B, H), cache)."""
    return step_forward(MINGRU_KERNEL, x, h, params)


def mingru_step_backward(dh, cache):
    """Backprop mingru_step_forward. dh (B, H) -> (dx (B, I), dh_prev (B, H), dparams with params' names)."""
    return step_backward(dh, cache)
