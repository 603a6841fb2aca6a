"""The engine's arithmetic: every op that computes something, forward and backward side by side.

Notation in the derivative comments: the op computes Y from inputs A, B (or X); G is dL/dY,
the gradient arriving from above; backward returns dL/dA, dL/dB. Backward may return gradients
in the broadcast shape of Y: the engine sums them back to each input's shape (`unbroadcast`).
The reductions (sum, mean, max) are in `engine/reduction_ops.py`, `//` and `%` in
`engine/division_ops.py`, the powers (`x ** p`, `base ** x`) in `engine/power_ops.py`, and the
ops that only move elements (reshape, indexing, ...) in `engine/shape_ops.py`.

These are primitives: everything in `nn.functional` is composed from them. An op whose name is
also a layer's (nn.Tanh, nn.ReLU, ...) ends in `Op`, so no two classes share a name.
"""

import math

import numpy as np

from engine.function import Function

# ---- arithmetic ----------------------------------------------------------------------------


class Add(Function):
    promotes = (0, 1)
    rules = ("dA = G", "dB = G")

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


class Sub(Function):
    promotes = (0, 1)
    rules = ("dA = G", "dB = -G")

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, -g if self.needs_grad[1] else None


class Mul(Function):
    promotes = (0, 1)
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
    promotes, to_float = (0, 1), True
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


class MatMul(Function):
    """`A @ B` as `np.matmul`: batched, batch axes broadcast, 1-D operands promoted."""

    promotes = (0, 1)
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


# ---- elementwise functions -----------------------------------------------------------------


class Exp(Function):
    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = G * exp(X)",)

    def forward(self, x):
        self.y = np.exp(x)
        return self.y

    def backward(self, g):
        return (g * self.y,)


class Log(Function):
    promotes, to_float = (0,), True
    rules = ("dX = G / X",)

    def forward(self, x):
        self.x = x
        return np.log(x)

    def backward(self, g):
        return (g / self.x,)


class Sqrt(Function):
    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = G / (2 sqrt(X))",)

    def forward(self, x):
        self.y = np.sqrt(x)
        return self.y

    def backward(self, g):
        return (g / (2 * self.y),)


class Erf(Function):
    """The error function erf(x) = 2/√π ∫₀ˣ exp(-t²) dt, elementwise (the exact GELU needs it)."""

    promotes, to_float = (0,), True
    rules = ("dX = G * 2/√π exp(-X²)",)

    def forward(self, x):
        self.x = x
        return erf(x)

    def backward(self, g):
        return (g * (_TWO_OVER_SQRT_PI * np.exp(-self.x * self.x)),)


_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x):
    """erf of a floating array, elementwise, in its dtype (NumPy has no erf of its own).

    Built from two classical expansions with no fitted constants (Abramowitz & Stegun 7.1.6
    and 7.1.14), each used where it converges fast:
    - |x| < 2: erf(x) = 2/√π x exp(-x²) Σₙ (2x²)ⁿ / (1·3·5···(2n+1)). Every term is positive,
      so nothing cancels; the sum is evaluated in Horner form, 1 + c/3 (1 + c/5 (1 + ...)),
      whose partial results stay >= 1 (tiny terms would be slow subnormal numbers).
    - |x| >= 2: erf(x) = 1 - erfc(x) with Laplace's continued fraction
      erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))).
    float64 uses 30 series terms and 40 fraction levels, float32 20 and 12. Largest error
    against Python's math.erf: 1.2e-15 in float64, 5e-7 in float32 (its rounding).
    """
    x = np.asarray(x)
    terms, levels = (20, 12) if x.dtype == np.float32 else (30, 40)
    a = np.abs(x)
    out = np.empty_like(a)
    small = a < 2.0
    s = a[small]
    c = 2.0 * s * s
    total = np.ones_like(s)
    for n in range(terms - 1, 0, -1):  # total = 1 + c/3 (1 + c/5 (1 + ... (1 + c/(2n+1))))
        total *= c
        total *= 1.0 / (2 * n + 1)
        total += 1.0
    out[small] = _TWO_OVER_SQRT_PI * s * np.exp(-s * s) * total
    big = a[~small]
    fraction = big.copy()
    for k in range(levels, 0, -1):  # evaluated from the innermost level outwards
        fraction = big + (0.5 * k) / fraction
    out[~small] = 1.0 - np.exp(-big * big) / (math.sqrt(math.pi) * fraction)
    return np.copysign(out, x)


class Abs(Function):
    rules = ("dX = G * sign(X)  (0 at X = 0, as in PyTorch)",)

    def forward(self, x):
        self.x = x
        return np.abs(x)

    def backward(self, g):
        return (g * np.sign(self.x),)


class Clamp(Function):
    """Each element limited to [low, high]; either bound may be None (no limit on that side)."""

    rules = ("dX = G where low <= X <= high, 0 elsewhere (a bound itself passes G, as in PyTorch)",)

    def forward(self, x, low, high):
        if x.dtype.kind != "f" and (isinstance(low, float) or isinstance(high, float)):
            x = x.astype(np.float32)  # integers limited by a float bound: float32, as in PyTorch
        elif x.dtype == bool:
            x = x.astype(np.int64)  # booleans limited by int bounds: int64, as in PyTorch
        inside = np.ones(x.shape, dtype=bool)
        if low is not None:
            inside &= x >= low
        if high is not None:
            inside &= x <= high
        self.inside = inside
        return np.clip(x, low, high).astype(x.dtype, copy=False)

    def backward(self, g):
        return (g * self.inside,)


class TanhOp(Function):
    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = G * (1 - tanh(X)²)",)

    def forward(self, x):
        self.y = np.tanh(x)
        return self.y

    def backward(self, g):
        return (g * (1 - self.y * self.y),)


class SigmoidOp(Function):
    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = G * σ(X) (1 - σ(X))",)

    def forward(self, x):
        # 1 / (1 + exp(-x)) for x >= 0, and exp(x) / (1 + exp(x)) below: exp never overflows,
        # and a tiny σ(x) keeps its digits (1 - something close to 1 would lose them)
        e = np.exp(-np.abs(x))
        self.y = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return self.y

    def backward(self, g):
        return (g * self.y * (1 - self.y),)


class ReLUOp(Function):
    rules = ("dX = G * [X > 0]",)

    def forward(self, x):
        self.positive = x > 0
        return np.maximum(x, 0)  # not x * positive: -inf · 0 is NaN; integers stay integers

    def backward(self, g):
        return (g * self.positive,)


class SoftmaxOp(Function):
    """exp(x) / sum(exp(x)) along `axis`, computed as exp(x - max) so it never overflows."""

    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = Y * (G - sum(G * Y))",)

    def forward(self, x, axis):
        self.axis = axis
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        self.y = e / e.sum(axis=axis, keepdims=True)
        return self.y

    def backward(self, g):
        y = self.y
        return (y * (g - (g * y).sum(axis=self.axis, keepdims=True)),)


class LogSoftmaxOp(Function):
    """x - log(sum(exp(x))) along `axis`; a -inf entry (a masked position) stays -inf."""

    promotes, to_float = (0,), True
    saves_output = True  # backward reads Y
    rules = ("dX = G - softmax(X) * sum(G)",)

    def forward(self, x, axis):
        self.axis = axis
        shifted = x - x.max(axis=axis, keepdims=True)
        self.y = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))
        return self.y

    def backward(self, g):
        return (g - np.exp(self.y) * g.sum(axis=self.axis, keepdims=True),)
