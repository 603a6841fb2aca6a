"""The kernel of `F.scaled_dot_product_attention`: attention as one node.

For queries Q (..., L, E), keys K (..., S, E) and values V (..., S, Ev), the reference is

    W = softmax(Q Kᵀ · scale + bias)   (..., L, S)  each query's weights over the keys
    Y = dropout(W) V                   (..., L, Ev) each query's weighted mean of the values

in five to seven engine nodes, each keeping an (..., L, S) array. This kernel keeps two and
writes the backward in closed form. `bias` is 0 where a key may be seen and -inf where it is
masked (the causal mask, or the caller's `attn_mask`); `keep` is the dropout mask, 0 or
1/(1 - p), drawn by `F.scaled_dot_product_attention` so that both paths use the same one.
"""

import functools
import math
from typing import NamedTuple

import numpy as np

from engine import Function
from nn.attention_inputs import causal_bias


class FusedAttention(Function):
    """Replaces `F.scaled_dot_product_attention`'s reference: Y = (W * keep) V.

    With E = exp(S - shift), for any shift of each query's scores (usually none: see
    `_exp_scores`), and s = Σ_j E (each query's sum over the keys), W = E / s. Backward, with
    D = W * keep the weights actually used:
        dV = Dᵀ G
        dD = G Vᵀ,  dW = dD * keep
        dS = W * (dW - Σ_j(dW * W))       (softmax's backward, row by row; 0 where masked)
        dQ = dS K · scale,  dK = dSᵀ Q · scale
    The division by s is never done on the (L, S) weights: it moves onto the small arrays on
    either side. Y = ((E * keep) V) / s, dV = (E * keep)ᵀ (G / s), and with dW' = dW / s
    (made from G / s), dS = E * (dW' - Σ_j(dW' * E) / s): one pass fewer over the weights.
    And the row sums need no pass over the weights at all (FlashAttention's trick): summed
    over the keys, dW' * E = ((G / s) Vᵀ) * (E * keep) is Σ_e (G / s) · ((E * keep) V) =
    Σ_e (G / s) · Y s, so Σ_j(dW' * E) / s = Σ_e (G / s) Y, a sum over Y's Ev columns. (Its
    rounding differs from the sum over the keys: where one weight is nearly 1, dS is the
    difference of two nearly equal numbers made two ways, so it comes out at the rounding's
    size, eps |G| |V|, rather than near 0, as in PyTorch's kernel.)

    Four more things make it fast, none of which changes a number:
    - Tiles. The queries go in blocks (`tiles`); a block only meets the keys that the mask
      lets at least one of its queries see. A causal mask hides the future, so a block of
      late queries meets every key and one of early queries few: about half the work of the
      full (L, S) product, and none of the wasted exp(-inf). The mask is only added to the
      keys where it is not 0: under a causal mask, the block's diagonal.
    - Groups of heads. The heads are independent, so both passes go a group at a time, in
      groups small enough that a tile's arrays stay in the cache through the softmax's passes
      over them.
    - Transposed tiles, keys along axis -2: Sᵀ = K (Q · scale)ᵀ, then Eᵀ, Dᵀ, dSᵀ. The
      softmax then reduces over axis -2, which NumPy vectorises across the queries (its max
      along the last axis goes row by row, ~3x slower). A matmul takes a transposed view as
      its first operand at no cost, but as its second, OpenBLAS's kernels for small matrices
      take up to twice as long: so (Q · scale)ᵀ is copied once per call, and (G / s)ᵀ once
      per tile, for the two products that need them.
    - In place: each tile's Sᵀ becomes Eᵀ, and its dDᵀ becomes dSᵀ, in the same array.
    """

    saves_output = True  # backward reads Y
    rules = ("dQ = dS K · scale", "dK = dSᵀ Q · scale", "dV = Dᵀ G (D: the weights after dropout)")

    def forward(self, q, k, v, bias, scale, keep):
        L, S = q.shape[-2], k.shape[-2]
        self.lead_shape = _lead(q, k, v)
        lead = self.lead_shape or (1,)  # at least 1-D: the groups of heads go along lead[0]
        self.q_scaled, self.k, self.v = (_broadcast(a, lead) for a in (q * scale, k, v))
        self.q_t = np.ascontiguousarray(np.swapaxes(self.q_scaled, -1, -2))  # (..., E, L)
        self.scale = scale
        self.bias_t, self.tiles = _mask_layout(bias, lead, L, S)
        self.keep = None if keep is None else np.broadcast_to(keep, (*lead, L, S))
        step = max(1, CACHE_ELEMENTS // (math.prod(lead[1:]) * min(L, TILE) * S))
        self.groups = [slice(i, i + step) for i in range(0, lead[0], step)]
        self.saved = {}  # (first query, first head) of a tile -> its Eᵀ and 1 / s
        self.y = y = np.empty((*lead, L, v.shape[-1]), dtype=q.dtype)
        self._in_groups(self._forward_group, y)
        return y.reshape(*self.lead_shape, L, v.shape[-1])

    def _forward_group(self, h, y):
        for tile in self.tiles:
            qs, ks = tile.queries, tile.keys
            e_t, inv_s = self._exp_scores(h, tile)
            self.saved[qs.start, h.start] = e_t, inv_s
            out = y[h, ..., qs, :]
            np.matmul(np.swapaxes(self._used(e_t, h, tile), -1, -2), self.v[h, ..., ks, :], out=out)
            out *= np.swapaxes(inv_s, -1, -2)  # ((E * keep) V) / s

    def _exp_scores(self, h, tile):
        """The tile's Eᵀ = exp(Sᵀ - shift) for the heads `h`, and 1 / s (..., 1, nq).

        The softmax is the same for any shift of a query's scores; the usual one, the maximum,
        keeps exp from overflowing, but finding and subtracting it are two passes over the
        tile. So in float32 and float64 the first try uses no shift, and the sums tell whether
        that was safe: where every s lies in [sqrt(tiny), sqrt(max)] of the dtype (e^±44 for
        float32), no exp overflowed, the weights lost to underflow are below e^-44 of their
        row's sum, and the arrays backward scales by 1 / s keep the other half of the range.
        Else (float32 logits beyond about ±40, or a NaN) the tile is computed again with the
        maximum subtracted, as PyTorch does, and so is every float16 tile: the half of its
        range left (e^±5.5) is too narrow for the values and gradients. So is a single query
        (one that a backward may follow; sampling's go to nn/kernels/one_query_attention.py):
        its keys are contiguous, and their maximum is one quick reduction, cheaper than the
        checks.
        """
        e_t = self._scores_t(h, tile)
        if e_t.itemsize >= 4 and e_t.shape[-1] > 1:
            with np.errstate(over="ignore", divide="ignore"):
                np.exp(e_t, out=e_t)  # in place: Sᵀ becomes Eᵀ
                inv_s = 1.0 / _sum_over_keys(e_t)
            low, high = _safe_inverse_sums(e_t.dtype)
            if low <= inv_s.min() and inv_s.max() <= high:  # False for a NaN
                return e_t, inv_s
            e_t = self._scores_t(h, tile)
        e_t -= max_over_keys(e_t)
        np.exp(e_t, out=e_t)
        return e_t, 1.0 / _sum_over_keys(e_t)

    def _scores_t(self, h, tile):
        """The tile's scores with keys along axis -2, Sᵀ = K (Q · scale)ᵀ + biasᵀ, for heads h."""
        s_t = self.k[h, ..., tile.keys, :] @ self.q_t[h, ..., tile.queries]
        if tile.masked is not None:  # the mask where it is not 0
            s_t[..., tile.masked, :] += self._bias_t(h, tile.queries, tile.masked_keys)
        return s_t

    def _bias_t(self, h, queries, keys):
        """The mask's (keys, queries) block, for the heads `h`."""
        if self.bias_t.ndim == 2:  # broadcasts over the heads as it is
            return self.bias_t[keys, queries]
        return self.bias_t[h, ..., keys, queries]

    def _used(self, e_t, h, tile):
        """The tile's (E * keep)ᵀ: its weights after dropout, not yet divided by s."""
        if self.keep is None:
            return e_t
        return e_t * np.swapaxes(self.keep[h, ..., tile.queries, tile.keys], -1, -2)

    def backward(self, g):
        g = g.reshape(*self.q_scaled.shape[:-1], g.shape[-1])
        # Made fresh each call and not kept: the engine hands them to the leaves as their .grad.
        dq, dk, dv = (
            (np.empty if i == 0 else np.zeros)(a.shape, a.dtype) if need else None
            for i, (a, need) in enumerate(
                zip((self.q_scaled, self.k, self.v), self.needs_grad, strict=True)
            )
        )
        self._in_groups(self._backward_group, g, dq, dk, dv)
        dq = None if dq is None else dq.reshape(*self.lead_shape, *dq.shape[-2:])
        return dq, dk, dv  # in the broadcast shape: the engine sums them back

    def _backward_group(self, h, g, dq, dk, dv):
        """Writes the heads `h` of dQ (one tile's queries at a time) and adds into dK, dV."""
        for tile in self.tiles:
            qs, ks = tile.queries, tile.keys
            e_t, inv_s = self.saved[qs.start, h.start]
            g_s = g[h, ..., qs, :] * np.swapaxes(inv_s, -1, -2)  # G / s: (..., nq, Ev)
            if dv is not None:
                dv[h, ..., ks, :] += self._used(e_t, h, tile) @ g_s
            if dq is None and dk is None:
                continue
            g_s_t = np.ascontiguousarray(np.swapaxes(g_s, -1, -2))
            ds_t = self.v[h, ..., ks, :] @ g_s_t  # dD'ᵀ, in place -> dSᵀ
            if self.keep is not None:
                ds_t *= np.swapaxes(self.keep[h, ..., qs, ks], -1, -2)  # dW'ᵀ
            ds_t -= np.einsum("...qe,...qe->...q", g_s, self.y[h, ..., qs, :])[..., None, :]
            ds_t *= e_t
            if dq is not None:
                out = dq[h, ..., qs, :]
                np.matmul(np.swapaxes(ds_t, -1, -2), self.k[h, ..., ks, :], out=out)
                out *= self.scale
            if dk is not None:
                dk[h, ..., ks, :] += ds_t @ self.q_scaled[h, ..., qs, :]

    def _in_groups(self, fn, *arrays):
        """fn(heads, *arrays) for each group of heads (slices of the first axis, chosen in
        forward), as many at a time as fit a tile's score entries in CACHE_ELEMENTS."""
        for heads in self.groups:
            fn(heads, *arrays)


def max_over_keys(e_t):
    """The maximum over axis -2: (..., S, nq) -> (..., 1, nq), exactly e_t.max(axis=-2).

    `max(axis=-2)` goes one row of nq numbers at a time, so on a tile of many keys it is
    quicker to fold the rows in halves first: each np.maximum compares two blocks of rows in
    long contiguous runs (2x as fast at 256 keys). An odd count's halves share their middle
    row, which a maximum doesn't mind. A single query's keys (nq = 1) are contiguous
    already: one `max` is the fast way there.
    """
    n = e_t.shape[-2]
    if n <= UNFOLDED_ROWS or e_t.shape[-1] == 1:
        return e_t.max(axis=-2, keepdims=True)
    h = (n + 1) // 2
    m = np.maximum(e_t[..., :h, :], e_t[..., n - h :, :])
    while h > UNFOLDED_ROWS:  # fold rows [h', h) onto [0, h - h'), h' = ceil(h / 2)
        n, h = h, (h + 1) // 2
        np.maximum(m[..., : n - h, :], m[..., h:n, :], out=m[..., : n - h, :])
    return m[..., :h, :].max(axis=-2, keepdims=True)


@functools.cache
def _safe_inverse_sums(dtype):
    """(low, high): the range of 1 / s that `_exp_scores` takes as safe for `dtype`."""
    info = np.finfo(dtype)
    return 1.0 / math.sqrt(info.max), 1.0 / math.sqrt(info.tiny)


UNFOLDED_ROWS = 16
"""Rows left to `max` once `max_over_keys` stops folding: the last folds, on small blocks, cost
more in NumPy's per-call overhead than they save."""


def _sum_over_keys(e_t):
    """Σ over axis -2 as a product with a row of ones: (..., S, nq) -> (..., 1, nq). BLAS
    takes it three times as fast as `e_t.sum(axis=-2)` and twice as fast as einsum."""
    return np.ones((1, e_t.shape[-2]), e_t.dtype) @ e_t


def _lead(*arrays):
    """The broadcast shape of the arrays' leading axes (all but the last two)."""
    leads = {a.shape[:-2] for a in arrays}
    return leads.pop() if len(leads) == 1 else np.broadcast_shapes(*leads)


def _broadcast(a, lead):
    """`a` (..., X, Y) with the leading axes `lead`: itself when it has them (the common case,
    and much cheaper than np.broadcast_to), else a broadcast view."""
    return a if a.shape[:-2] == lead else np.broadcast_to(a, (*lead, *a.shape[-2:]))


def _mask_layout(bias, lead, L, S):
    """(the mask transposed as the tiles are, the Tiles): for the causal mask, made once per
    shape and dtype (it is the same array every call: `causal_bias`)."""
    if bias is not None and bias is causal_bias(L, S, bias.dtype):
        return _causal_layout(L, S, bias.dtype, TILE)
    return _transposed(bias, lead, L, S), tiles(bias, L, S)


@functools.lru_cache(maxsize=16)
def _causal_layout(L, S, dtype, tile_size):
    """The causal mask's layout; `tile_size` (TILE) is part of the key, as the Tiles use it."""
    bias = causal_bias(L, S, dtype)
    bias_t = _transposed(bias, (), L, S)
    bias_t.flags.writeable = False
    return bias_t, tuple(tiles(bias, L, S))


def _transposed(bias, lead, L, S):
    """The mask with keys along axis -2, as the tiles are. An (L, S) mask (the causal one) is
    copied, so that each tile's block of it is read row by row: adding a transposed view to a
    tile is several times slower than the exp that follows. A caller's (..., L, S) mask stays
    a view, broadcast to every head."""
    if bias is None:
        return None
    if bias.ndim == 2:
        return np.ascontiguousarray(bias.T)
    return np.swapaxes(np.broadcast_to(bias, (*lead, L, S)), -1, -2)


CACHE_ELEMENTS = 1 << 18
"""Score entries (1 MB of float32) a group of heads may hold: about a core's L2 cache here."""


TILE = 64
"""Queries per tile: small enough to skip most masked keys, large enough for few NumPy calls."""


class Tile(NamedTuple):
    """A block of queries and the keys it meets: `keys`, the range some query of the block may
    see; `masked`, the rows of the tile (keys - keys.start) where the mask is not 0 for some
    query of the block (None: nowhere), and `masked_keys`, the same range as keys."""

    queries: slice
    keys: slice
    masked: slice | None
    masked_keys: slice | None


def tiles(bias, L, S):
    """The Tiles covering the (L, S) scores: blocks of TILE queries, each with the keys that
    the mask lets some query of the block see (all of them without a mask)."""
    if bias is None:
        return [
            Tile(slice(q, min(q + TILE, L)), slice(0, S), None, None) for q in range(0, L, TILE)
        ]
    bias = bias.reshape(-1, L, S)
    visible, nonzero = np.isfinite(bias).any(axis=0), (bias != 0).any(axis=0)
    found = []
    for first in range(0, L, TILE):
        queries = slice(first, min(first + TILE, L))
        seen = np.flatnonzero(visible[queries].any(axis=0))
        keys = slice(seen[0], seen[-1] + 1) if seen.size else slice(0, 1)
        changed = np.flatnonzero(nonzero[queries, keys].any(axis=0))
        if changed.size:
            a, b = changed[0], changed[-1] + 1
            found.append(Tile(queries, keys, slice(a, b), slice(keys.start + a, keys.start + b)))
        else:
            found.append(Tile(queries, keys, None, None))
    return found
