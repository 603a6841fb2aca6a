"""The kernels of `F.layer_norm` and `F.rms_norm`: a row's normalisation as one node each.

The references take a mean, subtract, square, take another mean, add eps, take a root and
divide: seven nodes, each with a (..., C) temporary. Here each is one node whose backward is
the closed form below, normalising in place.

Notation: G is dL/dY, C the size of the last axis; means are over a row of C numbers.
All arithmetic stays in the input's dtype (Python-float constants never promote float32).
"""

import numpy as np

from engine import Function
from nn.kernels import parallel


def _row_mean(a, b):
    """mean_j a[..., j] b[..., j], keeping the axis: (..., C) -> (..., 1), without a temporary."""
    return np.einsum("...j,...j->...", a, b)[..., None] * (1.0 / a.shape[-1])


def _mean(a):
    """mean_j a[..., j], keeping the axis: (..., C) -> (..., 1); einsum is ~3x faster here
    than a.mean(axis=-1), which reduces the short rows one at a time."""
    return np.einsum("...j->...", a)[..., None] * (1.0 / a.shape[-1])


def _rows(a):
    """(..., C) as (N, C): every position a row (a view for the contiguous arrays used here)."""
    return a.reshape(-1, a.shape[-1])


def _column_sums(g, xhat, need_dw, need_db, rows):
    """(Σ G X̂, Σ G) over the positions in `rows`: (C,) each, or None where not needed."""
    g, xhat = _rows(g)[rows], _rows(xhat)[rows]
    dw = np.einsum("nc,nc->c", g, xhat) if need_dw else None
    return dw, g.sum(axis=0) if need_db else None


def _add_up(partials):
    """The sums of the per-piece partial (dw, db) sums (each may be None)."""
    return tuple(
        None if parts[0] is None else sum(parts[1:], parts[0])
        for parts in zip(*partials, strict=True)
    )


class FusedLayerNorm(Function):
    """Replaces `F.layer_norm`'s reference: Y = X̂ w + b, X̂ = (X - μ) r, r = 1 / sqrt(σ² + eps).

    μ and σ² are the mean and (biased) variance of each row. With
    ∂X̂_j/∂X_i = r (δ_ij - 1/C - X̂_i X̂_j / C) and Ĝ = G w (the gradient reaching X̂):
        dX = r (Ĝ - mean(Ĝ) - X̂ mean(Ĝ X̂))     (means over the row)
        dw = sum over positions of G X̂,  db = sum over positions of G
    weight and bias may each be None. The rows are independent: each core takes a share.
    """

    rules = ("dX = r (Ĝ - mean(Ĝ) - X̂ mean(Ĝ X̂)), Ĝ = G w", "dw = Σ G X̂", "db = Σ G")

    def forward(self, x, weight, bias, eps):
        self.weight, self.shape = weight, x.shape
        x = _rows(x)
        self.xhat, y = np.empty_like(x), np.empty_like(x)
        self.rstd = np.empty((len(x), 1), dtype=x.dtype)

        def normalise(rows):
            xhat = self.xhat[rows]
            np.subtract(x[rows], _mean(x[rows]), out=xhat)  # X - μ, normalised in place below
            self.rstd[rows] = 1.0 / np.sqrt(_row_mean(xhat, xhat) + eps)
            xhat *= self.rstd[rows]
            if weight is None:
                y[rows] = xhat
            else:
                np.multiply(xhat, weight, out=y[rows])
            if bias is not None:
                y[rows] += bias

        parallel.for_each_piece(normalise, len(x), 4 * x.shape[1])  # ~4 passes over a row
        return y.reshape(self.shape)

    def backward(self, g):
        g, dx = _rows(g), np.empty_like(self.xhat) if self.needs_grad[0] else None

        def gradients(rows):
            xhat = self.xhat[rows]
            if dx is not None:
                ghat = dx[rows]  # Ĝ, made dX in place
                np.multiply(
                    g[rows], self.weight, out=ghat
                ) if self.weight is not None else np.copyto(ghat, g[rows])
                mean_ghat_xhat = _row_mean(ghat, xhat)
                ghat -= _mean(ghat)
                ghat -= xhat * mean_ghat_xhat
                ghat *= self.rstd[rows]
            return _column_sums(g, self.xhat, self.needs_grad[1], self.needs_grad[2], rows)

        dw, db = _add_up(parallel.for_each_piece(gradients, len(g), 4 * g.shape[1]))
        return (None if dx is None else dx.reshape(self.shape)), dw, db


class FusedRMSNorm(Function):
    """Replaces `F.rms_norm`'s reference: Y = X̂ w, X̂ = X r, r = 1 / sqrt(mean(X²) + eps).

    No centring. ∂r/∂X_i = -r³ X_i / C, so with Ĝ = G w:
        dX = r (Ĝ - X̂ mean(Ĝ X̂)),   dw = sum over positions of G X̂
    weight may be None.
    """

    rules = ("dX = r (Ĝ - X̂ mean(Ĝ X̂)), Ĝ = G w", "dw = Σ G X̂")

    def forward(self, x, weight, eps):
        self.rstd = 1.0 / np.sqrt(_row_mean(x, x) + eps)
        self.xhat, self.weight = x * self.rstd, weight
        return self.xhat * weight if weight is not None else self.xhat

    def backward(self, g):
        xhat, dx = self.xhat, None
        if self.needs_grad[0]:
            ghat = g * self.weight if self.weight is not None else g
            dx = ghat - xhat * _row_mean(ghat, xhat)
            dx *= self.rstd
        dw = _column_sums(g, xhat, self.needs_grad[1], False, slice(None))[0]
        return dx, dw
