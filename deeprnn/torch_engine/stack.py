"""Deep (stacked, optionally bidirectional) RNN, GRU and LSTM as readable torch.nn.Modules.

    out, h_n = rnn(x, h0, lengths)          out, (h_n, c_n) = lstm(x, (h0, c0), lengths)

The same layers as ``deeprnn/numpy_engine/stack.py``, with autograd doing the backward pass. Layer l
reads the output of layer l-1 (after dropout, in training mode only, for l >= 1). A bidirectional
layer runs a second recurrence over the reversed sequence (each sequence reversed within its own
length) and concatenates both outputs: (T, B, D·P). States are indexed layer * D + direction.

Constructor arguments, parameter names, shapes and initialisation follow torch.nn.RNN/GRU/LSTM, so
``load_state_dict`` works both ways with torch.nn modules and with the NumPy engine's state_dicts
(as tensors). Instead of a PackedSequence, pass the padded batch and ``lengths``.

Beyond torch.nn, as in the NumPy engine (numpy_engine/stack.py says exactly what they do):
``layer_norm=True`` (LayerNorm cells, ln_*.py; extra parameters named in layout.py, gains from 1 and
shifts from 0) and ``residual=True`` (y_l = layer_l(drop(y_{l-1})) + y_{l-1} for l >= 1).
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_choice, check_lengths, check_shape, describe
from ..layout import INPUT_GATED, NONLINEARITIES, check_stack_args, constant_init, mode_name, param_shapes
from . import require_torch
from .recurrence import GATE_MULT, MODES, Weights, recurrence

torch = require_torch()
nn = torch.nn
F = torch.nn.functional


def check_tensor(name: str, x, dtype, shape: tuple, alt_shape: tuple | None = None):
    """A torch.Tensor of ``dtype`` whose shape matches ``shape`` (or ``alt_shape``); shapes mix ints
    (must match) with letters (B >= 0, the others >= 1), e.g. ('T', 'B', 28)."""
    if not isinstance(x, torch.Tensor):
        kind = type(x).__name__
        hint = " (pass the padded tensor and lengths= instead)" if kind == "PackedSequence" else ""
        raise TypeError(f"expected {name} to be a torch.Tensor, got {kind}{hint}")
    if x.dtype != dtype:
        raise TypeError(f"expected {name} of dtype {dtype} (the model's dtype), got {x.dtype}")
    check_shape(name, tuple(x.shape), shape, alt_shape)
    return x


def init_uniform(module: "nn.Module") -> None:
    """torch.nn's default initialisation of recurrent layers and cells: every parameter from U(-k, k)
    with k = 1/√H (H = module.hidden_size), drawn from torch's generator; LayerNorm gains and shifts
    (layout.constant_init) from 1 and 0. The mirror of ``numpy_engine.module.init_uniform``."""
    k = 1.0 / math.sqrt(module.hidden_size)
    for name, p in module.named_parameters():
        value = constant_init(name)
        if value is None:
            nn.init.uniform_(p, -k, k)
        else:
            nn.init.constant_(p, value)


class RNNBase(nn.Module):
    """Shared by RNN, GRU and LSTM: parameters, the layer and direction loops, dropout, checks."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, device=None, dtype=None, layer_norm=False,
                 residual=False):
        super().__init__()
        self.mode = check_choice("mode", mode, MODES)
        self.spec = spec = check_stack_args(input_size, hidden_size, num_layers, bias, batch_first, dropout,
                                            bidirectional, proj_size, layer_norm, residual)
        self.layer_norm, self.residual = spec.layer_norm, spec.residual
        self.input_size, self.hidden_size, self.num_layers = spec.input_size, spec.hidden_size, spec.num_layers
        self.bias, self.batch_first, self.dropout = spec.bias, spec.batch_first, spec.dropout
        self.bidirectional, self.proj_size, self.num_directions = spec.bidirectional, spec.proj_size, spec.num_directions
        self.n_states = 2 if mode == "LSTM" else 1  # (h,) or (h, c)
        recurrent = mode not in INPUT_GATED  # False: minGRU/minLSTM (minrnn.py), no weight_hh or bias_hh
        for name, shape in param_shapes(spec, GATE_MULT[mode], recurrent).items():  # torch's names and order
            self.register_parameter(name, nn.Parameter(torch.empty(shape, device=device, dtype=dtype)))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every parameter from U(-1/√H, 1/√H), as in torch.nn."""
        init_uniform(self)

    def _weights(self, layer: int, direction: int) -> Weights:
        sfx = _suffix(layer, direction)
        get = lambda name: getattr(self, name + sfx, None)  # noqa: E731
        return Weights(get("weight_ih"), get("weight_hh"), get("bias_ih"), get("bias_hh"), get("weight_hr"),
                       get("ln_ih_weight"), get("ln_hh_weight"), get("ln_c_weight"), get("ln_c_bias"))

    def _recurrence(self, x, state0, w: Weights, mask):
        """One direction of one layer (recurrence.py's time loop; minrnn.py's cells replace it by a scan)."""
        return recurrence(self.mode, x, state0, w, mask)

    def _initial_state(self, hx, x, unbatched: bool) -> tuple:
        """hx: None (zeros), h (RNN/GRU) or (h, c) (LSTM) -> tuple of (L·D, B, ·) tensors."""
        n, B = self.num_layers * self.num_directions, x.shape[1]
        sizes = (self.proj_size or self.hidden_size, self.hidden_size)[: self.n_states]  # P [, H]
        if hx is None:
            return tuple(x.new_zeros((n, B, s)) for s in sizes)
        if self.n_states == 2:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"expected hx to be a tuple (h, c) for LSTM, got {describe(hx)}")
            names = ("hx[h]", "hx[c]")
        else:
            hx, names = (hx,), ("hx",)
        out = []
        for a, s, name in zip(hx, sizes, names):
            check_tensor(name, a, x.dtype, (n, s) if unbatched else (n, B, s))
            out.append(a.unsqueeze(1) if unbatched else a)
        return tuple(out)

    def forward(self, x, hx=None, lengths=None):
        """x (T, B, I), or (B, T, I) with batch_first, or (T, I) unbatched.
        hx: h0 (L·D, B, P), or (h0, c0 (L·D, B, H)) for LSTM; None means zeros.
        lengths: optional (B,) valid length of each sequence (the rest is padding).
        Returns (output (T, B, D·P), h_n) or, for LSTM, (output, (h_n, c_n))."""
        I, dtype = self.input_size, self.weight_ih_l0.dtype
        check_tensor("x", x, dtype, ("B", "T", I) if self.batch_first else ("T", "B", I), ("T", I))
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(1)  # (T, 1, I)
        elif self.batch_first:
            x = x.transpose(0, 1)  # (T, B, I)
        T, B, _ = x.shape
        state0 = self._initial_state(hx, x, unbatched)
        mask = rev = None
        if lengths is not None:
            if unbatched:
                raise ValueError("expected lengths only with batched input (T, B, I), got unbatched (T, I)")
            lens = np.asarray(lengths.cpu() if isinstance(lengths, torch.Tensor) else lengths)
            lens = torch.as_tensor(check_lengths(lens, B, T), device=x.device)  # (B,)
            t = torch.arange(T, device=x.device)[:, None]  # (T, 1)
            mask = (t < lens)[..., None]  # (T, B, 1) True where valid
            rev = torch.where(t < lens, lens - 1 - t, t)  # (T, B) time index of each reversed position
        inp, finals, below = x, [], None  # below: the undropped output of the layer below
        for layer in range(self.num_layers):
            outs = []
            for d in range(self.num_directions):
                s0 = tuple(s[layer * self.num_directions + d] for s in state0)
                xin = inp if d == 0 else _reverse(inp, rev)
                out, final = self._recurrence(xin, s0, self._weights(layer, d), mask)
                outs.append(out if d == 0 else _reverse(out, rev))
                finals.append(final)
            inp = outs[0] if len(outs) == 1 else torch.cat(outs, dim=-1)  # (T, B, D·P)
            inp = below = inp + below if self.residual and layer > 0 else inp  # the skip: y_l = ... + y_{l-1}
            if self.dropout > 0 and layer < self.num_layers - 1:  # between layers, training mode only
                inp = F.dropout(inp, self.dropout, self.training)
        h_n = tuple(torch.stack([f[k] for f in finals]) for k in range(self.n_states))  # (L·D, B, ·)
        if unbatched:
            inp, h_n = inp[:, 0], tuple(s[:, 0] for s in h_n)  # (T, D·P), (L·D, ·)
        elif self.batch_first:
            inp = inp.transpose(0, 1)  # (B, T, D·P)
        return inp, (h_n if self.n_states == 2 else h_n[0])

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        defaults = dict(num_layers=1, bias=True, batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                        layer_norm=False, residual=False)
        for k, v in defaults.items():
            if getattr(self, k) != v:
                s += f", {k}={getattr(self, k)}"
        return s


def _suffix(layer: int, direction: int) -> str:
    return f"_l{layer}" + ("_reverse" if direction else "")


def _reverse(a, rev):
    """Reverse time, each sequence within its own length (rev from forward) or the whole axis."""
    if rev is None:
        return a.flip(0)
    return a[rev, torch.arange(a.shape[1], device=a.device)]  # (T, B, ·)


class RNN(RNNBase):
    """Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t-1} W_hhᵀ + b_hh), φ = tanh or relu (see elman.py).
    Arguments and defaults follow torch.nn.RNN."""

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, device=None, dtype=None, layer_norm=False,
                 residual=False):
        check_choice("nonlinearity", nonlinearity, NONLINEARITIES)
        super().__init__(mode_name("rnn", nonlinearity), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, 0, device, dtype, layer_norm, residual)
        self.nonlinearity = nonlinearity

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class GRU(RNNBase):
    """GRU with PyTorch's gate order r, z, n (equations in gru.py). Arguments follow torch.nn.GRU."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, layer_norm=False, residual=False):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, 0, device, dtype, layer_norm, residual)


class LSTM(RNNBase):
    """LSTM with PyTorch's gate order i, f, g, o and optional proj_size (equations in lstm.py).
    Arguments follow torch.nn.LSTM."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None, layer_norm=False, residual=False):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, device, dtype, layer_norm, residual)
