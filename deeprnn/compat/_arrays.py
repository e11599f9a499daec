"""Small helpers shared by the adapters: float conversion and shape checks that name both shapes."""

from __future__ import annotations

import numpy as np

from ..checks import fmt_shape


def floats(*arrays):
    """The arrays converted to one common float dtype (float64 for integer input), as ndarrays."""
    arrays = [np.asarray(a) for a in arrays]
    dtype = np.result_type(*arrays, np.float32)
    return tuple(a.astype(dtype, copy=False) for a in arrays)


def rows(a: np.ndarray) -> np.ndarray:
    """Column layout (n, m) -> the engine's row layout (m, n), C-contiguous."""
    return np.ascontiguousarray(a.T)


def expect_shape(name: str, a: np.ndarray, *shapes: tuple) -> np.ndarray:
    """Raise ValueError unless ``a.shape`` is one of ``shapes``."""
    if a.shape not in [tuple(s) for s in shapes]:
        want = " or ".join(fmt_shape(s) for s in shapes)
        raise ValueError(f"expected {name} of shape {want}, got {fmt_shape(a.shape)}")
    return a


def vector(name: str, b, n: int) -> np.ndarray:
    """A bias given as (n,), (1, n) or (n, 1) -> (n,)."""
    b = np.asarray(b)
    if b.size != n or b.ndim > 2 or (b.ndim == 2 and 1 not in b.shape):
        raise ValueError(f"expected {name} of shape ({n},), (1, {n}) or ({n}, 1), got {fmt_shape(b.shape)}")
    return b.reshape(n)

