"""What cells and stacked layers share: named parameters, gradients, state dicts, train/eval, and the
random arrays they draw (initial weights, dropout masks)."""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

from ..checks import check_bool, check_float_dtype, check_int, check_state_dict
from ..layout import constant_init

_grad = threading.local()


def is_grad_enabled() -> bool:
    return getattr(_grad, "enabled", True)


@contextlib.contextmanager
def no_grad():
    """Within this block forward passes keep no cache for backward (like torch.no_grad): for
    evaluation and generation, where nothing is backpropagated and memory should not grow."""
    before = is_grad_enabled()
    _grad.enabled = False
    try:
        yield
    finally:
        _grad.enabled = before


def init_uniform(rng: np.random.Generator, shapes: dict, hidden_size: int) -> dict[str, np.ndarray]:
    """PyTorch's default initialisation of recurrent layers and cells: every array from U(-k, k) with
    k = 1/√H, drawn from ``rng`` in the order of ``shapes`` {name: shape}. Float64. LayerNorm gains and
    biases (layout.constant_init) start at 1 and 0 instead, without a draw, so the other arrays get the
    same draws with and without layer_norm."""
    k = 1.0 / math.sqrt(hidden_size)
    out = {}
    for name, shape in shapes.items():
        value = constant_init(name)
        out[name] = rng.uniform(-k, k, size=shape) if value is None else np.full(shape, value)
    return out


def dropout_mask(rng: np.random.Generator, shape: tuple, p: float, dtype: np.dtype) -> np.ndarray:
    """Inverted dropout's mask of ``shape`` and ``dtype``: 0 with probability p, else 1/(1-p), so that
    x ⊙ mask keeps the expectation of x (all zeros when p = 1)."""
    keep = rng.random(shape, dtype=dtype) >= p
    return keep * dtype.type(0.0 if p == 1 else 1.0 / (1.0 - p))


class Module:
    """Parameters live in ``self.params`` (name -> array, in PyTorch's order) and their gradients,
    which ``backward`` accumulates, in ``self.grads`` (same names and shapes)."""

    def __init__(self, hidden_size, dtype, seed):
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.dtype = check_float_dtype("dtype", dtype)
        if seed is not None and not isinstance(seed, np.random.Generator):
            check_int("seed", seed, minimum=0)
        self.rng = np.random.default_rng(seed)  # initialisation, then dropout masks (a Generator is used as is)
        self.training = True
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def _init_params(self, shapes: dict, state_dict: dict | None = None) -> None:
        """Every parameter from ``state_dict`` (checked as load_state_dict checks it) or, when None, from
        U(-1/√H, 1/√H) drawn in PyTorch's parameter order; every gradient zero."""
        if state_dict is None:
            values = init_uniform(self.rng, shapes, self.hidden_size)
        else:
            values = check_state_dict(state_dict, shapes)
        for name, shape in shapes.items():
            self.params[name] = values[name].astype(self.dtype)
            self.grads[name] = np.zeros(shape, self.dtype)

    def train(self, mode: bool = True):
        self.training = check_bool("mode", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self) -> None:
        for g in self.grads.values():
            g.fill(0)

    def _accumulate(self, grads: dict) -> None:
        for name, g in grads.items():
            self.grads[name] += g

    def state_dict(self) -> dict:
        """A copy of every parameter, keyed by PyTorch's names."""
        return {k: v.copy() for k, v in self.params.items()}

    def load_state_dict(self, state_dict: dict) -> None:
        """Copy values in place (arrays or torch tensors), after checking every key and shape."""
        arrays = check_state_dict(state_dict, {k: v.shape for k, v in self.params.items()})
        for k, a in arrays.items():  # only after every check passed: never half-loaded
            np.copyto(self.params[k], a, casting="unsafe")

    def num_parameters(self) -> int:
        return sum(p.size for p in self.params.values())
