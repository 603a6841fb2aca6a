"""Parameter initialisation, drawing from the one shared generator (`engine.generator()`).

`engine.manual_seed(s)` before building a model makes its weights reproducible. Values are
drawn in float64 and rounded to the parameter's dtype, so a float32 model and its float64 copy
(for gradient checks) start from the same numbers. Each function fills `tensor.data` in place
and returns the tensor, as `torch.nn.init` does; inside `skipped()` none of them does anything.
"""

from contextlib import contextmanager

import numpy as np

from engine import generator

_skipping = False


@contextmanager
def skipped():
    """Inside, every function here leaves its tensor as it is (uninitialised memory), and no
    number is drawn: for a module whose every weight is loaded next (`nn.utils.skip_init`)."""
    global _skipping
    before, _skipping = _skipping, True
    try:
        yield
    finally:
        _skipping = before


def _fill(tensor, values):
    if not _skipping:
        tensor.data[...] = np.asarray(values()).astype(tensor.dtype, copy=False)
    return tensor


def normal_(tensor, mean=0.0, std=1.0):
    """Fill with draws from N(mean, std²). GPT-2 uses std=0.02 for its weights."""
    if std < 0:
        raise ValueError(f"normal_: std must be >= 0, got {std}")
    return _fill(tensor, lambda: generator().normal(mean, std, size=tensor.shape))


def uniform_(tensor, a=0.0, b=1.0):
    """Fill with draws from the uniform distribution on [a, b)."""
    if not a <= b:
        raise ValueError(f"uniform_: need a <= b, got a={a}, b={b}")
    return _fill(tensor, lambda: generator().uniform(a, b, size=tensor.shape))


def zeros_(tensor):
    """Fill with 0 (biases)."""
    return _fill(tensor, lambda: 0.0)


def ones_(tensor):
    """Fill with 1 (normalisation gains)."""
    return _fill(tensor, lambda: 1.0)
