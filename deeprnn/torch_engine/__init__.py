"""The PyTorch engine: the same models, config, training loop and checkpoints on torch.

* ``lm.py``: ``TorchLM``, the language model on torch's fused ``nn.LSTM/GRU/RNN`` (oneDNN on CPU,
  cuDNN on GPU), with torch.optim and DistributedDataParallel;
* ``elman.py``, ``gru.py``, ``lstm.py``, ``recurrence.py``, ``stack.py``, ``cells.py``: readable scratch
  modules mirroring ``deeprnn/numpy_engine`` file for file (autograd does the backward pass);
* ``distributed.py``: process groups under ``torchrun`` (gloo on CPU, NCCL on GPU);
* ``interop.py``: weights to and from a plain ``torch.nn.LSTM/GRU/RNN`` state_dict.

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
