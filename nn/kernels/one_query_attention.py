"""Attention of one query where no graph is built: the kernel of sampling with a KV cache.

At every new token, sampling with a KV cache (model/sample.py) asks each layer for the
attention of a single query over all the keys so far. FusedAttention's machinery (tiles,
groups of heads, the arrays its backward reads) costs more than the arithmetic there: a
single query is a single row of weights, and no backward will read anything. So `attend`
(nn/kernels/packed_attention.py) sends that case here, where the reference's math runs on
the arrays as they are, in a few NumPy calls. For q (..., 1, E), k (..., S, E) and v
(..., S, Ev), typically (B, nh, 1, hs) against a cache of S positions:

    s = K (q · scale)ᵀ           (..., S, 1)   the query's score for each key
    w = exp(s - max s)                         the softmax's numerators, which cannot overflow
    y = wᵀ V / Σ w               (..., 1, Ev)  the weighted mean of the values

The keys lie along axis -2, as in FusedAttention's transposed tiles: the cache's keys are then
contiguous, and so are the weights that the max and the sum run over.
"""

import numpy as np


def attend_one_query(q, k, v, scale):
    """softmax(q kᵀ · scale) v for one query: q (..., 1, E), k (..., S, E), v (..., S, Ev)
    arrays, leading axes broadcasting -> (..., 1, Ev). No mask: a single new query may see
    every key before it."""
    w = k @ np.swapaxes(q * scale, -1, -2)  # (..., S, 1): the scores
    w -= w.max(axis=-2, keepdims=True)
    np.exp(w, out=w)
    y = np.swapaxes(w, -1, -2) @ v  # (..., 1, Ev)
    y /= np.swapaxes(w.sum(axis=-2, keepdims=True), -1, -2)
    return y
