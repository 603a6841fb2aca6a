"""GELU, the smooth ReLU of GPT-2, in both of its forms, with the error function it needs.

    GELU(x) = x Φ(x),   Φ(x) = (1 + erf(x / √2)) / 2   (the normal distribution's CDF)

'none' computes Φ exactly through erf; 'tanh' is GPT-2's cheaper stand-in
    Φ(x) ≈ (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2,
which differs from the exact form by less than 5e-4 and is what GPT-2's weights were trained
with. NumPy has no erf, so `erf` below computes it from two classical expansions.
"""

import math

import numpy as np

from engine.tensor import Function

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


def erf(x):
    """The error function erf(x) = 2/√π ∫₀ˣ exp(-t²) dt, elementwise, in x's floating dtype.

    A high-accuracy approximation built from two classical expansions with no fitted
    constants (Abramowitz & Stegun 7.1.6 and 7.1.14), each used where it converges fast:
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


_BLOCK = 1 << 16  # elements per block: 256 KB per float32 array, ~1.25 MB for all a pass touches


def _blockwise(fill, *arrays):
    """Call `fill` on matching blocks of the flattened arrays, writing into the first ones.

    The tanh GELU makes eight or nine passes over its (B, T, 4C) arrays. Whole arrays do not
    fit the CPU's L2 cache, so every pass would stream them from memory again; block by block,
    all the passes after the first find the block in the cache. The arrays written to must be
    C-contiguous (then reshape(-1) is a view, not a copy).
    """
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, flat[0].size, _BLOCK):
        fill(*(a[start : start + _BLOCK] for a in flat))


def _tanh_forward(y, h, x):
    """h = (1 + tanh u) / 2 with u = √(2/π) (0.044715 x² + 1) x, and y = x h, in place."""
    np.multiply(x, x, out=h)
    h *= 0.044715 * _SQRT_2_OVER_PI
    h += _SQRT_2_OVER_PI
    h *= x
    np.tanh(h, out=h)
    h += 1.0
    h *= 0.5
    np.multiply(x, h, out=y)


def _tanh_backward(dx, x, h, g):
    """dx = g h (1 + 2 x (1 - h) u'), 2 u' = 2 √(2/π) (3 · 0.044715 x² + 1), in place."""
    np.multiply(x, x, out=dx)
    dx *= 6 * 0.044715 * _SQRT_2_OVER_PI
    dx += 2 * _SQRT_2_OVER_PI
    dx *= x
    dx *= np.subtract(1.0, h)
    dx += 1.0
    dx *= h
    dx *= g


class GELU(Function):
    """Y = GELU(X) elementwise; `approximate` is 'tanh' (GPT-2) or 'none' (exact, via erf).

    'none':  Y = X Φ(X),  dY/dX = Φ(X) + X φ(X),  φ(x) = exp(-x²/2) / √(2π)
    'tanh':  Y = X h,  h = (1 + tanh u) / 2,  u = √(2/π) (X + 0.044715 X³). Since
             1 - tanh² u = 4 h (1 - h):  dY/dX = h + X · 2 h (1 - h) u'  = h (1 + 2 X (1 - h) u'),
             u' = √(2/π) (1 + 3 · 0.044715 X²).
    The arrays are updated in place where possible: at GPT sizes every temporary costs more
    than the arithmetic. The tanh form runs block by block (`_blockwise`).
    """

    rules = ("dX = G * (Φ(X) + X φ(X)), with Φ from erf or tanh",)

    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        if approximate == "none":
            self.cdf = 0.5 * (1.0 + erf(x * (1.0 / math.sqrt(2.0))))
            return x * self.cdf
        y, self.h = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
        _blockwise(_tanh_forward, y, self.h, x)
        return y

    def backward(self, g):
        x = self.x
        if self.approximate == "none":
            slope = self.cdf + x * np.exp(-0.5 * x * x) * (1.0 / math.sqrt(2.0 * math.pi))
            slope *= g
            return (slope,)
        dx = np.empty(x.shape, x.dtype)
        _blockwise(_tanh_backward, dx, x, self.h, g)
        return (dx,)
