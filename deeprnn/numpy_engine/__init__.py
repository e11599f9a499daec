"""The NumPy engine: cells built from first principles with hand-written BPTT.

Layout (each backward pass sits right under its forward pass):

* ``elman.py``, ``gru.py``, ``lstm.py``: one step of each cell (core functions writing into buffers, and
  the pure step functions ``*_step_forward`` / ``*_step_backward`` built on them);
* ``recurrence.py``: the time loop of one direction of one layer;
* ``stack.py``: layers, directions, dropout and variable lengths (``RNN``, ``GRU``, ``LSTM``);
* ``cells.py``: single-step cells (``RNNCell``, ``GRUCell``, ``LSTMCell``).
"""

from .cells import GRUCell, LSTMCell, RNNCell
from .elman import rnn_step_backward, rnn_step_forward
from .gru import gru_step_backward, gru_step_forward
from .lstm import lstm_step_backward, lstm_step_forward
from .module import is_grad_enabled, no_grad
from .stack import GRU, LSTM, RNN, RNNBase
from .threads import set_num_threads

__all__ = [
    "RNN", "GRU", "LSTM", "RNNBase", "RNNCell", "GRUCell", "LSTMCell",
    "rnn_step_forward", "rnn_step_backward", "gru_step_forward", "gru_step_backward",
    "lstm_step_forward", "lstm_step_backward", "no_grad", "is_grad_enabled", "set_num_threads",
]
