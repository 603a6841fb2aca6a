"""Powers, forward and backward side by side: `x ** p` (a tensor to a number's power),
`base ** x` (a number to a tensor's power) and `a ** b` (a tensor to a tensor's, elementwise).

All three are computed by `np.power` itself, never as exp(p ln x): exp and ln each round, so
`10 ** t` composed that way gives 1000.0001 for t = 3, where np.power gives 1000 exactly.
Notation as in engine/ops.py: Y is the output, X the tensor, G is dL/dY.

    d/dX X^p    = p X^(p-1)        (Pow: the exponent p is a constant)
    d/dX base^X = base^X ln(base)  (NumberPow: the base is a constant)
    TensorPow, Y = A^B: both at once, dA = G B A^(B-1) and dB = G A^B ln(A)
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

    saves_output = True  # backward reads Y
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


class TensorPow(Function):
    """`A ** B` for two tensors, elementwise and broadcast, in their common dtype (PyTorch's
    promotion): `torch.pow(a, b)`.

    At the edges the gradients are PyTorch's: dA is 0 where B = 0 (A⁰ = 1 is flat, even at
    A = 0, where B A^(B-1) would be 0 · inf), dB is 0 where A = 0 and B >= 0 (0^B is flat
    there), and NaN where A < 0, as for NumberPow.
    """

    promotes = (0, 1)
    saves_output = True  # backward reads Y
    rules = ("dA = G * B * A^(B-1)", "dB = G * A^B * ln(A)")

    def forward(self, a, b):
        if a.dtype == np.bool_:
            raise TypeError("tensor ** tensor needs numbers, got two bool tensors")
        if a.dtype.kind in "iu" and (b < 0).any():  # NumPy refuses it; PyTorch silently gives 0
            raise ValueError(
                f"an integer tensor to a negative integer power is no integer (an exponent "
                f"{b.min()}); make the base float (a.float() ** b)"
            )
        self.a, self.b = a, b
        with np.errstate(invalid="ignore", divide="ignore"):  # (-2) ** 0.5: NaN; 0 ** -1: inf
            self.y = np.power(a, b)
        return self.y

    def backward(self, g):
        a, b, da, db = self.a, self.b, None, None
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 ** -1, ln 0, ln of a < 0
            if self.needs_grad[0]:
                da = np.where(b == 0, 0, g * b * a ** (b - 1))
            if self.needs_grad[1]:
                db = np.where((a == 0) & (b >= 0), 0, g * self.y * np.log(a))
        return da, db
