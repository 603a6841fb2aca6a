"""The shape and selection ops: reshape, permute, indexing, masking, joining.

None of them computes anything new: each moves, copies or picks elements, so each backward
moves the gradient back to where its element came from (and adds up where one element was
used several times, as in an embedding lookup with repeated ids). Notation as in
`engine/ops.py`: G is dL/dY.
"""

import numpy as np

from engine.function import Function


class Clone(Function):
    rules = ("dX = G",)

    def forward(self, x):
        return x.copy()  # the same values in new memory: changing one leaves the other

    def backward(self, g):
        return (g,)


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
        self.axes = axes
        return x.transpose(axes)

    def backward(self, g):
        return (g.transpose(np.argsort(self.axes)),)  # the inverse permutation


class Expand(Function):
    """`x.expand(*shape)`: x broadcast to `shape`, as a copy (PyTorch's is a view)."""

    rules = ("dX = G summed over the broadcast axes",)

    def forward(self, x, shape):
        return np.broadcast_to(x, shape).copy()

    def backward(self, g):
        return (g,)  # the engine sums it down to x's shape (engine/backward.py, unbroadcast)


class Repeat(Function):
    """`x.repeat(*repeats)`: x tiled `repeats[i]` times along axis i, as `np.tile`."""

    rules = ("dX = G summed over the copies",)

    def forward(self, x, repeats):
        self.shape = (1,) * (len(repeats) - x.ndim) + x.shape  # leading axes of size 1 first
        self.repeats = repeats
        return np.tile(x.reshape(self.shape), repeats)

    def backward(self, g):
        pairs = [
            n for copies, size in zip(self.repeats, self.shape, strict=True) for n in (copies, size)
        ]
        copy_axes = tuple(range(0, len(pairs), 2))  # the first axis of each (copies, size) pair
        return (g.reshape(pairs).sum(axis=copy_axes).reshape(self.shape),)


class GetItem(Function):
    """`x[index]`: ints, slices, None, ..., and integer arrays (an embedding lookup)."""

    rules = ("dX = G scattered back to the indexed places (repeats add up)",)

    def forward(self, x, index):
        self.shape, self.index = x.shape, _as_tuple(index)
        y = x[index]
        # Every index an int: NumPy gives a scalar, a copy. With `...` after them it gives a
        # 0-d view instead, as PyTorch does, so that t[i, j].add_(1) changes t.
        return y if isinstance(y, np.ndarray) else x[(*self.index, Ellipsis)]

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
    promotes = (0, 1)
    rules = ("dA = G where cond", "dB = G where not cond")

    def forward(self, a, b, cond):
        self.cond = cond
        return np.where(cond, a, b)

    def backward(self, g):
        zero = np.zeros((), dtype=g.dtype)
        return np.where(self.cond, g, zero), np.where(self.cond, zero, g)


class Cat(Function):
    promotes = "all"
    rules = ("dXᵢ = the slice of G that Xᵢ filled",)

    def forward(self, *xs, axis):
        self.axis = axis
        self.bounds = np.cumsum([x.shape[axis] for x in xs])[:-1]
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        return tuple(np.split(g, self.bounds, axis=self.axis))


class Stack(Function):
    promotes = "all"
    rules = ("dXᵢ = G[i] along the new axis",)

    def forward(self, *xs, axis):
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, g):
        return tuple(np.moveaxis(g, self.axis, 0))
