"""A GPT: the decoder-only transformer language model of GPT-2, small enough to read at once.

    idx (B, T) token ids
      -> token embedding + position embedding                       (B, T, C)
      -> n_layer blocks, each  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
      -> final LayerNorm -> lm_head (the token embedding, transposed) -> logits (B, T, V)

Attention is causal: position t sees positions <= t only, so one forward pass trains T
next-token predictions at once. Parameter names and shapes are GPT-2's (as in nanoGPT), so a
reader can line them up with any other GPT-2 code. Llama's pieces (RMSNorm, rotary positions,
SwiGLU, grouped-query attention, untied output weights) are switches of `GPTConfig`
(model/config.py), each a few lines below.
"""

__all__ = ["GPT", "GPTConfig"]

import math

import numpy as np

import engine
import nn
import nn.functional as F
from model import hf
from model.config import GPTConfig
from model.sample import generate


def norm(config):
    """The block's normalisation: GPT-2's LayerNorm, or Llama's RMSNorm, which divides each
    position by its root mean square without centring it first. Dropping the mean (and the
    bias) costs nothing measurable in quality and saves a pass over the activations."""
    if config.norm == "rmsnorm":
        return nn.RMSNorm(config.n_embd, eps=config.norm_eps)
    return nn.LayerNorm(config.n_embd, eps=config.norm_eps, bias=config.bias)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position attends to itself and the past only.

    One projection `c_attn` makes queries, keys and values for all heads at once
    (C -> (nh + 2 nkv) hs: q | k | v); each head works on hs = C / n_head channels; `c_proj`
    mixes the heads. With n_kv_head < n_head (grouped-query attention), each key/value head
    serves n_head / n_kv_head query heads: the KV cache, the memory sampling reads every step,
    shrinks by that factor. With pos="rope" the queries and keys are rotated by their position
    (`F.rotary_embedding`), so their dot product depends on the distance between them only.
    """

    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_kv_head, self.head_size = (
            config.n_head,
            config.n_kv_head,
            config.head_size,
        )
        self.rope_theta = config.rope_theta if config.pos == "rope" else None
        qkv_size = (config.n_head + 2 * config.n_kv_head) * config.head_size
        self.c_attn = nn.Linear(config.n_embd, qkv_size, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        """x (B, T, C) -> (B, T, C). With a `cache` (a KVCache), the queries also see the keys
        and values of the positions before x, and x's are added to them."""
        B, T, C = x.shape
        start = 0 if cache is None else cache.length  # the position of x's first token
        q, k, v = self.heads(x, start)  # (B, nh, T, hs), (B, nkv, T, hs), (B, nkv, T, hs)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, nkv, past + T, hs)
        # A cache takes T > 1 positions only when empty (the prompt), so causal is the right
        # mask then, and a single new query sees everything before it: no mask.
        dropout_p = self.attn_dropout if self.training else 0.0
        grouped = self.n_kv_head != self.n_head
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout_p, is_causal=T > 1, enable_gqa=grouped
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh, hs) -> heads side by side
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)

    def heads(self, x, start=0):
        """x (B, T, C) at positions start, start + 1, ... -> q (B, nh, T, hs), k and v
        (B, nkv, T, hs): the heads of the packed projection, q and k rotated with rope."""
        B, T, _ = x.shape
        nh, nkv = self.n_head, self.n_kv_head
        heads = self.c_attn(x).view(B, T, nh + 2 * nkv, self.head_size)  # (B, T, nh + 2 nkv, hs)
        heads = heads.transpose(1, 2)  # (B, nh + 2 nkv, T, hs)
        q, k, v = heads[:, :nh], heads[:, nh : nh + nkv], heads[:, nh + nkv :]
        if self.rope_theta is not None:
            cos, sin = F.rotary_tables(np.arange(start, start + T), self.head_size, self.rope_theta)
            q, k = F.rotary_embedding(q, cos, sin), F.rotary_embedding(k, cos, sin)
        return q, k, v

    def attention_weights(self, x):
        """x (B, T, C) -> (B, nh, T, T): how each head's queries spread over the keys."""
        q, k, _ = self.heads(x)
        return F.attention_weights(q, k, is_causal=True, enable_gqa=self.n_kv_head != self.n_head)


class MLP(nn.Module):
    """GPT-2's position-wise feed-forward: C -> n_inner (4C) -> GELU -> C."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.n_inner, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.c_proj = nn.Linear(config.n_inner, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class SwiGLUMLP(nn.Module):
    """Llama's gated feed-forward: C -> (gate | up, n_inner each) -> silu(gate) * up -> C.

    The gate, a second projection squashed by silu, decides per channel how much of `up`
    passes: the multiplication lets the MLP compute products of features, not only sums.
    At equal parameter count it trains a little better than GELU in most reports (Shazeer
    2020). `c_fc` holds W_gate and W_up stacked, so one matmul makes both.
    """

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 2 * config.n_inner, bias=config.bias)
        self.c_proj = nn.Linear(config.n_inner, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.c_proj(F.swiglu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-norm: the residual stream is never normalised itself."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = norm(config)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = norm(config)
        self.mlp = MLP(config) if config.mlp == "gelu" else SwiGLUMLP(config)

    def forward(self, x, cache=None):
        """(B, T, C) -> (B, T, C): attention mixes positions, then the MLP transforms each."""
        x = x + self.attn(self.ln_1(x), cache=cache)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The language model: `logits, loss = model(idx, targets)`."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        modules = dict(wte=nn.Embedding(config.vocab_size, config.n_embd))
        if config.pos == "learned":  # with rope, positions live in the attention instead
            modules["wpe"] = nn.Embedding(config.block_size, config.n_embd)
        modules["drop"] = nn.Dropout(config.dropout)
        modules["h"] = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        modules["ln_f"] = norm(config)
        self.transformer = nn.ModuleDict(modules)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        if config.tie_weights:  # one (V, C) matrix both reads tokens in and scores them out
            self.lm_head.weight = self.transformer.wte.weight
        self.apply(self._init_weights)
        # The residual projections are scaled down by √(2 n_layer), so the residual stream's
        # variance stays put as the 2 n_layer attention and MLP outputs are added to it.
        residual_std = 0.02 / math.sqrt(2 * config.n_layer)
        for block in self.transformer.h:
            for projection in (block.attn.c_proj, block.mlp.c_proj):
                nn.init.normal_(projection.weight, std=residual_std)

    @staticmethod
    def _init_weights(module):
        """GPT-2's init: N(0, 0.02) weights and zero biases for every Linear and Embedding
        (LayerNorms keep their ones and zeros)."""
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @classmethod
    def from_pretrained(cls, path):
        """The GPT of a Hugging Face model directory: GPT-2 (`GPT2LMHeadModel`) or Llama
        (`LlamaForCausalLM`), its config.json and model.safetensors (model/hf.py). It comes in
        eval mode, as in transformers."""
        return hf.load(path)

    def save_pretrained(self, path, tokenizer=None):
        """Write a Hugging Face directory that transformers loads as GPT-2 (a GPT-2-shaped
        model) or Llama (a Llama-like one), with `tokenizer`'s files when given; returns the
        paths written. A model neither format can express is refused (model/hf.py)."""
        return hf.save(self, path, tokenizer)

    def num_params(self):
        """Number of parameters, the tied embedding counted once."""
        return sum(p.size for p in self.parameters())

    def forward(self, idx, targets=None, caches=None):
        """idx (B, T) int -> logits (B, T, V), and the mean cross-entropy against `targets`
        (B, T) (entries of -1 are ignored), or None without targets.

        `caches` (one KVCache per block, from sampling) hold the keys and values of the
        positions before idx, which then continues them.
        """
        start = 0 if caches is None else caches[0].length
        x = self.embed(idx, start)  # (B, T, C)
        for i, block in enumerate(self.transformer.h):
            x = block(x, cache=None if caches is None else caches[i])
        logits = self.lm_head(self.transformer.ln_f(x))  # (B, T, V)
        loss = None if targets is None else F.cross_entropy(logits, targets, ignore_index=-1)
        return logits, loss

    def generate(
        self,
        idx,
        max_new_tokens,
        temperature=1.0,
        top_k=None,
        top_p=None,
        seed=None,
        use_cache=True,
    ):
        """Extend idx (B, T) by sampled tokens; see `model.sample.generate`."""
        return generate(self, idx, max_new_tokens, temperature, top_k, top_p, seed, use_cache)

    def embed(self, idx, start=0):
        """Token plus position embeddings: idx (B, T) int at positions start, start + 1, ...
        -> (B, T, C), after dropout."""
        idx = np.asarray(idx.data if isinstance(idx, engine.Tensor) else idx)
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(
                f"GPT input must be a (B, T) integer array, got {idx.dtype} {idx.shape}"
            )
        T = idx.shape[1]
        if start + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {start + T} is longer than block_size {self.config.block_size}"
            )
        tr = self.transformer
        x = tr.wte(idx)  # (B, T, C)
        if "wpe" in tr:
            x = x + tr.wpe(np.arange(start, start + T))  # + (T, C)
        return tr.drop(x)

    def attention_maps(self, idx):
        """The attention weights of every layer for idx (B, T), as the model samples (eval
        mode, no gradient): a list of n_layer arrays (B, nh, T, T)."""
        maps, was_training = [], self.training
        self.eval()
        try:
            with engine.no_grad():
                x = self.embed(idx)
                for block in self.transformer.h:
                    maps.append(block.attn.attention_weights(block.ln_1(x)).data)
                    x = block(x)
        finally:
            self.train(was_training)
        return maps
