"""Division with a whole quotient: `a // b` and `a % b`, forward and backward side by side.

Both are Python's (and PyTorch's): the quotient is rounded toward -inf and the remainder has
the divisor's sign, so that always a == b * (a // b) + a % b:

     7 // 2 =  3     7 % 2 =  1
    -7 // 2 = -4    -7 % 2 =  1      (C and NumPy's fmod would say -3 and -1)
     7 // -2 = -4    7 % -2 = -1

Operands promote as the other arithmetic does (engine/promotion.py): integers stay integers,
and an integer divided by 0 raises ZeroDivisionError (PyTorch raises too), while floats give
inf or NaN, as IEEE division does. Notation as in engine/ops.py: G is dL/dY.
"""

import numpy as np

from engine.function import Function


def _check_operands(what, a, b):
    """Raise unless `a` and `b` (promoted to one dtype) can be divided: TypeError for two
    booleans (PyTorch has no such division either), ZeroDivisionError for an integer 0."""
    if a.dtype == np.bool_:
        raise TypeError(f"{what} needs numbers, got two bool tensors")
    if a.dtype.kind in "iu" and not np.all(b):
        raise ZeroDivisionError(f"{what}: integer division by zero")


class FloorDivide(Function):
    """`a // b`: the quotient a / b rounded toward -inf.

    A staircase: flat between its steps, so its derivative is 0 wherever it exists. PyTorch
    defines none (backward through `//` raises there), and neither does this op: a graph
    through it is a mistake, better told than silently given zero gradients.
    """

    promotes = (0, 1)
    differentiable = False
    rules = ("none: PyTorch's floor_divide has no derivative", "none")

    def forward(self, a, b):
        _check_operands("floor_divide (//)", a, b)
        with np.errstate(divide="ignore", invalid="ignore"):  # float x // 0: ±inf or NaN
            return np.floor_divide(a, b)

    def backward(self, g):
        raise RuntimeError(
            "the derivative of floor_divide (//) is not implemented, as in PyTorch: detach "
            "its input (t.detach() // b), or compute it under engine.no_grad()"
        )


class Remainder(Function):
    """`a % b` = a - b ⌊a / b⌋: what is left over, with the sign of b."""

    promotes = (0, 1)
    rules = ("dA = G", "dB = -G * ⌊A / B⌋")

    def forward(self, a, b):
        _check_operands("remainder (%)", a, b)
        self.a, self.b = a, b
        with np.errstate(invalid="ignore"):  # float x % 0: NaN
            return np.remainder(a, b)

    def backward(self, g):
        gb = None
        if self.needs_grad[1]:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = -g * np.floor_divide(self.a, self.b)
        return g, gb
