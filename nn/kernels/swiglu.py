"""The kernel of `F.swiglu`: Llama's gated activation silu(gate) · up as one node.

The reference slices x into its two halves (two indexing nodes, whose backwards each scatter
into a zero array the size of x, for the engine to add up), then makes σ(gate), silu(gate)
and the product: five nodes in all. Here the halves are views, and backward writes both
halves' gradients straight into one array.
"""

import numpy as np

from engine import Function
from nn.kernels import parallel


class FusedSwiGLU(Function):
    """Replaces `F.swiglu`'s reference: Y = silu(A) · U for X = A | U (..., 2H) -> (..., H).

    With s = σ(A), silu(A) = A s and silu'(A) = s + A s (1 - s) = s (1 + A (1 - s)):
        dA = G · U · s (1 + A (1 - s)),   dU = G · A s
    The positions are independent: each core takes a share of them.
    """

    rules = ("dX = (G · U · s (1 + A (1 - s)) | G · A s), s = σ(A)",)

    def forward(self, x):
        self.shape, self.x = x.shape, x.reshape(-1, x.shape[-1])  # (N, 2H)
        half = x.shape[-1] // 2
        self.s = np.empty((len(self.x), half), dtype=x.dtype)
        y = np.empty_like(self.s)

        def rows(part):
            a, u, s = self.x[part, :half], self.x[part, half:], self.s[part]
            np.negative(a, out=s)  # s = σ(a) = 1 / (1 + exp(-a)), in place
            np.exp(s, out=s)
            s += 1.0
            np.reciprocal(s, out=s)
            np.multiply(a, s, out=y[part])
            y[part] *= u

        parallel.for_each_piece(rows, len(self.x), 2 * x.shape[-1])  # ~6 passes over half
        return y.reshape(*x.shape[:-1], half)

    def backward(self, g):
        g = g.reshape(-1, g.shape[-1])
        half, dx = g.shape[-1], np.empty_like(self.x)

        def rows(part):
            a, u, s = self.x[part, :half], self.x[part, half:], self.s[part]
            da, du = dx[part, :half], dx[part, half:]
            np.multiply(g[part], a, out=du)  # dU = G · A s
            du *= s
            np.subtract(1.0, s, out=da)  # dA = G · U · s (1 + A (1 - s))
            da *= a
            da += 1.0
            da *= s
            da *= u
            da *= g[part]

        parallel.for_each_piece(rows, len(g), 4 * half)
        return (dx.reshape(*self.shape),)
