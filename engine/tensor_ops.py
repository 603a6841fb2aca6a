"""A Tensor's op methods: `a + b`, `t.exp()`, `t == 0`, `t & mask`, `t.float()`.

`Tensor` (engine/tensor.py) inherits these from `TensorOps`, its reductions (`sum`, `max`)
from `TensorReductions` (engine/tensor_reductions.py), its shape methods (`view`,
`transpose`, indexing) from `TensorShapes` (engine/tensor_shapes.py) and its in-place updates
from `TensorInPlace` (engine/tensor_in_place.py). Each method only reads its arguments and
applies one op of `engine/ops.py`, `engine/division_ops.py` (`//` and `%`),
`engine/power_ops.py` (`t ** 2`, `2 ** t`) or `engine/dtype_ops.py`, so the ops stay few and
the methods speak PyTorch.
"""

import numpy as np

from engine import division_ops, dtype_ops, ops, power_ops
from engine.axes import one_axis

NUMBERS = (int, float, bool, list, tuple, np.ndarray, np.generic)  # what a comparison takes


def names_the_cpu(device):
    """Whether `device` is "cpu" (or "cpu:0"): the one device here, which `to()` accepts as the
    tutorials' `model.to(device)` gives it."""
    return isinstance(device, str) and device.split(":")[0] == "cpu"


def as_dtype(what, dtype):
    """`dtype` as a NumPy dtype, for `what` (a `to()`): a device other than the CPU ("cuda",
    "mps"), which NumPy would call a data type it does not understand, is refused as one."""
    try:
        return np.dtype(dtype)
    except TypeError as error:
        raise TypeError(
            f"{what} takes a dtype such as engine.float64 (tinyllm runs on the CPU alone), "
            f"got {dtype!r}"
        ) from error


class TensorOps:
    """The op methods of `Tensor`: arithmetic, comparisons, elementwise functions, dtypes."""

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

    def __floordiv__(self, other):
        return division_ops.FloorDivide.apply(self, other)

    def __rfloordiv__(self, other):
        return division_ops.FloorDivide.apply(other, self)

    def __mod__(self, other):
        return division_ops.Remainder.apply(self, other)

    def __rmod__(self, other):
        return division_ops.Remainder.apply(other, self)

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

    def floor_divide(self, other):
        """`self // other`: the quotient rounded toward -inf, as Python's. It has no
        derivative: a backward through it raises, as PyTorch's does."""
        return division_ops.FloorDivide.apply(self, other)

    def remainder(self, other):
        """`self % other`: the remainder with the sign of `other`, as Python's."""
        return division_ops.Remainder.apply(self, other)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, TensorOps):  # elementwise, with a gradient for both
            return power_ops.TensorPow.apply(self, exponent)
        if isinstance(exponent, np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data
        if not isinstance(exponent, int | float):
            raise TypeError(
                f"** takes a number or a tensor as exponent, got {type(exponent).__name__}"
            )
        return power_ops.Pow.apply(self, exponent=exponent)

    def __rpow__(self, base):
        """`10 ** t` for a number base: base^t exactly, as `np.power` gives it, with gradient
        base^t ln(base) (NaN for a base < 0, whose powers are real at whole t only)."""
        if isinstance(base, np.generic):
            base = base.item()  # an np.float64 base would promote float32 data
        if not isinstance(base, int | float):
            raise TypeError(f"number ** tensor takes a real number as base, got {base!r}")
        return power_ops.NumberPow.apply(self, base=base)

    def pow(self, exponent):
        """`self ** exponent`, for a number or a tensor `exponent`."""
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
        for name, bound in (("min", min), ("max", max)):
            if bound is not None and not isinstance(bound, int | float | np.number):
                raise TypeError(
                    f"clamp() takes a number or None as {name}, got {type(bound).__name__}; "
                    "for bounds of tensors, use t.maximum(low) and t.minimum(high)"
                )
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
        dtype = as_dtype("to()", dtype)
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
