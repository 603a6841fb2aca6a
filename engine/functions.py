"""PyTorch's function forms of the tensor methods: `engine.tanh(x)` is `x.tanh()`.

Tutorials write both (`torch.tanh(h)`, `torch.mean(x, 0)`), so both work here. Each function
only calls its method, where the op and its docstring are (engine/tensor_ops.py); an array or a
number given instead of a tensor is made one first.
"""

import numpy as np

from engine.tensor import Tensor


def _tensor(input):
    return input if isinstance(input, Tensor) else Tensor(input)


def abs(input):
    return _tensor(input).abs()


def exp(input):
    return _tensor(input).exp()


def log(input):
    return _tensor(input).log()


def sqrt(input):
    return _tensor(input).sqrt()


def tanh(input):
    return _tensor(input).tanh()


def sigmoid(input):
    return _tensor(input).sigmoid()


def relu(input):
    return _tensor(input).relu()


def clamp(input, min=None, max=None):
    return _tensor(input).clamp(min, max)


def softmax(input, dim=None, **axis):
    return _tensor(input).softmax(dim, **axis)


def log_softmax(input, dim=None, **axis):
    return _tensor(input).log_softmax(dim, **axis)


def floor_divide(input, other):
    return _tensor(input) // other


def remainder(input, other):
    return _tensor(input) % other


def matmul(input, other):
    return _tensor(input) @ other


def sum(input, *dims, **options):
    return _tensor(input).sum(*dims, **options)


def mean(input, *dims, **options):
    return _tensor(input).mean(*dims, **options)


def var(input, *dims, **options):
    return _tensor(input).var(*dims, **options)


def std(input, *dims, **options):
    return _tensor(input).std(*dims, **options)


def max(input, *dims, **options):
    return _tensor(input).max(*dims, **options)


def min(input, *dims, **options):
    return _tensor(input).min(*dims, **options)


def maximum(input, other):
    return _tensor(input).maximum(other)


def minimum(input, other):
    return _tensor(input).minimum(other)


def argmax(input, *dims, **options):
    return _tensor(input).argmax(*dims, **options)


def argmin(input, *dims, **options):
    return _tensor(input).argmin(*dims, **options)


def reshape(input, *shape):
    return _tensor(input).reshape(*shape)


def transpose(input, dim0, dim1):
    return _tensor(input).transpose(dim0, dim1)


def from_numpy(array):
    """A tensor sharing `array`'s data (changes to one show in the other), as PyTorch's."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy() takes an ndarray, got {type(array).__name__}")
    return Tensor(array)


def allclose(input, other, rtol=1e-5, atol=1e-8, equal_nan=False):
    """Whether |input - other| <= atol + rtol |other| everywhere: a Python bool."""
    a, b = (t.data if isinstance(t, Tensor) else t for t in (input, other))
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))
