"""A stacked RNN's arguments and PyTorch's parameter layout, shared by every implementation.

The NumPy stack (numpy_engine/stack.py), the torch scratch stack (torch_engine/stack.py) and the
language model's canonical names (lm/engines/base.py) all take their checks, parameter names, order,
shapes and cell names from here, so weights move between them and torch.nn.LSTM by plain copy.

    weight_ih_l{k}{_reverse}   (G, I_k)   I_0 = input_size, I_k = D·P for k ≥ 1
    weight_hh_l{k}{_reverse}   (G, P)
    bias_ih_l{k}{_reverse}     (G,)       when bias=True
    bias_hh_l{k}{_reverse}     (G,)
    weight_hr_l{k}{_reverse}   (P, H)     LSTM with proj_size = P > 0

The input-gated cells (INPUT_GATED: minGRU, minLSTM) have no recurrent weights, only weight_ih and bias_ih.

With layer_norm (deeprnn's own, not torch.nn's; equations in numpy_engine/ln_*.py), after those:

    ln_ih_weight_l{k}{_reverse}   (G,)    γ_ih, the gain of LN(x W_ihᵀ)        starts at 1
    ln_hh_weight_l{k}{_reverse}   (G,)    γ_hh, the gain of LN(h W_hhᵀ)        starts at 1
    ln_c_weight_l{k}{_reverse}    (H,)    γ_c, the gain of LN(c_t), LSTM only  starts at 1
    ln_c_bias_l{k}{_reverse}      (H,)    β_c, its bias, LSTM with bias=True   starts at 0

The shifts of LN(x W_ihᵀ) and LN(h W_hhᵀ) are b_ih and b_hh themselves (a LayerNorm bias there would
only add a second copy of them). residual adds no parameters: a layer k >= 1 reads D·P features and
writes D·P (bidirectional and proj_size included), so the skip is the identity.
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

from .checks import check_bool, check_int

GATE_MULT = {"RNN_TANH": 1, "RNN_RELU": 1, "GRU": 3, "LSTM": 4,  # G / H, by torch.nn.RNNBase's mode names
             "MinGRU": 2, "MinLSTM": 3}  # and the input-gated cells': [z, h̃] and [f, i, h̃]
NONLINEARITIES = ("tanh", "relu")  # φ of the Elman cell
CELL_CLASSES = {"rnn": "RNN", "gru": "GRU", "lstm": "LSTM",  # a config's cell -> its class in torch.nn and both engines
                "mingru": "MinGRU", "minlstm": "MinLSTM"}  # (these two: both engines only; torch.nn has none)
INPUT_GATED = ("MinGRU", "MinLSTM")  # modes whose gates read x_t only (Feng et al. 2024): no weight_hh, bias_hh


def mode_name(cell: str, nonlinearity: str = "tanh") -> str:
    """torch.nn.RNNBase's mode name (a key of GATE_MULT) of a config's cell: "rnn" with "relu" -> "RNN_RELU"."""
    name = CELL_CLASSES[cell]
    return f"{name}_{nonlinearity.upper()}" if cell == "rnn" else name


class StackSpec(NamedTuple):
    """Checked constructor arguments of a stacked RNN (torch.nn.RNN/GRU/LSTM's names)."""

    input_size: int
    hidden_size: int
    num_layers: int
    bias: bool
    batch_first: bool
    dropout: float
    bidirectional: bool
    proj_size: int
    layer_norm: bool = False  # LayerNorm cells (numpy_engine/ln_*.py)
    residual: bool = False  # y_l = layer_l(drop(y_{l-1})) + y_{l-1} for l >= 1 (numpy_engine/stack.py)

    @property
    def num_directions(self) -> int:  # D
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:  # P: the size of h
        return self.proj_size or self.hidden_size


def check_stack_args(input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                     bidirectional=False, proj_size=0, layer_norm=False, residual=False) -> StackSpec:
    """Check every argument early; errors name the expected and the actual value."""
    hidden = check_int("hidden_size", hidden_size, minimum=1)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout <= 1:
        raise ValueError(f"expected dropout to be a number in [0, 1], got {dropout!r}")
    layers = check_int("num_layers", num_layers, minimum=1)
    if dropout > 0 and layers == 1:
        warnings.warn(f"dropout={dropout} has no effect with num_layers=1: it applies between layers", stacklevel=4)
    proj = check_int("proj_size", proj_size, minimum=0)
    if proj and proj >= hidden:
        raise ValueError(f"expected proj_size < hidden_size = {hidden}, got {proj}")
    if check_bool("residual", residual) and layers == 1:
        warnings.warn("residual=True has no effect with num_layers=1: the skips start at the second layer",
                      stacklevel=4)
    if check_bool("layer_norm", layer_norm) and hidden == 1:
        warnings.warn("layer_norm with hidden_size=1: a LayerNorm over one unit outputs its shift alone "
                      "(u - mean(u) = 0), so LN(c_t) carries nothing and an Elman cell's output is constant",
                      stacklevel=4)
    return StackSpec(check_int("input_size", input_size, minimum=1), hidden, layers, check_bool("bias", bias),
                     check_bool("batch_first", batch_first), float(dropout),
                     check_bool("bidirectional", bidirectional), proj, layer_norm, residual)


def layer_suffix(layer: int, direction: int) -> str:
    """What torch appends to a parameter's name for one layer and direction: "_l1", "_l0_reverse"."""
    return f"_l{layer}" + ("_reverse" if direction else "")


def param_names(spec: StackSpec, layer: int, direction: int, gate_mult: int, recurrent: bool = True) -> list[str]:
    """The names of one layer's parameters in one direction, in torch's order (then the LayerNorm ones);
    ``recurrent=False``: an input-gated cell's, weight_ih and bias_ih only."""
    names = ["weight_ih", "weight_hh"] + (["bias_ih", "bias_hh"] if spec.bias else [])
    names = names if recurrent else names[::2]  # weight_ih [, bias_ih]
    names += ["weight_hr"] if spec.proj_size else []
    if spec.layer_norm:
        names += ["ln_ih_weight", "ln_hh_weight"]
        if gate_mult == GATE_MULT["LSTM"]:
            names += ["ln_c_weight"] + (["ln_c_bias"] if spec.bias else [])
    sfx = layer_suffix(layer, direction)
    return [n + sfx for n in names]


def constant_init(name: str) -> float | None:
    """The starting value of a parameter that is not drawn at random: 1 for a LayerNorm gain
    (``ln_*_weight*``), 0 for a LayerNorm bias (``ln_*_bias*``); None for every other parameter."""
    base = name.rsplit(".", 1)[-1]
    if not base.startswith("ln_"):
        return None
    return 1.0 if "_weight" in base else 0.0


def param_shapes(spec: StackSpec, gate_mult: int, recurrent: bool = True) -> dict[str, tuple]:
    """Every parameter's name and shape, in torch's order (layer by layer, forward then reverse)."""
    G, H, P, D = gate_mult * spec.hidden_size, spec.hidden_size, spec.output_size, spec.num_directions
    shapes = {}
    for layer in range(spec.num_layers):
        I = spec.input_size if layer == 0 else D * P
        sizes = [(G, I), (G, P)] + ([(G,), (G,)] if spec.bias else [])
        sizes = (sizes if recurrent else sizes[::2]) + ([(P, H)] if spec.proj_size else [])
        sizes += [(G,), (G,), (H,), (H,)] if spec.layer_norm else []  # zip drops what the cell lacks
        for d in range(D):
            names = param_names(spec, layer, d, gate_mult, recurrent)
            shapes.update(zip(names, sizes[: len(names)]))
    return shapes
