"""A torch stack written step by step, with ``retain_grad()`` on every h_t of every layer: the reference
for the total gradient dL/dh_t that the NumPy stack's backward ``record`` reports (float64).

Built from torch_engine's own pieces (core_step, ln_input, mingru_coefficients), so RNN, GRU, LSTM,
their LayerNorm cells, minGRU and residual stacks all run; the caller's ``loss_fn(out, finals)`` gives
the scalar loss from the top layer's output (T, B, H) and each layer's final h (B, H).
"""

from __future__ import annotations

import numpy as np

from conftest import require

torch = require("torch")

from deeprnn.torch_engine.layernorm import ln_input  # noqa: E402
from deeprnn.torch_engine.mingru import mingru_coefficients  # noqa: E402
from deeprnn.torch_engine.recurrence import Weights, core_step  # noqa: E402

FIELDS = {"weight_ih": "w_ih", "weight_hh": "w_hh", "bias_ih": "b_ih", "bias_hh": "b_hh", "ln_ih_weight": "gamma_ih",
          "ln_hh_weight": "gamma_hh", "ln_c_weight": "gamma_c", "ln_c_bias": "beta_c"}
GATES = {"LSTM": 4, "GRU": 3, "MinGRU": 2}


def torch_stack_grads(mode: str, params: dict, x, L: int, loss_fn, residual: bool = False):
    """params: the stack's own names (weight_ih_l0 ...); x (T, B, I). Returns (h_t.grad (L, T, B, H), h_t
    (L, T, B, H)) as NumPy arrays."""
    inp, below = torch.tensor(x, requires_grad=True), None
    hs_all, finals = [], []
    T, B = x.shape[:2]
    for layer in range(L):
        p = {FIELDS[k[:-3]]: torch.tensor(v) for k, v in params.items() if k.endswith(f"_l{layer}")}
        w = Weights(**{"w_hh": None, **p})  # minGRU: no W_hh
        H = p["b_ih"].shape[0] // GATES.get(mode, 1)
        state = (torch.zeros(B, H, dtype=torch.float64),) * (2 if mode == "LSTM" else 1)
        if mode == "MinGRU":
            a, b = mingru_coefficients(inp @ w.w_ih.T + w.b_ih)  # (T, B, H)
        else:
            gx = ln_input(inp, w.w_ih, w.gamma_ih, w.b_ih) if w.gamma_ih is not None else inp @ w.w_ih.T + w.b_ih
            step = core_step(mode, w)
        hs = []
        for t in range(T):
            state = (a[t] * state[0] + b[t],) if mode == "MinGRU" else step(gx[t], state)
            state[0].retain_grad()
            hs.append(state[0])
        out = torch.stack(hs)  # (T, B, H)
        hs_all.append(hs)
        finals.append(state[0])
        out = out + below if residual and layer > 0 else out
        below = inp = out
    loss_fn(inp, finals).backward()
    grads = np.stack([torch.stack([h.grad for h in hs]).numpy() for hs in hs_all])
    values = np.stack([torch.stack([h.detach() for h in hs]).numpy() for hs in hs_all])
    return grads, values
