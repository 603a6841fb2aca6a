"""Scaled dot-product attention as one fused op, the core of a transformer block.

For queries Q (..., Tq, hs), keys K (..., Tk, hs) and values V (..., Tk, hv):

    S = Q Kᵀ / √hs                 (..., Tq, Tk)  how well each query matches each key
    P = softmax(S) along the keys   each query's weights over the keys, summing to 1
    Y = P V                         (..., Tq, hv)  each query's weighted mean of the values

Causal masking sets S to -inf where a key lies in a query's future, so P is 0 there. The
queries are taken to be the *last* Tq of the Tk positions (as when a KV cache holds earlier
keys): query i sits at position Tk - Tq + i and sees keys 0 ... Tk - Tq + i. With Tq == Tk this
is the usual lower-triangular mask. (PyTorch aligns the mask to the top-left instead when
Tq != Tk; the bottom-right alignment is what cached generation needs.)

`MultiHeadSelfAttention` runs the same attention on the packed (B, T, 3C) output of a GPT's
`c_attn` projection, splitting it into heads and merging them back inside one op.
"""

import math

import numpy as np

from engine import Function


def causal_mask(tq, tk, dtype):
    """(Tq, Tk) array: -inf where key j is in the future of query i (j > Tk - Tq + i), else 0.

    Added to the scores, it sends the future to -inf (adding is ~10x faster than assigning
    through a boolean mask).
    """
    future = np.triu(np.ones((tq, tk), dtype=bool), k=tk - tq + 1)
    return np.where(future, -np.inf, 0.0).astype(dtype)


class ScaledDotProductAttention(Function):
    """Y = softmax(Q Kᵀ / √hs, masked) V, with optional dropout on the weights P.

    Backward, with D = P * keep the weights actually used (keep = 0 or 1/(1-p), or 1):
        dV = Dᵀ G
        dD = G Vᵀ,  dP = dD * keep
        dS = P * (dP - sum_j(dP * P))     (softmax's backward, row by row; 0 where masked)
        dQ = dS K / √hs,  dK = dSᵀ Q / √hs
    The arrays are kept transposed, keys along axis -2: Sᵀ = K Qᵀ / √hs (..., Tk, Tq), Pᵀ,
    Dᵀ, dSᵀ. The softmax then reduces over axis -2, which NumPy vectorises across the queries
    (its max along the last axis goes row by row, ~3x slower); matmuls take transposed views
    at no cost.
    """

    rules = ("dQ = dS K / √hs", "dK = dSᵀ Q / √hs", "dV = Dᵀ G (D: the weights after dropout)")

    def forward(self, q, k, v, is_causal, dropout_p, rng):
        self.scale = 1.0 / math.sqrt(q.shape[-1])
        self.q_scaled, self.k, self.v = q * self.scale, k, v
        p_t = k @ np.swapaxes(self.q_scaled, -1, -2)  # Sᵀ: (..., Tk, Tq)
        if is_causal:
            p_t += causal_mask(q.shape[-2], k.shape[-2], p_t.dtype).T
        p_t -= p_t.max(axis=-2, keepdims=True)  # softmax over the keys, in place: Sᵀ becomes Pᵀ
        np.exp(p_t, out=p_t)
        p_t /= p_t.sum(axis=-2, keepdims=True)
        self.p_t, self.keep = p_t, None
        if dropout_p > 0:
            self.keep = (rng.random(p_t.shape, dtype=np.float32) >= dropout_p).astype(p_t.dtype)
            self.keep *= 0.0 if dropout_p == 1 else 1.0 / (1.0 - dropout_p)
            p_t = p_t * self.keep
        self.used_t = p_t  # Dᵀ
        return np.swapaxes(p_t, -1, -2) @ v  # D V: (..., Tq, hv)

    def backward(self, g):
        dq = dk = dv = None
        if self.needs_grad[2]:
            dv = self.used_t @ g
        if self.needs_grad[0] or self.needs_grad[1]:
            ds_t = self.v @ np.swapaxes(g, -1, -2)  # dDᵀ, then dPᵀ, then dSᵀ, in place
            if self.keep is not None:
                ds_t *= self.keep
            ds_t -= np.einsum("...jq,...jq->...q", ds_t, self.p_t)[..., None, :]  # sum over keys
            ds_t *= self.p_t
            if self.needs_grad[0]:
                dq = np.swapaxes(ds_t, -1, -2) @ self.k
                dq *= self.scale
            if self.needs_grad[1]:
                dk = ds_t @ self.q_scaled  # Q/√hs already holds the scale
        return dq, dk, dv


def split_heads(qkv, n_head):
    """(B, T, 3C) packed q | k | v -> (3, B, nh, T, hs): unpacks to q, k, v (views, no copy)."""
    B, T, C3 = qkv.shape
    return qkv.reshape(B, T, 3, n_head, C3 // (3 * n_head)).transpose(2, 0, 3, 1, 4)


class MultiHeadSelfAttention(Function):
    """Y (B, T, C) = the heads of ScaledDotProductAttention(q, k, v) side by side, where
    q, k, v (B, nh, T, hs) are the heads of qkv (B, T, 3C) = q | k | v.

    The same attention as splitting qkv with three `qkv[i]` ops, but the split and the merge
    are views here, and backward writes dq, dk, dv straight into one (B, T, 3C) gradient:
    each `qkv[i]` would scatter its gradient into a zero (B, T, 3C) array of its own, for the
    engine to add up.
    """

    rules = ("dqkv = dq | dk | dv, each from ScaledDotProductAttention's backward",)

    def forward(self, qkv, n_head, is_causal, dropout_p, rng):
        self.n_head = n_head
        self.attention = ScaledDotProductAttention()  # run directly, not through apply:
        self.attention.needs_grad = (True, True, True)  # q, k and v all need their gradient
        q, k, v = split_heads(qkv, n_head)
        y = self.attention.forward(q, k, v, is_causal, dropout_p, rng)  # (B, nh, T, hs)
        B, nh, T, hs = y.shape
        return y.transpose(0, 2, 1, 3).reshape(B, T, nh * hs)  # heads side by side

    def backward(self, g):
        B, T, C = g.shape
        g_heads = g.reshape(B, T, self.n_head, C // self.n_head).transpose(0, 2, 1, 3)
        dqkv = np.empty((B, T, 3 * C), dtype=g.dtype)
        dq_dk_dv = self.attention.backward(g_heads)
        for part, grad in zip(split_heads(dqkv, self.n_head), dq_dk_dv, strict=True):
            part[...] = grad  # dq, dk, dv into their places in dqkv
        return (dqkv,)
