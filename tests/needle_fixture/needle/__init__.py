"""A tiny stand-in for CMU 10-414's needle, for deeprnn's tests: NumPy-backed Tensors with reverse-mode
autograd, the few ops an RNN needs, and hw4's nn.RNNCell, RNN, LSTMCell and LSTM (nn/nn_sequence.py).
The course's needle is not on PyPI (the `needle` package there is unrelated)."""

from . import init, nn, ops
from .autograd import Tensor, cpu

__all__ = ["Tensor", "cpu", "init", "nn", "ops"]
