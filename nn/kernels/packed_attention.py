"""Attention on a GPT's packed q | k | v heads as one node, and `attend`, which
`F.scaled_dot_product_attention` calls: it picks that node, the plain kernel of
nn/kernels/attention.py when q, k and v are not three slices of one tensor, or, for a single
query where no graph is built (sampling with a KV cache), nn/kernels/one_query_attention.py.
"""

import numpy as np

from engine import Function, Tensor, modes
from engine.shape_ops import GetItem
from nn.kernels.attention import FusedAttention
from nn.kernels.one_query_attention import attend_one_query


class FusedPackedAttention(Function):
    """FusedAttention on q, k, v = heads[:, :n], heads[:, n:2n], heads[:, 2n:] of one packed
    (B, 3n, T, E) tensor: the heads of a GPT's q | k | v projection.

    The same attention, but backward writes dq, dk, dv into one (B, 3n, T, E) gradient. Given
    the three slices as separate inputs, indexing's backward would scatter each gradient into
    a zero (B, 3n, T, E) array of its own, for the engine to add up: three allocations and
    two additions of the whole array per layer.
    """

    saves_output = True  # backward reads Y
    rules = ("dheads = dq | dk | dv, each from FusedAttention's backward",)

    def forward(self, heads, bias, scale, keep):
        n = heads.shape[1] // 3
        self.attention = FusedAttention()  # run directly, not through apply:
        self.attention.needs_grad = (True, True, True)  # q, k and v all need their gradient
        q, k, v = heads[:, :n], heads[:, n : 2 * n], heads[:, 2 * n :]
        return self.attention.forward(q, k, v, bias, scale, keep)

    def backward(self, g):
        # Stored as the projection's output is, (B, T, 3n, E), and handed back as a (B, 3n, T, E)
        # view: the engine's transpose and reshape back to (B, T, 3C) are then views too, where
        # a contiguous (B, 3n, T, E) gradient would be copied by the reshape.
        B, n, T, E = g.shape
        d_heads = np.empty((B, T, 3 * n, E), g.dtype).transpose(0, 2, 1, 3)  # (B, 3n, T, E)
        for i, d in enumerate(self.attention.backward(g)):
            d_heads[:, i * n : (i + 1) * n] = d
        return (d_heads,)


def attend(q, k, v, bias, scale, keep):
    """FusedAttention of q, k, v, or FusedPackedAttention when they are the three equal
    slices heads[:, :n], heads[:, n:2n], heads[:, 2n:] of one tensor in the graph (the heads of
    a packed projection).

    Only the graph can tell: q, k and v are then indexing nodes on the same input. Attending
    to that input directly computes the same numbers; the three indexing nodes are left out
    of the loss's graph, so nobody sends them a gradient and their backward never runs.

    A single query with neither a mask nor dropout, where no graph is built, takes
    `attend_one_query`, on the arrays (but not under `engine.detect_anomaly()`, which checks
    what each node makes).
    """
    one_query = q.shape[-2] == 1 and bias is None and keep is None
    if one_query and not modes.anomaly and not _in_graph(q, k, v):
        return Tensor(attend_one_query(q.data, k.data, v.data, scale))
    heads = _packed_source(q, k, v)
    if heads is not None:
        return FusedPackedAttention.apply(heads, bias=bias, scale=scale, keep=keep)
    return FusedAttention.apply(q, k, v, bias=bias, scale=scale, keep=keep)


def _in_graph(*tensors):
    """Whether an op on `tensors` would be recorded in the graph (for a backward to come)."""
    return modes.grad_enabled and any(t.requires_grad for t in tensors)


def _packed_source(q, k, v):
    """The (B, 3n, T, E) tensor whose three slices along axis 1 are q, k, v, or None."""
    nodes = [t.grad_fn for t in (q, k, v)]
    if not all(isinstance(node, GetItem) for node in nodes):
        return None
    source = nodes[0].inputs[0]
    if source.ndim != 4 or q.ndim != 4 or source.shape[1] != 3 * q.shape[1]:
        return None
    n = q.shape[1]
    for i, node in enumerate(nodes):
        index = node.options["index"]
        if node.inputs[0] is not source or not _is_rows(index, source.shape[1], i * n, n):
            return None
    return source


def _is_rows(index, size, start, n):
    """Whether `index` is [:, start:start + n] of an axis of `size`."""
    if not (isinstance(index, tuple) and len(index) == 2):
        return False
    if not all(isinstance(i, slice) for i in index) or index[0] != slice(None):
        return False
    return index[1].indices(size) == (start, start + n, 1)
