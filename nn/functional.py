"""The stateless functions behind the layers, with PyTorch's names (`torch.nn.functional`).

Each checks its arguments (a wrong shape fails here, with the shapes in the message, rather
than deep inside NumPy) and runs one engine op: a fused one from `nn/fused.py`,
`engine/gelu.py`, `nn/attention.py` or `nn/loss.py`, where forward and backward are derived
side by side, or for `embedding` the engine's own indexing.
Shapes: B batch, T time (sequence positions), C channels, V vocabulary, nh heads, hs head size.
"""

import numpy as np

from engine import Tensor, generator
from nn import attention, fused, loss


def _ids(ids, what):
    """An integer ndarray from an array, list or integer Tensor."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what} needs integer ids, got dtype {ids.dtype}")
    return ids


def _same_dtype(what, x, *params):
    for p in params:
        if p is not None and p.dtype != x.dtype:
            raise TypeError(
                f"{what}: input dtype {x.dtype} differs from parameter dtype {p.dtype} "
                f"(convert the input, or the model with module.to(dtype))"
            )


def linear(x, weight, bias=None):
    """x (..., in) @ weightᵀ (in, out) + bias (out,) -> (..., out), as one op."""
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight {weight.shape}")
    _same_dtype("linear", x, weight, bias)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return fused.Linear.apply(*inputs)


def embedding(ids, weight):
    """Rows of weight (V, C) for integer ids of any shape (...) -> (..., C)."""
    ids = _ids(ids, "embedding")
    if ids.size and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise IndexError(f"embedding got id {bad}; valid ids are 0..{weight.shape[0] - 1}")
    return weight[ids]  # the engine's indexing: its backward adds the rows of repeated ids


def _check_norm(what, x, normalized_shape, *params):
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) != 1 or x.shape[-1:] != shape:
        raise ValueError(f"{what} over {shape} got input of shape {x.shape}")
    for p in params:
        if p is not None and p.shape != shape:
            raise ValueError(f"{what}: parameter of shape {p.shape}, expected {shape}")
    _same_dtype(what, x, *params)


def layer_norm(x, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise each row of the last axis (..., C) to mean 0, variance 1, then * weight + bias."""
    _check_norm("layer_norm", x, normalized_shape, weight, bias)
    params = [p for p in (weight, bias) if p is not None]
    affine = (weight is not None, bias is not None)
    return fused.LayerNorm.apply(x, *params, eps=eps, affine=affine)


def rms_norm(x, normalized_shape, weight=None, eps=1e-6):
    """Divide each row of the last axis (..., C) by its root mean square, then * weight."""
    _check_norm("rms_norm", x, normalized_shape, weight)
    params = [] if weight is None else [weight]
    return fused.RMSNorm.apply(x, *params, eps=eps)


def gelu(x, approximate="tanh"):
    """GELU(x) = x Φ(x) elementwise. 'tanh' (GPT-2's form, our default) or 'none' (exact erf).

    PyTorch's default is 'none'; GPT-2 was trained with 'tanh', so that is ours.
    """
    return x.gelu(approximate)


def relu(x):
    """max(x, 0) elementwise."""
    return x.relu()


def dropout(x, p=0.5, training=True):
    """Zero each element with probability p and scale the rest by 1/(1-p); identity when
    not training or p == 0. Masks come from the shared generator (`engine.manual_seed`)."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    return fused.Dropout.apply(x, p=float(p), rng=generator())


def softmax(x, dim=-1):
    """exp(x) / sum(exp(x)) along `dim`."""
    return x.softmax(axis=dim)


def log_softmax(x, dim=-1):
    """log(softmax(x)) along `dim`, computed without overflow."""
    return x.log_softmax(axis=dim)


def cross_entropy(logits, targets, ignore_index=-1):
    """Mean of -log softmax(logits)[target] over the targets that are not `ignore_index`.

    logits (N, V) with targets (N,), or (B, T, V) with targets (B, T); integer targets in
    [0, V) or equal to ignore_index. Returns a scalar Tensor (NaN if every target is ignored).
    """
    targets = _ids(targets, "cross_entropy")
    if logits.ndim < 2 or targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need targets of shape "
            f"{logits.shape[:-1]}, got {targets.shape}"
        )
    num_classes = logits.shape[-1]
    bad = targets[(targets != ignore_index) & ((targets < 0) | (targets >= num_classes))]
    if bad.size:
        raise IndexError(
            f"cross_entropy: target {bad[0]} out of range for {num_classes} classes "
            f"(ignore_index={ignore_index})"
        )
    return loss.CrossEntropy.apply(logits, targets=targets, ignore_index=ignore_index)


def scaled_dot_product_attention(q, k, v, *, is_causal=True, dropout_p=0.0):
    """softmax(q kᵀ / √hs) v, causally masked by default: q (..., Tq, hs), k (..., Tk, hs),
    v (..., Tk, hv) -> (..., Tq, hv); typically (B, nh, T, hs).

    With Tq < Tk the queries are the last Tq positions (a KV cache): see nn/attention.py.
    `dropout_p` drops attention weights (pass 0 at eval time, as with torch).
    """
    if q.ndim < 2 or k.shape[:-2] != q.shape[:-2] or k.shape[-1] != q.shape[-1]:
        raise ValueError(f"attention: queries {q.shape} and keys {k.shape} do not fit")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"attention: keys {k.shape} and values {v.shape} do not fit")
    if is_causal and q.shape[-2] > k.shape[-2]:
        raise ValueError(
            f"attention: causal mask needs at most as many queries as keys, got "
            f"{q.shape[-2]} queries and {k.shape[-2]} keys"
        )
    _check_dropout_p(dropout_p)
    return attention.ScaledDotProductAttention.apply(
        q, k, v, is_causal=is_causal, dropout_p=float(dropout_p), rng=generator()
    )


def _check_dropout_p(dropout_p):
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"attention dropout_p must be in [0, 1], got {dropout_p}")


def multi_head_self_attention(qkv, n_head, *, is_causal=True, dropout_p=0.0):
    """Self-attention of n_head heads on packed projections: qkv (B, T, 3C) = q | k | v, each
    of C = n_head · hs channels -> (B, T, C), the heads' outputs side by side.

    The same as splitting qkv into (B, nh, T, hs) heads, `scaled_dot_product_attention`, and
    merging the heads, in one op (see nn/attention.py).
    """
    if not isinstance(n_head, int) or isinstance(n_head, bool) or n_head < 1:
        raise ValueError(
            f"multi_head_self_attention: n_head must be a positive int, got {n_head!r}"
        )
    if qkv.ndim != 3 or qkv.shape[-1] % (3 * n_head) != 0:
        raise ValueError(
            f"multi_head_self_attention: qkv of shape {qkv.shape} is not (B, T, 3C) with C "
            f"divisible by n_head={n_head}"
        )
    _check_dropout_p(dropout_p)
    return attention.MultiHeadSelfAttention.apply(
        qkv, n_head=n_head, is_causal=is_causal, dropout_p=float(dropout_p), rng=generator()
    )
