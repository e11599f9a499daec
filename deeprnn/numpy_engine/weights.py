"""The weights of one layer in one direction, and the kernel interface every cell type implements."""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

from ..checks import check_array, check_float_dtype, fmt_shape
from ..layout import GATE_MULT


class Weights(NamedTuple):
    """One direction of one layer, in PyTorch's layout (G = 4H for LSTM, 3H for GRU, H for RNN)."""

    w_ih: np.ndarray  # (G, I)   input-to-hidden, gates stacked in PyTorch's order
    w_hh: np.ndarray  # (G, P)   hidden-to-hidden (P = proj_size or H)
    b_ih: np.ndarray | None  # (G,) or None when bias=False
    b_hh: np.ndarray | None  # (G,) or None when bias=False
    w_hr: np.ndarray | None = None  # (P, H)  LSTM projection, only when proj_size > 0
    gamma_ih: np.ndarray | None = None  # (G,)  layer_norm: gain of LN(x W_ihᵀ) (ln_*.py)
    gamma_hh: np.ndarray | None = None  # (G,)  layer_norm: gain of LN(h W_hhᵀ)
    gamma_c: np.ndarray | None = None  # (H,)  layer_norm, LSTM: gain of LN(c_t)
    beta_c: np.ndarray | None = None  # (H,)  layer_norm, LSTM with bias: shift of LN(c_t)

    @classmethod
    def from_cell_params(cls, params: dict) -> "Weights":
        """Build from a dict with torch.nn.*Cell names (weight_ih, weight_hh, bias_ih, bias_hh, weight_hr;
        a stack layer's names without their _l{k} suffix), plus the LayerNorm ones (ln_ih_weight ...)."""
        return cls(params["weight_ih"], *(params.get(n) for n in PARAM_NAMES[1:]))


# Weights' fields by parameter name (torch.nn.*Cell's, then layout.py's LayerNorm names), in field order
PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr",
               "ln_ih_weight", "ln_hh_weight", "ln_c_weight", "ln_c_bias")
_CELL_KEYS = PARAM_NAMES[:5]  # what the plain cells' step functions take


def step_weights(params, mult: int, x, h, c=None) -> Weights:
    """Check one step's inputs against a params dict with torch.nn.*Cell names; return its Weights.

    ``mult`` is the cell's GATE_MULT (G / H): weight_ih (G, I), weight_hh (G, P), bias_ih and bias_hh
    (G,) or both absent, weight_hr (P, H) for an LSTM projection (else P = H), x (B, I), h (B, P),
    c (B, H), all of one float dtype. Errors name the expected and the actual value.
    """
    if not isinstance(params, dict):
        raise TypeError(f"expected params to be a dict of arrays, got {type(params).__name__}")
    proj_ok = mult == GATE_MULT["LSTM"]
    allowed = _CELL_KEYS if proj_ok else _CELL_KEYS[:4]
    if {"weight_ih", "weight_hh"} - set(params) or set(params) - set(allowed):
        want = "weight_ih, weight_hh, optional bias_ih and bias_hh" + (", optional weight_hr" if proj_ok else "")
        raise ValueError(f"expected params with keys {want}, got {sorted(params)}")
    if ("bias_ih" in params) != ("bias_hh" in params):
        only = "bias_ih" if "bias_ih" in params else "bias_hh"
        raise ValueError(f"expected both bias_ih and bias_hh or neither, got only {only}")
    w_ih = params["weight_ih"]
    if not isinstance(w_ih, np.ndarray):
        raise TypeError(f"expected weight_ih to be a numpy.ndarray, got {type(w_ih).__name__}")
    dtype = check_float_dtype("weight_ih's dtype", w_ih.dtype)
    if w_ih.ndim != 2 or w_ih.shape[0] % mult:
        raise ValueError(f"expected weight_ih of shape (G, I) with G = {mult}H, got {fmt_shape(w_ih.shape)}")
    (G, I), H = w_ih.shape, w_ih.shape[0] // mult

    def check(name, a, shape):
        check_array(name, a, dtype, shape, dtype_source="weight_ih's dtype")

    check("weight_hh", params["weight_hh"], (G, "P" if "weight_hr" in params else H))
    P = params["weight_hh"].shape[1]
    for name, shape in (("bias_ih", (G,)), ("bias_hh", (G,)), ("weight_hr", (P, H))):
        if name in params:
            check(name, params[name], shape)
    check("x", x, ("B", I))
    check("h", h, (x.shape[0], P))
    if c is not None:
        check("c", c, (x.shape[0], H))
    return Weights.from_cell_params(params)


def check_step_grad(name: str, grad, like: np.ndarray) -> None:
    """A step's upstream gradient must match the dtype and shape of what it is the gradient of."""
    check_array(name, grad, like.dtype, like.shape, dtype_source="the forward step's dtype")


def check_step_cache(cache, cache_type: type, producer: str) -> None:
    if not isinstance(cache, cache_type):
        raise TypeError(f"expected cache to be the {cache_type.__name__} returned by {producer}, "
                        f"got {type(cache).__name__}")


def input_bias(w: Weights, fold_hh: bool) -> np.ndarray | None:
    """The bias added once to the input projection of all time steps.

    For RNN and LSTM, b_ih and b_hh always appear summed, so both are added here and no bias add is
    left inside the time loop. GRU needs b_hn inside r ⊙ (W_hn h + b_hn), so only b_ih goes here.
    """
    if w.b_ih is None:
        return None
    return w.b_ih + w.b_hh if fold_hh else w.b_ih


class CellKernel(NamedTuple):
    """What the time loop (recurrence.py) needs from a cell type; built with keyword arguments, e.g.
    ``CellKernel(name="LSTM", gate_mult=GATE_MULT["LSTM"], n_states=2, ...)`` (lstm.py, gru.py, elman.py).

    ``alloc(T, B, H, P, dtype, proj)`` returns ``(bufs, scratch)``: ``bufs`` is a dict of per-step cache
    buffers, name -> (T, ...) array or None (e.g. LSTM's {"tanh_c": (T, B, H), "m": (T, B, H) or None}),
    and ``scratch`` is whatever work buffers the kernel wants, shared by all steps (or None).

    ``forward(gx_t, prev, w, cache_t, new, scratch)`` runs one step. ``gx_t`` (B, G) holds the input part
    of the pre-activations, x_t W_ihᵀ + bias; the kernel adds the recurrent part and may overwrite
    ``gx_t`` with the activated gates (it is part of the step's cache). ``prev``/``new`` are the state
    tuples (h,) or (h, c) to read from and write into; ``cache_t`` is ``bufs`` at step t (a dict of the
    (B, ...) views, None kept as None).

    ``backward(dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch)`` backpropagates one
    step: from dstate = (dh_t,) or (dh_t, dc_t), the states ``prev`` and ``new`` of the forward step and
    ``gates_t`` (its ``gx_t`` as the forward left it), it writes the gradients of the input
    pre-activations ``dgx_t``, of the recurrent pre-activations ``dgh_t`` (the same array unless the cell
    is a GRU) and the state gradients ``dprev`` flowing into step t-1.

    Two optional hooks, for cells whose input side is more than x W_ihᵀ + b (the LayerNorm cells,
    ln_*.py): ``project(x (N, I), w) -> (gx (N, G), inputs)`` replaces the one input GEMM of all N = T·B
    rows, and ``weight_grads(dgx, dgh, cache) -> (dx (N, I), gradient Weights)`` replaces
    ``linear_backward`` after the backward loop (``cache``: recurrence.RecurrenceCache, whose ``inputs``
    is what ``project`` returned). With ``weight_grads``, ``dgh_t`` is always its own array: the
    gradient of the recurrent GEMM's output h_{t-1} W_hhᵀ.
    """

    name: str  # torch.nn.RNNBase's mode name: "RNN_TANH", "RNN_RELU", "GRU", "LSTM"
    gate_mult: int  # G / H, from layout.GATE_MULT
    n_states: int  # 1 for (h,), 2 for (h, c)
    fold_hh_bias: bool  # see input_bias()
    alloc: Callable  # (T, B, H, P, dtype, proj) -> (dict of (T, ...) cache buffers or None, scratch)
    forward: Callable  # (gx_t, prev, w, cache_t, new, scratch) -> None
    backward: Callable  # (dstate, prev, new, gates_t, cache_t, w, dgx_t, dgh_t, dprev, scratch) -> None
    project: Callable | None = None  # (x (N, I), w) -> (gx (N, G), inputs); None: x W_ihᵀ + input_bias
    weight_grads: Callable | None = None  # (dgx, dgh, RecurrenceCache) -> (dx (N, I), Weights); None: linear_backward


def linear_backward(
    dgx: np.ndarray, dgh: np.ndarray, x: np.ndarray, h_prev: np.ndarray, w: Weights
) -> tuple[np.ndarray, Weights]:
    """Backprop through the two linear maps of a cell, for N = B rows (one step) or N = T·B (all steps).

    dgx (N, G): gradient of x W_ihᵀ + b_ih;  dgh (N, G): gradient of h_prev W_hhᵀ + b_hh;
    x (N, I): the inputs;  h_prev (N, P): the previous hidden states.
    Returns dx (N, I) and the gradients of w_ih, w_hh, b_ih, b_hh (w_hr is left to the caller).
    Over a whole sequence each weight gradient is one GEMM, instead of one small GEMM per step.
    """
    dx = dgx @ w.w_ih  # (N, I)   into x
    dw_ih = dgx.T @ x  # (G, I)   into W_ih
    dw_hh = dgh.T @ h_prev  # (G, P)   into W_hh
    db_ih = db_hh = None
    if w.b_ih is not None:
        db_ih = dgx.sum(axis=0)  # (G,)   into b_ih
        db_hh = db_ih.copy() if dgh is dgx else dgh.sum(axis=0)  # (G,)   into b_hh
    return dx, Weights(dw_ih, dw_hh, db_ih, db_hh, None)


def cell_grads(g: Weights) -> dict:
    """Weights of gradients -> dict with the names of PARAM_NAMES (skipping absent ones)."""
    return {n: a for n, a in zip(PARAM_NAMES, g) if a is not None}
