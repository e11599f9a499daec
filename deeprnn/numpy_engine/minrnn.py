"""Deep (stacked, optionally bidirectional) minGRU and minLSTM layers, with the interface of stack.py.

    out, h_n = mingru(x, h0)               dx, dh0 = mingru.backward(d_out, dh_n)

The same layers, dropout, directions and variable lengths as RNN/GRU/LSTM (stack.RNNBase); each
direction of each layer runs gated.py's projection and scan instead of recurrence.py's time loop. The
parameters are weight_ih_l{k} (G, I_k) and bias_ih_l{k} (G,) per layer and direction (no recurrent
weights), initialised like torch.nn.Linear, U(-1/√I_k, 1/√I_k), I_k the layer's input size, as in the
paper's code.

``scan`` picks the form of the scan (scan.py): "sequential" (the default: on a CPU it is the faster, see
scan.py) or "parallel" (the paper's log-space scan). Both compute the same function and share the
backward equations; a single step (T = 1, as in generation) always runs the sequential form.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_choice
from .gated import gated_backward, gated_forward
from .mingru import MINGRU_KERNEL
from .minlstm import MINLSTM_KERNEL
from .module import init_uniform
from .scan import SCANS
from .stack import RNNBase
from .weights import Weights


class MinRNNBase(RNNBase):
    """Shared by MinGRU and MinLSTM: RNNBase's stack with the scan of gated.py in every layer."""

    def __init__(self, kernel, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, dtype=np.float32, seed=None, state_dict=None, scan="sequential",
                 residual=False):
        self.scan = check_choice("scan", scan, SCANS)
        super().__init__(kernel, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, dtype, seed, state_dict, False, residual)

    def _init_params(self, shapes: dict, state_dict: dict | None = None) -> None:
        """torch.nn.Linear's initialisation (init_linear) instead of U(-1/√H, 1/√H), from the same generator."""
        super()._init_params(shapes, init_linear(self.rng, shapes) if state_dict is None else state_dict)

    def _layer_forward(self, x, state0, w: Weights, mask):
        return gated_forward(self.kernel, x, state0, w, mask, self.scan)

    def _layer_backward(self, d_out, dfinal, cache, record=None):
        return gated_backward(d_out, dfinal, cache, record)

    def extra_repr(self) -> str:
        return super().extra_repr() + (", scan='parallel'" if self.scan == "parallel" else "")


def init_linear(rng: np.random.Generator, shapes: dict) -> dict[str, np.ndarray]:
    """torch.nn.Linear's default initialisation of each layer's weight_ih (G, I_k) and bias_ih (G,):
    U(-k, k) with k = 1/√I_k, I_k = that layer's input size, drawn in the order of ``shapes``. Float64."""
    out, fan = {}, None
    for name, shape in shapes.items():
        if "weight_ih" in name:
            fan = shape[1]  # I_k; its bias_ih follows it
        out.update(init_uniform(rng, {name: shape}, fan))
    return out


class MinGRU(MinRNNBase):
    """minGRU (Feng et al. 2024): h_t = (1 - z_t) ⊙ h_{t-1} + z_t ⊙ g(p_t), z_t = σ(k_t), [k_t, p_t] = x_t W_ihᵀ
    + b_ih (equations in mingru.py). Arguments follow torch.nn.GRU (no proj_size), plus dtype, seed,
    state_dict, scan and residual (stack.py's skips, from the second layer on)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32, seed=None, state_dict=None, scan="sequential",
                 residual=False):
        super().__init__(MINGRU_KERNEL, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, state_dict, scan, residual)


class MinLSTM(MinRNNBase):
    """minLSTM (Feng et al. 2024): h_t = f'_t ⊙ h_{t-1} + i'_t ⊙ g(p_t), with the gates f, i normalised to
    sum to one (equations in minlstm.py). Arguments as MinGRU's."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, dtype=np.float32, seed=None, state_dict=None, scan="sequential",
                 residual=False):
        super().__init__(MINLSTM_KERNEL, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, dtype, seed, state_dict, scan, residual)
