import numpy as np

from .autograd import Tensor


def rand(*shape, low=0.0, high=1.0, device=None, dtype="float32", requires_grad=False):
    return Tensor(np.random.uniform(low, high, shape), device=device, dtype=dtype, requires_grad=requires_grad)


def zeros(*shape, device=None, dtype="float32", requires_grad=False):
    return Tensor(np.zeros(shape), device=device, dtype=dtype, requires_grad=requires_grad)
