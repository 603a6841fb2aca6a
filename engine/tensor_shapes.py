"""A Tensor's shape methods: `t.view(B, T, nh, hs)`, `t.transpose(1, 2)`, `t[:, -1]`, `t.split()`.

`Tensor` (engine/tensor.py) inherits these from `TensorShapes`. Each applies an op of
`engine/shape_ops.py`, which move elements and never compute: most are a `reshape` or a
`Permute` underneath, spelled as PyTorch spells them.
"""

import math

import numpy as np

from engine import shape_ops
from engine.axes import one_axis, one_spelling
from engine.tensor_in_place import ints_first, plain_index


class TensorShapes:
    """The shape methods of `Tensor`: views, reordered axes, pieces, indexing, masks."""

    __slots__ = ()

    def reshape(self, *shape):
        """The same data in another shape (one entry may be -1), as `np.reshape`."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return shape_ops.Reshape.apply(self, shape=tuple(shape))

    def view(self, *shape):
        """`reshape`, under PyTorch's name for it (NumPy makes a view whenever it can)."""
        return self.reshape(*shape)

    def expand(self, *shape):
        """Self broadcast to `shape` (-1 keeps an axis's size; new axes go in front), as
        `torch.expand`, but as a copy, not a view. Its gradient sums over the copies."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        new = len(shape) - self.ndim  # leading axes that self does not have
        if new >= 0:  # -1 keeps an axis's own size
            own = zip(shape[new:], self.shape, strict=True)
            shape = (*shape[:new], *(o if n == -1 else n for n, o in own))
        fits = new >= 0 and all(isinstance(n, int) and n >= 0 for n in shape)
        if not fits or any(o not in (1, n) for n, o in zip(shape[new:], self.shape, strict=True)):
            raise ValueError(
                f"expand{tuple(shape)}: a tensor of shape {self.shape} expands only its axes of "
                "size 1, and takes new ones in front"
            )
        return shape_ops.Expand.apply(self, shape=shape)

    def repeat(self, *repeats):
        """Self tiled `repeats[i]` times along axis i (more counts than axes add leading axes),
        as `torch.repeat` and `np.tile`."""
        one = len(repeats) == 1 and isinstance(repeats[0], tuple | list)
        repeats = tuple(repeats[0] if one else repeats)
        if len(repeats) < self.ndim or any(not isinstance(r, int) or r < 0 for r in repeats):
            raise ValueError(
                f"repeat{repeats}: give a count >= 0 for each of the {self.ndim} axes of a "
                f"tensor of shape {self.shape} (more add leading axes)"
            )
        return shape_ops.Repeat.apply(self, repeats=repeats)

    def contiguous(self):
        """Self if its data is laid out row by row (C order), else a copy that is, as
        `torch.contiguous`: a copy shares no memory with self, so changing it in place leaves
        self as it was. (NumPy's reshape copies when it must, so no op here needs it.)"""
        return self if self.data.flags.c_contiguous else self.clone()

    def clone(self):
        """A copy in new memory, still in the graph (its gradient goes back to self): what to
        change in place when self's values are needed as they are, by a graph or elsewhere."""
        return shape_ops.Clone.apply(self)

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes start_dim..end_dim (inclusive) merged into one, as `torch.flatten`."""
        if self.ndim == 0:
            return self.reshape(1)
        start = one_axis("flatten", self.ndim, start_dim, None)
        end = one_axis("flatten", self.ndim, end_dim, None)
        if start > end:
            raise ValueError(f"flatten(): start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])

    def unsqueeze(self, dim=None, *, axis=None):
        """A new axis of size 1 at `dim` (-1: at the end), as `torch.unsqueeze`."""
        dim = one_axis("unsqueeze", self.ndim, dim, axis, extra=1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def squeeze(self, dim=None, *, axis=None):
        """Without the axes of size 1: all of them, or those of `dim` (an int or a tuple) that
        have size 1 (others are kept, as in PyTorch)."""
        dims = one_spelling("squeeze", "dim", dim, "axis", axis)
        if dims is None:
            dims = range(self.ndim)
        else:
            dims = [one_axis("squeeze", self.ndim, d, None) for d in np.atleast_1d(dims).tolist()]
        shape = [n for i, n in enumerate(self.shape) if not (i in dims and n == 1)]
        return self.reshape(*shape)

    def split(self, split_size_or_sections, dim=None, *, axis=None):
        """A tuple of pieces along `dim` (default 0), as `torch.split`: an int gives pieces of
        that size (the last may be smaller), a list gives the size of each piece."""
        dim = one_axis("split", self.ndim, dim, axis, 0)
        n = self.shape[dim]
        if isinstance(split_size_or_sections, int | np.integer):
            step = int(split_size_or_sections)
            if step < 1:
                raise ValueError(f"split(): size must be >= 1, got {step}")
            sizes = [min(step, n - i) for i in range(0, n, step)]
        else:
            sizes = list(split_size_or_sections)
            if sum(sizes) != n:
                raise ValueError(f"split(): sizes {sizes} do not add up to dim {dim}'s size {n}")
        before = (slice(None),) * dim  # every axis before dim in full
        ends = np.cumsum(sizes).tolist()
        return tuple(self[(*before, slice(e - n, e))] for n, e in zip(sizes, ends, strict=True))

    def chunk(self, chunks, dim=None, *, axis=None):
        """`chunks` pieces along `dim` (default 0) of ceil(size / chunks) elements each (the last
        smaller, and fewer pieces where the size runs out first), as `torch.chunk`."""
        if not isinstance(chunks, int | np.integer) or chunks < 1:
            raise ValueError(f"chunk(): chunks must be an int >= 1, got {chunks!r}")
        dim = one_axis("chunk", self.ndim, dim, axis, 0)
        return self.split(max(math.ceil(self.shape[dim] / chunks), 1), dim)

    def transpose(self, dim0, dim1):
        """Swap two axes, as `torch.transpose`."""
        dim0, dim1 = (one_axis("transpose", self.ndim, d, None) for d in (dim0, dim1))
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return shape_ops.Permute.apply(self, axes=tuple(axes))

    def permute(self, *dims):
        """Reorder every axis: output axis i is input axis dims[i] (negatives count from the
        end), as `torch.permute`."""
        dims = tuple(dims[0] if len(dims) == 1 and isinstance(dims[0], tuple | list) else dims)
        axes = tuple(one_axis("permute", self.ndim, d, None) for d in dims)
        if sorted(axes) != list(range(self.ndim)):
            raise ValueError(f"permute(): dims {dims} are not an order of all {self.ndim} axes")
        return shape_ops.Permute.apply(self, axes=axes)

    @property
    def T(self):
        """The transpose of a matrix; a 0-D or 1-D tensor is its own, as in PyTorch."""
        if self.ndim < 2:
            return self
        if self.ndim > 2:
            raise ValueError(f".T needs a 2-D tensor, got shape {self.shape}; use permute()")
        return shape_ops.Permute.apply(self, axes=(1, 0))

    def __getitem__(self, index):
        """`t[index]`, read as PyTorch reads it (`ints_first`)."""
        index = plain_index(index)
        split = ints_first(index)
        if split is not None:  # x[0, :, ids]: x[0] first, then [:, ids]
            return self[split[0]][split[1]]
        return shape_ops.GetItem.apply(self, index=index)

    def tril(self, diagonal=0):
        """The lower triangle of the last two axes: elements above `diagonal` set to 0, as
        `torch.tril` (nanoGPT's causal mask is `tril(ones(T, T))`)."""
        above = np.triu(np.ones(self.shape[-2:], dtype=bool), k=diagonal + 1)
        return shape_ops.MaskedFill.apply(self, mask=above, value=0)

    def masked_fill(self, mask, value):
        """Where `mask` is True, `value`; elsewhere this tensor. `mask` broadcasts to self.

        `value` is a number, or a 0-D tensor, which then gets the gradient of the places it
        fills (as in PyTorch), in this tensor's dtype."""
        mask = mask.data if isinstance(mask, TensorShapes) else np.asarray(mask)
        if isinstance(value, TensorShapes):
            if value.ndim != 0:
                raise RuntimeError(
                    f"masked_fill takes a 0-D value tensor, got one of shape {value.shape}"
                )
            return shape_ops.Where.apply(value.to(self.dtype), self, cond=mask)
        return shape_ops.MaskedFill.apply(self, mask=mask, value=value)
