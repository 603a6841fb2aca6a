"""A Tensor's op methods: `a + b`, `t.sum(dim=1)`, `t.view(B, T, nh, hs)`, `t == 0`, `t.float()`.

`Tensor` (engine/tensor.py) inherits these from `TensorOps`. Each method only reads its
arguments and applies one op of `engine/ops.py`, `engine/reduction_ops.py`,
`engine/shape_ops.py` or `engine/dtype_ops.py` (or a few, for the composed ones: `min` is
`-max(-x)`), so the ops stay few and the methods speak PyTorch.

Axes have two spellings, and every method that takes one (and `engine.cat`, `engine.stack`
and `nn.functional`) accepts both: PyTorch's `dim=` and `keepdim=`, and NumPy's `axis=` and
`keepdims=`. Giving both spellings of one argument is a TypeError. A positional axis is
PyTorch's `dim`, which matters in one place: `t.max(1)` and `t.max(dim=1)` return
`(values, indices)` as in PyTorch, while `t.max(axis=1)` returns the values, as in NumPy
(`min` likewise).
"""

import collections
import math

import numpy as np

from engine import dtype_ops, ops, reduction_ops, shape_ops

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What `t.max(dim)` and `t.min(dim)` return, as in PyTorch."

NUMBERS = (int, float, bool, list, tuple, np.ndarray, np.generic)  # what a comparison takes


def one_spelling(what, torch_name, torch_value, numpy_name, numpy_value):
    """The argument given under PyTorch's name or NumPy's (None if neither); never both."""
    if torch_value is not None and numpy_value is not None:
        raise TypeError(
            f"{what}() got both {torch_name}= and {numpy_name}=; they mean the same: give one"
        )
    return torch_value if torch_value is not None else numpy_value


def _reduction(what, dim, keepdim, axis, keepdims):
    """(axis, keepdims) of a reduction from either spelling."""
    axis = one_spelling(what, "dim", dim, "axis", axis)
    return axis, bool(one_spelling(what, "keepdim", keepdim, "keepdims", keepdims))


def _axis(what, ndim, dim, axis, default=None, extra=0):
    """One axis from either spelling, in 0..ndim - 1 + extra (negatives count from the end)."""
    a = one_spelling(what, "dim", dim, "axis", axis)
    if a is None:
        if default is None:
            raise TypeError(f"{what}() needs an axis: dim= (or axis=)")
        a = default
    if not isinstance(a, int | np.integer) or not -(ndim + extra) <= a < ndim + extra:
        raise ValueError(f"{what}(): dim {a!r} is out of range for a {ndim}-D tensor")
    return int(a) % (ndim + extra)


class TensorOps:
    """The op methods of `Tensor`; see the module docstring for the two spellings of axes."""

    __slots__ = ()
    __array_ufunc__ = None  # NumPy operators defer to ours: `ndarray * tensor` is a Tensor

    # ---- arithmetic ------------------------------------------------------------------------------
    def __add__(self, other):
        return ops.Add.apply(self, other)

    def __radd__(self, other):
        return ops.Add.apply(other, self)

    def __sub__(self, other):
        return ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return ops.Sub.apply(other, self)

    def __mul__(self, other):
        return ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return ops.Div.apply(other, self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul.apply(other, self)

    def matmul(self, other):
        """`self @ other`."""
        return ops.MatMul.apply(self, other)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data
        if not isinstance(exponent, int | float):
            raise TypeError(f"** takes a number as exponent, got {type(exponent).__name__}")
        return ops.Pow.apply(self, exponent=exponent)

    def pow(self, exponent):
        """`self ** exponent`, for a number `exponent`."""
        return self**exponent

    def abs(self):
        return ops.Abs.apply(self)

    def __abs__(self):
        return ops.Abs.apply(self)

    # ---- comparisons: boolean tensors, no gradient -----------------------------------------------
    # A Tensor compared with `==` is a Tensor, not True or False, so `t in some_list` would compare
    # elements: the code base looks tensors up by identity (`is`, `id`). Hashing stays identity,
    # so tensors remain dict keys (an optimizer's state is keyed by its parameters).
    __hash__ = object.__hash__

    def _compare(self, op, other):
        if not isinstance(other, (TensorOps, *NUMBERS)):
            return NotImplemented
        return op.apply(self, other)

    def __eq__(self, other):
        return self._compare(dtype_ops.Equal, other)

    def __ne__(self, other):
        return self._compare(dtype_ops.NotEqual, other)

    def __lt__(self, other):
        return self._compare(dtype_ops.Less, other)

    def __le__(self, other):
        return self._compare(dtype_ops.LessEqual, other)

    def __gt__(self, other):
        return self._compare(dtype_ops.Greater, other)

    def __ge__(self, other):
        return self._compare(dtype_ops.GreaterEqual, other)

    # ---- reductions ------------------------------------------------------------------------------
    def sum(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Sum over `dim` (None: every axis; an int or a tuple), as `torch.sum` and `np.sum`."""
        axis, keepdims = _reduction("sum", dim, keepdim, axis, keepdims)
        return reduction_ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Mean over `dim`, as `torch.mean` and `np.mean`."""
        axis, keepdims = _reduction("mean", dim, keepdim, axis, keepdims)
        return reduction_ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The largest elements, in PyTorch's way or NumPy's:

        - `t.max(dim)`, `t.max(dim=1, keepdim=True)`: `(values, indices)` along that one axis,
          as `torch.max`; each value's gradient goes to the element its index names (the
          first of tied maxima, as `argmax`).
        - `t.max()`, `t.max(axis=(0, 1), keepdims=True)`: the maxima, as `np.max`; tied maxima
          share the gradient equally (as PyTorch's `max()` and `amax` do).
        """
        return self._extreme("max", dim, keepdim, axis, keepdims)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """The smallest elements: as `max`, with `(values, indices)` for a `dim`."""
        return self._extreme("min", dim, keepdim, axis, keepdims)

    def _extreme(self, which, dim, keepdim, axis, keepdims):
        keep = bool(one_spelling(which, "keepdim", keepdim, "keepdims", keepdims))
        if dim is None:
            if which == "max":
                return reduction_ops.Max.apply(self, axis=axis, keepdims=keep)
            return -reduction_ops.Max.apply(-self, axis=axis, keepdims=keep)  # min x = -max(-x)
        one_spelling(which, "dim", dim, "axis", axis)
        if not isinstance(dim, int | np.integer):
            raise TypeError(
                f"{which}(dim) takes one int dim and returns (values, indices), as in PyTorch; "
                f"for several axes use {which}(axis=...)"
            )
        dim = _axis(which, self.ndim, dim, None)
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
        axis, keepdims = _reduction("argmax", dim, keepdim, axis, keepdims)
        return dtype_ops.ArgMax.apply(self, axis=axis, keepdims=keepdims)

    def argmin(self, dim=None, keepdim=None, *, axis=None, keepdims=None):
        """Indices (int64) of the minima along `dim`, as `argmax`. No gradient."""
        axis, keepdims = _reduction("argmin", dim, keepdim, axis, keepdims)
        return dtype_ops.ArgMin.apply(self, axis=axis, keepdims=keepdims)

    # ---- elementwise functions -------------------------------------------------------------------
    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def erf(self):
        """The error function, elementwise (as `torch.erf`)."""
        return ops.Erf.apply(self)

    def tanh(self):
        return ops.TanhOp.apply(self)

    def sigmoid(self):
        return ops.SigmoidOp.apply(self)

    def relu(self):
        return ops.ReLUOp.apply(self)

    def clamp(self, min=None, max=None):
        """Each element limited to [min, max] (either may be None), as `torch.clamp`."""
        if min is None and max is None:
            raise ValueError("clamp() needs min, max or both")
        return ops.Clamp.apply(self, low=min, high=max)

    def softmax(self, dim=None, *, axis=None):
        """exp(x) / sum(exp(x)) along `dim` (default -1), stable for large |x| and -inf entries."""
        return ops.SoftmaxOp.apply(self, axis=_axis("softmax", self.ndim, dim, axis, -1))

    def log_softmax(self, dim=None, *, axis=None):
        """log(softmax(x)) along `dim` (default -1), without taking the log of a small number."""
        return ops.LogSoftmaxOp.apply(self, axis=_axis("log_softmax", self.ndim, dim, axis, -1))

    # ---- shapes ----------------------------------------------------------------------------------
    def reshape(self, *shape):
        """The same data in another shape (one entry may be -1), as `np.reshape`."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return shape_ops.Reshape.apply(self, shape=tuple(shape))

    def view(self, *shape):
        """`reshape`, under PyTorch's name for it (NumPy makes a view whenever it can)."""
        return self.reshape(*shape)

    def contiguous(self):
        """Self: NumPy's reshape copies when it must, so no tensor needs to be made contiguous."""
        return self

    def flatten(self, start_dim=0, end_dim=-1):
        """Axes start_dim..end_dim (inclusive) merged into one, as `torch.flatten`."""
        if self.ndim == 0:
            return self.reshape(1)
        start = _axis("flatten", self.ndim, start_dim, None)
        end = _axis("flatten", self.ndim, end_dim, None)
        if start > end:
            raise ValueError(f"flatten(): start_dim {start_dim} comes after end_dim {end_dim}")
        shape = self.shape
        return self.reshape(*shape[:start], math.prod(shape[start : end + 1]), *shape[end + 1 :])

    def unsqueeze(self, dim=None, *, axis=None):
        """A new axis of size 1 at `dim` (-1: at the end), as `torch.unsqueeze`."""
        dim = _axis("unsqueeze", self.ndim, dim, axis, extra=1)
        return self.reshape(*self.shape[:dim], 1, *self.shape[dim:])

    def squeeze(self, dim=None, *, axis=None):
        """Without the axes of size 1: all of them, or those of `dim` (an int or a tuple) that
        have size 1 (others are kept, as in PyTorch)."""
        dims = one_spelling("squeeze", "dim", dim, "axis", axis)
        if dims is None:
            dims = range(self.ndim)
        else:
            dims = [_axis("squeeze", self.ndim, d, None) for d in np.atleast_1d(dims).tolist()]
        shape = [n for i, n in enumerate(self.shape) if not (i in dims and n == 1)]
        return self.reshape(*shape)

    def split(self, split_size_or_sections, dim=None, *, axis=None):
        """A tuple of pieces along `dim` (default 0), as `torch.split`: an int gives pieces of
        that size (the last may be smaller), a list gives the size of each piece."""
        dim = _axis("split", self.ndim, dim, axis, 0)
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
        dim = _axis("chunk", self.ndim, dim, axis, 0)
        return self.split(max(math.ceil(self.shape[dim] / chunks), 1), dim)

    def transpose(self, dim0, dim1):
        """Swap two axes, as `torch.transpose`."""
        for axis in (dim0, dim1):
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(f"transpose: axis {axis} is out of range for shape {self.shape}")
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return shape_ops.Permute.apply(self, axes=tuple(axes))

    def permute(self, *axes):
        """Reorder every axis: output axis i is input axis axes[i]."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        return shape_ops.Permute.apply(self, axes=tuple(axes))

    @property
    def T(self):
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-D tensor, got shape {self.shape}; use permute()")
        return shape_ops.Permute.apply(self, axes=(1, 0))

    def __getitem__(self, index):
        parts = index if isinstance(index, tuple) else (index,)
        if any(isinstance(i, TensorOps) for i in parts):  # a Tensor of ids or a boolean mask
            parts = tuple(i.data if isinstance(i, TensorOps) else i for i in parts)
            index = parts if isinstance(index, tuple) else parts[0]
        return shape_ops.GetItem.apply(self, index=index)

    def tril(self, diagonal=0):
        """The lower triangle of the last two axes: elements above `diagonal` set to 0, as
        `torch.tril` (nanoGPT's causal mask is `tril(ones(T, T))`)."""
        above = np.triu(np.ones(self.shape[-2:], dtype=bool), k=diagonal + 1)
        return shape_ops.MaskedFill.apply(self, mask=above, value=0)

    def masked_fill(self, mask, value):
        """Where `mask` is True, `value`; elsewhere this tensor. `mask` broadcasts to self."""
        mask = mask.data if isinstance(mask, TensorOps) else np.asarray(mask)
        return shape_ops.MaskedFill.apply(self, mask=mask, value=value)

    # ---- dtypes ----------------------------------------------------------------------------------
    def to(self, dtype):
        """This tensor as `dtype` (self if it has it already); between floating dtypes the
        gradient flows back, cast to this tensor's dtype."""
        try:
            dtype = np.dtype(dtype)
        except TypeError as error:
            raise TypeError(f"to() takes a dtype such as np.float64, got {dtype!r}") from error
        return self if dtype == self.dtype else dtype_ops.Cast.apply(self, dtype=dtype)

    def float(self):
        """As float32 (PyTorch's float)."""
        return self.to(np.float32)

    def long(self):
        """As int64 (PyTorch's long): no gradient."""
        return self.to(np.int64)
