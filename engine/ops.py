"""Every differentiable op of the engine: forward and backward side by side.

Notation in the derivative comments: the op computes Y from inputs A, B (or X); G is dL/dY,
the gradient arriving from above; backward returns dL/dA, dL/dB. Backward may return gradients
in the broadcast shape of Y: the engine sums them back to each input's shape (`unbroadcast`).
"""

import math

import numpy as np

from engine.tensor import Function, Tensor

# ---- arithmetic ----------------------------------------------------------------------------


class Add(Function):
    rules = ("dA = G", "dB = G")

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    rules = ("dA = G", "dB = -G")

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g if self.needs_grad[1] else None


class Mul(Function):
    rules = ("dA = G * B", "dB = G * A")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return (
            g * self.b if self.needs_grad[0] else None,
            g * self.a if self.needs_grad[1] else None,
        )


class Div(Function):
    rules = ("dA = G / B", "dB = -G * A / B²")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, g):
        g_over_b = g / self.b
        return g_over_b, -g_over_b * self.a / self.b if self.needs_grad[1] else None


class Neg(Function):
    rules = ("dX = -G",)

    def forward(self, x):
        return -x

    def backward(self, g):
        return (-g,)


class Pow(Function):
    rules = ("dX = G * p * X^(p-1)",)

    def forward(self, x, exponent):
        self.x, self.p = x, exponent
        return x**exponent

    def backward(self, g):
        return (g * self.p * self.x ** (self.p - 1),)


class MatMul(Function):
    """`A @ B` as `np.matmul`: batched, batch axes broadcast, 1-D operands promoted."""

    rules = ("dA = G @ Bᵀ", "dB = Aᵀ @ G")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a @ b

    def backward(self, g):
        a, b = self.a, self.b
        # A 1-D operand acted as a row (A) or a column (B): put its lost axis back into G.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            g = np.expand_dims(g, -2 if b.ndim > 1 else 0)
        if b.ndim == 1:
            g = np.expand_dims(g, -1)
        ga = gb = None
        if self.needs_grad[0]:
            ga = g @ np.swapaxes(b2, -1, -2)
            ga = ga[..., 0, :] if a.ndim == 1 else ga
        if self.needs_grad[1]:
            gb = np.swapaxes(a2, -1, -2) @ g
            gb = gb[..., 0] if b.ndim == 1 else gb
        return ga, gb


# ---- reductions ----------------------------------------------------------------------------


def _axes(axis, ndim):
    """`axis` (None, int or tuple, negatives allowed) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
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
        return np.sum(x, axis=self.axes, keepdims=keepdims)

    def backward(self, g):
        return (_expand_to(g, self.axes, self.keepdims, self.shape),)


class Mean(Function):
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

    def forward(self, x, axis, keepdims):
        self.axes, self.keepdims = _axes(axis, x.ndim), keepdims
        y = np.max(x, axis=self.axes, keepdims=True)
        is_max = x == y
        self.share = is_max / is_max.sum(axis=self.axes, keepdims=True, dtype=x.dtype)
        return y if keepdims else np.squeeze(y, axis=self.axes)

    def backward(self, g):
        return (_expand_to(g, self.axes, self.keepdims, self.share.shape) * self.share,)


# ---- elementwise functions -----------------------------------------------------------------


class Exp(Function):
    rules = ("dX = G * exp(X)",)

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function):
    rules = ("dX = G / X",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Function):
    rules = ("dX = G / (2 sqrt(X))",)

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class Tanh(Function):
    rules = ("dX = G * (1 - tanh(X)²)",)

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return (g * (1 - self.y * self.y),)


class Sigmoid(Function):
    rules = ("dX = G * σ(X) (1 - σ(X))",)

    def forward(self, x):
        self.y = 0.5 * (1 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), without overflow
        return self.y

    def backward(self, g):
        return (g * self.y * (1 - self.y),)


class ReLU(Function):
    rules = ("dX = G * [X > 0]",)

    def forward(self, x):
        self.positive = x > 0
        return x * self.positive

    def backward(self, g):
        return (g * self.positive,)


class Softmax(Function):
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(x - max) so it never overflows."""

    rules = ("dX = Y * (G - sum(G * Y))",)

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        self.y = e / e.sum(axis=axis, keepdims=True)
        return self.y

    def backward(self, g):
        y = self.y
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmax(Function):
    """x - log(sum(exp(x))) along `axis`; a -inf entry (a masked position) stays -inf."""

    rules = ("dX = G - softmax(X) * sum(G)",)

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        self.y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.y

    def backward(self, g):
        return (g - np.exp(self.y) * g.sum(axis=self.axis, keepdims=True),)


# ---- shape and selection -------------------------------------------------------------------


class Reshape(Function):
    rules = ("dX = G reshaped to X's shape",)

    def forward(self, x, shape):
        self.shape = x.shape
        return x.reshape(shape)

    def backward(self, g):
        return (g.reshape(self.shape),)


class Permute(Function):
    rules = ("dX = G with the axes permuted back",)

    def forward(self, x, axes):
        self.inverse = tuple(np.argsort(axes))
        return x.transpose(axes)

    def backward(self, g):
        return (g.transpose(self.inverse),)


class GetItem(Function):
    """`x[index]`: ints, slices, None, ..., and integer arrays (an embedding lookup)."""

    rules = ("dX = G scattered back to the indexed places (repeats add up)",)

    def forward(self, x, index):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in _as_tuple(index))
        self.shape, self.index = x.shape, index
        return x[index]

    def backward(self, g):
        ids = self.index[0] if len(self.index) == 1 else None
        if isinstance(ids, np.ndarray) and ids.dtype.kind in "iu":
            return (add_rows(ids, g, self.shape),)  # rows picked by ids: an embedding lookup
        dx = np.zeros(self.shape, dtype=g.dtype)
        if any(isinstance(i, np.ndarray | list) for i in self.index):
            np.add.at(dx, self.index, g)  # an index may repeat: its gradients must add up
        else:
            dx[self.index] = g  # slices and ints never repeat
        return (dx,)


def _as_tuple(index):
    return index if isinstance(index, tuple) else (index,)


def add_rows(ids, g, shape):
    """The gradient of `table[ids]` for a table of `shape`: row v is the sum of g over the
    positions whose id is v (ids repeat in an embedding lookup, and their gradients add up).

    Sorting the ids puts equal ones next to each other; `np.add.reduceat` then sums each run
    in one pass. Of np.add.at, per-column np.bincount and a one-hot matmul, it is the one that
    stays fast from a 65-row table to a 50,257-row one (bench/engine_ops.py).
    """
    table = np.zeros(shape, dtype=g.dtype)
    flat = ids.reshape(-1).astype(np.intp) % shape[0]  # negatives count from the end
    if flat.size:
        order = np.argsort(flat, kind="stable")
        rows, starts = np.unique(flat[order], return_index=True)
        table.reshape(shape[0], -1)[rows] = np.add.reduceat(
            g.reshape(flat.size, -1)[order], starts, axis=0
        )
    return table


class MaskedFill(Function):
    rules = ("dX = G where not mask, 0 where mask",)

    def forward(self, x, mask, value):
        self.mask = mask
        return np.where(mask, np.asarray(value, dtype=x.dtype), x)

    def backward(self, g):
        return (np.where(self.mask, 0, g),)


class Where(Function):
    rules = ("dA = G where cond", "dB = G where not cond")

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        zero = np.zeros((), dtype=g.dtype)
        return np.where(self.cond, g, zero), np.where(self.cond, zero, g)


class Cat(Function):
    rules = ("dXᵢ = the slice of G that Xᵢ filled",)

    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Stack(Function):
    rules = ("dXᵢ = G[i] along the new axis",)

    def forward(self, *xs, axis):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))
