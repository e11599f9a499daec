"""A run's weights as plain PyTorch modules and state_dicts, so they work in anyone's torch code.

    from deeprnn.lm.export import torch_rnn_from_run, rnn_state_dict
    lstm = torch_rnn_from_run("runs/demo")        # a torch.nn.LSTM with the run's weights
    sd = rnn_state_dict(engine.state_dict())      # {"weight_ih_l0": tensor, ...} for nn.LSTM.load_state_dict

    params = with_torch_rnn(engine.state_dict(), lstm.state_dict())   # the other way: put an nn.LSTM's
    engine.load_state_dict(params)                                      # weights into a language model

The same names work for the NumPy engine's layers directly: ``deeprnn.LSTM.load_state_dict`` accepts
a torch state_dict, and ``torch.nn.LSTM.load_state_dict`` accepts ``{k: torch.from_numpy(v)}``.
``deeprnn export`` (commands/export.py) writes the same state_dict to a safetensors file.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_state_dict
from ..torch_engine import require_torch
from .checkpoint import load_model
from .engines.base import RNN_PREFIX, build_rnn, rnn_params
from .runs import read_config


def rnn_state_dict(params: dict) -> dict:
    """The recurrent part of canonical LM parameters as a torch.nn.LSTM/GRU/RNN state_dict (tensors)."""
    torch = require_torch()
    out = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in rnn_params(params).items()}
    if not out:
        raise ValueError(f"expected parameters named '{RNN_PREFIX}*', got {sorted(params)[:5]}")
    return out


def with_torch_rnn(params: dict, torch_state_dict: dict) -> dict:
    """Canonical LM parameters with the recurrent part replaced by a torch.nn.* state_dict
    (every key and shape must match)."""
    own = rnn_params(params)
    arrays = check_state_dict(torch_state_dict, {k: v.shape for k, v in own.items()}, "a torch state_dict with keys")
    out = dict(params)
    out.update({RNN_PREFIX + k: a.astype(own[k].dtype) for k, a in arrays.items()})
    return out


def torch_rnn_from_run(run, which: str = "best"):
    """A torch.nn.LSTM/GRU/RNN built from a run's config, holding its weights; for a run with
    model.layer_norm or model.residual, which torch.nn lacks, deeprnn.torch_engine.stack's module, and for
    minGRU and minLSTM a deeprnn.torch_engine.minrnn module."""
    from .engines.torch import rnn_classes

    cfg = read_config(run).model
    tensors, _ = load_model(run, which)
    sd = rnn_state_dict(tensors)
    module = build_rnn(rnn_classes(cfg), cfg, sd["weight_ih_l0"].shape[1])
    module.to(sd["weight_ih_l0"].dtype).load_state_dict(sd)
    return module
