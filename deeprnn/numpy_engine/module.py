"""What cells and stacked layers share: named parameters, gradients, state dicts, train/eval."""

from __future__ import annotations

import contextlib
import math
import threading

import numpy as np

from ..checks import check_bool, check_float_dtype, check_int, fmt_shape

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


class Module:
    """Parameters live in ``self.params`` (name -> array, in PyTorch's order) and their gradients,
    which ``backward`` accumulates, in ``self.grads`` (same names and shapes)."""

    def __init__(self, hidden_size, dtype, seed):
        self.hidden_size = check_int("hidden_size", hidden_size, minimum=1)
        self.dtype = check_float_dtype("dtype", dtype)
        if seed is not None:
            check_int("seed", seed, minimum=0)
        self.rng = np.random.default_rng(seed)  # initialisation, then dropout masks
        self.training = True
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    def _init_params(self, shapes: dict) -> None:
        """Every parameter from U(-1/√H, 1/√H), drawn in PyTorch's parameter order."""
        k = 1.0 / math.sqrt(self.hidden_size)
        for name, shape in shapes.items():
            self.params[name] = self.rng.uniform(-k, k, size=shape).astype(self.dtype)
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
        if not isinstance(state_dict, dict):
            raise TypeError(f"expected state_dict to be a dict, got {type(state_dict).__name__}")
        missing = [k for k in self.params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in self.params]
        if missing or unexpected:
            raise ValueError(
                f"expected state_dict keys {list(self.params)}, got missing {missing} and unexpected {unexpected}"
            )
        arrays = {}
        for k, v in state_dict.items():
            a = np.asarray(v.detach().cpu() if hasattr(v, "detach") else v)
            if a.shape != self.params[k].shape:
                raise ValueError(f"expected {k} of shape {fmt_shape(self.params[k].shape)}, got {fmt_shape(a.shape)}")
            if a.dtype.kind not in "fiu":
                raise TypeError(f"expected {k} to hold numbers, got dtype {a.dtype}")
            arrays[k] = a
        for k, a in arrays.items():  # only after every check passed: never half-loaded
            np.copyto(self.params[k], a, casting="unsafe")

    def num_parameters(self) -> int:
        return sum(p.size for p in self.params.values())
