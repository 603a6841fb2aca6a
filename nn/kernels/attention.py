"""The kernel of `F.scaled_dot_product_attention`: attention as one node.

For queries Q (..., L, E), keys K (..., S, E) and values V (..., S, Ev), the reference is

    W = softmax(Q Kᵀ · scale + bias)   (..., L, S)  each query's weights over the keys
    Y = dropout(W) V                   (..., L, Ev) each query's weighted mean of the values

in five to seven engine nodes, each keeping an (..., L, S) array. This kernel keeps two and
writes the backward in closed form. `bias` is 0 where a key may be seen and -inf where it is
masked (the causal mask, or the caller's `attn_mask`); `keep` is the dropout mask, 0 or
1/(1 - p), drawn by `F.scaled_dot_product_attention` so that both paths use the same one.
"""

import numpy as np

from engine import Function
from engine.shape_ops import GetItem


class FusedAttention(Function):
    """Replaces `F.scaled_dot_product_attention`'s reference: Y = (W * keep) V.

    Backward, with D = W * keep the weights actually used:
        dV = Dᵀ G
        dD = G Vᵀ,  dW = dD * keep
        dS = W * (dW - sum_j(dW * W))     (softmax's backward, row by row; 0 where masked)
        dQ = dS K · scale,  dK = dSᵀ Q · scale
    The arrays are kept transposed, keys along axis -2: Sᵀ = K (Q · scale)ᵀ (..., S, L), Wᵀ,
    Dᵀ, dSᵀ. The softmax then reduces over axis -2, which NumPy vectorises across the queries
    (its max along the last axis goes row by row, ~3x slower); matmuls take transposed views
    at no cost.
    """

    rules = ("dQ = dS K · scale", "dK = dSᵀ Q · scale", "dV = Dᵀ G (D: the weights after dropout)")

    def forward(self, q, k, v, bias, scale, keep):
        self.q_scaled, self.k, self.v = q * scale, k, v
        self.scale = scale
        w_t = k @ np.swapaxes(self.q_scaled, -1, -2)  # Sᵀ: (..., S, L)
        if bias is not None:
            w_t += np.swapaxes(bias, -1, -2)
        w_t -= w_t.max(axis=-2, keepdims=True)  # softmax over the keys, in place: Sᵀ becomes Wᵀ
        np.exp(w_t, out=w_t)
        w_t /= w_t.sum(axis=-2, keepdims=True)
        self.w_t = w_t
        self.keep_t = None if keep is None else np.swapaxes(keep, -1, -2)
        self.used_t = w_t if keep is None else w_t * self.keep_t  # Dᵀ
        return np.swapaxes(self.used_t, -1, -2) @ v  # D V: (..., L, Ev)

    def backward(self, g):
        dq = dk = dv = None
        if self.needs_grad[2]:
            dv = self.used_t @ g
        if self.needs_grad[0] or self.needs_grad[1]:
            ds_t = self.v @ np.swapaxes(g, -1, -2)  # dDᵀ, then dWᵀ, then dSᵀ, in place
            if self.keep_t is not None:
                ds_t *= self.keep_t
            ds_t -= np.einsum("...jq,...jq->...q", ds_t, self.w_t)[..., None, :]  # sum over keys
            ds_t *= self.w_t
            if self.needs_grad[0]:
                dq = np.swapaxes(ds_t, -1, -2) @ self.k
                dq *= self.scale
            if self.needs_grad[1]:
                dk = ds_t @ self.q_scaled  # Q · scale already holds the scale
        return dq, dk, dv


class FusedPackedAttention(Function):
    """FusedAttention on q, k, v = heads[0], heads[1], heads[2] of one packed (3, ..., T, E)
    tensor, the heads of a GPT's q | k | v projection.

    The same attention, but backward writes dq, dk, dv into one (3, ..., T, E) gradient. Given
    the three slices as separate inputs, indexing's backward would scatter each gradient into
    a zero (3, ..., T, E) array of its own, for the engine to add up: three allocations and
    two additions of the whole array per layer.
    """

    rules = ("dheads = dq | dk | dv, each from FusedAttention's backward",)

    def forward(self, heads, bias, scale, keep):
        self.attention = FusedAttention()  # run directly, not through apply:
        self.attention.needs_grad = (True, True, True)  # q, k and v all need their gradient
        return self.attention.forward(heads[0], heads[1], heads[2], bias, scale, keep)

    def backward(self, g):
        return (np.stack(self.attention.backward(g)),)


def attention(q, k, v, bias, scale, keep):
    """FusedAttention of q, k, v, or FusedPackedAttention when they are the three slices
    heads[0], heads[1], heads[2] of one tensor in the graph (a packed projection's heads).

    Only the graph can tell: q, k and v are then indexing nodes on the same input. Attending
    to that input directly computes the same numbers; the three indexing nodes are left out
    of the loss's graph, so nobody sends them a gradient and their backward never runs.
    """
    heads = _packed_source(q, k, v)
    if heads is not None:
        return FusedPackedAttention.apply(heads, bias=bias, scale=scale, keep=keep)
    return FusedAttention.apply(q, k, v, bias=bias, scale=scale, keep=keep)


def _packed_source(q, k, v):
    """The tensor whose [0], [1], [2] are q, k, v, or None."""
    nodes = [t.grad_fn for t in (q, k, v)]
    if not all(isinstance(n, GetItem) for n in nodes):
        return None
    source = nodes[0].inputs[0]
    for i, node in enumerate(nodes):
        index = node.options["index"]
        if node.inputs[0] is not source or not isinstance(index, int) or index != i:
            return None
    return source if source.shape[0] == 3 else None
