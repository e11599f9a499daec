"""The CMU 11-785 HW3P1 handout's API (the common edition: W_ih, dW_ih, init_weights), over the NumPy engine.

    RNNCell:     h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)        rows: x (B, I), h (B, H)
                 backward(delta, h_t, h_prev_l, h_prev_t) -> (dx, dh_prev_t); dW_ih += dzᵀ h_prev_l / B, ...
                 (parameter gradients averaged over the batch, accumulated across calls)
    RNNPhonemeClassifier: num_layers RNNCells, then output_layer (Linear) on the top layer's last state
    GRUCell:     r = σ(W_rx x + b_rx + W_rh h + b_rh)     z = σ(W_zx x + b_zx + W_zh h + b_zh)
                 n = tanh(W_nx x + b_nx + r ⊙ (W_nh h + b_nh))             h_t = (1 - z) ⊙ n + z ⊙ h
                 unbatched: x (I,), h (H,); backward(delta) -> dx (1, I), dh_prev_t (1, H)
    CharacterPredictor: a GRUCell and a projection Linear; inference(net, inputs) -> logits (T, C)
    Linear:      the handout's mytorch/nn/linear.py: W (C, H), b (C, 1); Z = A Wᵀ + 1 bᵀ

Weights are drawn with np.random.randn in the handout's order, so a seeded run reproduces the
handout's autograder values: RNNCell draws W_ih, W_hh, b_ih, b_hh; GRUCell Wrx, Wzx, Wnx, Wrh, Wzh, Wnh,
brx, bzx, bnx, brh, bzh, bnh; CharacterPredictor then sets projection.W from np.random.rand. Mixed
float32 and float64 arrays promote as NumPy does. The recurrence and its derivatives are the engine's
(``rnn_step_*``, ``gru_step_*``); the stacked time loop is shared with ``compat.mytorch``.
"""

from __future__ import annotations

import numpy as np

from ..numpy_engine.elman import rnn_step_forward
from ..numpy_engine.gru import gru_step_backward, gru_step_forward
from ._arrays import expect_shape, floats, vector
from ._steps import elman_backward, stacked_backward, stacked_forward

__all__ = ["Linear", "RNNCell", "RNNPhonemeClassifier", "GRUCell", "CharacterPredictor", "inference"]

RNN_WEIGHTS = ("W_ih", "W_hh", "b_ih", "b_hh")
GRU_WEIGHTS = ("Wrx", "Wzx", "Wnx", "Wrh", "Wzh", "Wnh", "brx", "bzx", "bnx", "brh", "bzh", "bnh")


class Linear:
    """The handout's linear layer: W (out, in), b (out, 1), both zeros until assigned; gradients dLdW,
    dLdb are summed over the batch (the loss's own backward averages)."""

    def __init__(self, in_features: int, out_features: int):
        self.W = np.zeros((out_features, in_features))
        self.b = np.zeros((out_features, 1))

    def __call__(self, A):
        return self.forward(A)

    def forward(self, A):
        """A (N, in) -> Z (N, out) = A Wᵀ + 1 bᵀ."""
        self.A, W, b = floats(A, self.W, self.b)
        return self.A @ W.T + vector("b", b, W.shape[0])

    def backward(self, dLdZ):
        """dLdZ (N, out) -> dLdA (N, in); sets dLdW (out, in) and dLdb (out, 1)."""
        dLdZ, W = floats(dLdZ, self.W)
        self.dLdW = dLdZ.T @ self.A  # into W
        self.dLdb = dLdZ.sum(axis=0)[:, None]  # into b
        return dLdZ @ W  # into A


def _draw(shapes: dict) -> dict:
    return {name: np.random.randn(*shape) for name, shape in shapes.items()}


class RNNCell:
    """One Elman step with the handout's attribute names. Gradients dW_ih, dW_hh, db_ih, db_hh are
    averaged over the batch and accumulate across backward calls (zero_grad() clears them)."""

    def __init__(self, input_size: int, hidden_size: int):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        h, d = self.hidden_size, self.input_size
        vars(self).update(_draw({"W_ih": (h, d), "W_hh": (h, h), "b_ih": (h,), "b_hh": (h,)}))
        self.zero_grad()

    def init_weights(self, W_ih, W_hh, b_ih, b_hh) -> None:
        self.W_ih, self.W_hh, self.b_ih, self.b_hh = W_ih, W_hh, b_ih, b_hh

    def zero_grad(self) -> None:
        h, d = self.hidden_size, self.input_size
        self.dW_ih, self.dW_hh, self.db_ih, self.db_hh = np.zeros((h, d)), np.zeros((h, h)), np.zeros(h), np.zeros(h)

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def _params(self, x, h, *more):
        """The engine's params dict and the arrays, all in one float dtype, shapes checked."""
        H, I = self.hidden_size, self.input_size
        W_ih, W_hh, b_ih, b_hh, x, h, *more = floats(self.W_ih, self.W_hh, self.b_ih, self.b_hh, x, h, *more)
        if x.ndim != 2:
            raise ValueError(f"expected x of shape (B, {I}), got {x.shape}")
        expect_shape("x", x, (x.shape[0], I))
        expect_shape("h", h, (x.shape[0], H))
        params = {"weight_ih": expect_shape("W_ih", W_ih, (H, I)), "weight_hh": expect_shape("W_hh", W_hh, (H, H)),
                  "bias_ih": vector("b_ih", b_ih, H), "bias_hh": vector("b_hh", b_hh, H)}
        return params, x, h, *more

    def forward(self, x, h_prev_t):
        """x (B, I), h_prev_t (B, H) -> h_t (B, H)."""
        params, x, h = self._params(x, h_prev_t)
        return rnn_step_forward(x, h, params, "tanh")[0]

    def backward(self, delta, h_t, h_prev_l, h_prev_t):
        """delta = dL/dh_t (B, H); h_t (B, H) this step's output; h_prev_l (B, I) its input; h_prev_t
        (B, H) the previous state -> (dx (B, I), dh_prev_t (B, H)). Adds the batch-averaged gradients."""
        params, x, h_prev, delta, h_t = self._params(h_prev_l, h_prev_t, delta, h_t)
        expect_shape("delta", delta, h_prev.shape)
        expect_shape("h_t", h_t, h_prev.shape)
        dx, dh_prev, g = elman_backward(params, delta, h_t, x, h_prev)
        B = delta.shape[0]
        for name, key in zip(("dW_ih", "dW_hh", "db_ih", "db_hh"), ("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            setattr(self, name, getattr(self, name) + g[key].reshape(np.shape(getattr(self, name))) / B)  # averaged
        return dx, dh_prev


class RNNPhonemeClassifier:
    """num_layers stacked RNNCells over x (B, T, I) and a Linear on the top layer's last state.

    forward(x, h_0=None) -> logits (B, C); keeps x and hiddens, a list of T+1 arrays (L, B, H).
    backward(delta (B, C)) -> dh_0 (L, B, H), averaged over the batch as the handout's."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_layers: int = 2):
        self.input_size, self.hidden_size, self.num_layers = int(input_size), int(hidden_size), int(num_layers)
        if self.num_layers < 1:
            raise ValueError(f"expected num_layers >= 1, got {num_layers}")
        self.rnn = [RNNCell(input_size if i == 0 else hidden_size, hidden_size) for i in range(self.num_layers)]
        self.output_layer = Linear(hidden_size, output_size)
        self.hiddens = []

    def init_weights(self, rnn_weights, linear_weights) -> None:
        """rnn_weights: [[W_ih, W_hh, b_ih, b_hh] per layer]; linear_weights: [W, b]."""
        for cell, w in zip(self.rnn, rnn_weights):
            cell.init_weights(*w)
        self.output_layer.W = linear_weights[0]
        self.output_layer.b = np.reshape(linear_weights[1], (-1, 1))

    def __call__(self, x, h_0=None):
        return self.forward(x, h_0)

    def forward(self, x, h_0=None):
        (x,) = floats(x)
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ValueError(f"expected x of shape (B, T, {self.input_size}), got {x.shape}")
        L, B, H = self.num_layers, x.shape[0], self.hidden_size
        h0 = np.zeros((L, B, H)) if h_0 is None else expect_shape("h_0", floats(h_0)[0], (L, B, H))
        self.x = x
        hiddens = stacked_forward(self.rnn, x, h0)  # (T+1, L, B, H)
        self.hiddens = list(hiddens)
        return self.output_layer.forward(hiddens[-1, -1])  # (B, C) from the top layer's last state

    def backward(self, delta):
        hiddens = np.stack(self.hiddens)  # (T+1, L, B, H)
        _, L, B, H = hiddens.shape
        dh = np.zeros((L, B, H), hiddens.dtype)  # (L, B, H)
        dh[-1] = self.output_layer.backward(delta)  # into the top layer's last state
        _, dh = stacked_backward(self.rnn, self.x, hiddens, dh)
        return dh / B


class GRUCell:
    """One GRU step, unbatched, with the handout's names; gradients d<name> accumulate across backward calls."""

    def __init__(self, input_size: int, hidden_size: int):
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.d, self.h = d, h = self.input_size, self.hidden_size  # the handout's short names
        shapes = {**{n: (h, d) for n in GRU_WEIGHTS[:3]}, **{n: (h, h) for n in GRU_WEIGHTS[3:6]},
                  **{n: (h,) for n in GRU_WEIGHTS[6:]}}
        vars(self).update(_draw(shapes))
        for name, shape in shapes.items():
            setattr(self, f"d{name}", np.zeros(shape))
        self._cache = None

    def init_weights(self, Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh) -> None:
        for name, value in zip(GRU_WEIGHTS, (Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh)):
            setattr(self, name, value)

    def __call__(self, x, h_prev_t):
        return self.forward(x, h_prev_t)

    def forward(self, x, h_prev_t):
        """x (I,), h_prev_t (H,) -> h_t (H,); keeps x, hidden, r, z and n as the handout's does."""
        arrays = floats(*(getattr(self, n) for n in GRU_WEIGHTS), x, h_prev_t)
        W, b, (x, h) = arrays[:6], arrays[6:12], arrays[12:]
        expect_shape("x", x, (self.d,), (1, self.d))
        expect_shape("h_prev_t", h, (self.h,), (1, self.h))
        params = {"weight_ih": np.concatenate(W[:3]), "weight_hh": np.concatenate(W[3:]),  # (3H, I), (3H, H)
                  "bias_ih": np.concatenate([vector(n, v, self.h) for n, v in zip(GRU_WEIGHTS[6:9], b[:3])]),
                  "bias_hh": np.concatenate([vector(n, v, self.h) for n, v in zip(GRU_WEIGHTS[9:], b[3:])])}
        h_t, self._cache = gru_step_forward(x.reshape(1, -1), h.reshape(1, -1), params)  # (1, H)
        self.x, self.hidden = x.reshape(-1), h.reshape(-1)
        self.r, self.z, self.n = (g.reshape(-1) for g in np.split(self._cache.gates[0], 3))
        return h_t.reshape(-1)

    def backward(self, delta):
        """delta = dL/dh_t, (H,) or (1, H) -> dx (1, I), dh_prev_t (1, H); adds the parameter gradients."""
        if self._cache is None:
            raise ValueError("expected a forward() before backward(), got none")
        delta = expect_shape("delta", np.asarray(delta), (self.h,), (1, self.h)).reshape(1, -1)
        dx, dh_prev, g = gru_step_backward(delta.astype(self._cache.x.dtype), self._cache)
        for k, name in enumerate(GRU_WEIGHTS):
            part, block = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")[k // 3], k % 3
            grad = np.split(g[part], 3)[block]
            setattr(self, f"d{name}", getattr(self, f"d{name}") + grad.reshape(np.shape(getattr(self, f"d{name}"))))
        return dx, dh_prev


class CharacterPredictor:
    """A GRUCell and a projection Linear, one step at a time: forward(x (I,), h (H,)) -> (logits (C,), h_t (H,))."""

    def __init__(self, input_dim: int, hidden_dim: int, num_classes: int):
        self.gru = GRUCell(input_dim, hidden_dim)
        self.projection = Linear(hidden_dim, num_classes)
        self.num_classes, self.hidden_dim = int(num_classes), int(hidden_dim)
        self.projection.W = np.random.rand(num_classes, hidden_dim)  # as the handout sets it

    def init_rnn_weights(self, Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh) -> None:
        self.gru.init_weights(Wrx, Wzx, Wnx, Wrh, Wzh, Wnh, brx, bzx, bnx, brh, bzh, bnh)

    def __call__(self, x, h):
        return self.forward(x, h)

    def forward(self, x, h):
        hnext = self.gru(x, h)  # (H,)
        logits = self.projection(hnext.reshape(1, -1)).reshape(-1)  # (C,)
        return logits, hnext


def inference(net, inputs):
    """inputs (T, I) -> logits (T, C): net run step by step from h = 0."""
    (inputs,) = floats(inputs)
    if inputs.ndim != 2:
        raise ValueError(f"expected inputs of shape (seq_len, feature_dim), got {inputs.shape}")
    h = np.zeros(net.hidden_dim)
    logits = []
    for x in inputs:
        l_t, h = net(x, h)
        logits.append(l_t)
    return np.stack(logits)  # (T, C)
