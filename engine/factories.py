"""Making tensors: `engine.tensor`, `zeros`, `ones`, `full`, `arange`, `linspace`, `eye`,
`rand`, `randn`, ...

PyTorch's names and dtype rules: floating tensors are float32 unless `dtype=` says otherwise,
integers are int64, and every factory takes `requires_grad=` (floating dtypes only). A shape is
given as separate sizes or as one tuple: `zeros(2, 3)` is `zeros((2, 3))`.

The random ones (`rand`, `randn`, `randint`, their `_like`s and `multinomial`) draw from the
engine's shared generator, so `engine.manual_seed(s)` makes them repeat, or from the
`engine.random.Generator` given as `generator=`, which leaves the shared one where it was:

    g = Generator().manual_seed(2147483647)
    ix = multinomial(probs, num_samples=1, replacement=True, generator=g)   # makemore
"""

import numpy as np

from engine.random import Generator, default_generator
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


def linspace(start, end, steps, dtype=np.float32, requires_grad=False):
    """`steps` evenly spaced values from start to end, both included: `linspace(0, 1, 5)` is
    0, 0.25, 0.5, 0.75, 1. float32 unless `dtype` says otherwise, as `torch.linspace`."""
    if not isinstance(steps, int | np.integer) or isinstance(steps, bool):
        raise TypeError(f"linspace(): steps must be an int, got {steps!r}")
    if steps < 0:
        raise ValueError(f"linspace(): steps must be >= 0, got {steps}")
    values = np.linspace(start, end, steps)  # float64, then rounded once to dtype
    return Tensor(values.astype(dtype), requires_grad=requires_grad)


def eye(n, m=None, dtype=np.float32, requires_grad=False):
    """The identity matrix (n, m), m = n unless given: 1 on the diagonal, 0 elsewhere."""
    m = n if m is None else m
    for name, size in (("n", n), ("m", m)):
        if not isinstance(size, int | np.integer) or isinstance(size, bool) or size < 0:
            raise ValueError(f"eye(): {name} must be an int >= 0, got {size!r}")
    return Tensor(np.eye(n, m, dtype=dtype), requires_grad=requires_grad)


def empty(*size, dtype=np.float32, requires_grad=False):
    """A tensor of `size` to be filled in later. PyTorch leaves its memory as it was (whatever
    numbers were there); here it is zeros, so a mistake that reads it repeats run to run."""
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


# ---- random draws ----------------------------------------------------------------------------


def _rng(generator):
    """The `np.random.Generator` behind a factory's `generator=`: the shared one for None."""
    if generator is None:
        return default_generator.rng
    if not isinstance(generator, Generator):
        raise TypeError(
            f"generator= takes an engine.random.Generator, got {type(generator).__name__}"
        )
    return generator.rng


def _floating(what, dtype):
    """Refuse a non-floating `dtype` for a factory whose draws are fractions, as PyTorch does."""
    if np.dtype(dtype).kind != "f":
        raise TypeError(f"{what}() makes floating-point tensors, got dtype {np.dtype(dtype)}")


def rand(*size, generator=None, dtype=np.float32, requires_grad=False):
    """Uniform draws in [0, 1) of shape `size`."""
    _floating("rand", dtype)
    draws = _rng(generator).random(_shape(size))
    return Tensor(draws.astype(dtype), requires_grad=requires_grad)


def randn(*size, generator=None, dtype=np.float32, requires_grad=False):
    """Standard normal draws (mean 0, standard deviation 1) of shape `size`."""
    _floating("randn", dtype)
    draws = _rng(generator).standard_normal(_shape(size))
    return Tensor(draws.astype(dtype), requires_grad=requires_grad)


def _bounds(what, low, high):
    """`randint`'s (low, high) from PyTorch's call forms: `(high)` alone means (0, high)."""
    if high is None:
        low, high = 0, low
    elif low is None:
        low = 0
    for name, bound in (("low", low), ("high", high)):
        if not isinstance(bound, int | np.integer) or isinstance(bound, bool):
            raise TypeError(f"{what}(): {name} must be an int, got {bound!r}")
    if low >= high:
        raise ValueError(f"{what}(): needs low < high, got low={low}, high={high}")
    return int(low), int(high)


def randint(low=None, high=None, size=None, *, generator=None, dtype=np.int64, requires_grad=False):
    """Integers drawn uniformly from low, low + 1, ..., high - 1, in a tensor of shape `size`.

    PyTorch's two call forms: `randint(high, size)` (low is 0) and `randint(low, high, size)`,
    `size` a tuple either way (`randint(10, (3,))`, not `randint(10, 3)`); int64 unless `dtype=`
    says otherwise.
    """
    if size is None:  # randint(high, size): the two given are high and the size
        if isinstance(high, int | np.integer) and not isinstance(high, bool):
            raise TypeError(  # randint(0, 10): PyTorch, too, reads 10 as a size, not a tuple
                f"randint() takes the size as a tuple, got randint({low}, {high}): give it, "
                f"as randint({low}, {high}, (n,)) or randint({low}, ({high},))"
            )
        low, high, size = None, low, high
    if not isinstance(size, tuple | list):  # checked first: a size left out shifts the bounds
        raise TypeError(f"randint() takes the size as a tuple, as randint(10, (3,)), got {size!r}")
    low, high = _bounds("randint", low, high)
    kind = np.dtype(dtype).kind
    if kind in "iub":
        smallest, largest = (0, 1) if kind == "b" else (np.iinfo(dtype).min, np.iinfo(dtype).max)
        if low < smallest or high - 1 > largest:
            raise ValueError(
                f"randint(): [{low}, {high}) does not fit in dtype {np.dtype(dtype)}"
                f" ({smallest} to {largest})"
            )
    draws = _rng(generator).integers(low, high, size=_shape(tuple(size)), dtype=np.int64)
    return Tensor(draws.astype(dtype), requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False, *, generator=None):
    """`rand` of `t`'s shape and (unless given) dtype, which must be floating."""
    dtype = t.dtype if dtype is None else dtype
    _floating("rand_like", dtype)
    return rand(t.shape, generator=generator, dtype=dtype, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False, *, generator=None):
    """`randn` of `t`'s shape and (unless given) dtype, which must be floating."""
    dtype = t.dtype if dtype is None else dtype
    _floating("randn_like", dtype)
    return randn(t.shape, generator=generator, dtype=dtype, requires_grad=requires_grad)


def randint_like(t, low=None, high=None, *, generator=None, dtype=None, requires_grad=False):
    """`randint` of `t`'s shape and (unless given) dtype: `randint_like(t, high)` or
    `randint_like(t, low, high)`, as PyTorch."""
    low, high = _bounds("randint_like", low, high)
    dtype = t.dtype if dtype is None else dtype
    return randint(
        low, high, t.shape, generator=generator, dtype=dtype, requires_grad=requires_grad
    )


def _weights(w, num_samples, replacement):
    """`multinomial`'s weights `w` (n,) or (B, n) as a float64 (B, n) array, each row scaled to
    a largest weight of 1 (so a row of huge weights cannot sum to inf, nor one of tiny ones to
    0), after checking them and `num_samples`."""
    if w.ndim not in (1, 2):
        raise ValueError(f"multinomial() takes weights of shape (n,) or (B, n), got {w.shape}")
    if w.dtype.kind not in "fiub":
        raise TypeError(f"multinomial() takes numeric weights, got dtype {w.dtype}")
    if not isinstance(num_samples, int | np.integer) or isinstance(num_samples, bool):
        raise TypeError(f"multinomial(): num_samples must be an int, got {num_samples!r}")
    if num_samples < 1:
        raise ValueError(f"multinomial(): num_samples must be >= 1, got {num_samples}")
    w = np.atleast_2d(w).astype(np.float64)
    if not np.isfinite(w).all():
        raise ValueError("multinomial(): the weights must be finite, got NaN or inf")
    if (w < 0).any():
        raise ValueError(f"multinomial(): the weights must be >= 0, got {w.min()}")
    for row, positive in enumerate((w > 0).sum(axis=1)):  # non-negative: 0 if it sums to 0
        if positive == 0:
            raise ValueError(f"multinomial(): row {row} of the weights sums to 0")
        if not replacement and num_samples > positive:
            raise ValueError(
                f"multinomial(): {num_samples} samples without replacement, but row {row} has"
                f" {positive} non-zero weights of {w.shape[1]}"
            )
    return w / w.max(axis=1, keepdims=True)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Category indices drawn with probabilities proportional to the weights `input`, as
    `torch.multinomial`: weights (n,) give int64 samples (num_samples,), (B, n) give
    (B, num_samples), one distribution per row. The weights are >= 0 and need not sum to 1.

    With replacement every sample is an independent draw. Without, a row's samples are
    distinct: the first is drawn from all the weights, the next from those left, and so on.
    A row then needs at least `num_samples` non-zero weights: the error PyTorch's documentation
    shows (PyTorch itself now fills up with zero-weight categories).
    """
    weights = np.asarray(input.data if isinstance(input, Tensor) else input)
    w = _weights(weights, num_samples, replacement)
    rng = _rng(generator)
    if replacement:
        # Lay the categories end to end on a line, each as long as its weight (cdf[i] is where
        # category i ends), and see where uniform points in (0, total] fall.
        cdf = np.cumsum(w, axis=1)  # (B, n)
        points = (1.0 - rng.random((len(w), num_samples))) * cdf[:, -1:]  # (B, num_samples)
        samples = np.empty(points.shape, dtype=np.int64)
        for row, (ends, row_points) in enumerate(zip(cdf, points, strict=True)):
            samples[row] = np.searchsorted(ends, row_points)  # the first end at or past a point
    else:
        # A race: category i finishes at an exponential time of rate w[i] (zero weight: never).
        # The first to finish is a draw from all the weights, the next, by memorylessness, a
        # draw from the rest, ...: the first num_samples finishers are the draw.
        times = np.full(w.shape, np.inf)
        np.divide(rng.standard_exponential(w.shape), w, out=times, where=w > 0)  # (B, n)
        samples = np.argsort(times, axis=1)[:, :num_samples]
    return Tensor(samples.reshape(weights.shape[:-1] + (num_samples,)))
