from .nn_basic import Module, Parameter
from .nn_sequence import LSTM, RNN, LSTMCell, RNNCell
