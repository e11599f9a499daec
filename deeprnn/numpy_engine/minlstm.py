"""minLSTM (Feng et al. 2024, "Were RNNs All We Needed?"): one step forward and, right below it, one step
backward. The forget gate, the input gate and the candidate read x_t only, and the two gates are
normalised to sum to one, so a whole sequence is one GEMM and a scan (gated.py, scan.py). This is the
paper's log-space variant (its appendix B.3): the candidate goes through g, which keeps h positive, so
the parallel scan can take logs; the sequential form below computes the same function.

Shapes: x_t (B, I), h_{t-1} (B, H), G = 3H. Parameters: weight_ih (G, I) = [W_f; W_i; W_h], bias_ih (G,).

Forward (the same block is in torch_engine/minlstm.py; tests/test_engine_min_cells.py keeps the two equal)::

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

Backward of one step, one line per gradient (dX = ∂L/∂X). Arriving: dh_t (B, H), from the output at t
and from step t+1 (over a sequence, δ_t of scan.py). f'_t = σ(-d_t) and i'_t = σ(d_t), so both have the
derivative f'_t ⊙ i'_t in d_t; and ∂d_t/∂k_i = 1 - i_t, ∂d_t/∂k_f = -(1 - f_t). g'_t = g'(p_t) is 1
where p_t ≥ 0, else h̃_t ⊙ (1 - h̃_t)::

    da_t     = dh_t ⊙ h_{t-1}              (B, H)   through a_t = f'_t
    db_t     = dh_t                        (B, H)   through b_t = i'_t ⊙ h̃_t
    dh_{t-1} = dh_t ⊙ f'_t                 (B, H)   (plus what the output at t-1 sends)
    dd_t     = f'_t ⊙ i'_t ⊙ (db_t ⊙ h̃_t - da_t)      (B, H)
    dk_f     = -dd_t ⊙ (1 - f_t)           (B, H)
    dk_i     = dd_t ⊙ (1 - i_t)            (B, H)
    dp_t     = db_t ⊙ i'_t ⊙ g'_t          (B, H)
    dgx      = [dk_f, dk_i, dp_t]          (B, G)
    dx_t     = dgx W_ih                    (B, I)
    dW_ih    = Σ_t dgxᵀ x_t                (G, I)
    db_ih    = Σ_t Σ_b dgx                 (G,)

The code uses the same names (``dd``, ``dk_f``, ``dk_i``, ``dp`` and ``dgx``); over a sequence the sums
over t are one GEMM over all T·B rows (gated.py).
"""

from __future__ import annotations

import numpy as np

from ..layout import GATE_MULT
from .gated import GateKernel, g, g_grad, log_g, softplus, step_backward, step_forward
from .fused import select
from .ops import sigmoid


def _split3(a: np.ndarray):
    """(N, G) -> thirds (N, H): k_f, k_i, p before the activations, f, i, h̃ after."""
    H = a.shape[-1] // GATE_MULT["MinLSTM"]
    return a[:, :H], a[:, H:2 * H], a[:, 2 * H:]


def minlstm_pointwise_forward(gx, a, b) -> None:
    """gx (N, G) comes in as [k_f, k_i, p_t] and leaves as [f_t, i_t, h̃_t]; writes a_t = f'_t and
    b_t = i'_t ⊙ h̃_t (N, H).

    f'_t = f_t / (f_t + i_t) is computed as σ(-d_t), which stays exact where both gates are tiny (in
    float32, σ(k) rounds to 0 below k ≈ -17, and f / (f + i) would be 0 / 0). d_t takes logs and
    exponentials, which NumPy vectorises; the rest is one pass (minlstm_gates_forward, fused in float32)."""
    k_f, k_i, _ = _split3(gx)
    d = softplus(-k_f)
    d -= softplus(-k_i)  # d_t = log i_t - log f_t
    select(minlstm_gates_forward, gx.dtype)(gx, d, a, b)


def minlstm_gates_forward(gx, d, a, b) -> None:
    """The rest of minlstm_pointwise_forward, given d (N, H) (the NumPy reference; b's buffer serves as
    scratch first)."""
    k_f, k_i, p = _split3(gx)
    sigmoid(np.negative(d, out=d), out=a)  # a_t = f'_t = σ(-d_t)
    sigmoid(k_f, out=k_f)  # f_t = σ(k_f)
    sigmoid(k_i, out=k_i)  # i_t = σ(k_i)
    g(p, scratch=b)  # h̃_t = g(p_t)
    np.subtract(1, a, out=b)  # i'_t = 1 - f'_t
    b *= p  # b_t = i'_t ⊙ h̃_t


def minlstm_log_coefficients(gx):
    """gx (N, G) = [k_f, k_i, p_t] -> log a_t = -softplus(d_t), log b_t = -softplus(-d_t) + log g(p_t) (N, H)."""
    k_f, k_i, p = _split3(gx)
    d = softplus(-k_f) - softplus(-k_i)  # d_t = log i_t - log f_t
    return -softplus(d), -softplus(-d) + log_g(p)


def minlstm_pointwise_backward(da, db, gates, a, dgx) -> None:
    """da, db (N, H) = dL/da_t, dL/db_t; gates [f_t, i_t, h̃_t] (N, G), a = f'_t (N, H). Writes
    dgx = [dk_f, dk_i, dp_t] (N, G)."""
    f, i, h_tilde = _split3(gates)
    dk_f, dk_i, dp = _split3(dgx)
    i_n = np.subtract(1, a, dtype=a.dtype)  # i'_t = 1 - f'_t
    dd = np.multiply(db, h_tilde, out=dk_i)
    dd -= da
    dd *= a
    dd *= i_n  # into d_t: dd = f' ⊙ i' ⊙ (db ⊙ h̃ - da), through a_t = σ(-d_t) and b_t = σ(d_t) ⊙ h̃
    np.subtract(f, 1, out=dk_f)
    dk_f *= dd  # into k_f: dk_f = -dd ⊙ (1 - f), as d_t = log σ(k_i) - log σ(k_f)
    np.subtract(1, i, out=dp)
    dk_i *= dp  # into k_i: dk_i = dd ⊙ (1 - i)   (dp's buffer holds 1 - i here)
    g_grad(h_tilde, out=dp)
    dp *= i_n
    dp *= db  # into p_t: dp = db ⊙ i' ⊙ g'(p), through b_t = i' ⊙ g(p)


MINLSTM_KERNEL = GateKernel(name="MinLSTM", gate_mult=GATE_MULT["MinLSTM"],
                            pointwise_forward=minlstm_pointwise_forward, log_coefficients=minlstm_log_coefficients,
                            pointwise_backward=minlstm_pointwise_backward)


def minlstm_step_forward(x, h, params: dict):
    """One minLSTM step (the sequential form). x (B, I), h (B, H); params: weight_ih (G, I), optional
    bias_ih (G,). Returns (h_next (B, H), cache)."""
    return step_forward(MINLSTM_KERNEL, x, h, params)


def minlstm_step_backward(dh, cache):
    """Backprop minlstm_step_forward. dh (B, H) -> (dx (B, I), dh_prev (B, H), dparams with params' names)."""
    return step_backward(dh, cache)
