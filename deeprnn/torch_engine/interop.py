"""Weights to and from plain PyTorch modules, so they work in anyone's torch code.

    from deeprnn.torch_engine.interop import torch_rnn_from_run, rnn_state_dict
    lstm = torch_rnn_from_run("runs/demo")        # a torch.nn.LSTM with the run's weights
    sd = rnn_state_dict(engine.state_dict())      # {"weight_ih_l0": tensor, ...} for nn.LSTM.load_state_dict

    params = with_torch_rnn(engine.state_dict(), lstm.state_dict())   # the other way: put an nn.LSTM's
    engine.load_state_dict(params)                                      # weights into a language model

The same names work for the NumPy engine's layers directly: ``deeprnn.LSTM.load_state_dict`` accepts
a torch state_dict, and ``torch.nn.LSTM.load_state_dict`` accepts ``{k: torch.from_numpy(v)}``.
"""

from __future__ import annotations

import numpy as np

from . import require_torch

PREFIX = "rnn."


def rnn_state_dict(params: dict) -> dict:
    """The recurrent part of canonical LM parameters as a torch.nn.LSTM/GRU/RNN state_dict (tensors)."""
    torch = require_torch()
    out = {k[len(PREFIX):]: torch.from_numpy(np.ascontiguousarray(v)) for k, v in params.items() if k.startswith(PREFIX)}
    if not out:
        raise ValueError(f"expected parameters named '{PREFIX}*', got {sorted(params)[:5]}")
    return out


def with_torch_rnn(params: dict, torch_state_dict: dict) -> dict:
    """Canonical LM parameters with the recurrent part replaced by a torch.nn.* state_dict
    (every key and shape must match)."""
    own = {k[len(PREFIX):]: v for k, v in params.items() if k.startswith(PREFIX)}
    if sorted(own) != sorted(torch_state_dict):
        raise ValueError(f"expected a torch state_dict with keys {sorted(own)}, got {sorted(torch_state_dict)}")
    out = dict(params)
    for k, v in torch_state_dict.items():
        a = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
        if a.shape != own[k].shape:
            raise ValueError(f"expected {k} of shape {own[k].shape}, got {a.shape}")
        out[PREFIX + k] = a.astype(own[k].dtype)
    return out


def torch_rnn_from_run(run, which: str = "best"):
    """A torch.nn.LSTM/GRU/RNN built from a run's config, holding its weights."""
    torch = require_torch()
    from ..lm.checkpoint import load_model
    from ..lm.runs import read_config

    cfg = read_config(run).model
    cls = {"rnn": torch.nn.RNN, "gru": torch.nn.GRU, "lstm": torch.nn.LSTM}[cfg.cell]
    kwargs = {"nonlinearity": cfg.nonlinearity} if cfg.cell == "rnn" else {}
    tensors, _ = load_model(run, which)
    sd = rnn_state_dict(tensors)
    module = cls(sd["weight_ih_l0"].shape[1], cfg.hidden_size, num_layers=cfg.num_layers, **kwargs)
    module.to(sd["weight_ih_l0"].dtype).load_state_dict(sd)
    return module
