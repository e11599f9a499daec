from needle.autograd import Tensor


class Parameter(Tensor):
    """A tensor that is a module's parameter."""


class Module:
    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)
