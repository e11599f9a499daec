"""Small in-place building blocks shared by the cells.

Every function writes into an ``out`` array owned by the caller, so that the time loop can reuse
preallocated buffers instead of allocating a fresh array at every step.
"""

from __future__ import annotations

import numpy as np


def sigmoid(a: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """σ(a) = 1 / (1 + exp(-a)), computed as 0.5 + 0.5·tanh(a/2).

    The tanh form is exact, never overflows (no warnings for large |a|) and is one transcendental
    call instead of exp plus a reciprocal.
    """
    out = np.multiply(a, 0.5, out=out)
    np.tanh(out, out=out)
    out *= 0.5
    out += 0.5
    return out


def sigmoid_grad(y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """σ'(a) written in terms of the output y = σ(a): y·(1 - y)."""
    np.subtract(1.0, y, out=out)
    out *= y
    return out


def tanh_grad(y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """tanh'(a) written in terms of the output y = tanh(a): 1 - y²."""
    np.multiply(y, y, out=out)
    np.subtract(1.0, out, out=out)
    return out


def linear(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, out: np.ndarray | None = None) -> np.ndarray:
    """x Wᵀ + b for x (N, IN), w (OUT, IN), b (OUT,) or None -> (N, OUT)."""
    out = np.matmul(x, w.T, out=out)
    if b is not None:
        out += b
    return out
