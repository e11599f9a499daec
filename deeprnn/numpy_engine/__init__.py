"""The NumPy engine: cells built from first principles with hand-written BPTT.

Layout (each backward pass sits right under its forward pass):

* ``elman.py``, ``gru.py``, ``lstm.py``: one step of each cell (core functions writing into buffers, and
  the pure step functions ``*_step_forward`` / ``*_step_backward`` built on them);
* ``layernorm.py``, ``ln_elman.py``, ``ln_gru.py``, ``ln_lstm.py``: the LayerNorm cells (``layer_norm=True``),
  kernels for the same time loop;
* ``recurrence.py``: the time loop of one direction of one layer;
* ``stack.py``: layers, directions, dropout, skips (``residual=True``) and variable lengths (``RNN``, ``GRU``,
  ``LSTM``);
* ``cells.py``: single-step cells (``RNNCell``, ``GRUCell``, ``LSTMCell``);
* ``mingru.py``, ``minlstm.py``: the input-gated cells of Feng et al. 2024, whose gates read x_t only;
  ``gated.py``: their shared step and layer; ``scan.py``: the scan h_t = a_t ⊙ h_{t-1} + b_t, sequential and
  log-space parallel; ``minrnn.py``: their layers (``MinGRU``, ``MinLSTM``);
* ``weights.py``: one layer's weights, argument checks, the ``CellKernel`` interface of the time loop;
* ``fused.py``, ``_fused_kernels.py``: optional compiled float32 twins of the pointwise functions.

Each cell module's docstring holds its forward and backward equations, one line per gradient, in
the symbols of its code. Which code runs: float64 always runs the NumPy functions; float32 with numba
installed (``deeprnn[fast]``) runs the fused twins in ``_fused_kernels.py``, which compute the same
equations one element at a time. Set ``DEEPRNN_FUSED=0`` (or ``fused.set_enabled(False)``) to run the
NumPy reference for float32 too, e.g. to step through it in a debugger.
"""

from .cells import GRUCell, LSTMCell, RNNCell
from .elman import rnn_step_backward, rnn_step_forward
from .gru import gru_step_backward, gru_step_forward
from .lstm import lstm_step_backward, lstm_step_forward
from .mingru import mingru_step_backward, mingru_step_forward
from .minlstm import minlstm_step_backward, minlstm_step_forward
from .minrnn import MinGRU, MinLSTM
from .module import is_grad_enabled, no_grad
from .stack import GRU, LSTM, RNN, RNNBase
from .threads import set_num_threads

__all__ = [
    "RNN", "GRU", "LSTM", "MinGRU", "MinLSTM", "RNNBase", "RNNCell", "GRUCell", "LSTMCell",
    "rnn_step_forward", "rnn_step_backward", "gru_step_forward", "gru_step_backward",
    "lstm_step_forward", "lstm_step_backward", "mingru_step_forward", "mingru_step_backward",
    "minlstm_step_forward", "minlstm_step_backward", "no_grad", "is_grad_enabled", "set_num_threads",
]
