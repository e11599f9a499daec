"""Single-step cells with torch.nn.*Cell's interface, written with the step functions of this package.

    h = cell(x, h)                 h, c = lstm_cell(x, (h, c))

The same cells as ``deeprnn/numpy_engine/cells.py``; autograd does the backward pass, so a hand-written
time loop over a cell gets BPTT from ``loss.backward()``. Parameters have torch.nn.RNNCell/GRUCell/
LSTMCell's names, shapes and initialisation (weight_ih (G, I), weight_hh (G, H), bias_ih, bias_hh (G,),
all from U(-1/√H, 1/√H)), so ``load_state_dict`` works both ways with torch.nn's cells.
"""

from __future__ import annotations

from ..checks import check_bool, check_choice, check_int, describe
from ..layout import NONLINEARITIES
from . import require_torch
from .elman import rnn_step
from .gru import gru_step
from .lstm import lstm_step
from .stack import check_tensor, init_uniform

torch = require_torch()
nn = torch.nn


class _Cell(nn.Module):
    gate_mult = 1  # G / H
    n_states = 1  # (h,) or (h, c)

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__()
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.bias = check_bool("bias", bias)
        G, H, I = self.gate_mult * self.hidden_size, self.hidden_size, self.input_size
        kw = dict(device=device, dtype=dtype)
        self.weight_ih = nn.Parameter(torch.empty((G, I), **kw))  # (G, I)
        self.weight_hh = nn.Parameter(torch.empty((G, H), **kw))  # (G, H)
        if self.bias:
            self.bias_ih = nn.Parameter(torch.empty(G, **kw))  # (G,)
            self.bias_hh = nn.Parameter(torch.empty(G, **kw))  # (G,)
        else:  # as torch.nn.*Cell: the attributes exist but hold None (and are not in state_dict())
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√H, 1/√H), as in torch.nn."""
        init_uniform(self)

    def _states(self, hx, x, unbatched: bool) -> tuple:
        """None (zeros), h, or (h, c) -> tuple of (B, H) tensors."""
        B, H = x.shape[0], self.hidden_size
        if hx is None:
            return tuple(x.new_zeros((B, H)) for _ in range(self.n_states))
        if self.n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected hx to be a tuple (h, c), got {describe(hx)}")
            parts, names = tuple(hx), ("hx[h]", "hx[c]")
        else:
            parts, names = (hx,), ("hx",)
        out = []
        for a, name in zip(parts, names):
            check_tensor(name, a, x.dtype, (H,) if unbatched else (B, H))
            out.append(a.unsqueeze(0) if unbatched else a)
        return tuple(out)

    def forward(self, x, hx=None):
        """x (B, I) or (I,); hx: h (B, H), or (h, c) for LSTMCell; None means zeros.
        Returns h' (B, H), or (h', c') for LSTMCell (without the batch axis if x is (I,))."""
        check_tensor("x", x, self.weight_ih.dtype, ("B", self.input_size), (self.input_size,))
        unbatched = x.dim() == 1
        x = x.unsqueeze(0) if unbatched else x  # (B, I)
        new = self._step(x, self._states(hx, x, unbatched))
        if unbatched:
            new = tuple(s.squeeze(0) for s in new)  # (H,)
        return new if self.n_states == 2 else new[0]

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False")


class RNNCell(_Cell):
    """h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), φ = tanh or relu (see elman.py)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.nonlinearity = nonlinearity

    def _step(self, x, states):
        h = rnn_step(x, states[0], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh,
                     self.nonlinearity)
        return (h,)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class GRUCell(_Cell):
    """GRU step with gate order r, z, n (see gru.py)."""

    gate_mult = 3

    def _step(self, x, states):
        return (gru_step(x, states[0], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh),)


class LSTMCell(_Cell):
    """LSTM step with gate order i, f, g, o (see lstm.py)."""

    gate_mult = 4
    n_states = 2

    def _step(self, x, states):
        return lstm_step(x, states[0], states[1], self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
