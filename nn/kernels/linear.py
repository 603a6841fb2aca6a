"""The kernel of `F.linear`: y = x Wᵀ + b as one node with one matmul per gradient.

The reference `x @ weight.T + bias` is three engine ops; for x (B, T, in) its MatMul
broadcasts W over the batch, so backward makes dW as B matmuls and sums them. Here every
position is a row of one (N, in) matrix, and each gradient is a single BLAS call, which BLAS
itself spreads over the cores.
"""

from engine import Function


def _rows(a):
    """View `a` as a 2-D array (N, last axis) so that one BLAS call covers every position."""
    return a.reshape(-1, a.shape[-1])


class FusedLinear(Function):
    """Replaces `F.linear`'s reference: Y = X Wᵀ + b for X (..., in), W (out, in), b (out,).

    Y[n, o] = sum_i X[n, i] W[o, i] + b[o], over every leading position n, so
        dX[n, i] = sum_o G[n, o] W[o, i]        -> dX = G W
        dW[o, i] = sum_n G[n, o] X[n, i]        -> dW = Gᵀ X, all positions in one matmul
        db[o]    = sum_n G[n, o]
    """

    rules = ("dX = G W", "dW = Gᵀ X (over all positions)", "db = sum of G over all positions")

    def forward(self, x, weight, bias):
        self.x, self.weight = x, weight
        y = _rows(x) @ weight.T  # (N, in) @ (in, out): one BLAS call for all positions
        if bias is not None:
            y += bias
        return y.reshape(*x.shape[:-1], weight.shape[0])

    def backward(self, g):
        g2 = _rows(g)  # (N, out)
        dx = (g2 @ self.weight).reshape(self.x.shape) if self.needs_grad[0] else None
        dw = g2.T @ _rows(self.x) if self.needs_grad[1] else None
        db = g2.sum(axis=0) if self.needs_grad[2] else None
        return dx, dw, db
