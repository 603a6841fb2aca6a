"""Making tensors: `engine.tensor`, `zeros`, `ones`, `full`, `arange`, `rand`, `randn`, ...

PyTorch's names and dtype rules: floating tensors are float32 unless `dtype=` says otherwise,
integers are int64, and every factory takes `requires_grad=` (floating dtypes only). A shape is
given as separate sizes or as one tuple: `zeros(2, 3)` is `zeros((2, 3))`. `rand` and `randn`
draw from the engine's shared generator, so `engine.manual_seed(s)` makes them repeat.
"""

import numpy as np

from engine.random import generator
from engine.tensor import Tensor


def _shape(size):
    """`(2, 3)` from `(2, 3)` or `((2, 3),)`: the sizes as given to a factory."""
    if len(size) == 1 and isinstance(size[0], tuple | list):
        size = size[0]
    shape = tuple(size)
    if not all(isinstance(n, int | np.integer) and n >= 0 for n in shape):
        raise ValueError(f"a shape is sizes >= 0, got {shape}")
    return shape


def tensor(data, dtype=None, requires_grad=False):
    """A new tensor holding a copy of `data` (a number, a nested list, an array or a Tensor):
    Python floats become float32 and Python ints int64 unless `dtype` is given; an ndarray
    keeps its dtype. `torch.tensor`."""
    if isinstance(data, Tensor):
        data = data.data
    array = np.array(data)  # a copy, as torch.tensor makes
    if not isinstance(data, np.ndarray | np.generic):  # Python numbers: PyTorch's defaults
        array = array.astype({"f": np.float32, "i": np.int64}.get(array.dtype.kind, array.dtype))
    return Tensor(array if dtype is None else array.astype(dtype), requires_grad=requires_grad)


def zeros(*size, dtype=np.float32, requires_grad=False):
    """A tensor of zeros: `zeros(B, T, C)`."""
    return Tensor(np.zeros(_shape(size), dtype=dtype), requires_grad=requires_grad)


def ones(*size, dtype=np.float32, requires_grad=False):
    """A tensor of ones."""
    return Tensor(np.ones(_shape(size), dtype=dtype), requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    """A tensor of `size` filled with `fill_value`; the dtype follows the value (float32 for a
    float, int64 for an int, bool for a bool) unless given."""
    if dtype is None:
        kinds = ((bool, np.bool_), (int, np.int64), (float, np.float32))
        dtype = next((d for kind, d in kinds if isinstance(fill_value, kind)), None)
    shape = _shape(size if isinstance(size, tuple | list) else (size,))
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros of `t`'s shape and (unless given) dtype."""
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones of `t`'s shape and (unless given) dtype."""
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    """start, start + step, ... up to (not including) end; `arange(n)` is 0..n-1. int64 when
    every bound is an int, else float32, as `torch.arange`."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange(): step must not be 0")
    integers = all(isinstance(v, int | np.integer) for v in (start, end, step))
    if dtype is None:
        dtype = np.int64 if integers else np.float32
    return Tensor(np.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def rand(*size, dtype=np.float32, requires_grad=False):
    """Uniform draws in [0, 1) from the shared generator."""
    draws = generator().random(_shape(size))
    return Tensor(draws.astype(dtype), requires_grad=requires_grad)


def randn(*size, dtype=np.float32, requires_grad=False):
    """Standard normal draws from the shared generator."""
    draws = generator().standard_normal(_shape(size))
    return Tensor(draws.astype(dtype), requires_grad=requires_grad)
