"""hw4's sequence models, as a learner writes them (W_ih is (input_size, hidden_size): x @ W_ih)."""

import math

import needle.init as init
from needle import ops

from .nn_basic import Module, Parameter


def _row(b, batch):
    """A bias (H,) as (batch, H): needle broadcasts only explicitly."""
    return b.reshape((1, b.shape[0])).broadcast_to((batch, b.shape[0]))


class RNNCell(Module):
    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype="float32"):
        k = 1 / math.sqrt(hidden_size)
        self.hidden_size = hidden_size
        self.W_ih = Parameter(init.rand(input_size, hidden_size, low=-k, high=k, device=device, dtype=dtype))
        self.W_hh = Parameter(init.rand(hidden_size, hidden_size, low=-k, high=k, device=device, dtype=dtype))
        self.bias_ih = Parameter(init.rand(hidden_size, low=-k, high=k, device=device, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(init.rand(hidden_size, low=-k, high=k, device=device, dtype=dtype)) if bias else None
        self.nonlinearity = ops.tanh if nonlinearity == "tanh" else ops.relu

    def forward(self, X, h=None):
        batch = X.shape[0]
        if h is None:
            h = init.zeros(batch, self.hidden_size)
        out = X @ self.W_ih + h @ self.W_hh
        if self.bias_ih is not None:
            out = out + _row(self.bias_ih, batch) + _row(self.bias_hh, batch)
        return self.nonlinearity(out)


class RNN(Module):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, nonlinearity="tanh", device=None,
                 dtype="float32"):
        self.rnn_cells = [RNNCell(input_size if k == 0 else hidden_size, hidden_size, bias, nonlinearity, device, dtype)
                          for k in range(num_layers)]

    def forward(self, X, h0=None):
        inputs = list(ops.split(X, 0))
        states = list(ops.split(h0, 0)) if h0 is not None else [None] * len(self.rnn_cells)
        h_n = []
        for k, cell in enumerate(self.rnn_cells):
            h, outputs = states[k], []
            for x in inputs:
                h = cell(x, h)
                outputs.append(h)
            h_n.append(h)
            inputs = outputs
        return ops.stack(inputs, 0), ops.stack(h_n, 0)


class LSTMCell(Module):
    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype="float32"):
        k = 1 / math.sqrt(hidden_size)
        self.hidden_size = hidden_size
        self.W_ih = Parameter(init.rand(input_size, 4 * hidden_size, low=-k, high=k, device=device, dtype=dtype))
        self.W_hh = Parameter(init.rand(hidden_size, 4 * hidden_size, low=-k, high=k, device=device, dtype=dtype))
        self.bias_ih = Parameter(init.rand(4 * hidden_size, low=-k, high=k, device=device, dtype=dtype)) if bias else None
        self.bias_hh = Parameter(init.rand(4 * hidden_size, low=-k, high=k, device=device, dtype=dtype)) if bias else None

    def forward(self, X, h=None):
        batch, H = X.shape[0], self.hidden_size
        h0, c0 = (init.zeros(batch, H), init.zeros(batch, H)) if h is None else h
        gates = X @ self.W_ih + h0 @ self.W_hh
        if self.bias_ih is not None:
            gates = gates + _row(self.bias_ih, batch) + _row(self.bias_hh, batch)
        i, f, g, o = ops.split(gates.reshape((batch, 4, H)), 1)
        i, f, g, o = ops.sigmoid(i), ops.sigmoid(f), ops.tanh(g), ops.sigmoid(o)
        c = f * c0 + i * g
        return o * ops.tanh(c), c


class LSTM(Module):
    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, device=None, dtype="float32"):
        self.lstm_cells = [LSTMCell(input_size if k == 0 else hidden_size, hidden_size, bias, device, dtype)
                           for k in range(num_layers)]

    def forward(self, X, h=None):
        inputs = list(ops.split(X, 0))
        L = len(self.lstm_cells)
        hs, cs = (list(ops.split(h[0], 0)), list(ops.split(h[1], 0))) if h is not None else ([None] * L, [None] * L)
        h_n, c_n = [], []
        for k, cell in enumerate(self.lstm_cells):
            state, outputs = None if hs[k] is None else (hs[k], cs[k]), []
            for x in inputs:
                state = cell(x, state)
                outputs.append(state[0])
            h_n.append(state[0])
            c_n.append(state[1])
            inputs = outputs
        return ops.stack(inputs, 0), (ops.stack(h_n, 0), ops.stack(c_n, 0))
