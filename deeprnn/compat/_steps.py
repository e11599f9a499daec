"""Engine calls shared by the course adapters: an Elman step backward from a given h_t, and the time
loop over stacked cells that both CMU 11-785 editions use (layer l > 0 reads layer l-1's state of the
same step). The maths is the engine's: ``rnn_step_forward`` / ``rnn_step_backward``."""

from __future__ import annotations

import numpy as np

from ..numpy_engine.elman import rnn_step_backward, rnn_step_forward


def elman_backward(params: dict, dh, h, x, h_prev):
    """Backprop one tanh step from x (B, I), h_prev (B, H) with dL/dh_t = dh (B, H) at the given h_t = h
    (the courses pass h_t in: tanh' = 1 - h² is taken from it). Returns (dx, dh_prev, parameter grads)."""
    _, cache = rnn_step_forward(x, h_prev, params, "tanh")  # the engine's cache of this step
    return rnn_step_backward(dh, cache._replace(h=h))  # tanh' from the given h_t


def stacked_forward(cells, x, h0):
    """x (B, T, I), h0 (L, B, H) -> hiddens (T+1, L, B, H), hiddens[0] = h0; cell.forward(x, h) each step."""
    B, T, _ = x.shape
    L, _, H = h0.shape
    dtype = np.result_type(x, h0)
    hiddens = np.zeros((T + 1, L, B, H), dtype)  # (T+1, L, B, H)
    hiddens[0] = h0
    for t in range(T):
        inp = x[:, t]  # (B, I) then (B, H)
        for l, cell in enumerate(cells):
            hiddens[t + 1, l] = inp = cell.forward(inp, hiddens[t, l])
    return hiddens


def stacked_backward(cells, x, hiddens, dh):
    """BPTT through stacked_forward. dh (L, B, H): dL/dh of each layer at the last step (updated in place).
    Returns (dx (B, T, I), dh (L, B, H) = dL/dh_0); every cell.backward accumulates its own gradients."""
    T1, L, B, H = hiddens.shape
    dx = np.zeros(x.shape, np.result_type(x, hiddens))  # (B, T, I)
    for t in reversed(range(T1 - 1)):
        for l in reversed(range(L)):
            inp = x[:, t] if l == 0 else hiddens[t + 1, l - 1]
            d_inp, dh[l] = cells[l].backward(dh[l], hiddens[t + 1, l], inp, hiddens[t, l])
            if l > 0:
                dh[l - 1] += d_inp  # into the layer below, same step
            else:
                dx[:, t] = d_inp
    return dx, dh
