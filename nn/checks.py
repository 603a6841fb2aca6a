"""The checks `nn.functional` and the loss modules make of their arguments, apart from the math.

Each raises the error a PyTorch user would expect (TypeError for a dtype, ValueError for a shape
or an option), naming the function and the value it got. `what` is that function's name.
"""

import numpy as np

from engine import Tensor
from nn.attention_inputs import mask_array


def integer_ids(ids, what):
    """An integer ndarray from an array, list or integer Tensor."""
    ids = np.asarray(ids.data if isinstance(ids, Tensor) else ids)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"{what} needs integer ids, got dtype {ids.dtype}")
    return ids


def floating(what, *tensors):
    """Raise TypeError unless every tensor is floating-point, as `what`'s math needs (PyTorch
    refuses integer tensors there too)."""
    for t in tensors:
        if t.dtype.kind != "f":
            raise TypeError(f"{what} needs floating-point tensors, got dtype {t.dtype}")


def padding_index(padding_idx, num_embeddings):
    """An embedding's padding id in 0..num_embeddings - 1 (negatives count from the end)."""
    if not isinstance(padding_idx, int) or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(
            f"padding_idx must be an id of the {num_embeddings} embeddings, got {padding_idx!r}"
        )
    return padding_idx % num_embeddings


def same_dtype(what, x, *params):
    """Raise TypeError unless every given parameter has the input's dtype."""
    for p in params:
        if p is not None and p.dtype != x.dtype:
            raise TypeError(
                f"{what}: input dtype {x.dtype} differs from parameter dtype {p.dtype} "
                f"(convert the input, or the model with module.to(dtype))"
            )


def norm_shape(what, x, normalized_shape, *params):
    """Raise ValueError unless x ends in `normalized_shape` (one axis) and the parameters have
    that shape, TypeError unless they have x's dtype."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) != 1 or x.shape[-1:] != shape:
        raise ValueError(f"{what} over {shape} got input of shape {x.shape}")
    floating(what, x)
    for p in params:
        if p is not None and p.shape != shape:
            raise ValueError(f"{what}: parameter of shape {p.shape}, expected {shape}")
    same_dtype(what, x, *params)


def batch_norm_channels(x, running_mean, running_var, weight, bias, training):
    """The channel count C of batch_norm's input x (N, C, ...), after checking that x is
    floating, that every given statistic and parameter is (C,) of x's dtype, that evaluation
    has running statistics, and that training has more than one number per channel (the
    variance of one number is no statistic: PyTorch refuses it too)."""
    if x.ndim < 2:
        raise ValueError(f"batch_norm needs input (N, C) or (N, C, L), got shape {x.shape}")
    floating("batch_norm", x)
    c = x.shape[1]
    named = {"running_mean": running_mean, "running_var": running_var}
    for name, t in {**named, "weight": weight, "bias": bias}.items():
        if t is not None and t.shape != (c,):
            raise ValueError(f"batch_norm: {name} of shape {t.shape}, expected ({c},)")
    same_dtype("batch_norm", x, *named.values(), weight, bias)
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: evaluation (training=False) needs running_mean/var")
    if training and x.size // max(c, 1) == 1:
        raise ValueError(
            f"batch_norm: expected more than 1 value per channel when training, got input of "
            f"shape {x.shape}"
        )
    return c


def reduction(what, name):
    """Raise ValueError unless `name` is a reduction a loss knows: 'mean', 'sum' or 'none'."""
    if name not in ("mean", "sum", "none"):
        raise ValueError(f"{what}: reduction must be 'mean', 'sum' or 'none', got {name!r}")


def probability(what, p):
    """Raise ValueError unless p is a probability."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{what} probability must be in [0, 1], got {p}")


def attention_shapes(q, k, v, attn_mask, is_causal, dropout_p):
    """Raise ValueError unless q (..., L, E), k (..., S, E) and v (..., S, Ev) fit, with at
    least one key, and the options agree; TypeError unless q, k and v share one float dtype
    (as PyTorch requires)."""
    # The same leading axes (the usual case) fit at once, without asking NumPy.
    leads_fit = q.shape[:-2] == k.shape[:-2] or _broadcast(q.shape[:-2], k.shape[:-2])
    if not leads_fit or q.ndim < 2 or k.ndim < 2 or k.shape[-1] != q.shape[-1]:
        raise ValueError(f"attention: queries {q.shape} and keys {k.shape} do not fit")
    if v.shape[:-1] != k.shape[:-1]:
        raise ValueError(f"attention: keys {k.shape} and values {v.shape} do not fit")
    if k.shape[-2] == 0:
        raise ValueError(f"attention: keys {k.shape} hold no key to attend to")
    if is_causal and attn_mask is not None:
        raise ValueError("attention: give attn_mask or is_causal=True, not both (as in PyTorch)")
    floating("attention", q, k, v)
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(
            f"attention: queries, keys and values must share one dtype, got {q.dtype}, "
            f"{k.dtype} and {v.dtype}"
        )
    mask = None if attn_mask is None else mask_array(attn_mask)
    if mask is not None and mask.dtype.kind not in "bf":
        raise TypeError(f"attention: attn_mask must be bool or float, got dtype {mask.dtype}")
    probability("attention dropout_p", dropout_p)


def _broadcast(*shapes):
    """Whether the shapes broadcast together."""
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return False
    return True


def softmax_dim(what, x, dim, axis):
    """`dim` as given, None meaning the last axis: for a 1-D or 2-D x that is PyTorch's
    implicit choice too. From 3-D on, PyTorch's own (deprecated: dim 0 for 3-D, 1 beyond) is
    not the last axis, so ported code would silently differ: ValueError without a dim."""
    if dim is None and axis is None and x.ndim > 2:
        theirs = 0 if x.ndim == 3 else 1
        raise ValueError(
            f"{what} of a {x.ndim}-D input needs dim=: PyTorch's implicit choice there, dim "
            f"{theirs} (deprecated), is not the last axis"
        )
    return dim
