"""The ops, each with its gradient. Shapes must agree exactly (broadcast_to first), as in needle."""

import numpy as np

from .autograd import Tensor


def _same(a, b):
    if a.shape != b.shape:
        raise ValueError(f"shapes {a.shape} and {b.shape} differ: broadcast_to first")


def add(a, b):
    if not isinstance(b, Tensor):
        return Tensor.made(a.data + b, [a], lambda g: [g])
    _same(a, b)
    return Tensor.made(a.data + b.data, [a, b], lambda g: [g, g])


def multiply(a, b):
    _same(a, b)
    return Tensor.made(a.data * b.data, [a, b], lambda g: [g * b.data, g * a.data])


def mul_scalar(a, s):
    return Tensor.made(a.data * s, [a], lambda g: [g * s])


def matmul(a, b):
    return Tensor.made(a.data @ b.data, [a, b], lambda g: [g @ b.data.T, a.data.T @ g])


def summation(a, axes=None):
    return Tensor.made(np.sum(a.data, axis=axes), [a], lambda g: [np.broadcast_to(
        np.expand_dims(g, axes) if axes is not None else g, a.shape).copy()])


def reshape(a, shape):
    return Tensor.made(a.data.reshape(shape), [a], lambda g: [g.reshape(a.shape)])


def broadcast_to(a, shape):
    def grad(g):
        lead = len(shape) - a.data.ndim
        g = g.sum(axis=tuple(range(lead)))
        return [g.sum(axis=tuple(k for k, n in enumerate(a.shape) if n == 1 and g.shape[k] != 1), keepdims=True)
                .reshape(a.shape)]

    return Tensor.made(np.broadcast_to(a.data, shape).copy(), [a], grad)


def tanh(a):
    out = np.tanh(a.data)
    return Tensor.made(out, [a], lambda g: [g * (1 - out ** 2)])


def relu(a):
    return Tensor.made(np.maximum(a.data, 0), [a], lambda g: [g * (a.data > 0)])


def sigmoid(a):
    out = 1 / (1 + np.exp(-a.data))
    return Tensor.made(out, [a], lambda g: [g * out * (1 - out)])


def split(a, axis):
    """The slices of a along axis (that axis removed)."""
    n = a.shape[axis]

    def piece(k):
        def grad(g):
            full = np.zeros_like(a.data)
            np.moveaxis(full, axis, 0)[k] = g
            return [full]

        return Tensor.made(np.take(a.data, k, axis=axis), [a], grad)

    return tuple(piece(k) for k in range(n))


def stack(tensors, axis):
    tensors = list(tensors)
    return Tensor.made(np.stack([t.data for t in tensors], axis), tensors,
                       lambda g: [np.take(g, k, axis=axis) for k in range(len(tensors))])
