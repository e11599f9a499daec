"""Single-step cells with torch.nn.*Cell's interface, plus a hand-run BPTT.

    h = cell(x, h)                 h, c = lstm_cell(x, (h, c))
    dx, dh_prev = cell.backward(dh)          dx, (dh_prev, dc_prev) = lstm_cell.backward(dh, dc)

Each forward pushes its cache on a stack and each backward pops the most recent one (last in, first
out), so a hand-written time loop gets BPTT by calling backward in reverse order of the forwards.
Parameter gradients accumulate in ``cell.grads``.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_array, check_bool, check_choice, check_int, describe
from ..layout import GATE_MULT, NONLINEARITIES
from .elman import rnn_step_backward, rnn_step_forward
from .gru import gru_step_backward, gru_step_forward
from .lstm import lstm_step_backward, lstm_step_forward
from .module import Module, is_grad_enabled


class _Cell(Module):
    gate_mult = GATE_MULT["RNN_TANH"]  # G / H (RNN_RELU's is the same)
    n_states = 1

    def __init__(self, input_size, hidden_size, bias=True, dtype=np.float32, seed=None):
        super().__init__(hidden_size, dtype, seed)
        self.input_size = check_int("input_size", input_size, minimum=1)
        self.bias = check_bool("bias", bias)
        G, H = self.gate_mult * self.hidden_size, self.hidden_size
        shapes = {"weight_ih": (G, self.input_size), "weight_hh": (G, H)}
        if self.bias:
            shapes.update(bias_ih=(G,), bias_hh=(G,))
        self._init_params(shapes)
        self._stack: list = []

    def __call__(self, x, hx=None):
        return self.forward(x, hx)

    def _states(self, name, hx, batch, unbatched):
        """None (zeros), h, or (h, c) -> tuple of (B, H) arrays."""
        H = self.hidden_size
        if hx is None:
            return tuple(np.zeros((batch, H), self.dtype) for _ in range(self.n_states))
        if self.n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected {name} to be a tuple (h, c), got {describe(hx)}")
            parts = tuple(hx)
        else:
            parts = (hx,)
        out = []
        for a, letter in zip(parts, "hc"):
            label = f"{name}[{letter}]" if self.n_states == 2 else name
            check_array(label, a, self.dtype, (H,) if unbatched else (batch, H))
            out.append(a[None] if unbatched else a)
        return tuple(out)

    def _pack(self, states, unbatched):
        states = tuple(s[0] for s in states) if unbatched else states
        return states if self.n_states == 2 else states[0]

    def forward(self, x, hx=None):
        """x (B, I) or (I,); hx: h (B, H), or (h, c) for LSTMCell; None means zeros."""
        check_array("x", x, self.dtype, ("B", self.input_size), (self.input_size,))
        unbatched = x.ndim == 1
        x = x[None] if unbatched else x  # (B, I)
        states = self._states("hx", hx, x.shape[0], unbatched)
        new, cache = self._step_forward(x, states)
        if is_grad_enabled():
            self._stack.append((cache, x.shape[0], unbatched))
        return self._pack(new, unbatched)

    def _backward(self, dstates):
        if not self._stack:
            raise ValueError("expected a forward() not yet backpropagated before backward(), got none")
        cache, batch, unbatched = self._stack[-1]
        shape = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        for a, name in zip(dstates, ("dh", "dc")):
            check_array(name, a, self.dtype, shape)
        dstates = tuple(a[None] if unbatched else a for a in dstates)
        self._stack.pop()
        dx, dprev, dparams = self._step_backward(dstates, cache)
        self._accumulate(dparams)
        return (dx[0] if unbatched else dx), self._pack(dprev, unbatched)

    def reset(self) -> None:
        """Drop every cache not yet backpropagated."""
        self._stack.clear()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.input_size}, {self.hidden_size}" + ("" if self.bias else ", bias=False") + ")"


class RNNCell(_Cell):
    """h' = φ(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh), φ = tanh or relu (see elman.py)."""

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", dtype=np.float32, seed=None):
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(input_size, hidden_size, bias, dtype, seed)

    def _step_forward(self, x, states):
        h, cache = rnn_step_forward(x, states[0], self.params, self.nonlinearity)
        return (h,), cache

    def _step_backward(self, dstates, cache):
        dx, dh, dparams = rnn_step_backward(dstates[0], cache)
        return dx, (dh,), dparams

    def backward(self, dh):
        """dh (B, H) = dL/dh of the most recent step not yet backpropagated -> (dx, dh_prev)."""
        return self._backward((dh,))


class GRUCell(_Cell):
    """GRU step with gate order r, z, n (see gru.py)."""

    gate_mult = GATE_MULT["GRU"]

    def _step_forward(self, x, states):
        h, cache = gru_step_forward(x, states[0], self.params)
        return (h,), cache

    def _step_backward(self, dstates, cache):
        dx, dh, dparams = gru_step_backward(dstates[0], cache)
        return dx, (dh,), dparams

    def backward(self, dh):
        """dh (B, H) -> (dx, dh_prev)."""
        return self._backward((dh,))


class LSTMCell(_Cell):
    """LSTM step with gate order i, f, g, o (see lstm.py)."""

    gate_mult = GATE_MULT["LSTM"]
    n_states = 2

    def _step_forward(self, x, states):
        h, c, cache = lstm_step_forward(x, states[0], states[1], self.params)
        return (h, c), cache

    def _step_backward(self, dstates, cache):
        dx, dh, dc, dparams = lstm_step_backward(dstates[0], dstates[1], cache)
        return dx, (dh, dc), dparams

    def backward(self, dh, dc=None):
        """dh, dc (B, H) = dL/dh_t, dL/dc_t (dc None means zeros) -> (dx, (dh_prev, dc_prev))."""
        if dc is None:
            dc = np.zeros_like(dh) if isinstance(dh, np.ndarray) else None
        return self._backward((dh, dc))
