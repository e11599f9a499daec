"""Deep (stacked, optionally bidirectional) RNN, GRU and LSTM layers with PyTorch's interface.

    out, h_n = rnn(x, h0)                  out, (h_n, c_n) = lstm(x, (h0, c0))
    dx, dh0 = rnn.backward(d_out, dh_n)    dx, (dh0, dc0) = lstm.backward(d_out, (dh_n, dc_n))

Layer l reads the output of layer l-1 (after dropout, in training mode only, for l >= 1). A
bidirectional layer runs a second recurrence over the reversed sequence (each sequence reversed within
its own length) and concatenates both outputs: (T, B, D·P). States are indexed layer * D + direction.

Two options beyond torch.nn, for deep stacks (the same in torch_engine/stack.py):

* ``layer_norm=True``: LayerNorm cells (ln_elman.py, ln_gru.py, ln_lstm.py), with extra parameters
  named in layout.py (``ln_ih_weight_l0`` ...).
* ``residual=True``: from the second layer on, a layer's output is its recurrence's output plus the
  layer below's output, y_l = layer_l(drop(y_{l-1})) + y_{l-1} for l >= 1, y_l (T, B, D·P). Layer l >= 1
  reads D·P features and writes D·P (bidirectional and proj_size included), so the skip is the identity
  and has no parameters. Dropout (``dropout``) still drops what each layer reads, with the same masks
  in the same places as without the skips; the skip itself carries y_{l-1} undropped, so the path from
  the bottom layer to the top is never multiplied by L - 1 dropout masks. The recurrent states h, c
  (and h_n, c_n) are the cells' own: the skips add to the outputs passed up only.

Beyond torch.nn's arguments: ``dtype``; ``seed`` (an int, or a numpy Generator that initialisation and
dropout draw from); ``state_dict``, initial parameters instead of U(-1/√H, 1/√H) draws; and
``forward(..., weights={name: array})``, which runs one forward (and its backward) with some parameters
replaced, e.g. DropConnect's W_hh ⊙ M, while the gradients still go to ``grads`` under the same names.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_array, check_choice, check_lengths, describe
from ..layout import INPUT_GATED, NONLINEARITIES, check_stack_args, layer_suffix, param_names, param_shapes
from .elman import RNN_RELU_KERNEL, RNN_TANH_KERNEL
from .gru import GRU_KERNEL
from .ln_elman import LN_RNN_RELU_KERNEL, LN_RNN_TANH_KERNEL
from .ln_gru import LN_GRU_KERNEL
from .ln_lstm import LN_LSTM_KERNEL
from .lstm import LSTM_KERNEL
from .module import Module, dropout_mask, is_grad_enabled
from .recurrence import recurrence_backward, recurrence_forward
from .weights import Weights, cell_grads


class RNNBase(Module):
    """Shared by RNN, GRU and LSTM: parameters, the layer and direction loops, dropout, checks."""

    def __init__(self, kernel, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, dtype=np.float32, seed=None, state_dict=None,
                 layer_norm=False, residual=False):
        spec = check_stack_args(input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                                proj_size, layer_norm, residual)
        super().__init__(hidden_size, dtype, seed)
        self.kernel, self.spec = kernel, spec
        self.input_size, self.num_layers, self.bias = spec.input_size, spec.num_layers, spec.bias
        self.batch_first, self.dropout, self.bidirectional = spec.batch_first, spec.dropout, spec.bidirectional
        self.proj_size, self.num_directions, self.output_size = spec.proj_size, spec.num_directions, spec.output_size
        self.recurrent = kernel.name not in INPUT_GATED  # False: minGRU/minLSTM, no weight_hh or bias_hh
        self.layer_norm, self.residual = spec.layer_norm, spec.residual
        self._init_params(param_shapes(spec, kernel.gate_mult, self.recurrent), state_dict)
        self._cache = None

    def _weights(self, layer: int, direction: int, replaced: dict) -> Weights:
        names = param_names(self.spec, layer, direction, self.kernel.gate_mult, self.recurrent)
        sfx = layer_suffix(layer, direction)
        return Weights.from_cell_params({n[: -len(sfx)]: replaced.get(n, self.params[n]) for n in names})

    def _grad_names(self, layer: int, direction: int, g: Weights) -> dict:
        return {n + layer_suffix(layer, direction): a for n, a in cell_grads(g).items()}

    def _layer_forward(self, x, state0, w: Weights, mask):
        """One direction of one layer (recurrence.py's time loop; minrnn.py's cells replace it by a scan)."""
        return recurrence_forward(self.kernel, x, state0, w, mask)

    def _layer_backward(self, d_out, dfinal, cache, record=None):
        return recurrence_backward(d_out, dfinal, cache, record)

    # ---- shapes in and out ----------------------------------------------------------------------

    def _state_shapes(self, batch):
        """Expected state shapes: h (L·D, B, P) and, for LSTM, c (L·D, B, H)."""
        n = self.num_layers * self.num_directions
        sizes = (self.output_size, self.hidden_size)[: self.kernel.n_states]
        return [(n, batch, s) if batch is not None else (n, s) for s in sizes]

    def _check_state(self, name, hx, batch, unbatched):
        """hx: None (zeros), an array (RNN/GRU) or a tuple (h, c) (LSTM) -> tuple of (L·D, B, ·) arrays."""
        shapes = self._state_shapes(None if unbatched else batch)
        if hx is None:
            return tuple(np.zeros((s[0], batch, s[-1]), self.dtype) for s in shapes)
        if self.kernel.n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected {name} to be a tuple (h, c) for LSTM, got {describe(hx)}")
            letters = ("h", "c")
        else:
            hx, letters = (hx,), ("h",)
        out = []
        for a, s, letter in zip(hx, shapes, letters):
            check_array(f"{name}[{letter}]" if len(letters) > 1 else name, a, self.dtype, s)
            out.append(a[:, None, :] if unbatched else a)
        return tuple(out)

    def _pack_state(self, states, unbatched):
        """Tuple of (L·D, B, ·) arrays -> what the user sees, without the batch axis if unbatched."""
        if unbatched:
            states = tuple(s[:, 0] for s in states)
        return states if self.kernel.n_states == 2 else states[0]

    # ---- forward and backward ---------------------------------------------------------------------

    def __call__(self, x, hx=None, lengths=None, weights=None, record=None):
        return self.forward(x, hx, lengths, weights, record)

    def forward(self, x, hx=None, lengths=None, weights=None, record=None):
        """x (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched.
        hx: h0 (L·D, B, P), or (h0, c0) for LSTM; None means zeros.
        lengths: optional (B,) valid length of each sequence (the rest is padding).
        weights: optional {name: array} used instead of those parameters in this forward and its
        backward, which still accumulates into ``grads[name]`` (the gradient with respect to the array).
        record: optional callable record(layer, direction, out), called once per layer and direction with
        that recurrence's h_t of every step, out (T, B, P) (before dropout and the residual skip), in the
        input's time order; the time axis first (as backward's ``record``).
        Returns (output (T, B, D·P), h_n) or, for LSTM, (output, (h_n, c_n))."""
        I = self.input_size
        check_array("x", x, self.dtype, ("B", "T", I) if self.batch_first else ("T", "B", I), ("T", I))
        replaced = self._check_weights(weights)
        unbatched = x.ndim == 2
        if unbatched:
            x = x[:, None, :]  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(1, 0, 2)  # (T, B, I)
        T, B, _ = x.shape
        state0 = self._check_state("hx", hx, B, unbatched)
        mask = rev = None
        if lengths is not None:
            if unbatched:
                raise ValueError("expected lengths only with batched input (T, B, I), got unbatched (T, I)")
            lens = check_lengths(lengths, B, T)
            t = np.arange(T)[:, None]  # (T, 1)
            mask = (t < lens[None, :])[..., None]  # (T, B, 1) True where valid
            rev = np.where(t < lens, lens - 1 - t, t)  # (T, B) time index of each reversed position
        seen = record or _ignore
        inp, below = np.ascontiguousarray(x), None  # (T, B, I); the undropped output of the layer below
        layers, finals = [], []
        for layer in range(self.num_layers):
            outs, caches = [], []
            for d in range(self.num_directions):
                s0 = tuple(s[layer * self.num_directions + d] for s in state0)
                xin = inp if d == 0 else _reverse(inp, rev)
                out, fin, cache = self._layer_forward(xin, s0, self._weights(layer, d, replaced), mask)
                outs.append(out if d == 0 else _reverse(out, rev))
                seen(layer, d, outs[-1])
                caches.append(cache)
                finals.append(fin)
            out = outs[0] if len(outs) == 1 else np.concatenate(outs, axis=-1)  # (T, B, D·P)
            out = below = out + below if self.residual and layer > 0 else out  # the skip: y_l = ... + y_{l-1}
            drop = None
            if self.training and self.dropout > 0 and layer < self.num_layers - 1:
                drop = dropout_mask(self.rng, out.shape, self.dropout, self.dtype)  # (T, B, D·P) inverted dropout
                out = out * drop
            layers.append((caches, drop))
            inp = out
        final = tuple(np.stack([f[k] for f in finals]) for k in range(self.kernel.n_states))  # (L·D, B, ·)
        self._cache = (layers, rev, x.shape, unbatched) if is_grad_enabled() else None
        if unbatched:
            inp = inp[:, 0]  # (T, D·P)
        elif self.batch_first:
            inp = inp.transpose(1, 0, 2)  # (B, T, D·P)
        return inp, self._pack_state(final, unbatched)

    def _check_weights(self, weights) -> dict:
        """The replacement parameters of one forward: known names, each of its parameter's shape and dtype."""
        if weights is None:
            return {}
        if not isinstance(weights, dict):
            raise TypeError(f"expected weights to be a dict {{name: array}}, got {type(weights).__name__}")
        unknown = [k for k in weights if k not in self.params]
        if unknown:
            raise ValueError(f"expected weights named among {list(self.params)}, got {unknown}")
        for k, w in weights.items():
            check_array(k, w, self.dtype, self.params[k].shape)
        return weights

    def backward(self, d_out, dhx=None, record=None):
        """BPTT through the last forward. d_out has the output's shape; dhx (optional) the final
        state's. Accumulates into self.grads; returns (dx, dh0) or, for LSTM, (dx, (dh0, dc0)).
        ``record``: optional callable record(layer, direction, dh), called once per layer and direction
        with dh (T, B, P), the total gradient dL/dh_t reaching that recurrence's h_t at every step (from
        above plus from step t+1; recurrence.py), in the input's time order; the time axis first."""
        if self._cache is None:
            raise ValueError("expected a forward() (with gradients enabled) before backward(), got none "
                             "since the last backward()")
        layers, rev, (T, B, _), unbatched = self._cache
        D, P = self.num_directions, self.output_size
        shape = (T, D * P) if unbatched else ((B, T, D * P) if self.batch_first else (T, B, D * P))
        check_array("d_out", d_out, self.dtype, shape)
        dfinal = self._check_state("dhx", dhx, B, unbatched)
        if unbatched:
            d_out = d_out[:, None, :]
        elif self.batch_first:
            d_out = d_out.transpose(1, 0, 2)  # (T, B, D·P)
        self._cache = None
        d_inp, skip = d_out, None
        dstate0 = [[None] * (self.num_layers * D) for _ in range(self.kernel.n_states)]
        for layer in reversed(range(self.num_layers)):
            caches, drop = layers[layer]
            d_inp = _output_grad(d_inp, drop, skip)  # into the undropped output of this layer
            dx = None
            for d in range(D):
                i = layer * D + d
                d_o = d_inp[..., d * P:(d + 1) * P]  # (T, B, P)
                d_o = d_o if d == 0 else _reverse(d_o, rev)
                keep = None if record is None else _recorder(record, layer, d, rev)
                dxd, ds0, g = self._layer_backward(d_o, tuple(s[i] for s in dfinal), caches[d], keep)
                dxd = dxd if d == 0 else _reverse(dxd, rev)
                dx = dxd if dx is None else dx + dxd
                for k, s in enumerate(ds0):
                    dstate0[k][i] = s
                self._accumulate(self._grad_names(layer, d, g))
            skip = d_inp if self.residual and layer > 0 else None  # y_l = ... + y_{l-1}: straight into y_{l-1}
            d_inp = dx  # (T, B, ·) into the input of this layer
        dstate0 = tuple(np.stack(s) for s in dstate0)  # (L·D, B, ·)
        if unbatched:
            d_inp = d_inp[:, 0]
        elif self.batch_first:
            d_inp = d_inp.transpose(1, 0, 2)
        return d_inp, self._pack_state(dstate0, unbatched)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                        layer_norm=False, residual=False)
        for k, v in defaults.items():
            if getattr(self, k) != v:
                s += f", {k}={getattr(self, k)}"
        return s

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"


def _output_grad(d_read, drop, skip):
    """dL/dy_l, the gradient of a layer's (undropped) output: from what the layer above read, through the
    dropout mask ``drop``, plus with residual ``skip``, the gradient of the layer above's output (None:
    no dropout, no skip)."""
    d = d_read if drop is None else d_read * drop
    return d if skip is None else d + skip


def _ignore(*args) -> None:
    """No record hook."""


def _recorder(record, layer: int, direction: int, rev):
    """What the time loop of one layer and direction calls with its dL/dh (T, B, P): ``record``, given a
    copy in the input's time order."""
    def keep(dh):
        record(layer, direction, dh.copy() if direction == 0 else _reverse(dh, rev))
    return keep


def _reverse(a, rev):
    """Reverse time, each sequence within its own length (rev from forward) or the whole axis."""
    if rev is None:
        return np.ascontiguousarray(a[::-1])
    return a[rev, np.arange(a.shape[1])]


class RNN(RNNBase):
    """Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), φ = tanh or relu.
    Arguments and defaults follow torch.nn.RNN (plus dtype, seed and state_dict: see the module docstring)."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, state_dict=None,
                 layer_norm=False, residual=False):
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        kernels = (LN_RNN_TANH_KERNEL, LN_RNN_RELU_KERNEL) if layer_norm else (RNN_TANH_KERNEL, RNN_RELU_KERNEL)
        super().__init__(kernels[nonlinearity == "relu"], input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, 0, dtype, seed, state_dict, layer_norm, residual)

    def extra_repr(self) -> str:
        s = super().extra_repr()
        return s + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class GRU(RNNBase):
    """GRU with PyTorch's gate order r, z, n (equations in gru.py). Arguments follow torch.nn.GRU."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32, seed=None, state_dict=None, layer_norm=False, residual=False):
        super().__init__(LN_GRU_KERNEL if layer_norm else GRU_KERNEL, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, dtype, seed, state_dict, layer_norm, residual)


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order i, f, g, o and optional proj_size (equations in lstm.py).
    Arguments follow torch.nn.LSTM."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, dtype=np.float32, seed=None, state_dict=None, layer_norm=False,
                 residual=False):
        super().__init__(LN_LSTM_KERNEL if layer_norm else LSTM_KERNEL, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size, dtype, seed, state_dict, layer_norm, residual)
