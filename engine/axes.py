"""Axes in two spellings: PyTorch's `dim=` and `keepdim=`, and NumPy's `axis=` and `keepdims=`.

Every Tensor method that takes an axis (engine/tensor_ops.py, engine/tensor_shapes.py), and
`engine.cat`, `engine.stack` and `nn.functional`, accepts both. Giving both spellings of one
argument is a TypeError. A positional axis is PyTorch's `dim`, which matters in one place:
`t.max(1)` and `t.max(dim=1)` return `(values, indices)` as in PyTorch, while `t.max(axis=1)`
returns the values, as in NumPy (`min` likewise).
"""

import numpy as np


def one_spelling(what, torch_name, torch_value, numpy_name, numpy_value):
    """The argument given under PyTorch's name or NumPy's (None if neither); never both."""
    if torch_value is not None and numpy_value is not None:
        raise TypeError(
            f"{what}() got both {torch_name}= and {numpy_name}=; they mean the same: give one"
        )
    return torch_value if torch_value is not None else numpy_value


def reduction_axes(what, dim, keepdim, axis, keepdims):
    """(axis, keepdims) of a reduction from either spelling. Each keeps its library's meaning
    of no axes: PyTorch's `dim=()` reduces every axis, NumPy's `axis=()` none."""
    if isinstance(dim, tuple | list) and not dim:
        dim = None
    axis = one_spelling(what, "dim", dim, "axis", axis)
    return axis, bool(one_spelling(what, "keepdim", keepdim, "keepdims", keepdims))


def one_axis(what, ndim, dim, axis, default=None, extra=0):
    """One axis from either spelling, in 0..ndim - 1 + extra (negatives count from the end)."""
    a = one_spelling(what, "dim", dim, "axis", axis)
    if a is None:
        if default is None:
            raise TypeError(f"{what}() needs an axis: dim= (or axis=)")
        a = default
    if not isinstance(a, int | np.integer) or not -(ndim + extra) <= a < ndim + extra:
        raise ValueError(f"{what}(): dim {a!r} is out of range for a {ndim}-D tensor")
    return int(a) % (ndim + extra)
