"""The CMU 11-785 "mytorch" RNN API, as a thin layer over the NumPy engine.

Row layout, batch first: x_t (B, I), h (B, H), x (B, T, I).

    RNNCell:  h_t = tanh(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh)          (engine: rnn_step_forward)
              dz = dL/dh_t ⊙ (1 - h_t²)                                     (engine: rnn_step_backward)
              dx_t = dz W_ih,  dh_{t-1} = dz W_hh
              dW_ih += dzᵀ x_t,  dW_hh += dzᵀ h_{t-1},  db_ih += db_hh += Σ_batch dz
    RNN:      L stacked cells; layer l > 0 reads layer l-1's state of the same step.

The recurrence and its derivatives come from ``deeprnn.numpy_engine.elman``; this module only maps
attribute names and shapes, runs the time loop and accumulates the gradients.
"""

from __future__ import annotations

import math

import numpy as np

from ..numpy_engine.elman import rnn_step_forward
from ..numpy_engine.ops import tanh_grad
from ._arrays import expect_shape, floats, vector
from ._steps import elman_backward, stacked_backward, stacked_forward

__all__ = ["Tanh", "RNNCell", "RNN"]


class Tanh:
    """tanh and its derivative written in terms of the output: tanh'(a) = 1 - tanh(a)²."""

    def forward(self, x):
        self.state = np.tanh(np.asarray(x))
        return self.state

    def __call__(self, x):
        return self.forward(x)

    def backward(self, state=None):
        """1 - state² (state defaults to the last forward's output)."""
        state = floats(self.state if state is None else state)[0]
        return tanh_grad(state, out=np.empty_like(state))


class RNNCell:
    """One Elman step. Attributes are plain arrays that may be reassigned at any time:
    weight_ih (H, I), weight_hh (H, H), bias_ih and bias_hh ((H,) or (1, H)), and the accumulated
    gradients grad_weight_ih (H, I), grad_weight_hh (H, H), grad_bias_ih (H,), grad_bias_hh (H,)."""

    def __init__(self, input_size: int, hidden_size: int, seed=None):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        H, I = self.hidden_size, self.input_size
        rng = np.random.default_rng(seed)
        k = 1.0 / math.sqrt(H)  # torch.nn.RNNCell's U(-1/√H, 1/√H)
        self.weight_ih = rng.uniform(-k, k, (H, I))
        self.weight_hh = rng.uniform(-k, k, (H, H))
        self.bias_ih = rng.uniform(-k, k, H)
        self.bias_hh = rng.uniform(-k, k, H)
        self.activation = Tanh()
        self.zero_grad()

    def zero_grad(self) -> None:
        H, I = self.hidden_size, self.input_size
        self.grad_weight_ih = np.zeros((H, I))
        self.grad_weight_hh = np.zeros((H, H))
        self.grad_bias_ih = np.zeros(H)
        self.grad_bias_hh = np.zeros(H)

    def params(self, *arrays):
        """The current attributes as the engine's params dict (biases flattened to (H,)), and ``arrays``,
        all in one float dtype (float32 and float64 promote, as in NumPy)."""
        H, I = self.hidden_size, self.input_size
        w_ih, w_hh, b_ih, b_hh, *arrays = floats(self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh, *arrays)
        params = {
            "weight_ih": expect_shape("weight_ih", w_ih, (H, I)),
            "weight_hh": expect_shape("weight_hh", w_hh, (H, H)),
            "bias_ih": vector("bias_ih", b_ih, H),
            "bias_hh": vector("bias_hh", b_hh, H),
        }
        return (params, *arrays) if arrays else params

    def __call__(self, x, h):
        return self.forward(x, h)

    def forward(self, x, h):
        """x (B, I), h (B, H) -> h_t (B, H) = tanh(x W_ihᵀ + b_ih + h W_hhᵀ + b_hh)."""
        params, x, h = self._inputs(x, h)
        return rnn_step_forward(x, h, params, "tanh")[0]

    def backward(self, grad, h_t, h_prev_l, h_prev_t):
        """grad = dL/dh_t (B, H); h_t (B, H) this step's output; h_prev_l (B, I) its input;
        h_prev_t (B, H) the previous hidden state. Returns (dx (B, I), dh_prev (B, H)) and adds this
        step's parameter gradients, summed over the batch, into the grad_* attributes."""
        params, x, h_prev, grad, h_t = self._inputs(h_prev_l, h_prev_t, grad, h_t)
        expect_shape("grad", grad, h_prev.shape)
        expect_shape("h_t", h_t, h_prev.shape)
        dx, dh_prev, g = elman_backward(params, grad, h_t, x, h_prev)
        for attr, name in (("grad_weight_ih", "weight_ih"), ("grad_weight_hh", "weight_hh"),
                           ("grad_bias_ih", "bias_ih"), ("grad_bias_hh", "bias_hh")):
            acc = getattr(self, attr)
            acc += g[name].reshape(np.shape(acc))  # accumulate: (H,) or (1, H) biases alike
        return dx, dh_prev

    def _inputs(self, x, h, *more):
        params, x, h, *more = self.params(x, h, *more)
        if x.ndim != 2:
            raise ValueError(f"expected x of shape (B, {self.input_size}), got {x.shape}")
        expect_shape("x", x, (x.shape[0], self.input_size))
        expect_shape("h", h, (x.shape[0], self.hidden_size))
        return (params, x, h, *more)

    def __repr__(self) -> str:
        return f"RNNCell({self.input_size}, {self.hidden_size})"


class RNN:
    """num_layers stacked RNNCells over a batch-first sequence.

    forward(x (B, T, I), h_0) -> (output (B, T, H), h_n (L, B, H)); keeps ``x`` and
    ``hiddens`` (T+1, L, B, H), hiddens[0] = h_0. backward(grad (B, H)) is BPTT from dL/dh of the
    last layer at the last step -> (dx (B, T, I), dh_0 (L, B, H)).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 2, seed=None):
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        if self.num_layers < 1:
            raise ValueError(f"expected num_layers >= 1, got {num_layers}")
        rng = np.random.default_rng(seed)
        self.layers = [RNNCell(input_size if l == 0 else hidden_size, hidden_size, seed=rng.integers(2**32))
                       for l in range(self.num_layers)]
        self.x = self.hiddens = None

    def __call__(self, x, h_0=None):
        return self.forward(x, h_0)

    def forward(self, x, h_0=None):
        """x (B, T, I); h_0 (L, B, H), (B, H) for every layer, or None (zeros)."""
        (x,) = floats(x)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected x of shape (B, T, {self.input_size}), got {x.shape}")
        B, T, _ = x.shape
        L, H = len(self.layers), self.hidden_size
        dtype = np.result_type(x, *(np.asarray(c.weight_hh).dtype for c in self.layers))
        h0 = np.zeros((L, B, H), dtype)  # (L, B, H)
        if h_0 is not None:
            h0[:] = expect_shape("h_0", floats(h_0)[0], (L, B, H), (B, H))
        hiddens = stacked_forward(self.layers, x, h0)  # (T+1, L, B, H)
        self.x, self.hiddens = x, hiddens
        return hiddens[1:, -1].transpose(1, 0, 2).copy(), hiddens[-1].copy()  # (B, T, H), (L, B, H)

    def backward(self, grad):
        """grad (B, H) = dL/dh of the last layer at the last step. Accumulates every cell's grad_*."""
        if self.hiddens is None:
            raise ValueError("expected a forward() before backward(), got none")
        _, L, B, H = self.hiddens.shape
        dh = np.zeros((L, B, H), self.hiddens.dtype)  # (L, B, H) dL/dh_t of each layer
        dh[-1] = expect_shape("grad", floats(grad)[0], (B, H))
        return stacked_backward(self.layers, self.x, self.hiddens, dh)

    def __repr__(self) -> str:
        return f"RNN({self.input_size}, {self.hidden_size}, num_layers={self.num_layers})"
