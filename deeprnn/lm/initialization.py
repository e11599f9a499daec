"""Initialisation schemes of the language model (``model.init``), drawn once in float64 for every engine.

engines/base.py ``init_params`` calls ``draw`` with the canonical shapes and one seeded generator, so the
NumPy and the PyTorch engine start from the same weights. H is the hidden size, I_k layer k's input
size (E or V, then H), P the size of h; a recurrent weight of G = m·H rows holds m gate blocks of H rows
each, in torch's order (LSTM: i, f, g, o; GRU: r, z, n; minLSTM: f, i, h̃; minGRU: z, h̃).

    scheme       embedding  W_ih (G, I_k)             W_hh (G, P)                biases    head.weight (V, H)
    "torch"      N(0, 1)    U(±1/√H)                  U(±1/√H)                   U(±1/√H)  U(±1/√H), bias too
    "normal"     N(0, σ²)   N(0, σ²)                  N(0, σ²)                   0         N(0, σ²), bias 0
    "xavier"     N(0, 1)    per block U(±√(6/(I+H)))  per block U(±√(6/(P+H)))  0         U(±√(6/(H+V))), bias 0
    "orthogonal" N(0, 1)    as "xavier"               H×P blocks orthogonal      0         as "xavier"

* "torch" is PyTorch's default (nn.Embedding, nn.LSTM, nn.Linear with fan-in H); minGRU and minLSTM,
  whose layers are nn.Linear maps of x_t, take nn.Linear's fan-in I_k for W_ih and b_ih instead.
* "normal" is the d2l book's scratch code (``RNNScratch``, ``GRUScratch``, ``RNNLMScratch``: every
  weight ``randn(...) * sigma``, every bias ``zeros``, the output layer too), σ = ``model.init_std``;
  the book feeds one-hot vectors (no embedding), so the embedding, when there is one, is N(0, σ²) as
  every other weight here.
* "xavier" is Glorot and Bengio's uniform rule with fan_out = H, one gate's rows, not G: each gate
  block is a layer of its own. The LSTM projection W_hr (P, H), when there is one, is one block.
* "orthogonal" (Saxe et al. 2014): every H×P block Q of W_hh has orthonormal columns, QᵀQ = I_P
  (P <= H always; P = H without a projection: Q is orthogonal), drawn as torch.nn.init.orthogonal_
  does: the Q of the QR decomposition of a N(0, 1) matrix, its columns signed by diag(R). The
  input-gated cells have no W_hh: for them it is "xavier".
* The embedding of "xavier" and "orthogonal" stays N(0, 1): a lookup table has no fan-in, and its
  rows are the unit-variance inputs that W_ih's Glorot bound assumes.
* LayerNorm gains and shifts (layout.constant_init) start at 1 and 0 under every scheme, without a draw.

``forget_bias`` (model.forget_bias, LSTM and minLSTM; 0 keeps the scheme's own): the forget block of
b_ih is set to it and that of b_hh to 0, so the gate starts at σ(forget_bias + ...) as with one bias.
"""

from __future__ import annotations

import math

import numpy as np

from ..layout import constant_init

SCHEMES = ("torch", "normal", "xavier", "orthogonal")
FORGET_BLOCK = {"lstm": 1, "minlstm": 0}  # the cells with a forget gate -> its gate block in W_ih, b_ih, b_hh


def draw(scheme: str, shapes: dict, hidden_size: int, rng: np.random.Generator, std: float) -> dict[str, np.ndarray]:
    """The initial value of every parameter in ``shapes`` {canonical name: shape} under a scheme other
    than "torch" (see the module docstring), drawn from ``rng`` in the order of ``shapes``. Float64."""
    out = {}
    for name, shape in shapes.items():
        value = constant_init(name)
        if value is not None:
            out[name] = np.full(shape, value)
        elif "bias" in name.rsplit(".", 1)[-1]:
            out[name] = np.zeros(shape)
        elif scheme == "normal":
            out[name] = rng.standard_normal(shape) * std
        elif name == "embedding.weight":
            out[name] = rng.standard_normal(shape)
        elif scheme == "orthogonal" and ".weight_hh" in name:
            out[name] = np.concatenate([orthogonal(rng, hidden_size, shape[1])
                                        for _ in range(shape[0] // hidden_size)])  # (G, P)
        else:
            rows = hidden_size if ".weight_i" in name or ".weight_hh" in name else shape[0]  # a gate block's
            bound = math.sqrt(6.0 / (rows + shape[1]))
            out[name] = rng.uniform(-bound, bound, size=shape)
    return out


def orthogonal(rng: np.random.Generator, rows: int, cols: int) -> np.ndarray:
    """A (rows, cols) matrix with orthonormal columns (rows >= cols) or rows (rows < cols), drawn as
    torch.nn.init.orthogonal_ does: Q of QR(N(0, 1)) with the signs of diag(R)."""
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))  # sign(0) = 0 has probability 0
    return q.T if rows < cols else q


def set_forget_bias(params: dict, cell: str, hidden_size: int, value: float) -> None:
    """Set the forget block of every layer's b_ih to ``value`` and of b_hh to 0, in place."""
    block = slice(FORGET_BLOCK[cell] * hidden_size, (FORGET_BLOCK[cell] + 1) * hidden_size)
    for name, array in params.items():
        base = name.rsplit(".", 1)[-1]
        if base.startswith(("bias_ih", "bias_hh")):
            array[block] = value if base.startswith("bias_ih") else 0.0

