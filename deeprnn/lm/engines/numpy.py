"""The language model on the NumPy engine: embedding (or one-hot) -> deep RNN -> linear head.

    e_t = E[x_t] ⊙ mask / (1 - p)   (T, B, E)   or one-hot (T, B, V) when embedding_dim = 0; input dropout
    h_t = RNN(e_t, state)           (T, B, H)   numpy_engine/stack.py (dropout between layers)
    ĥ_t = h_t ⊙ mask / (1 - p)      output dropout, training only
    (with weight_drop q, training uses W_hh ⊙ M / (1 - q) in every layer, M ~ Bernoulli(1 - q) per batch,
    through the stack's ``weights=`` hook; dL/dW_hh = dL/d(W_hh ⊙ M') ⊙ M' with M' = M / (1 - q))
    z_t = ĥ_t W_outᵀ + b_out        (T, B, V)   logits
    L   = mean_t,b  -log softmax(z_t)[y_t]
"""

from __future__ import annotations

import numpy as np

from ... import numpy_engine
from ...checks import check_state_dict
from ...numpy_engine.module import dropout_mask, no_grad
from ...numpy_engine.optim import make_optimizer
from ..divergence import max_abs
from .base import RNN_PREFIX, LMEngine, build_rnn, param_shapes, rnn_params


def log_softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise log softmax of z (N, V), stable for large logits."""
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def cross_entropy(z: np.ndarray, y: np.ndarray):
    """Mean negative log-likelihood of targets y (N,) under logits z (N, V), and dL/dz (N, V)."""
    N = y.shape[0]
    logp = log_softmax(z)  # (N, V)
    loss = -logp[np.arange(N), y].mean()
    dz = np.exp(logp)  # softmax
    dz[np.arange(N), y] -= 1.0
    dz /= N  # into z: (softmax - onehot(y)) / N
    return float(loss), dz


class NumpyLM(LMEngine):
    name = "numpy"

    def __init__(self, model, train, vocab_size: int, params: dict):
        """``params``: the initial parameters under canonical names (every key and shape checked)."""
        self.cfg, self.V = model, vocab_size
        self.dtype = np.dtype(train.dtype)
        self.rng = np.random.default_rng([train.seed, 0xD0])  # dropout (all kinds)
        shapes = param_shapes(model, vocab_size)
        initial = check_state_dict(params, shapes, "parameters")
        self.rnn = build_rnn(numpy_engine, model, model.embedding_dim or vocab_size, dropout=model.dropout,
                             dtype=self.dtype, seed=self.rng, state_dict=rnn_params(initial))
        # Every array lives once: self.params shares the stack's arrays, so updates reach it.
        # embedding.weight (V, E), rnn.* (the stack's), head.weight (V, H), head.bias (V,)
        self.params = {k: self.rnn.params[k[len(RNN_PREFIX):]] if k.startswith(RNN_PREFIX)
                       else initial[k].astype(self.dtype) for k in shapes}
        self.grads = {k: (self.rnn.grads[k[len(RNN_PREFIX):]] if k.startswith(RNN_PREFIX) else np.zeros_like(v))
                      for k, v in self.params.items()}
        self.opt = make_optimizer(train.optimizer, self.params, self.grads, train.momentum, train.betas, train.eps,
                                  train.weight_decay)

    # -- parameters ------------------------------------------------------------------------------
    def state_dict(self):
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, sd):
        arrays = check_state_dict(sd, {k: v.shape for k, v in self.params.items()}, "parameters")
        for k, a in arrays.items():  # the rnn.* arrays are the stack's own
            np.copyto(self.params[k], a, casting="unsafe")

    def max_abs_weight(self):
        return max_abs(self.params.values())  # no copies

    # -- forward pieces ----------------------------------------------------------------------------
    def _embed(self, x):
        if self.cfg.embedding_dim:
            return self.params["embedding.weight"][x]  # (T, B, E)
        return np.eye(self.V, dtype=self.dtype)[x]  # (T, B, V) one-hot

    def _dropout(self, a, p: float, training: bool):
        """Inverted dropout: (a ⊙ mask, mask) with mask ∈ {0, 1/(1-p)} in training, else (a, None)."""
        if not training or p == 0:
            return a, None
        mask = dropout_mask(self.rng, a.shape, p, self.dtype)
        return a * mask, mask

    def _head(self, x, state, training: bool, weights=None):
        """Shared forward: (logits (T·B, V), rnn output (T·B, H), dropout masks (input, output), final state).
        ``weights`` replace some of the stack's parameters in this forward (DropConnect)."""
        e, in_mask = self._dropout(self._embed(x), self.cfg.input_dropout, training)  # (T, B, E|V)
        self.rnn.train(training)
        out, final = self.rnn(e, state, weights=weights)  # (T, B, H)
        T, B, H = out.shape
        out, out_mask = self._dropout(out.reshape(T * B, H), self.cfg.output_dropout, training)  # (T·B, H)
        z = out @ self.params["head.weight"].T + self.params["head.bias"]  # (T·B, V)
        return z, out, (in_mask, out_mask), final

    # -- training ----------------------------------------------------------------------------------
    def initial_state(self, batch):
        L, H = self.cfg.num_layers, self.cfg.hidden_size
        h = np.zeros((L, batch, H), self.dtype)
        return (h, h.copy()) if self.cfg.cell == "lstm" else h

    def forward_backward(self, x, y, state):
        T, B = x.shape
        masks = self._weight_drop_masks()
        dropped = {name: self.rnn.params[name] * m for name, m in masks.items()}  # W_hh ⊙ M'
        z, out, (in_mask, out_mask), final = self._head(x, state, training=True, weights=dropped)
        loss, dz = cross_entropy(z, y.reshape(-1))  # dz (T·B, V)
        for g in self.grads.values():
            g.fill(0)
        self.grads["head.weight"][...] = dz.T @ out  # (V, H) into W_out
        self.grads["head.bias"][...] = dz.sum(axis=0)  # (V,) into b_out
        dout = dz @ self.params["head.weight"]  # (T·B, H) into the RNN output
        if out_mask is not None:
            dout *= out_mask
        demb, _ = self.rnn.backward(dout.reshape(T, B, -1).astype(self.dtype, copy=False))  # BPTT
        for name, m in masks.items():
            self.rnn.grads[name] *= m  # into W_hh through W_hh ⊙ M'
        if in_mask is not None:
            demb *= in_mask  # into the undropped embedding
        if self.cfg.embedding_dim:
            np.add.at(self.grads["embedding.weight"], x.reshape(-1), demb.reshape(T * B, -1))  # into E rows
        return loss, final

    def _weight_drop_masks(self) -> dict:
        """DropConnect on every W_hh (AWD-LSTM's weight drop): {name: M' = M / (1 - p)}, one mask per
        batch, drawn in the stack's parameter order; empty when weight_drop is 0."""
        p = self.cfg.weight_drop
        if p == 0:
            return {}
        return {name: dropout_mask(self.rng, w.shape, p, self.dtype)  # (G, H)
                for name, w in self.rnn.params.items() if name.startswith("weight_hh")}

    def gradients(self):
        return {k: g.copy() for k, g in self.grads.items()}

    def grad_norm(self):
        return float(np.sqrt(sum(float(np.vdot(g, g)) for g in self.grads.values())))

    def scale_grads(self, factor):
        for g in self.grads.values():
            g *= factor

    def clamp_grads(self, limit):
        for g in self.grads.values():
            np.clip(g, -limit, limit, out=g)

    def optimizer_step(self, lr):
        self.opt.step(lr)

    def optimizer_state_dict(self):
        return self.opt.state_dict()

    def load_optimizer_state_dict(self, sd):
        self.opt.load_state_dict(sd)

    def rng_state(self):
        return self.rng.bit_generator.state

    def set_rng_state(self, state):
        if isinstance(state, dict) and state.get("bit_generator") == type(self.rng.bit_generator).__name__:
            self.rng.bit_generator.state = state
        else:  # a checkpoint from another engine: its dropout RNG does not carry over
            self.rng.bit_generator.state = np.random.default_rng([self.opt.t, 0xD0]).bit_generator.state

    # -- inference ---------------------------------------------------------------------------------
    def nll(self, x, y, state):
        with no_grad():
            z, _, _, final = self._head(x, state, training=False)
        logp = log_softmax(z.astype(np.float64))  # (T·B, V)
        nll = -logp[np.arange(y.size), y.reshape(-1)]
        return nll.reshape(y.shape), final

    def logits(self, x, state):
        with no_grad():
            z, _, _, final = self._head(x, state, training=False)
        return z.astype(np.float64).reshape(*x.shape, self.V), final

    def carry_to_numpy(self, state):
        if self.cfg.cell == "lstm":
            return {"h": np.asarray(state[0]), "c": np.asarray(state[1])}
        return {"h": np.asarray(state)}

    def carry_from_numpy(self, arrays):
        h = arrays["h"].astype(self.dtype)
        return (h, arrays["c"].astype(self.dtype)) if self.cfg.cell == "lstm" else h
