"""Attention's inputs made ready for `nn.functional`'s attention: the masks as one additive
bias, grouped-query heads as ordinary heads, the default scale.

Shapes: q (..., L, E) queries, k (..., S, E) keys, nh query heads, nkv key/value heads.
"""

import math

import numpy as np

from engine import Tensor


def grouped_heads(q, *kv, attn_mask):
    """Grouped-query attention as ordinary attention: q (..., nh, L, E) as (..., nkv, g, L, E)
    and each of kv (..., nkv, S, E) as (..., nkv, 1, S, E), which broadcast over the g query
    heads of a group (the gradient of the shared keys and values sums over the group).
    Returns (q, *kv), the mask to match, and q's leading shape (..., nh)."""
    if q.ndim < 3 or kv[0].ndim < 3:
        raise ValueError(
            f"attention with enable_gqa: q {q.shape} and k {kv[0].shape} need a heads axis, "
            "(..., heads, L, E)"
        )
    nh, nkv = q.shape[-3], kv[0].shape[-3]
    if nh % nkv:
        raise ValueError(
            f"attention with enable_gqa: {nh} query heads of {q.shape} must be a multiple of "
            f"the {nkv} key/value heads of {kv[0].shape}"
        )
    lead, g = q.shape[:-3], nh // nkv
    grouped = [q.reshape(*lead, nkv, g, *q.shape[-2:])]
    grouped += [t.reshape(*t.shape[:-3], nkv, 1, *t.shape[-2:]) for t in kv]
    if attn_mask is not None:
        mask = _array(attn_mask)
        if mask.ndim >= 3:  # (..., nh or 1, L, S): a mask per query head
            heads = (nkv, g) if mask.shape[-3] == nh else (1, 1)
            mask = mask.reshape(*mask.shape[:-3], *heads, *mask.shape[-2:])
        attn_mask = mask
    return grouped, attn_mask, q.shape[:-2]


def attention_scale(q, scale):
    """The scores' scale: `scale` if given, else 1/√E, as in PyTorch."""
    return 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)


def scores_shape(q, k):
    """(..., L, S): the shape of the scores of queries q (..., L, E) against keys k (..., S, E)."""
    return (*np.broadcast_shapes(q.shape[:-2], k.shape[:-2]), q.shape[-2], k.shape[-2])


def mask_bias(q, k, attn_mask, is_causal):
    """What the masks add to the scores, 0 where a key may be seen and -inf where it is hidden,
    shaped (L, S) or as `attn_mask`; None when nothing is hidden."""
    if is_causal:
        L, S = q.shape[-2], k.shape[-2]
        future = np.triu(np.ones((L, S), dtype=bool), k=1)  # key j > query i
        return np.where(future, -np.inf, 0.0).astype(q.dtype)
    if attn_mask is None:
        return None
    mask = _array(attn_mask)
    if mask.dtype == bool:
        return np.where(mask, 0.0, -np.inf).astype(q.dtype)
    return mask.astype(q.dtype)


def _array(mask):
    """A mask given as a Tensor, an array or nested lists, as an array (a mask is a constant)."""
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask)
