"""The engine's reductions: sum, mean, max and min over axes, forward and backward side by
side, the larger or smaller of two tensors element by element (an extreme of each pair), and
the square root that ends a standard deviation.

Notation as in `engine/ops.py`: G is dL/dY. A reduction's Y has fewer elements than X, so each
backward spreads G back over the axes the forward removed: copied for a sum, divided by the
count for a mean, sent only to the maxima for a max.
"""

import math

import numpy as np

from engine.function import Function


def _axes(axis, ndim):
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes.
    A 0-D tensor takes axis 0 or -1 too, as in PyTorch: there is nothing to reduce."""
    if axis is None:
        return tuple(range(ndim))
    axes = (int(axis),) if isinstance(axis, int | np.integer) else tuple(axis)
    if ndim == 0 and all(a in (0, -1) for a in axes):
        return ()
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"axis {a} is out of range for a {ndim}-D tensor")
    return tuple(sorted(a % ndim for a in axes))


def _expand_to(g, axes, keepdims, shape):
    """Broadcast the reduced gradient `g` back over the axes a reduction removed."""
    if not keepdims:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    rules = ("dX = G copied along the summed axes",)

    def forward(self, x, axis, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, _axes(axis, x.ndim), keepdims
        exact = np.int64 if x.dtype.kind in "biu" else None  # PyTorch's: NumPy's uint8 gives uint64
        return np.sum(x, axis=self.axes, keepdims=keepdims, dtype=exact)

    def backward(self, g):
        return (_expand_to(g, self.axes, self.keepdims, self.shape),)


class Mean(Function):
    promotes, to_float = (0,), True  # the mean of integers is float32
    rules = ("dX = G / n copied along the averaged axes",)

    def forward(self, x, axis, keepdims):
        self.shape, self.axes, self.keepdims = x.shape, _axes(axis, x.ndim), keepdims
        self.n = math.prod(x.shape[a] for a in self.axes)
        return np.mean(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return (_expand_to(g / self.n, self.axes, self.keepdims, self.shape),)


class Max(Function):
    """Maximum over axes. Where several elements tie for the maximum, they share G equally."""

    rules = ("dX = G / (number of maxima) at the maxima, 0 elsewhere",)
    extreme = staticmethod(np.max)

    def forward(self, x, axis, keepdims):
        self.axes, self.keepdims = _axes(axis, x.ndim), keepdims
        y = self.extreme(x, axis=self.axes, keepdims=True)
        is_extreme = x == y
        self.share = is_extreme / is_extreme.sum(axis=self.axes, keepdims=True, dtype=x.dtype)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        return (_expand_to(g, self.axes, self.keepdims, self.share.shape) * self.share,)


class Min(Max):
    """Minimum over axes, as Max: tied minima share G equally."""

    rules = ("dX = G / (number of minima) at the minima, 0 elsewhere",)
    extreme = staticmethod(np.min)


class Maximum(Function):
    """max(A, B) element by element, broadcast (torch.maximum): each pair's maximum. The
    larger of the two gets G; where they tie, each gets G / 2, as tied maxima share it in Max
    (and as in PyTorch, both get G where one is NaN: neither loses)."""

    promotes = (0, 1)
    rules = ("dA = G where A > B, G / 2 where A = B", "dB = G where B > A, G / 2 where A = B")
    pick, loses = staticmethod(np.maximum), staticmethod(np.less)  # a loses to b where a < b

    def forward(self, a, b):
        self.a, self.b = a, b
        return self.pick(a, b)

    def backward(self, g):
        a, b = self.a, self.b
        shared = np.where(a == b, g / 2, g)
        return np.where(self.loses(a, b), 0, shared), np.where(self.loses(b, a), 0, shared)


class Minimum(Maximum):
    """min(A, B) element by element (torch.minimum), as Maximum with the smaller one winning."""

    rules = ("dA = G where A < B, G / 2 where A = B", "dB = G where B < A, G / 2 where A = B")
    pick, loses = staticmethod(np.minimum), staticmethod(np.greater)


class StdFromVar(Function):
    """std = √var, the last step of `Tensor.std`. Sqrt's backward, dV = G / (2 √V), except
    that where var = 0 the gradient is 0, as PyTorch's std gives: there √'s derivative is
    infinite while every deviation's is 0, and their product would be NaN."""

    saves_output = True  # backward reads Y
    rules = ("dVar = G / (2 std), 0 where std = 0",)

    def forward(self, var):
        self.y = np.sqrt(var)
        return self.y

    def backward(self, g):
        dvar = np.zeros(self.y.shape, dtype=g.dtype)
        np.divide(g, 2 * self.y, out=dvar, where=self.y != 0)
        return (dvar,)
