"""The weights of one layer in one direction, and the kernel interface every cell type implements."""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class Weights(NamedTuple):
    """One direction of one layer, in PyTorch's layout (G = 4H for LSTM, 3H for GRU, H for RNN)."""

    w_ih: np.ndarray  # (G, I)   input-to-hidden, gates stacked in PyTorch's order
    w_hh: np.ndarray  # (G, P)   hidden-to-hidden (P = proj_size or H)
    b_ih: np.ndarray | None  # (G,) or None when bias=False
    b_hh: np.ndarray | None  # (G,) or None when bias=False
    w_hr: np.ndarray | None = None  # (P, H)  LSTM projection, only when proj_size > 0

    @classmethod
    def from_cell_params(cls, params: dict) -> "Weights":
        """Build from a dict with torch.nn.*Cell names: weight_ih, weight_hh, bias_ih, bias_hh, weight_hr."""
        return cls(
            params["weight_ih"],
            params["weight_hh"],
            params.get("bias_ih"),
            params.get("bias_hh"),
            params.get("weight_hr"),
        )


def input_bias(w: Weights, fold_hh: bool) -> np.ndarray | None:
    """The bias added once to the input projection of all time steps.

    For RNN and LSTM, b_ih and b_hh always appear summed, so both are added here and no bias add is
    left inside the time loop. GRU needs b_hn inside r ⊙ (W_hn h + b_hn), so only b_ih goes here.
    """
    if w.b_ih is None:
        return None
    return w.b_ih + w.b_hh if fold_hh else w.b_ih


class CellKernel(NamedTuple):
    """What the time loop (recurrence.py) needs from a cell type.

    ``forward(gx_t, prev, w, cache_t, new, scratch)`` runs one step. ``gx_t`` (B, G) holds the input part
    of the pre-activations, x_t W_ihᵀ + bias; the kernel adds the recurrent part and may overwrite
    ``gx_t`` with the activated gates (it is part of the step's cache). ``prev``/``new`` are the state
    tuples (h,) or (h, c) to read from and write into.

    ``backward(dstate, prev, gx_t, cache_t, w, dgx_t, dgh_t, dprev, scratch)`` backpropagates one step:
    from dstate = (dh_t,) or (dh_t, dc_t) it writes the gradients of the input pre-activations ``dgx_t``,
    of the recurrent pre-activations ``dgh_t`` (the same array unless the cell is a GRU) and the state
    gradients ``dprev`` flowing into step t-1.
    """

    name: str
    gate_mult: int  # G / H
    n_states: int  # 1 for (h,), 2 for (h, c)
    fold_hh_bias: bool  # see input_bias()
    alloc: Callable  # (T, B, H, P, dtype, proj) -> (tuple of (T, ...) cache buffers, scratch buffers)
    forward: Callable
    backward: Callable


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
    """Weights of gradients -> dict with torch.nn.*Cell names (skipping absent ones)."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    return {n: a for n, a in zip(names, g) if a is not None}
