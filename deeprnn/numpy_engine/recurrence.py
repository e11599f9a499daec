"""The time loop: one direction of one layer over a whole sequence, forward and BPTT backward.

The cells (elman.py, gru.py, lstm.py) only know one step. This loop adds what makes a sequence fast:

* the input projection x_t W_ihᵀ + b of all T steps is one GEMM before the loop;
* every buffer is allocated once, before the loop, and the cells write into views of it;
* the weight gradients are one GEMM each after the backward loop, over all T·B rows at once;
* with ``mask`` (variable lengths), a finished sequence keeps its state: its final state is the state at
  its last valid step and its later outputs are zero, as with torch's pack_padded_sequence.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .ops import linear
from .weights import CellKernel, Weights, input_bias, linear_backward


class RecurrenceCache(NamedTuple):
    """What recurrence_backward needs from recurrence_forward."""

    kernel: CellKernel
    x: np.ndarray  # (T, B, I)
    states: tuple  # (T+1, B, P) [, (T+1, B, H)]: the initial state, then every step's
    gx: np.ndarray  # (T, B, G) the gates, as the kernel left them
    bufs: dict  # the kernel's per-step cache buffers (T, ...)
    scratch: object  # the kernel's work buffers
    w: Weights
    mask: np.ndarray | None  # (T, B, 1)
    inputs: object  # what kernel.project returned beside gx (None without the hook)


def recurrence_forward(kernel: CellKernel, x, state0: tuple, w: Weights, mask=None):
    """x (T, B, I), state0 = (h0 (B, P),) or (h0, c0 (B, H)), mask (T, B, 1) bool or None.

    Returns (out (T, B, P), final state tuple, cache).
    """
    T, B, I = x.shape
    G = w.w_ih.shape[0]
    H, P = G // kernel.gate_mult, w.w_hh.shape[1]
    rows = x.reshape(T * B, I)  # (T·B, I)
    if kernel.project is None:
        gx, inputs = linear(rows, w.w_ih, input_bias(w, kernel.fold_hh_bias)), None  # (T·B, G) one GEMM
    else:
        gx, inputs = kernel.project(rows, w)  # (T·B, G) the cell's own input side (LayerNorm cells)
    gx = gx.reshape(T, B, G)  # (T, B, G) becomes the gates, step by step
    states = tuple(np.empty((T + 1,) + s.shape, x.dtype) for s in state0)  # (T+1, B, P) [, (T+1, B, H)]
    for buf, s0 in zip(states, state0):
        buf[0] = s0
    bufs, scratch = kernel.alloc(T, B, H, P, x.dtype, w.w_hr is not None)
    finished = None if mask is None else ~mask  # (T, B, 1)
    for t in range(T):
        prev, new = tuple(s[t] for s in states), tuple(s[t + 1] for s in states)
        kernel.forward(gx[t], prev, w, _at(bufs, t), new, scratch)
        if finished is not None:
            for p, n in zip(prev, new):
                np.copyto(n, p, where=finished[t])  # a finished sequence keeps its state
    out = states[0][1:]  # (T, B, P)
    if mask is not None:
        out = out * mask  # zero past each sequence's length
    final = tuple(s[T] for s in states)
    return out, final, RecurrenceCache(kernel, x, states, gx, bufs, scratch, w, mask, inputs)


def recurrence_backward(d_out, dfinal: tuple, cache, record=None):
    """BPTT. d_out (T, B, P) = dL/d(out), dfinal = dL/d(final state) (same structure as state0).
    ``record``: optional callable, given dL/dh_t (T, B, P) once the loop is done: the total gradient
    reaching each step's h, from the output at t (d_out) plus from step t+1 (and dfinal at T-1); with
    ``mask``, zero past each sequence's length (what passes a finished step goes on to h_{t-1}).

    Returns (dx (T, B, I), dstate0 tuple, gradient Weights).
    """
    kernel, x, states, gx, bufs, scratch, w, mask, _ = cache
    T, B, I = x.shape
    G, P = gx.shape[-1], states[0].shape[-1]
    dhs = d_out * mask if mask is not None else d_out.copy()  # (T, B, P) dL/dh_t, filled in backwards
    dhs[T - 1] += dfinal[0]
    drest = [d.copy() for d in dfinal[1:]]  # [(B, H)] dL/dc_t
    drest_prev = [np.empty_like(d) for d in drest]  # [(B, H)] dL/dc_{t-1}; the two swap every step
    dgx = np.empty_like(gx)  # (T, B, G)
    shared = kernel.fold_hh_bias and kernel.weight_grads is None  # RNN/LSTM: the same gradient
    dgh = dgx if shared else np.empty_like(gx)  # (T, B, G)
    dh_prev = np.empty((B, P), x.dtype)  # (B, P)
    for t in reversed(range(T)):
        dstate = (dhs[t], *drest)
        if mask is not None:
            passed = tuple(d * ~mask[t] for d in dstate)  # finished rows: gradient passes straight back
            for d in dstate:
                d *= mask[t]
        prev, new = tuple(s[t] for s in states), tuple(s[t + 1] for s in states)
        kernel.backward(dstate, prev, new, gx[t], _at(bufs, t), w, dgx[t], dgh[t], (dh_prev, *drest_prev), scratch)
        drest, drest_prev = drest_prev, drest
        if mask is not None:
            dh_prev += passed[0]
            for d, p in zip(drest, passed[1:]):
                d += p
        if t > 0:
            dhs[t - 1] += dh_prev  # into h_{t-1}, on top of what the output at t-1 sends
    if record is not None:
        record(dhs)
    N = T * B
    if kernel.weight_grads is None:
        dx, g = linear_backward(dgx.reshape(N, G), dgh.reshape(N, G), x.reshape(N, I), states[0][:-1].reshape(N, P), w)
    else:
        dx, g = kernel.weight_grads(dgx.reshape(N, G), dgh.reshape(N, G), cache)
    if w.w_hr is not None:
        g = g._replace(w_hr=dhs.reshape(N, P).T @ bufs["m"].reshape(N, -1))  # (P, H) into W_hr
    return dx.reshape(T, B, I), (dh_prev, *drest), g


def _at(bufs: dict, t: int) -> dict:
    """The step-t views of the per-step cache buffers."""
    return {k: (None if v is None else v[t]) for k, v in bufs.items()}
