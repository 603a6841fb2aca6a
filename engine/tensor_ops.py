"""A Tensor's op methods: `a + b`, `t.sum(dim=1)`, `t.exp()`, `t == 0`, `t.float()`.

`Tensor` (engine/tensor.py) inherits these from `TensorOps`, and its shape methods (`view`,
`transpose`, indexing) from `TensorShapes` (engine/tensor_shapes.py). Each method only reads
its arguments and applies one op of `engine/ops.py`, `engine/reduction_ops.py` or
`engine/dtype_ops.py` (or a few, for the composed ones: `min` is `-max(-x)`, and `max(dim)`
indexes its values at `argmax`), so the ops stay few and the methods speak PyTorch. Axes take
PyTorch's spelling or NumPy's (engine/axes.py).
"""

import collections
import math

import numpy as np

from engine import dtype_ops, ops, reduction_ops
from engine.axes import one_axis, one_spelling, reduction_axes

ValuesIndices = collections.namedtuple("ValuesIndices", ["values", "indices"])
ValuesIndices.__doc__ = "What `t.max(dim)` and `t.min(dim)` return, as in PyTorch."

NUMBERS = (int, float, bool, list, tuple, np.ndarray, np.generic)  # what a comparison takes


def names_the_cpu(device):
    """Whether `device` is "cpu" (or "cpu:0"): the one device here, which `to()` accepts as the
    tutorials' `model.to(device)` gives it."""
    return isinstance(device, str) and device.split(":")[0] == "cpu"


class TensorOps:
    """The op methods of `Tensor`: arithmetic, comparisons, reductions, elementwise functions,
    dtypes."""

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

    def add(self, other):
        """`self + other`."""
        return ops.Add.apply(self, other)

    def sub(self, other):
        """`self - other`."""
        return ops.Sub.apply(self, other)

    def mul(self, other):
        """`self * other`."""
        return ops.Mul.apply(self, other)

    def div(self, other):
        """`self / other`."""
        return ops.Div.apply(self, other)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data
        if not isinstance(exponent, int | float):
            raise TypeError(f"** takes a number as exponent, got {type(exponent).__name__}")
        return ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base):
        """`10 ** t` for a number base > 0: exp(t ln base), so its gradient is base^t ln base."""
        if not isinstance(base, int | float | np.number) or not base > 0:
            raise TypeError(f"number ** tensor takes a number > 0 as base, got {base!r}")
        return (self * math.log(base)).exp()

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

    # `mask & other`, `|`, `^` and `~` on boolean (or integer) tensors, as NumPy's bitwise ops.
    def __and__(self, other):
        return self._bitwise(dtype_ops.BitwiseAnd, other)

    def __or__(self, other):
        return self._bitwise(dtype_ops.BitwiseOr, other)

    def __xor__(self, other):
        return self._bitwise(dtype_ops.BitwiseXor, other)

    def __invert__(self):
        return self._bitwise(dtype_ops.BitwiseNot)

    def _bitwise(self, op, *other):
        kinds = {t.dtype.kind for t in (self, *other) if isinstance(t, TensorOps)}
        if not kinds <= set("biu"):
            raise TypeError(f"{op.__name__} needs bool or integer tensors, got {self.dtype}")
        return op.apply(self, *other)

    # ---- reductions ------------------------------------------------------------------------------
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
        `correction=0`: the mean, as NumPy's `var`). Composed from mean, * and sum."""
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
        """The standard deviation, the square root of `var` (unbiased by default, as PyTorch)."""
        spelled = dict(keepdim=keepdim, correction=correction, unbiased=unbiased, axis=axis)
        return self.var(dim, **spelled, keepdims=keepdims).sqrt()

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
        return ops.SoftmaxOp.apply(self, axis=one_axis("softmax", self.ndim, dim, axis, -1))

    def log_softmax(self, dim=None, *, axis=None):
        """log(softmax(x)) along `dim` (default -1), without taking the log of a small number."""
        return ops.LogSoftmaxOp.apply(self, axis=one_axis("log_softmax", self.ndim, dim, axis, -1))

    # ---- dtypes ----------------------------------------------------------------------------------
    def to(self, dtype):
        """This tensor as `dtype` (self if it has it already); between floating dtypes the
        gradient flows back, cast to this tensor's dtype. The one device is the CPU, so
        `to("cpu")` is self too (any other device is refused)."""
        if names_the_cpu(dtype):
            return self
        try:
            dtype = np.dtype(dtype)
        except TypeError as error:
            raise TypeError(
                f"to() takes a dtype such as engine.float64 (tinyllm runs on the CPU alone), "
                f"got {dtype!r}"
            ) from error
        return self if dtype == self.dtype else dtype_ops.Cast.apply(self, dtype=dtype)

    def type(self, dtype):
        """`to(dtype)`, under PyTorch's older name: `(pred == y).type(engine.float)`."""
        return self.to(dtype)

    def float(self):
        """As float32 (PyTorch's float)."""
        return self.to(np.float32)

    def double(self):
        """As float64 (PyTorch's double), as gradcheck wants."""
        return self.to(np.float64)

    def half(self):
        """As float16."""
        return self.to(np.float16)

    def long(self):
        """As int64 (PyTorch's long): no gradient."""
        return self.to(np.int64)

    def int(self):
        """As int32 (PyTorch's int): no gradient."""
        return self.to(np.int32)

    def bool(self):
        """As booleans: no gradient."""
        return self.to(np.bool_)
