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
from ..requirements import check_engine
from .base import LMEngine, init_params, param_shapes

__all__ = ["LMEngine", "make_engine", "init_params", "param_shapes"]


def make_engine(model: ModelConfig, train: TrainConfig, vocab_size: int) -> LMEngine:
    """The engine named by ``train.engine``, holding ``init_params`` of ``train.seed``."""
    if train.engine not in ("numpy", "torch"):
        raise ConfigError(f"expected engine 'numpy' or 'torch', got {train.engine!r}")
    check_engine(train)  # torch, a GPU, torchrun: one line naming what is missing
    params = init_params(model, vocab_size, train.seed)
    if train.engine == "numpy":
        from .numpy import NumpyLM

        return NumpyLM(model, train, vocab_size, params)
    from .torch import TorchLM

    return TorchLM(model, train, vocab_size, params)
