"""The kernel of `F.gelu`: GELU(x) = x Φ(x) in either form, as one node, in place.

    'none':  Φ(x) = (1 + erf(x / √2)) / 2                     (exact: the normal CDF)
    'tanh':  Φ(x) ≈ (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2   (GPT-2's cheaper stand-in)

The reference composes seven or eight engine ops, each allocating a (B, T, 4C) array; at GPT
sizes every temporary costs more than the arithmetic, so this one updates its arrays in place.
"""

import math

import numpy as np

from engine import Function
from engine.ops import erf

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_BLOCK = 1 << 16  # elements per block: 256 KB per float32 array, ~1.25 MB for all a pass touches


def _blockwise(fill, *arrays):
    """Call `fill` on matching blocks of the flattened arrays, writing into the first ones.

    The tanh GELU makes eight or nine passes over its (B, T, 4C) arrays. Whole arrays soon
    outgrow the CPU's caches, so every pass would stream them from memory again; block by
    block, all the passes after the first find the block in the cache. The arrays written to
    must be C-contiguous (then reshape(-1) is a view, not a copy).
    """
    if arrays[0].size <= _BLOCK:  # one block: the arrays as they are
        fill(*arrays)
        return
    flat = [a.reshape(-1) for a in arrays]
    for start in range(0, flat[0].size, _BLOCK):
        fill(*(a[start : start + _BLOCK] for a in flat))


def _tanh_forward(y, h, x):
    """h = (1 + tanh u) / 2 with u = √(2/π) (0.044715 x² + 1) x, and y = x h, in place.

    h is computed as σ(2u) = 1 / (1 + exp(-2u)), which is the same number: NumPy's float32
    exp is about half again as fast as its tanh. Where -2u > 88, exp overflows to inf and h is
    exactly 0, as it should be, so that overflow is not an error.
    """
    np.multiply(x, x, out=h)
    h *= -2 * 0.044715 * _SQRT_2_OVER_PI
    h -= 2 * _SQRT_2_OVER_PI
    h *= x  # -2u
    with np.errstate(over="ignore"):
        np.exp(h, out=h)
    h += 1.0
    np.divide(1.0, h, out=h)  # the same numbers as np.reciprocal, about 1.5x as fast
    np.multiply(x, h, out=y)


def _erf_forward(y, cdf, x):
    """cdf = Φ(x) = (1 + erf(x / √2)) / 2 and y = x cdf, in place."""
    cdf[...] = erf(x * (1.0 / math.sqrt(2.0)))
    cdf += 1.0
    cdf *= 0.5
    np.multiply(x, cdf, out=y)


def _erf_backward(dx, x, cdf, g):
    """dx = g (Φ(x) + x φ(x)), φ(x) = exp(-x²/2) / √(2π), in place."""
    np.multiply(x, x, out=dx)
    dx *= -0.5
    np.exp(dx, out=dx)
    dx *= x
    dx *= 1.0 / math.sqrt(2.0 * math.pi)
    dx += cdf
    dx *= g


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


class FusedGELU(Function):
    """Replaces `F.gelu`'s reference: Y = GELU(X) elementwise, `approximate` 'none' or 'tanh'.

    'none':  Y = X Φ(X),  dY/dX = Φ(X) + X φ(X),  φ(x) = exp(-x²/2) / √(2π)
    'tanh':  Y = X h,  h = (1 + tanh u) / 2,  u = √(2/π) (X + 0.044715 X³). Since
             1 - tanh² u = 4 h (1 - h):  dY/dX = h + X · 2 h (1 - h) u'  = h (1 + 2 X (1 - h) u'),
             u' = √(2/π) (1 + 3 · 0.044715 X²).
    Both forms run block by block (`_blockwise`), in place.
    """

    rules = ("dX = G * (Φ(X) + X φ(X)), with Φ from erf or tanh",)

    def forward(self, x, approximate):
        self.x, self.approximate = x, approximate
        y, self.phi = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)  # phi: Φ(x) or h
        _blockwise(_erf_forward if approximate == "none" else _tanh_forward, y, self.phi, x)
        return y

    def backward(self, g):
        dx = np.empty(self.x.shape, self.x.dtype)
        _blockwise(
            _erf_backward if self.approximate == "none" else _tanh_backward, dx, self.x, self.phi, g
        )
        return (dx,)
