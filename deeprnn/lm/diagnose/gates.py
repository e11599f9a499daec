"""Each layer's gates, recomputed from its input and its h_t (what the stack's forward ``record`` gives),
for the saturation counts of diagnose. Shapes: x (T, B, I) the layer's input, h (T, B, H) its h_t, h_{-1} = 0.

    rnn      tanh: h_t itself                          relu: h_t itself (dead units)
    gru      r_t, z_t = σ(...)  sigmoid                n_t = tanh(gx_n + r_t ⊙ (h_{t-1} W_hnᵀ + b_hn))  tanh
    lstm     i_t, f_t, o_t = σ(...)  sigmoid           g_t and tanh(c_t)  tanh, c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t
    mingru   z_t = σ(k_t)  sigmoid                     (its candidate g(p) is not a tanh)
    minlstm  f_t = σ(k_f), i_t = σ(k_i)  sigmoid       (likewise)

LayerNorm cells normalise the pre-activations first: for them only what h_t shows is counted (tanh RNN:
h_t; relu: dead units); their gates are not recomputed (None).
"""

from __future__ import annotations

import numpy as np

GATE_NAMES = {"rnn": ("h",), "gru": ("r", "z", "n"), "lstm": ("i", "f", "g", "o"), "mingru": ("z", "h"),
              "minlstm": ("f", "i", "h")}  # the blocks of W_ih (and W_hh) in the engine's order


def sigmoid(a: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * a))  # never overflows


def layer_gates(cell: str, nonlinearity: str, p: dict, x: np.ndarray, h: np.ndarray, layer_norm: bool) -> dict:
    """{"tanh": array | None, "sigmoid": array | None, "relu": array | None, "h": the recomputed h (T, B, H)
    (gru, lstm: a check of the recomputation) or None}; p: the layer's weight_ih, weight_hh, bias_ih, bias_hh."""
    out = {"tanh": None, "sigmoid": None, "relu": None, "h": None}
    if cell == "rnn":
        out["relu" if nonlinearity == "relu" else "tanh"] = h
        return out
    if layer_norm:
        return out
    gi = x @ p["weight_ih"].T + p.get("bias_ih", 0.0)  # (T, B, G)
    if cell in ("mingru", "minlstm"):
        H = h.shape[-1]
        out["sigmoid"] = sigmoid(gi[..., : gi.shape[-1] - H])  # the gates' blocks, before the candidate's
        return out
    h_prev = np.concatenate([np.zeros_like(h[:1]), h[:-1]])  # (T, B, H)
    gh = h_prev @ p["weight_hh"].T + p.get("bias_hh", 0.0)  # (T, B, G)
    if cell == "gru":
        r, z, gx_n = (*np.split(sigmoid(gi[..., : 2 * h.shape[-1]] + gh[..., : 2 * h.shape[-1]]), 2, axis=-1),
                      gi[..., 2 * h.shape[-1]:])
        n = np.tanh(gx_n + r * gh[..., 2 * h.shape[-1]:])
        out.update(sigmoid=np.concatenate([r, z], axis=-1), tanh=n, h=(1 - z) * n + z * h_prev)
        return out
    i, f, g, o = np.split(gi + gh, 4, axis=-1)  # lstm: (T, B, H) each
    i, f, o, g = sigmoid(i), sigmoid(f), sigmoid(o), np.tanh(g)
    c = np.empty_like(g)  # (T, B, H)
    prev = np.zeros_like(g[0])
    for t in range(g.shape[0]):
        prev = c[t] = f[t] * prev + i[t] * g[t]
    tanh_c = np.tanh(c)
    out.update(sigmoid=np.concatenate([i, f, o], axis=-1), tanh=np.concatenate([g, tanh_c], axis=-1), h=o * tanh_c)
    return out
