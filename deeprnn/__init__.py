"""deeprnn: deep (stacked) recurrent neural networks from first principles.

    import numpy as np, deeprnn as dr
    lstm = dr.LSTM(28, 256, num_layers=2)
    out, (h_n, c_n) = lstm(x)          # x (T, B, 28)
    dx, (dh0, dc0) = lstm.backward(d_out)
"""

from .blas_core import prefer_native_kernels

prefer_native_kernels()  # before NumPy loads OpenBLAS: see blas_core.py

from .numpy_engine import (  # noqa: E402
    GRU, LSTM, RNN, GRUCell, LSTMCell, MinGRU, MinLSTM, RNNCell, is_grad_enabled, no_grad, set_num_threads,
)

__version__ = "0.1.0"

__all__ = ["RNN", "GRU", "LSTM", "MinGRU", "MinLSTM", "RNNCell", "GRUCell", "LSTMCell", "no_grad", "is_grad_enabled",
           "set_num_threads", "__version__"]
