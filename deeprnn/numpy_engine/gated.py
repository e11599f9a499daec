"""What the input-gated cells (mingru.py, minlstm.py) share: their kernel interface, g and its log, one
step (the sequential form) and a whole layer over a sequence (the counterpart of recurrence.py).

A cell of this kind turns its pre-activations gx = x_t W_ihᵀ + b_ih (no h_{t-1} W_hhᵀ: the gates read
x_t only) into the coefficients of h_t = a_t ⊙ h_{t-1} + b_t (scan.py). So a layer is:

* the input projection of all T steps: one GEMM, (T·B, I) by (I, G);
* the coefficients a_t, b_t of all steps at once, elementwise (or log a_t, log b_t for the parallel scan);
* the scan over t (scan.py), the only part that runs in time order;
* backward: the scan's backward gives δ_t, da_t and db_t; the cell turns them into dgx (T·B, G); then one
  GEMM each for dx, dW_ih and a sum for db_ih.

With ``mask`` (variable lengths), a finished sequence keeps its state: a_t = 1 and b_t = 0 past its
length (log a_t = 0, log b_t = -inf), and its outputs there are zero, as with torch's pack_padded_sequence.

The candidate of both cells goes through g, which keeps it positive (the paper's log-space variant, its
appendix B.3), and the parallel scan takes logs of it::

    g(p)     = p + 0.5  for p ≥ 0,   σ(p)           for p < 0     (continuous at 0, g(p) > 0)
    log g(p) = log(p + 0.5) for p ≥ 0,   -softplus(-p) for p < 0
    g'(p)    = 1        for p ≥ 0,   σ(p)(1 - σ(p)) for p < 0     = g(p)(1 - g(p)): written with g's output
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..checks import check_array, check_float_dtype, fmt_shape
from .fused import select
from .ops import linear, sigmoid, sigmoid_grad
from .scan import parallel_backward, parallel_forward, sequential_backward, sequential_forward
from .weights import Weights


class GateKernel(NamedTuple):
    """What a layer needs from an input-gated cell (MINGRU_KERNEL in mingru.py, MINLSTM_KERNEL in minlstm.py).

    ``pointwise_forward(gx, a, b)``: gx (N, G) comes in as the pre-activations and leaves as the activated
    gates and candidate (the cache of the backward); writes the coefficients a, b (N, H).
    ``log_coefficients(gx)``: the pre-activations (before pointwise_forward) -> (log a, log b) (N, H),
    computed without taking the log of a or b.
    ``pointwise_backward(da, db, gates, a, dgx)``: dL/da_t, dL/db_t (N, H), the gates and a of the forward
    -> writes dgx (N, G).
    In float32, fused.py swaps the pointwise work for numba twins (_fused_kernels.py): both functions of
    minGRU, and minLSTM's backward and the gates of its forward (minlstm_gates_forward).
    """

    name: str  # layout's mode name: "MinGRU", "MinLSTM"
    gate_mult: int  # G / H, from layout.GATE_MULT
    pointwise_forward: Callable
    log_coefficients: Callable
    pointwise_backward: Callable
    n_states: int = 1  # the state is h alone, as for GRU (stack.py reads it)


# ---- g, log g and softplus -------------------------------------------------------------------------


def softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)): never overflows."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def g(p: np.ndarray, scratch: np.ndarray) -> np.ndarray:
    """The candidate's activation (module docstring), in place: p leaves as g(p) = max(p, 0) + σ(min(p, 0))
    (σ(0) = 0.5: p + 0.5 for p ≥ 0, σ(p) for p < 0), without a branch. ``scratch`` has p's shape."""
    np.maximum(p, 0, out=scratch)
    np.minimum(p, 0, out=p)
    sigmoid(p, out=p)
    p += scratch
    return p


def log_g(p: np.ndarray) -> np.ndarray:
    """log g(p) without computing g first: log(p + 0.5) for p ≥ 0, -softplus(-p) for p < 0."""
    return np.where(p >= 0, np.log(np.maximum(p, 0) + 0.5), -softplus(-np.minimum(p, 0)))


def g_grad(g_out: np.ndarray, out: np.ndarray) -> np.ndarray:
    """g'(p) written with g's output: 1 where g ≥ 0.5 (p ≥ 0), else g(1 - g)."""
    sigmoid_grad(g_out, out=out)
    np.copyto(out, 1, where=g_out >= 0.5)
    return out


# ---- one step: the sequential form --------------------------------------------------------------------


class GatedStepCache(NamedTuple):
    """What step_backward needs."""

    kernel: GateKernel
    x: np.ndarray  # (B, I)
    h_prev: np.ndarray  # (B, H)
    gates: np.ndarray  # (B, G) activated, as pointwise_forward left them
    a: np.ndarray  # (B, H)
    w: Weights


def step_weights(params, kernel: GateKernel, x, h) -> Weights:
    """Check one step's inputs: params {weight_ih (G, I), optional bias_ih (G,)}, x (B, I), h (B, H), one dtype."""
    if not isinstance(params, dict):
        raise TypeError(f"expected params to be a dict of arrays, got {type(params).__name__}")
    if "weight_ih" not in params or set(params) - {"weight_ih", "bias_ih"}:
        raise ValueError(f"expected params with keys weight_ih and optional bias_ih ({kernel.name} has no "
                         f"recurrent weights), got {sorted(params)}")
    w_ih = params["weight_ih"]
    if not isinstance(w_ih, np.ndarray):
        raise TypeError(f"expected weight_ih to be a numpy.ndarray, got {type(w_ih).__name__}")
    dtype = check_float_dtype("weight_ih's dtype", w_ih.dtype)
    mult = kernel.gate_mult
    if w_ih.ndim != 2 or w_ih.shape[0] % mult:
        raise ValueError(f"expected weight_ih of shape (G, I) with G = {mult}H, got {fmt_shape(w_ih.shape)}")
    (G, I), H = w_ih.shape, w_ih.shape[0] // mult
    if "bias_ih" in params:
        check_array("bias_ih", params["bias_ih"], dtype, (G,), dtype_source="weight_ih's dtype")
    check_array("x", x, dtype, ("B", I), dtype_source="weight_ih's dtype")
    check_array("h", h, dtype, (x.shape[0], H), dtype_source="weight_ih's dtype")
    return Weights(w_ih, None, params.get("bias_ih"), None)


def _coefficients(kernel: GateKernel, gx):
    """gx (N, G) pre-activations, in place -> activated gates; returns a, b (N, H)."""
    N, H = gx.shape[0], gx.shape[1] // kernel.gate_mult
    a, b = np.empty((N, H), gx.dtype), np.empty((N, H), gx.dtype)  # (N, H)
    select(kernel.pointwise_forward, gx.dtype)(gx, a, b)
    return a, b


def _gate_grads(kernel: GateKernel, da, db, gates, a):
    """dL/da_t, dL/db_t (N, H) -> dgx (N, G)."""
    dgx = np.empty_like(gates)  # (N, G)
    select(kernel.pointwise_backward, gates.dtype)(da, db, gates, a, dgx)
    return dgx


def step_forward(kernel: GateKernel, x, h, params: dict):
    """One step: x (B, I), h (B, H) -> (h_next (B, H), cache). h_t = a_t ⊙ h_{t-1} + b_t."""
    w = step_weights(params, kernel, x, h)
    gx = linear(x, w.w_ih, w.b_ih)  # (B, G), becomes the gates
    a, b = _coefficients(kernel, gx)  # (B, H) each
    return a * h + b, GatedStepCache(kernel, x, h, gx, a, w)


def step_backward(dh, cache: GatedStepCache):
    """Backprop step_forward. dh (B, H) -> (dx (B, I), dh_prev (B, H), dparams with the names of params)."""
    if not isinstance(cache, GatedStepCache):
        raise TypeError(f"expected cache to be the GatedStepCache returned by a step forward, got {type(cache).__name__}")
    check_array("dh", dh, cache.h_prev.dtype, cache.h_prev.shape, dtype_source="the forward step's dtype")
    dgx = _gate_grads(cache.kernel, dh * cache.h_prev, dh, cache.gates, cache.a)  # da_t = dh ⊙ h_{t-1}, db_t = dh
    grads = {"weight_ih": dgx.T @ cache.x}  # (G, I) into W_ih
    if cache.w.b_ih is not None:
        grads["bias_ih"] = dgx.sum(axis=0)  # (G,) into b_ih
    return dgx @ cache.w.w_ih, dh * cache.a, grads  # dx (B, I), dh_{t-1} = dh ⊙ a_t (B, H)


# ---- a whole layer: projection, coefficients, scan ------------------------------------------------------


def gated_forward(kernel: GateKernel, x, state0: tuple, w: Weights, mask=None, scan: str = "sequential"):
    """One direction of one layer. x (T, B, I), state0 = (h0 (B, H),), mask (T, B, 1) bool or None,
    scan "sequential" or "parallel" (scan.py; a single step, T = 1, as in generation, always runs the
    sequential form). Returns (out (T, B, H), (h_T,), cache)."""
    T, B, I = x.shape
    gx = linear(x.reshape(T * B, I), w.w_ih, w.b_ih)  # (T·B, G) one GEMM for every step and gate
    log_a = None
    if scan == "parallel" and T > 1:  # from the pre-activations, before they become the gates
        log_a, log_b = (v.reshape(T, B, -1) for v in kernel.log_coefficients(gx))  # (T, B, H)
        if mask is not None:  # a finished sequence keeps its state: log a_t = 0, log b_t = -inf
            log_a, log_b = log_a * mask, np.where(mask, log_b, -np.inf).astype(log_b.dtype)
    a, b = (v.reshape(T, B, -1) for v in _coefficients(kernel, gx))  # (T, B, H) each
    if mask is not None:  # a_t = 1, b_t = 0
        a, b = np.where(mask, a, 1).astype(a.dtype), b * mask
    h = sequential_forward(a, b, state0[0]) if log_a is None else parallel_forward(log_a, log_b, state0[0])
    out = h * mask if mask is not None else h  # (T, B, H) zero past each sequence's length
    return out, (h[-1],), (kernel, x, state0[0], h, gx, a, log_a, w, mask)


def gated_backward(d_out, dfinal: tuple, cache, record=None):
    """d_out (T, B, H), dfinal = (dL/dh_T,). Returns (dx (T, B, I), (dh0,), gradient Weights).
    ``record``: optional callable, given δ (T, B, H), the total gradient reaching each h_t (scan.py), as
    recurrence_backward's."""
    kernel, x, h0, h, gates, a, log_a, w, mask = cache
    T, B, I = x.shape
    dh = d_out * mask if mask is not None else d_out.copy()  # (T, B, H)
    dh[-1] += dfinal[0]  # the final state is h_{T-1}
    delta = sequential_backward(a, dh) if log_a is None else parallel_backward(log_a, dh)  # (T, B, H) δ_t
    if record is not None:
        record(delta)
    h_prev = np.concatenate([h0[None], h[:-1]])  # (T, B, H) h_{t-1}
    da, db = np.multiply(delta, h_prev, out=h_prev), delta  # into a_t and b_t
    if mask is not None:  # past a sequence's length a_t = 1 and b_t = 0 are constants
        da, db = da * mask, db * mask
    H = h.shape[-1]
    dgx = _gate_grads(kernel, da.reshape(T * B, H), db.reshape(T * B, H), gates, a.reshape(T * B, H))  # (T·B, G)
    dx = dgx @ w.w_ih  # (T·B, I) into x
    dw_ih = dgx.T @ x.reshape(T * B, I)  # (G, I) into W_ih
    db_ih = dgx.sum(axis=0) if w.b_ih is not None else None  # (G,) into b_ih
    return dx.reshape(T, B, I), (a[0] * delta[0],), Weights(dw_ih, None, db_ih, None)  # dh0 = a_0 ⊙ δ_0
