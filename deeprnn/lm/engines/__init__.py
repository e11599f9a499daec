"""The language model on each engine, behind one interface (``LMEngine``), and ``make_engine`` to get one.

    base.py    LMEngine: what training, evaluation and generation call; the shared initialisation
    numpy.py   NumpyLM: on deeprnn.numpy_engine (hand-written BPTT, DropConnect through the stack's hook)
    torch.py   TorchLM: on torch's fused nn.LSTM/GRU/RNN, torch.optim and DistributedDataParallel

The engines themselves (deeprnn/numpy_engine, deeprnn/torch_engine) know nothing of language models;
these adapters sit above them, next to the interface they implement.
"""

from __future__ import annotations

from ...errors import ConfigError
from ..config import ModelConfig, TrainConfig
from .base import LMEngine, init_params, param_shapes

__all__ = ["LMEngine", "make_engine", "init_params", "param_shapes"]


def make_engine(model: ModelConfig, train: TrainConfig, vocab_size: int) -> LMEngine:
    """The engine named by ``train.engine``, holding ``init_params`` of ``train.seed``."""
    if train.engine not in ("numpy", "torch"):
        raise ConfigError(f"expected engine 'numpy' or 'torch', got {train.engine!r}")
    if train.engine == "numpy" and (train.device == "cuda" or train.distributed):
        raise ConfigError(f"expected --engine torch for {'--device cuda' if train.device == 'cuda' else '--distributed'}, "
                          "got the numpy engine (it runs in one CPU process)")
    params = init_params(model, vocab_size, train.seed)
    if train.engine == "numpy":
        from .numpy import NumpyLM

        return NumpyLM(model, train, vocab_size, params)
    from ...torch_engine import require_torch

    require_torch()
    from .torch import TorchLM

    return TorchLM(model, train, vocab_size, params)
