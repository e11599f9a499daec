"""Tensors that record the ops that made them; backward() fills .grad of every tensor in the graph."""

import numpy as np


class Device:
    def __repr__(self):
        return "cpu()"


def cpu():
    return Device()


class Tensor:
    def __init__(self, array, *, device=None, dtype="float32", requires_grad=True):
        self.data = np.array(array.data if isinstance(array, Tensor) else array, dtype=dtype)
        self.device, self.requires_grad = device or cpu(), requires_grad
        self.inputs, self.grad_fn, self.grad = (), None, None

    @classmethod
    def made(cls, data, inputs, grad_fn):
        """The result of an op: ``grad_fn(out_grad)`` gives the gradient of each input."""
        t = cls(data, requires_grad=any(i.requires_grad for i in inputs))
        t.inputs, t.grad_fn = tuple(inputs), grad_fn
        return t

    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return str(self.data.dtype)

    def numpy(self):
        return self.data.copy()

    def detach(self):
        return Tensor(self.data, requires_grad=False)

    def backward(self, out_grad=None):
        order, seen = [], set()

        def visit(t):
            if id(t) not in seen:
                seen.add(id(t))
                for i in t.inputs:
                    visit(i)
                order.append(t)

        visit(self)
        grads = {id(self): np.ones_like(self.data) if out_grad is None else out_grad.data}
        for t in reversed(order):
            g = grads.pop(id(t), np.zeros_like(t.data))
            t.grad = Tensor(g, requires_grad=False)
            if t.grad_fn is not None:
                for i, gi in zip(t.inputs, t.grad_fn(g)):
                    grads[id(i)] = grads.get(id(i), 0) + gi

    def __add__(self, other):
        from . import ops
        return ops.add(self, other)

    def __mul__(self, other):
        from . import ops
        return ops.multiply(self, other) if isinstance(other, Tensor) else ops.mul_scalar(self, other)

    __radd__, __rmul__ = __add__, __mul__

    def __sub__(self, other):
        return self + (-1.0) * other

    def __rsub__(self, other):
        return (-1.0) * self + other

    def __matmul__(self, other):
        from . import ops
        return ops.matmul(self, other)

    def sum(self, axes=None):
        from . import ops
        return ops.summation(self, axes)

    def reshape(self, shape):
        from . import ops
        return ops.reshape(self, shape)

    def broadcast_to(self, shape):
        from . import ops
        return ops.broadcast_to(self, shape)

    def __repr__(self):
        return f"needle.Tensor({self.data!r})"
