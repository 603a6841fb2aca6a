"""A Tensor's reductions: `t.sum(dim=1)`, `t.mean()`, `t.var()`, `t.max(dim)`, `t.argmax()`.

`Tensor` (engine/tensor.py) inherits these from `TensorReductions`. Each reads its axes in
PyTorch's spelling or NumPy's (engine/axes.py) and applies one op of `engine/reduction_ops.py`
or `engine/dtype_ops.py`, or composes a few: `var` is a mean, a square and a sum, and
`max(dim)` indexes its values at `argmax`. `maximum` and `minimum` take the larger or smaller
of two tensors element by element (also as `max(other)`, `min(other)`).
"""

import collections

import numpy as np

from engine import dtype_ops, reduction_ops
from engine.axes import one_axis, one_spelling, reduction_axes

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What `t.max(dim)` and `t.min(dim)` return, as in PyTorch."


class TensorReductions:
    """The reduction methods of `Tensor`: over every axis, or over `dim`."""

    __slots__ = ()

    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Sum over `dim` (None: every axis; an int or a tuple), as `torch.sum` and `np.sum`."""
        axis, keepdims = reduction_axes("sum", dim, keepdim, axis, keepdims)
        return reduction_ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Mean over `dim`, as `torch.mean` and `np.mean`."""
        axis, keepdims = reduction_axes("mean", dim, keepdim, axis, keepdims)
        return reduction_ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def all(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Whether every element along `dim` (None: of all) is true: a bool tensor."""
        axis, keepdims = reduction_axes("all", dim, keepdim, axis, keepdims)
        return dtype_ops.All.apply(self, axis=axis, keepdims=keepdims)

    def any(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Whether any element along `dim` (None: of all) is true: a bool tensor."""
        axis, keepdims = reduction_axes("any", dim, keepdim, axis, keepdims)
        return dtype_ops.Any.apply(self, axis=axis, keepdims=keepdims)

    def var(self, dim=None, keepdim=None, *, correction=1, unbiased=None, axis=None, keepdims=None):
        """Variance over `dim`: the squared deviations from the mean, summed and divided by
        n - correction (1: the unbiased estimate, PyTorch's default; `unbiased=False` or
        `correction=0`: the mean, as NumPy's `var`). Composed from mean, * and sum.

        With no degree of freedom left (n <= correction: one element, unbiased) it raises
        ValueError, where PyTorch warns and returns NaN: a NaN would only surface later."""
        if unbiased is not None:
            correction = int(unbiased)
        axis, keepdims = reduction_axes("var", dim, keepdim, axis, keepdims)
        deviation = self - self.mean(axis=axis, keepdims=True)
        squares = (deviation * deviation).sum(axis=axis, keepdims=keepdims)
        n = self.data.size // max(squares.data.size, 1)
        if n - correction <= 0:
            raise ValueError(
                f"var(): {n} element(s) with correction {correction} leave no degree of freedom"
            )
        return squares / (n - correction)

    def std(self, dim=None, keepdim=None, *, correction=1, unbiased=None, axis=None, keepdims=None):
        """The standard deviation, the square root of `var` (unbiased by default, as PyTorch);
        where it is 0 its gradient is 0, as PyTorch's (`reduction_ops.StdFromVar`)."""
        spelled = dict(keepdim=keepdim, correction=correction, unbiased=unbiased, axis=axis)
        return reduction_ops.StdFromVar.apply(self.var(dim, **spelled, keepdims=keepdims))

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The largest elements, in PyTorch's way or NumPy's:

        - `t.max(dim)`, `t.max(dim=1, keepdim=True)`: `(values, indices)` along that one axis,
          as `torch.max`; each value's gradient goes to the element its index names (the
          first of tied maxima, as `argmax`).
        - `t.max()`, `t.max(axis=(0, 1), keepdims=True)`: the maxima, as `np.max`; tied maxima
          share the gradient equally (as PyTorch's `max()` and `amax` do).
        - `t.max(other)` for a tensor `other`: `t.maximum(other)`, as `torch.max(t, other)`.
        """
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The smallest elements: as `max`, with `(values, indices)` for a `dim`, and
        `t.minimum(other)` for a tensor `other`."""
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def maximum(self, other):
        """The larger of `self` and the tensor `other` element by element (broadcast), as
        `torch.maximum`; where they tie, each gets half of the gradient."""
        return reduction_ops.Maximum.apply(self, _tensor_operand("maximum", other))

    def minimum(self, other):
        """The smaller of `self` and the tensor `other` element by element, as `maximum`."""
        return reduction_ops.Minimum.apply(self, _tensor_operand("minimum", other))

    def _extreme(self, which, dim, keepdim, axis, keepdims):
        if isinstance(dim, TensorReductions) and keepdim is None and axis is keepdims is None:
            return self.maximum(dim) if which == "max" else self.minimum(dim)
        keep = bool(one_spelling(which, "keepdim", keepdim, "keepdims", keepdims))
        if dim is None:
            op = reduction_ops.Max if which == "max" else reduction_ops.Min
            return op.apply(self, axis=axis, keepdims=keep)
        one_spelling(which, "dim", dim, "axis", axis)
        if not isinstance(dim, int | np.integer):
            raise TypeError(
                f"{which}(dim) takes one int dim and returns (values, indices), as in PyTorch; "
                f"for several axes use {which}(axis=...)"
            )
        dim = one_axis(which, self.ndim, dim, None)
        find = self.argmax if which == "max" else self.argmin
        indices = find(dim, keepdim=True)
        index = list(np.indices(indices.shape, sparse=True))
        index[dim] = indices.data  # the chosen element along dim, every other position as is
        values = self[tuple(index)]
        if keep:
            return ValuesIndices(values, indices)
        return ValuesIndices(values.squeeze(dim), indices.squeeze(dim))

    def argmax(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Indices (int64) of the maxima along `dim` (None: of the flattened tensor); the first
        of tied maxima. No gradient."""
        axis, keepdims = reduction_axes("argmax", dim, keepdim, axis, keepdims)
        return dtype_ops.ArgMax.apply(self, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Indices (int64) of the minima along `dim`, as `argmax`. No gradient."""
        axis, keepdims = reduction_axes("argmin", dim, keepdim, axis, keepdims)
        return dtype_ops.ArgMin.apply(self, axis=axis, keepdims=keepdims)


def _tensor_operand(name, other):
    """`other`, which must be a tensor, as for torch.maximum; a number is refused, naming clamp."""
    if not isinstance(other, TensorReductions):
        raise TypeError(
            f"{name}() takes a tensor as other, got {type(other).__name__}; for a number, use "
            f"clamp({'min' if name == 'maximum' else 'max'}=...)"
        )
    return other
