"""Powers, forward and backward side by side: `x ** p` (a tensor to a number's power) and
`base ** x` (a number to a tensor's power).

Both are computed by `np.power` itself, never as exp(p ln x): exp and ln each round, so
`10 ** t` composed that way gives 1000.0001 for t = 3, where np.power gives 1000 exactly.
Notation as in engine/ops.py: Y is the output, X the tensor, G is dL/dY.

    d/dX X^p    = p X^(p-1)        (Pow: the exponent p is a constant)
    d/dX base^X = base^X ln(base)  (NumberPow: the base is a constant)
"""

import numpy as np

from engine import promotion
from engine.function import Function, as_array


class Pow(Function):
    rules = ("dX = G * p * X^(p-1)",)

    def forward(self, x, exponent):
        if isinstance(exponent, float) and x.dtype.kind != "f":
            x = x.astype(np.float32)  # integers to a float power: float32, as in PyTorch
        elif x.dtype == np.bool_:
            x = x.astype(np.int64)  # bools to a whole power: int64, as in PyTorch (NumPy: int8)
        self.x, self.p = x, exponent
        return x**exponent

    def backward(self, g):
        if self.p == 0:  # X⁰ = 1 is flat, even at X = 0, where p X^(p-1) would be 0 · inf
            return (np.zeros_like(g),)
        return (g * self.p * self.x ** (self.p - 1),)


class NumberPow(Function):
    """`base ** X` for a number `base`, in the dtype PyTorch gives a number beside X
    (engine/promotion.py): `2 ** int64` is int64, `2.0 ** int64` float32, `10 ** float64`
    float64.

    Its derivative is real only for base > 0. As in PyTorch, a base of 0 gives 0 where X >= 0
    (0^X is 0, or 1 at X = 0: flat on each side) and a negative base gives NaN, ln of a
    negative number: (-2)^X is real at whole X only, so no slope exists.
    """

    rules = ("dX = G * base^X * ln(base)",)

    def forward(self, x, base):
        b = as_array(base, x)  # a 0-d array, of the dtype PyTorch gives the number beside x
        dtype = promotion.result_type(b, x)
        if dtype == np.bool_:
            raise TypeError(f"number ** tensor needs numbers, got base {base!r} and a bool tensor")
        if dtype.kind in "iu" and (x < 0).any():  # NumPy refuses it; PyTorch silently gives 0
            raise ValueError(
                f"an integer base to a negative integer power is no integer: {base} ** "
                f"{x.min()}; use a float base ({float(base)} ** t)"
            )
        self.x, self.base = x, b.astype(dtype)
        with np.errstate(invalid="ignore", divide="ignore"):  # (-2) ** 0.5: NaN; 0 ** -1: inf
            self.y = np.power(self.base, x.astype(dtype, copy=False))
        return self.y

    def backward(self, g):
        with np.errstate(invalid="ignore", divide="ignore"):  # ln 0 = -inf, ln(-2) = NaN
            gx = g * self.y * np.log(self.base)
        if self.base == 0:
            gx = np.where(self.x >= 0, np.zeros((), gx.dtype), gx)  # 0 · -inf would be NaN
        return (gx,)
