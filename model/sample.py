"""Sampling text from a GPT, one token at a time, with a KV cache.

Each step turns the logits at the last position into a distribution (temperature, top-k,
top-p), draws a token and appends it. Without a cache every step re-runs the whole context;
with one (`KVCache`), each block keeps the keys and values of the positions it has already
seen, so a step only computes the new token's, through the very attention code training runs.

Once the context is longer than `block_size` it is cropped to the last `block_size` tokens,
and from then on each step re-runs the cropped context, exactly as the plain sampler does. A
sliding cache (drop the oldest position, keep the rest) would not give the same tokens:
- with learned positions, every position shifts with each new token, so no cached key is
  valid any more;
- with rotary positions, attention only sees relative positions, so the first layer's keys
  would still be right (up to rounding), but the keys and values of every later layer were
  computed from tokens that have since been cropped away, which re-running cannot see.
"""

import math

import numpy as np

import engine


def next_token_probs(logits, temperature=1.0, top_k=None, top_p=None):
    """Logits (B, V) -> sampling probabilities (B, V), float64.

    `temperature` divides the logits (lower: more peaked); `top_k` keeps the k most likely
    tokens; `top_p` keeps the smallest set of most likely tokens whose probability adds up to
    at least p (nucleus sampling). `temperature=0` means greedy and is handled by the caller.
    """
    logits = logits.astype(np.float64)
    with np.errstate(over="ignore"):  # below a tiny temperature all but the maximum go to -inf
        logits = (logits - logits.max(axis=-1, keepdims=True)) / temperature  # the maximum: 0
    if top_k is not None:
        kth = np.sort(logits, axis=-1)[:, -top_k][:, None]
        logits = np.where(logits < kth, -np.inf, logits)
    probs = np.exp(logits)
    probs /= probs.sum(axis=-1, keepdims=True)
    if top_p is not None:
        order = np.argsort(-probs, axis=-1, kind="stable")
        sorted_probs = np.take_along_axis(probs, order, axis=-1)
        before = np.cumsum(sorted_probs, axis=-1) - sorted_probs  # mass of the likelier tokens
        drop = np.zeros_like(probs, dtype=bool)
        np.put_along_axis(drop, order, before >= top_p, axis=-1)
        probs = np.where(drop, 0.0, probs)
        probs /= probs.sum(axis=-1, keepdims=True)
    return probs


def sample_tokens(probs, rng):
    """One token id per row of `probs` (B, V), drawn from it by `rng`: (B,).

    Inverse-CDF sampling: the first token whose cumulative probability passes a uniform draw.
    The draw is scaled by the total as it rounded, so it never lands past the last token of
    nonzero probability.
    """
    cdf = probs.cumsum(axis=-1)
    draws = rng.random((len(probs), 1)) * cdf[:, -1:]
    return (cdf < draws).sum(axis=-1)


def check_options(model, max_new_tokens, temperature, top_k, top_p):
    """(max_new_tokens, top_k) as ints, top_k at most the vocabulary; ValueError for a bad one."""
    if not _is_int(max_new_tokens) or max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
    if not (math.isfinite(temperature) and temperature >= 0):
        raise ValueError(f"temperature must be a finite number >= 0, got {temperature!r}")
    if top_p is not None and not 0 < top_p <= 1:
        raise ValueError(f"top_p must be in (0, 1], got {top_p!r}")
    if top_k is not None:
        if not _is_int(top_k) or top_k < 1:
            raise ValueError(f"top_k must be an int >= 1, got {top_k!r}")
        top_k = min(int(top_k), model.config.vocab_size)
    return int(max_new_tokens), top_k


def _is_int(value):
    return isinstance(value, int | np.integer) and not isinstance(value, bool)


@engine.no_grad()
def generate(
    model, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=None, use_cache=True
):
    """Extend idx (B, T) by `max_new_tokens` sampled tokens: returns (B, T + max_new_tokens).

    `seed` makes the draw reproducible (None: the shared engine generator). Logits that are
    NaN or Inf (a broken model) raise FloatingPointError naming the step, instead of turning
    into tokens.
    """
    max_new_tokens, top_k = check_options(model, max_new_tokens, temperature, top_k, top_p)
    idx = np.asarray(idx.data if isinstance(idx, engine.Tensor) else idx)
    if idx.ndim != 2 or idx.shape[1] == 0 or idx.dtype.kind not in "iu":
        raise ValueError(
            f"generate needs a (B, T) integer prompt with T >= 1, got {idx.dtype} {idx.shape}"
        )
    rng = engine.generator() if seed is None else np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    try:
        return _sample_loop(
            model, idx.astype(np.int64), max_new_tokens, temperature, top_k, top_p, rng, use_cache
        )
    finally:
        model.train(was_training)


class KVCache:
    """The keys and values one attention layer has computed so far, each (B, nkv, length, hs).

    It takes the prompt in one call, then one new position per call: the only two cases in
    which the causal mask that attention applies is the right one. The positions go into
    buffers made once for `capacity` (block_size) positions, so a step copies its own key and
    value only, not every earlier one; what it hands back are views of the filled part. It is
    for sampling, under `engine.no_grad()`: the views carry no graph.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.length = 0  # how many positions the cache holds
        self.k = self.v = None  # (B, nkv, capacity, hs) each, made by the first update

    def update(self, k, v):
        """Append this call's k, v (B, nkv, T, hs); returns all positions' (B, nkv, length, hs)."""
        T = k.shape[2]
        if k.requires_grad or v.requires_grad:
            raise RuntimeError("a KV cache is for sampling: use it under engine.no_grad()")
        if self.length and T != 1:
            raise ValueError(f"a filled KV cache takes one position per call, got {T}")
        if self.length + T > self.capacity:
            raise ValueError(f"a KV cache for {self.capacity} positions is full")
        if self.k is None:
            B, n, _, hs = k.shape
            self.k = np.empty((B, n, self.capacity, hs), k.dtype)
            self.v = np.empty((B, n, self.capacity, v.shape[3]), v.dtype)
        self.k[:, :, self.length : self.length + T] = k.data
        self.v[:, :, self.length : self.length + T] = v.data
        self.length += T
        filled = slice(0, self.length)
        return engine.Tensor(self.k[:, :, filled]), engine.Tensor(self.v[:, :, filled])


def _sample_loop(model, idx, max_new_tokens, temperature, top_k, top_p, rng, use_cache):
    block_size = model.config.block_size
    caches = None
    for step in range(max_new_tokens):
        context = idx[:, -block_size:]
        if use_cache and idx.shape[1] <= block_size:
            if caches is None:
                caches = [KVCache(block_size) for _ in range(model.config.n_layer)]
            logits, _ = model(context[:, caches[0].length :], caches=caches)
        else:
            logits, _ = model(context)  # the plain sampler, and every cropped context
        last = logits.data[:, -1, :]
        if not np.isfinite(last).all():
            raise FloatingPointError(
                f"generate: the logits of step {step} are NaN or Inf: the model is broken"
            )
        if temperature == 0:
            token = last.argmax(axis=-1)
        else:
            token = sample_tokens(next_token_probs(last, temperature, top_k, top_p), rng)
        idx = np.concatenate([idx, token[:, None]], axis=1)
    return idx
