"""Deep (stacked, optionally bidirectional) minGRU and minLSTM as readable torch.nn.Modules.

    out, h_n = mingru(x, h0, lengths)

The same layers as ``deeprnn/numpy_engine/minrnn.py`` (autograd does the backward pass): stack.RNNBase's
layers, dropout, directions and variable lengths, with each direction of each layer computed as the input
projection of all steps (one matmul), the coefficients a_t, b_t of all steps at once (mingru.py,
minlstm.py) and the scan (scan.py). Parameters weight_ih_l{k} (G, I_k) and bias_ih_l{k} (G,), initialised
like torch.nn.Linear, U(-1/√I_k, 1/√I_k); ``load_state_dict`` takes the NumPy engine's state_dicts.

With ``lengths``, a finished sequence keeps its state (a_t = 1, b_t = 0 past its length) and its outputs
there are zero.
"""

from __future__ import annotations

import math

from ..checks import check_choice
from . import require_torch
from .mingru import mingru_coefficients, mingru_log_coefficients
from .minlstm import minlstm_coefficients, minlstm_log_coefficients
from .recurrence import Weights
from .scan import SCANS, parallel_scan, sequential_scan
from .stack import RNNBase

torch = require_torch()
nn = torch.nn

COEFFICIENTS = {  # mode -> (linear-space, log-space) coefficients of the scan
    "MinGRU": (mingru_coefficients, mingru_log_coefficients),
    "MinLSTM": (minlstm_coefficients, minlstm_log_coefficients),
}


def gated_recurrence(mode: str, x, state0: tuple, w: Weights, mask=None, scan: str = "auto"):
    """One direction of one layer. x (T, B, I), state0 = (h0 (B, H),), mask (T, B, 1) bool or None; a
    single step (T = 1, as in generation) always runs the sequential form. Returns (out (T, B, H), (h_T,))."""
    check_choice("scan", scan, SCANS)
    gx = x @ w.w_ih.T  # (T, B, G) every step and gate: one matmul
    if w.b_ih is not None:
        gx = gx + w.b_ih
    linear, log = COEFFICIENTS[mode]
    if x.shape[0] > 1 and (scan == "parallel" or (scan == "auto" and x.is_cuda)):
        log_a, log_b = log(gx)  # (T, B, H)
        if mask is not None:  # a finished sequence keeps its state: log a_t = 0, log b_t = -inf
            log_a, log_b = log_a * mask, log_b.masked_fill(~mask, -math.inf)
        h = parallel_scan(log_a, log_b, state0[0])
    else:
        a, b = linear(gx)  # (T, B, H)
        if mask is not None:
            a, b = torch.where(mask, a, torch.ones_like(a)), b * mask
        h = sequential_scan(a, b, state0[0])
    out = h * mask if mask is not None else h  # zero past each sequence's length
    return out, (h[-1],)


class MinRNNBase(RNNBase):
    """Shared by MinGRU and MinLSTM: stack.RNNBase with gated_recurrence in every layer."""

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, device=None, dtype=None, scan="auto", residual=False):
        scan = check_choice("scan", scan, SCANS)
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         0, device, dtype, False, residual)
        self.scan = scan

    def reset_parameters(self) -> None:
        """torch.nn.Linear's default: U(-1/√I_k, 1/√I_k) for each layer's weight_ih and bias_ih, I_k its
        input size. The mirror of ``numpy_engine.minrnn.init_linear``."""
        for name, p in self.named_parameters():
            fan = getattr(self, name.replace("bias_ih", "weight_ih")).shape[1]
            nn.init.uniform_(p, -1 / math.sqrt(fan), 1 / math.sqrt(fan))

    def _recurrence(self, x, state0, w: Weights, mask):
        return gated_recurrence(self.mode, x, state0, w, mask, self.scan)

    def extra_repr(self) -> str:
        return super().extra_repr() + (f", scan={self.scan!r}" if self.scan != "auto" else "")


class MinGRU(MinRNNBase):
    """minGRU (Feng et al. 2024; equations in mingru.py). Arguments follow torch.nn.GRU (no proj_size),
    plus ``scan``: "auto" (parallel on a GPU, sequential on a CPU), "sequential" or "parallel", and
    ``residual`` (stack.py's skips, from the second layer on)."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, scan="auto", residual=False):
        super().__init__("MinGRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, scan, residual)


class MinLSTM(MinRNNBase):
    """minLSTM (Feng et al. 2024; equations in minlstm.py). Arguments as MinGRU's."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, device=None, dtype=None, scan="auto", residual=False):
        super().__init__("MinLSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, device, dtype, scan, residual)
