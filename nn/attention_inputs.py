"""Attention's inputs made ready for `nn.functional`'s attention: the masks as one additive
bias, grouped-query heads as ordinary heads, the default scale.

Shapes: q (..., L, E) queries, k (..., S, E) keys, nh query heads, nkv key/value heads.
"""

import functools
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
        mask = attn_mask if learned_mask(attn_mask) else mask_array(attn_mask)
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
    """(bias, blind): what the masks add to the scores, 0 where a key may be seen and -inf
    where it is hidden, (..., L, S) (None when nothing is hidden); and the queries the mask
    hides every key from, (..., L, 1) booleans (None when there are none).

    A blind query attends to nothing: its weights and output are 0, as in PyTorch, where a
    softmax over nothing but -inf would be NaN (and the NaN would reach every gradient). Its
    row of the bias is 0, so the softmax stays finite before the caller zeroes it."""
    L, S = q.shape[-2], k.shape[-2]
    if is_causal:  # query i sees keys 0..i: none is blind
        return causal_bias(L, S, q.dtype), None
    if attn_mask is None:
        return None, None
    mask = mask_array(attn_mask)
    bias = np.where(mask, 0.0, -np.inf) if mask.dtype == bool else mask
    bias = np.broadcast_to(bias.astype(q.dtype), (*bias.shape[:-2], L, S))
    blind = np.isneginf(bias).all(axis=-1, keepdims=True)
    if not blind.any():
        return bias, None
    return np.where(blind, bias.dtype.type(0), bias), blind


@functools.lru_cache(maxsize=16)
def causal_bias(L, S, dtype):
    """The causal mask's bias (L, S): 0 where key j <= query i, -inf after. Made once per
    shape and dtype and shared by every call, so it is read-only."""
    future = np.triu(np.ones((L, S), dtype=bool), k=1)  # key j > query i
    bias = np.where(future, -np.inf, 0.0).astype(dtype)
    bias.flags.writeable = False
    return bias


def learned_mask(mask):
    """Whether `mask` is a float Tensor that wants a gradient (a learned bias on the scores, as
    a relative-position bias is): it is then added to the scores in the graph, not as a constant."""
    return isinstance(mask, Tensor) and mask.requires_grad


def mask_array(mask):
    """A mask given as a Tensor, an array or nested lists, as an array (a mask is a constant)."""
    return np.asarray(mask.data if isinstance(mask, Tensor) else mask)
