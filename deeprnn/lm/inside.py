"""Inside a language model: every layer's state at every token, from any engine's weights.

The engines keep only what training needs: a fused torch kernel returns the last layer's output and
the final states, nothing in between. This module reruns the model from its config and canonical
parameters (``engine.state_dict()``: ``embedding.weight``, ``rnn.weight_ih_l0``, ..., ``head.weight``,
``head.bias``) one layer at a time with the NumPy engine's pure step functions, in float64, and keeps
what each layer computed:

    e_t      = E[x_t]  or one-hot(x_t)                           (T, E|V)
    h^l_t    = cell(h^{l-1}_t, state^l_{t-1})   h^0_t = e_t      (T, H) for each layer l = 0..L-1
    z_t      = h^{L-1}_t W_outᵀ + b_out                          (T, V) logits of the token after x_t

with the state of every layer starting at zero, as ``engine.initial_state`` does. Evaluation mode:
no dropout. ``Activations.h[l][t]`` is layer l's hidden state after reading token t (and ``c`` the
LSTM cell state), the values the classic char-RNN visualisations colour text by.

    from deeprnn.lm.inside import activations
    acts = activations(run.cfg.model, run.engine.state_dict(), run.vocab.encode("the time"))
    acts.h.shape            # (L, T, H)
    acts.state("c", 1)      # (T, H): layer 1's cell state (LSTM only)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..numpy_engine import gru_step_forward, lstm_step_forward, rnn_step_forward
from .config import ModelConfig

STATE_NAMES = {"rnn": ("h",), "gru": ("h",), "lstm": ("h", "c")}  # what each cell carries


@dataclass
class Activations:
    h: np.ndarray  # (L, T, H) float64: every layer's hidden state after each token
    c: np.ndarray | None  # (L, T, H) float64: the LSTM cell state; None for RNN and GRU
    logits: np.ndarray  # (T, V) float64: the prediction of the next token after each token

    @property
    def num_layers(self) -> int:
        return self.h.shape[0]

    @property
    def states(self) -> tuple[str, ...]:
        """The state names this model has: ("h",) or ("h", "c")."""
        return ("h",) if self.c is None else ("h", "c")

    def state(self, name: str, layer: int) -> np.ndarray:
        """(T, H): ``name`` ("h" or "c") of ``layer`` (0 = the layer next to the input)."""
        if name not in self.states:
            raise ValueError(f"expected state in {self.states} for this model, got {name!r}")
        L = self.num_layers
        if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < L:
            raise ValueError(f"expected layer in [0, {L - 1}] for a model of {L} layers, got {layer!r}")
        return (self.h if name == "h" else self.c)[layer]


def layer_params(params: dict[str, np.ndarray], layer: int) -> dict[str, np.ndarray]:
    """Layer ``layer``'s weights under torch.nn.*Cell names (weight_ih, weight_hh, bias_ih, bias_hh), float64."""
    sfx = f"_l{layer}"
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    return {n: np.asarray(params[f"rnn.{n}{sfx}"], np.float64) for n in names if f"rnn.{n}{sfx}" in params}


def embed(model: ModelConfig, params: dict[str, np.ndarray], ids: np.ndarray) -> np.ndarray:
    """The recurrent stack's input for token ids (T,): embedding rows (T, E) or one-hot rows (T, V)."""
    V = params["head.bias"].shape[0]
    if model.embedding_dim:
        return np.asarray(params["embedding.weight"], np.float64)[ids]  # (T, E)
    return np.eye(V)[ids]  # (T, V)


def activations(model: ModelConfig, params: dict[str, np.ndarray], ids) -> Activations:
    """Run the model over token ids (T,) from a zero state and keep every layer's states (float64).

    ``params`` are canonical parameters (any dtype; an engine's ``state_dict()``)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.size == 0 or ids.dtype.kind not in "iu":
        raise ValueError(f"expected token ids of shape (T,) with T >= 1, got {ids.dtype} of shape {ids.shape}")
    V = params["head.bias"].shape[0]
    if ids.min() < 0 or ids.max() >= V:
        raise ValueError(f"expected token ids in [0, {V}), got values from {ids.min()} to {ids.max()}")
    T, H, L = ids.size, model.hidden_size, model.num_layers
    hs = np.empty((L, T, H))  # (L, T, H)
    cs = np.empty((L, T, H)) if model.cell == "lstm" else None  # (L, T, H)
    x = embed(model, params, ids)  # (T, I) the first layer's input
    for layer in range(L):
        p = layer_params(params, layer)
        h = np.zeros((1, H))  # (B=1, H)
        c = np.zeros((1, H))
        for t in range(T):
            xt = x[t:t + 1]  # (1, I)
            if model.cell == "lstm":
                h, c, _ = lstm_step_forward(xt, h, c, p)
                cs[layer, t] = c[0]
            elif model.cell == "gru":
                h, _ = gru_step_forward(xt, h, p)
            else:
                h, _ = rnn_step_forward(xt, h, p, model.nonlinearity)
            hs[layer, t] = h[0]
        x = hs[layer]  # (T, H) the next layer's input
    W, b = np.asarray(params["head.weight"], np.float64), np.asarray(params["head.bias"], np.float64)
    logits = hs[-1] @ W.T + b  # (T, V)
    return Activations(hs, cs, logits)
