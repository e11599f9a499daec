"""The d2l.ai book's scratch RNN API ("Recurrent Neural Network Implementation from Scratch" and "Deep
Recurrent Neural Networks", PyTorch edition), in NumPy over the engine, with a hand-written backward.

Time-major, as the book: inputs (T, B, I), a state H (B, H); X of token ids (B, T).

    RNNScratch:         H_t = tanh(X_t W_xh + H_{t-1} W_hh + b_h)      W_xh (I, H), W_hh (H, H), b_h (H,)
                        (engine: rnn_step_forward with W_ih = W_xhᵀ, W_hh = W_hhᵀ, b_ih = b_h, b_hh = 0)
    StackedRNNScratch:  layer l > 0 reads the outputs of layer l-1
    RNNLMScratch:       one_hot(X) (T, B, V) -> rnn -> output_layer: O_t = H_t W_hq + b_q, stacked (B, T, V)
                        predict(prefix, num_preds, vocab): warm up on the prefix, then greedy (argmax)

Names, arguments and results are the book's: ``forward(inputs, state)`` returns (a list of T outputs,
the state); the state is passed back as the book does (``(H,)`` or H). ``backward`` (not in the book,
where autograd does it) backpropagates through the last forward and accumulates ``grads``, keyed like
torch's ``named_parameters()`` of the book's modules ('W_xh', 'rnns.0.W_xh', 'rnn.W_hh', 'W_hq').
"""

from __future__ import annotations

import numpy as np

from ..numpy_engine.elman import rnn_step_backward, rnn_step_forward
from ._arrays import floats

__all__ = ["RNNScratch", "StackedRNNScratch", "RNNLMScratch"]


class _Module:
    def __call__(self, *args):
        return self.forward(*args)

    def zero_grad(self) -> None:
        self.grads = {k: np.zeros_like(v) for k, v in self.named_parameters().items()}

    def _accumulate(self, grads: dict) -> None:
        for k, g in grads.items():
            self.grads[k] = self.grads.get(k, 0) + g


class RNNScratch(_Module):
    """One tanh layer. W_xh, W_hh ~ N(0, sigma²), b_h = 0, as the book initialises them."""

    def __init__(self, num_inputs: int, num_hiddens: int, sigma: float = 0.01, seed=None):
        rng = np.random.default_rng(seed)
        self.num_inputs, self.num_hiddens, self.sigma = int(num_inputs), int(num_hiddens), sigma
        self.W_xh = rng.standard_normal((self.num_inputs, self.num_hiddens)) * sigma  # (I, H)
        self.W_hh = rng.standard_normal((self.num_hiddens, self.num_hiddens)) * sigma  # (H, H)
        self.b_h = np.zeros(self.num_hiddens)  # (H,)
        self.zero_grad()
        self._caches = None

    def named_parameters(self) -> dict:
        return {"W_xh": self.W_xh, "W_hh": self.W_hh, "b_h": self.b_h}

    def forward(self, inputs, state=None):
        """inputs (T, B, I); state None (zeros), H (B, H) or the book's (H,) -> ([H_1 .. H_T], H_T)."""
        W_xh, W_hh, b_h, inputs = floats(self.W_xh, self.W_hh, self.b_h, inputs)
        if inputs.ndim != 3 or inputs.shape[2] != self.num_inputs:
            raise ValueError(f"expected inputs of shape (T, B, {self.num_inputs}), got {inputs.shape}")
        if state is None:
            state = np.zeros((inputs.shape[1], self.num_hiddens), inputs.dtype)  # (B, H)
        elif isinstance(state, (tuple, list)):
            (state,) = state  # the book passes the state as (H,)
        state = np.broadcast_to(floats(state, inputs)[0], (inputs.shape[1], self.num_hiddens)).astype(inputs.dtype)
        params = {"weight_ih": W_xh.T, "weight_hh": W_hh.T, "bias_ih": b_h, "bias_hh": np.zeros_like(b_h)}
        outputs, self._caches = [], []
        for X in inputs:  # X (B, I)
            state, cache = rnn_step_forward(X, state, params)  # (B, H)
            outputs.append(state)
            self._caches.append(cache)
        return outputs, state

    def backward(self, d_outputs, d_state=None):
        """d_outputs: dL/dH_t for t = 1..T ((T, B, H) or a list); d_state: dL/dH_T besides, or None.
        Returns (d_inputs (T, B, I), dL/dH_0 (B, H)); adds the parameter gradients to ``grads``."""
        if self._caches is None:
            raise ValueError("expected a forward() before backward(), got none")
        d_outputs = np.asarray(d_outputs, self._caches[0].x.dtype)
        dh = np.zeros_like(self._caches[0].h_prev) if d_state is None else np.asarray(d_state, d_outputs.dtype)
        d_inputs, total = [], {}
        for t in reversed(range(len(self._caches))):
            dx, dh, g = rnn_step_backward(dh + d_outputs[t], self._caches[t])  # into H_{t-1}
            d_inputs.append(dx)
            for k, v in g.items():
                total[k] = total.get(k, 0) + v
        self._accumulate({"W_xh": total["weight_ih"].T, "W_hh": total["weight_hh"].T, "b_h": total["bias_ih"]})
        return np.stack(d_inputs[::-1]), dh


class StackedRNNScratch(_Module):
    """num_layers RNNScratch layers: forward(inputs, Hs=None) -> (outputs (T, B, H), Hs, one state per layer)."""

    def __init__(self, num_inputs: int, num_hiddens: int, num_layers: int, sigma: float = 0.01, seed=None):
        rng = np.random.default_rng(seed)
        self.num_inputs, self.num_hiddens, self.num_layers, self.sigma = num_inputs, num_hiddens, num_layers, sigma
        self.rnns = [RNNScratch(num_inputs if i == 0 else num_hiddens, num_hiddens, sigma, seed=rng.integers(2**32))
                     for i in range(num_layers)]
        self.zero_grad()

    def named_parameters(self) -> dict:
        return {f"rnns.{i}.{k}": v for i, rnn in enumerate(self.rnns) for k, v in rnn.named_parameters().items()}

    def forward(self, inputs, Hs=None):
        outputs = inputs
        Hs = [None] * self.num_layers if Hs is None else list(Hs)
        for i in range(self.num_layers):
            outputs, Hs[i] = self.rnns[i](outputs, Hs[i])
            outputs = np.stack(outputs, 0)  # (T, B, H)
        return outputs, Hs

    def backward(self, d_outputs, d_Hs=None):
        """Returns (d_inputs (T, B, I), [dL/dH_0 of each layer])."""
        d_Hs = [None] * self.num_layers if d_Hs is None else list(d_Hs)
        d_inp, d_H0 = np.asarray(d_outputs), [None] * self.num_layers
        for i in reversed(range(self.num_layers)):
            d_inp, d_H0[i] = self.rnns[i].backward(d_inp, d_Hs[i])  # into the outputs of layer i - 1
        self.grads = {}
        self._accumulate(self.named_gradients())
        return d_inp, d_H0

    def named_gradients(self) -> dict:
        return {f"rnns.{i}.{k}": v for i, rnn in enumerate(self.rnns) for k, v in rnn.grads.items()}


class RNNLMScratch(_Module):
    """A language model over ``rnn`` (RNNScratch or StackedRNNScratch) with a linear output layer."""

    def __init__(self, rnn, vocab_size: int, lr: float = 0.01, seed=None):
        rng = np.random.default_rng(seed)
        self.rnn, self.vocab_size, self.lr = rnn, int(vocab_size), lr
        self.W_hq = rng.standard_normal((rnn.num_hiddens, self.vocab_size)) * rnn.sigma  # (H, V)
        self.b_q = np.zeros(self.vocab_size)  # (V,)
        self.zero_grad()

    def named_parameters(self) -> dict:
        own = {"W_hq": self.W_hq, "b_q": self.b_q}
        return {**own, **{f"rnn.{k}": v for k, v in self.rnn.named_parameters().items()}}

    def one_hot(self, X):
        """X (B, T) of ids -> (T, B, V) floats."""
        X = np.asarray(X)
        return np.eye(self.vocab_size)[X.T]

    def output_layer(self, rnn_outputs):
        """[H_t (B, H)] -> (B, T, V): O_t = H_t W_hq + b_q."""
        self._rnn_outputs = np.stack([np.asarray(H) for H in rnn_outputs])  # (T, B, H)
        return np.stack([H @ self.W_hq + self.b_q for H in self._rnn_outputs], 1)

    def forward(self, X, state=None):
        rnn_outputs, _ = self.rnn(self.one_hot(X), state)
        return self.output_layer(rnn_outputs)

    def backward(self, d_logits):
        """d_logits (B, T, V) = dL/d(forward's output); adds every parameter's gradient to ``grads``."""
        d = np.asarray(d_logits).transpose(1, 0, 2)  # (T, B, V)
        H = self._rnn_outputs  # (T, B, H)
        self._accumulate({"W_hq": np.einsum("tbh,tbv->hv", H, d), "b_q": d.sum(axis=(0, 1))})  # into W_hq, b_q
        before = {k: np.copy(v) for k, v in self.rnn.grads.items()}
        self.rnn.backward(d @ self.W_hq.T)  # into the rnn's outputs
        self._accumulate({f"rnn.{k}": v - before.get(k, 0) for k, v in self.rnn.grads.items()})

    def predict(self, prefix, num_preds: int, vocab) -> str:
        """The prefix, then num_preds tokens, each the argmax of the next-token logits (the book's loop)."""
        state, outputs = None, [vocab[prefix[0]]]
        for i in range(len(prefix) + num_preds - 1):
            rnn_outputs, state = self.rnn(self.one_hot([[outputs[-1]]]), state)
            if i < len(prefix) - 1:  # warm-up: the next prefix token
                outputs.append(vocab[prefix[i + 1]])
            else:
                outputs.append(int(self.output_layer(rnn_outputs).argmax(axis=2).reshape(1)[0]))
        return "".join(vocab.idx_to_token[i] for i in outputs)
