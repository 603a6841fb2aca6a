"""The ops whose output has another dtype than their input: comparisons, bitwise ops on masks,
all / any, argmax, casts.

A gradient is a rate of change, and booleans and integers do not change by small amounts: an
op whose output is boolean or integer has no gradient, and `Function.apply` never records it
(PyTorch's rule too). So `(logits.argmax(-1) == y).float().mean()`, an accuracy, is a plain
number. A cast between floating dtypes is differentiable: its backward casts G back.
Comparisons compare in the dtype PyTorch would (engine/promotion.py), as arithmetic does.
"""

import numpy as np

from engine.function import Function

# ---- comparisons: boolean outputs ------------------------------------------------------------


class Equal(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a == b


class NotEqual(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a != b


class Less(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a < b


class LessEqual(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a <= b


class Greater(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a > b


class GreaterEqual(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a >= b


# ---- bitwise, and all / any: boolean (or integer) outputs ------------------------------------


class BitwiseAnd(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a & b


class BitwiseOr(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a | b


class BitwiseXor(Function):
    promotes = (0, 1)

    def forward(self, a, b):
        return a ^ b


class BitwiseNot(Function):
    def forward(self, x):
        return ~x


class All(Function):
    def forward(self, x, axis, keepdims):
        return np.all(x, axis=axis, keepdims=keepdims)


class Any(Function):
    def forward(self, x, axis, keepdims):
        return np.any(x, axis=axis, keepdims=keepdims)


# ---- positions: integer outputs ---------------------------------------------------------------


class ArgMax(Function):
    """The index of the largest element along `axis` (None: in the flattened array), the first
    of tied maxima, as int64."""

    def forward(self, x, axis, keepdims):
        return np.argmax(x, axis=axis, keepdims=keepdims).astype(np.int64)


class ArgMin(Function):
    """The index of the smallest element along `axis`, as ArgMax."""

    def forward(self, x, axis, keepdims):
        return np.argmin(x, axis=axis, keepdims=keepdims).astype(np.int64)


# ---- casts -----------------------------------------------------------------------------------


class Cast(Function):
    rules = ("dX = G cast back to X's dtype",)

    def forward(self, x, dtype):
        self.dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return (g.astype(self.dtype),)
