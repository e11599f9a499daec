"""Per-layer gradient norms: where in the stack the training signal arrives (``train.log_grad_norms``).

The gradients of one step (canonical names, engines/base.py) are grouped by layer, and each group's
parameters are joined into one vector whose L2 norm is reported:

    grad_norm_embedding   embedding.weight (absent with one-hot inputs)
    grad_norm_l{k}        every rnn.* parameter of layer k: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k},
                          bias_hh_l{k}, weight_hr_l{k}, the LayerNorm ones, and their _reverse twins
    grad_norm_head        head.weight and head.bias

So the squares of the values sum to the square of the global norm (the "grad_norm" of the same step).
"""

from __future__ import annotations

import math
import re

import numpy as np

PREFIX = "grad_norm_"
_LAYER = re.compile(r"_l(\d+)(?:_reverse)?$")
KEY = re.compile(rf"^{PREFIX}(embedding|head|l\d+)$")  # the keys layer_grad_norms writes, and no others


def layer_of(name: str) -> str:
    """The group of a canonical parameter name: "embedding", "l0", "l1", ... or "head"."""
    if name.startswith("rnn."):
        match = _LAYER.search(name)
        if match is None:
            raise ValueError(f"expected a recurrent parameter name ending in _l<k>, got {name!r}")
        return f"l{match.group(1)}"
    return name.split(".", 1)[0]


def layer_grad_norms(grads: dict[str, np.ndarray]) -> dict[str, float]:
    """{"grad_norm_embedding": ..., "grad_norm_l0": ..., ..., "grad_norm_head": ...}: the L2 norm of each
    layer's gradients joined (float64 sums), in the order the layers first appear in ``grads``."""
    squares: dict[str, float] = {}
    for name, g in grads.items():
        g = np.asarray(g, dtype=np.float64)
        key = PREFIX + layer_of(name)
        squares[key] = squares.get(key, 0.0) + float(np.vdot(g, g))
    return {k: math.sqrt(v) for k, v in squares.items()}


def is_layer_key(key: str) -> bool:
    """Whether a metrics.jsonl key is a per-layer gradient norm (not "grad_norm" or "grad_norm_max")."""
    return KEY.match(key) is not None
