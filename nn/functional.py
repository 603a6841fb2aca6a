"""Every layer's math, written once from engine primitives (`torch.nn.functional`'s names).

Each function checks its arguments (`nn/checks.py`: a wrong shape fails here, with the shapes
in the message, rather than deep inside NumPy), then decides in one line whether a fused kernel
replaces its body (`nn/kernels/`, the default; `nn.use_fused(False)` turns them off). The body
is the reference: the math as a textbook writes it, and what a graph picture of it shows.

The normalisations (`layer_norm`, `rms_norm`, `batch_norm`) are written in nn/normalization.py
and are here as well, so `F.layer_norm` is PyTorch's name.

Shapes: B batch, T time (sequence positions), C channels, V vocabulary, nh heads, hs head size.
"""

import math

import numpy as np

import engine
from engine import Tensor, generator
from nn import checks, kernels
from nn.attention_inputs import (
    attention_scale,
    grouped_heads,
    learned_mask,
    mask_bias,
    scores_shape,
)
from nn.normalization import batch_norm, layer_norm, rms_norm  # noqa: F401 (F.layer_norm, ...)

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def linear(x, weight, bias=None):
    """x (..., in), weight (out, in), bias (out,) -> (..., out):   y = x Wᵀ + b."""
    if x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear: input of shape {x.shape} does not fit weight {weight.shape}")
    checks.same_dtype("linear", x, weight, bias)
    if kernels.enabled():
        return kernels.FusedLinear.apply(x, weight, bias)
    y = x @ weight.T
    return y if bias is None else y + bias


def embedding(ids, weight, padding_idx=None):
    """ids (...) integers, weight (V, C) -> (..., C):   row ids[...] of the table.

    The gradient of a lookup adds up the rows of repeated ids: the engine's indexing does it.
    `padding_idx` (as in PyTorch) is the id of padding: its row gets no gradient.
    """
    ids = checks.integer_ids(ids, "embedding")
    if ids.size and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        bad = ids.min() if ids.min() < 0 else ids.max()
        raise IndexError(f"embedding got id {bad}; valid ids are 0..{weight.shape[0] - 1}")
    rows = weight[ids]
    if padding_idx is None:
        return rows
    padding = (ids == checks.padding_index(padding_idx, weight.shape[0]))[..., None]
    return engine.where(padding, rows.detach(), rows)  # the same values, no gradient there


def one_hot(tensor, num_classes=-1):
    """ids (...) integers -> (..., num_classes) int64: 1 at each id's class, 0 elsewhere.

    num_classes -1 means the largest id + 1, as in PyTorch. `one_hot(ids, V).float() @ W` is
    `W[ids]`, an embedding written as a matmul (makemore does it so).
    """
    ids = checks.integer_ids(tensor, "one_hot")
    if not isinstance(num_classes, int) or num_classes < -1:
        raise ValueError(f"one_hot: num_classes must be -1 or a count >= 0, got {num_classes!r}")
    if num_classes == -1:
        if not ids.size:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; give it")
        num_classes = int(ids.max()) + 1
    if ids.size and ids.min() < 0:
        raise ValueError(f"one_hot: class values must be >= 0, got {ids.min()}")
    if ids.size and ids.max() >= num_classes:
        raise ValueError(f"one_hot: class {ids.max()} does not fit num_classes={num_classes}")
    return Tensor((ids[..., None] == np.arange(num_classes)).astype(np.int64))


def gelu(x, approximate="none"):
    """x -> x Φ(x) elementwise, Φ the normal distribution's CDF, in one of two forms:

        'none':  Φ(x) = (1 + erf(x / √2)) / 2                     exact (the default, as torch's)
        'tanh':  Φ(x) ≈ (1 + tanh(√(2/π) (x + 0.044715 x³))) / 2   GPT-2's, within 5e-4

    GPT-2 was trained with 'tanh', so the GPT's config asks for it (`GPTConfig.gelu`).
    """
    if approximate not in ("tanh", "none"):
        raise ValueError(f"gelu: approximate must be 'tanh' or 'none', got {approximate!r}")
    checks.floating("gelu", x)
    if kernels.enabled():
        return kernels.FusedGELU.apply(x, approximate=approximate)
    if approximate == "tanh":
        return 0.5 * x * (1.0 + (_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
    return 0.5 * x * (1.0 + (x * (1.0 / math.sqrt(2.0))).erf())


def relu(x):
    """x -> max(x, 0) elementwise."""
    return x.relu()


def tanh(x):
    """x -> tanh(x) elementwise."""
    return x.tanh()


def sigmoid(x):
    """x -> σ(x) = 1 / (1 + exp(-x)) elementwise."""
    return x.sigmoid()


def silu(x):
    """x -> x σ(x) elementwise (also called swish): Llama's MLPs use it where GPT-2 has GELU."""
    return x * x.sigmoid()


def swiglu(x):
    """x (..., 2H) = gate | up -> (..., H):   silu(gate) · up,   silu(g) = g σ(g).

    The activation of Llama's gated MLP: the gate half, squashed by silu, scales the up half
    channel by channel.
    """
    if x.shape[-1] % 2:
        raise ValueError(f"swiglu needs an even last axis (gate | up), got shape {x.shape}")
    if kernels.enabled():
        return kernels.FusedSwiGLU.apply(x)
    half = x.shape[-1] // 2
    gate, up = x[..., :half], x[..., half:]
    return silu(gate) * up


def rotary_tables(positions, head_size, theta=10000.0):
    """positions (T,) -> (cos, sin), each (T, head_size) float64: the angles of rotary
    position embeddings. Channels i and i + hs/2 of position m turn together by the angle
    m / θ^(2i / hs): the first pairs quickly, the last ones over thousands of positions."""
    inverse_wavelengths = 1.0 / theta ** (np.arange(0, head_size, 2) / head_size)  # (hs/2,)
    angles = np.outer(np.asarray(positions, dtype=np.float64), inverse_wavelengths)
    angles = np.concatenate([angles, angles], axis=-1)  # (T, hs): pair i with i + hs/2
    return np.cos(angles), np.sin(angles)


def rotary_embedding(x, cos, sin):
    """x (..., T, hs), cos and sin (T, hs) -> (..., T, hs), each channel pair rotated:

        y = x · cos + rotate_half(x) · sin,   rotate_half(x₁ | x₂) = (-x₂ | x₁)

    A rotation by the position's angle: the dot product of a query at position m and a key at
    n then depends on m - n only, so attention sees how far apart two tokens are. The pairs
    are Hugging Face Llama's (channel i with i + hs/2); Meta's original code pairs neighbours
    (2i, 2i + 1), and HF's conversion script permutes the q and k weights to get from one
    layout to the other.
    """
    if cos.shape != x.shape[-2:] or sin.shape != cos.shape or x.shape[-1] % 2:
        raise ValueError(
            f"rotary_embedding: x of shape {x.shape} needs cos and sin of shape "
            f"{x.shape[-2:]} with an even last axis, got {cos.shape} and {sin.shape}"
        )
    cos, sin = Tensor(cos.astype(x.dtype), name="cos"), Tensor(sin.astype(x.dtype), name="sin")
    half = x.shape[-1] // 2
    rotated = engine.cat([-x[..., half:], x[..., :half]], axis=-1)
    return x * cos + rotated * sin


def dropout(x, p=0.5, training=True):
    """x -> x · mask, each mask entry 0 with probability p and 1/(1 - p) otherwise.

    Scaling the kept values keeps the expected output equal to x, so at eval time
    (`training=False`) dropout is simply the identity. Masks come from the shared generator.
    """
    checks.probability("dropout", p)
    if not training or p == 0:
        return x
    return x * Tensor(dropout_mask(x.shape, p, x.dtype), name="dropout mask")


def dropout_mask(shape, p, dtype):
    """The (shape) array dropout multiplies by: 0 with probability p, else 1/(1 - p).

    Drawn from the shared generator (`engine.manual_seed` makes it repeat); the attention
    kernel draws its mask here too, so both paths drop the same weights.
    """
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    keep = (generator().random(shape, dtype=np.float32) >= p).astype(dtype)
    keep *= scale
    return keep


def softmax(x, dim=None, *, axis=None):
    """x -> exp(x) / sum(exp(x)) along `dim` (`axis=` also works; see `checks.softmax_dim`)."""
    return x.softmax(checks.softmax_dim("softmax", x, dim, axis), axis=axis)


def log_softmax(x, dim=None, *, axis=None):
    """x -> x - log(sum(exp(x))) along `dim` (see `checks.softmax_dim`): log(softmax(x)) without
    overflow."""
    return x.log_softmax(checks.softmax_dim("log_softmax", x, dim, axis), axis=axis)


def cross_entropy(logits, targets, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """logits (..., V), targets (...) integers -> the cross-entropy of each position's target:

        loss_n = -(1 - ε) log p_n[t_n] - ε mean_v log p_n[v],   p_n = softmax(logits_n)

    (ε = `label_smoothing`: the target distribution is one-hot mixed with a uniform share ε,
    as in PyTorch), then `reduction`: "mean" over the positions whose target is not
    `ignore_index` (NaN if every one is ignored, as in PyTorch), "sum", or "none" (shape
    (...), 0 at ignored positions). Targets must lie in [0, V) or equal ignore_index. Logits
    (N, V) and targets (N,) are PyTorch's shapes; here leading axes may be any (B, T, ...).
    """
    targets = checks.integer_ids(targets, "cross_entropy")
    checks.floating("cross_entropy", logits)
    if logits.ndim < 1 or targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"cross_entropy: logits of shape {logits.shape} need targets of shape "
            f"{logits.shape[:-1]}, got {targets.shape}"
        )
    checks.reduction("cross_entropy", reduction)
    checks.probability("cross_entropy label_smoothing", label_smoothing)
    num_classes = logits.shape[-1]
    ignored = targets == ignore_index
    bad = targets[~ignored & ((targets < 0) | (targets >= num_classes))]
    if bad.size:
        raise IndexError(
            f"cross_entropy: target {bad[0]} out of range for {num_classes} classes "
            f"(ignore_index={ignore_index})"
        )
    if kernels.enabled():
        return kernels.FusedCrossEntropy.apply(
            logits,
            targets=targets,
            ignore_index=ignore_index,
            reduction=reduction,
            label_smoothing=float(label_smoothing),
        )
    log_probs = logits.log_softmax(axis=-1).reshape(-1, num_classes)  # (N, V)
    ignored = ignored.reshape(-1)
    safe = np.where(ignored, 0, targets.reshape(-1))  # any class in the ignored rows
    losses = -log_probs[np.arange(len(safe)), safe]  # (N,)  -log p[target]
    if label_smoothing:
        uniform = -log_probs.mean(axis=-1)  # (N,)  -mean over the classes of log p
        losses = (1.0 - label_smoothing) * losses + label_smoothing * uniform
    losses = engine.where(ignored, 0.0, losses)
    if reduction == "none":
        return losses.reshape(targets.shape)
    total = losses.sum()
    if reduction == "sum":
        return total
    kept = int((~ignored).sum())
    return total * (1.0 / kept) if kept else total * np.nan


def mse_loss(input, target, reduction="mean"):
    """input, target (...) of one shape -> the squared errors (input - target)², then their
    mean ("mean"), their sum ("sum") or each of them ("none")."""
    if input.shape != np.shape(target):
        raise ValueError(
            f"mse_loss: input of shape {input.shape} and target of shape {np.shape(target)} "
            f"differ (PyTorch would broadcast them, rarely what was meant)"
        )
    checks.reduction("mse_loss", reduction)
    error = input - target
    squared = error * error
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()


def scaled_dot_product_attention(
    q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """q (..., L, E), k (..., S, E), v (..., S, Ev) -> (..., L, Ev), typically (B, nh, T, hs):

        y = dropout(softmax(q kᵀ · scale + mask)) v,   scale = 1/√E unless given

    Each query's output is a weighted mean of the values, weighted by how well the query
    matches each key (`attention_weights`). `is_causal` hides from query i every key j > i
    (aligned to the top left when L != S, as in PyTorch); `attn_mask` (broadcasting to
    (..., L, S)) is either boolean, True where a key may be seen, or float, added to the
    scores (a float Tensor that requires grad, a learned bias, gets its gradient).
    `dropout_p` drops weights (pass 0 at eval time, as with torch). `enable_gqa`: k and v
    have fewer heads (axis -3) than q, each shared by a group of query heads.
    """
    if enable_gqa:  # attend within each group of query heads, then put the heads back
        (q, k, v), attn_mask, heads = grouped_heads(q, k, v, attn_mask=attn_mask)
        y = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal, scale)
        return y.reshape(*heads, *y.shape[-2:])
    checks.attention_shapes(q, k, v, attn_mask, is_causal, dropout_p)
    if kernels.enabled() and not learned_mask(attn_mask):  # the kernel's mask is a constant
        keep = None if dropout_p == 0 else dropout_mask(scores_shape(q, k), dropout_p, q.dtype)
        bias, blind = mask_bias(q, k, attn_mask, is_causal)
        y = kernels.attend(q, k, v, bias, attention_scale(q, scale), keep)
        return y if blind is None else y.masked_fill(blind, 0.0)
    weights = attention_weights(q, k, attn_mask, is_causal, scale)  # (..., L, S)
    return dropout(weights, dropout_p) @ v


def attention_weights(q, k, attn_mask=None, is_causal=False, scale=None, enable_gqa=False):
    """q (..., L, E), k (..., S, E) -> (..., L, S): softmax(q kᵀ · scale + mask) over the keys.

    Row i says how query i spreads its attention over the keys (it sums to 1; masked keys get
    0, and a query the mask hides every key from is all 0). The first half of
    `scaled_dot_product_attention`, and what attention pictures show.
    """
    if enable_gqa:
        (q, k), attn_mask, heads = grouped_heads(q, k, attn_mask=attn_mask)
        weights = attention_weights(q, k, attn_mask, is_causal, scale)
        return weights.reshape(*heads, *weights.shape[-2:])
    scores = (q @ k.transpose(-2, -1)) * attention_scale(q, scale)  # (..., L, S)
    bias, blind = mask_bias(q, k, attn_mask, is_causal)
    if learned_mask(attn_mask):  # in the graph: its gradient is the scores'
        scores = scores + attn_mask
        if blind is not None:  # rows of -inf alone: 0, so that the softmax stays finite
            scores = scores.masked_fill(blind, 0.0)
    elif bias is not None:  # -inf where a key is hidden: exp(-inf) = 0
        scores = scores + Tensor(bias, name="causal mask" if is_causal else "attn_mask")
    weights = scores.softmax(axis=-1)
    return weights if blind is None else weights.masked_fill(blind, 0.0)
