"""The PyTorch engine: the same layers as deeprnn/numpy_engine, written with torch ops.

* ``elman.py``, ``gru.py``, ``lstm.py``, ``layernorm.py``, ``ln_elman.py``, ``ln_gru.py``, ``ln_lstm.py``,
  ``recurrence.py``, ``stack.py``, ``cells.py``: readable scratch modules mirroring ``deeprnn/numpy_engine``
  file for file (autograd does the backward pass);
* ``mingru.py``, ``minlstm.py``, ``scan.py``, ``minrnn.py``: minGRU and minLSTM (Feng et al. 2024), their
  scan and their layers ``MinGRU``, ``MinLSTM``, which the language model uses (torch.nn has no such cell);
* ``distributed.py``: process groups under ``torchrun`` (gloo on CPU, NCCL on GPU).

The language model on torch's fused ``nn.LSTM/GRU/RNN`` kernels (``TorchLM``; on ``stack.py`` when the
config turns on layer_norm or residual) lives above the engines, in ``deeprnn/lm/engines/torch.py``, and
the export of a run to plain ``torch.nn`` modules in ``deeprnn/lm/export.py``. Like the NumPy engine, this
package imports nothing above it.

torch is an optional extra (``pip install deeprnn[torch]``); nothing here is imported by the core.
"""

from __future__ import annotations

INSTALL_HINT = "the torch engine needs PyTorch: pip install 'deeprnn[torch]' (or pip install torch)"


def require_torch():
    """Import torch, or fail with a one-line install hint."""
    try:
        import torch
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return torch
