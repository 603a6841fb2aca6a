"""A GPT: the decoder-only transformer language model of GPT-2, small enough to read at once.

    idx (B, T) token ids
      -> token embedding + position embedding                       (B, T, C)
      -> n_layer blocks, each  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
      -> final LayerNorm -> lm_head (the token embedding, transposed) -> logits (B, T, V)

Attention is causal: position t sees positions <= t only, so one forward pass trains T
next-token predictions at once. Parameter names and shapes are GPT-2's (as in nanoGPT), so a
reader can line them up with any other GPT-2 code.
"""

import math
from dataclasses import asdict, dataclass

import numpy as np

import engine
import nn
import nn.functional as F
from model.sample import generate
from nn.attention import causal_mask


@dataclass
class GPTConfig:
    """The shape of a GPT. `gelu="none"` picks the exact erf GELU instead of GPT-2's tanh form."""

    vocab_size: int
    block_size: int = 64
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0
    bias: bool = True
    gelu: str = "tanh"

    def __post_init__(self):
        for field in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{field} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if self.gelu not in ("tanh", "none"):
            raise ValueError(f"GPTConfig.gelu must be 'tanh' or 'none', got {self.gelu!r}")

    def to_dict(self):
        """The config as a plain dict (saved in checkpoints)."""
        return asdict(self)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position attends to itself and the past only.

    One fused projection `c_attn` makes queries, keys and values for all heads at once
    (C -> 3C, split q|k|v); each head works on C / n_head channels; `c_proj` mixes the heads.
    """

    def __init__(self, config):
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def heads(self, x):
        """q, k, v of shape (B, nh, T, hs) from x (B, T, C)."""
        B, T, C = x.shape
        qkv = self.c_attn(x).reshape(B, T, 3, self.n_head, C // self.n_head)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        return qkv[0], qkv[1], qkv[2]

    def forward(self, x, cache=None):
        """x (B, T, C) -> (B, T, C). With a `cache` (a dict), keys and values of earlier
        positions are read from it and this call's are appended: the KV cache of sampling.
        Without one, the same steps (split into heads, attend, merge) run as one fused op."""
        dropout_p = self.attn_dropout if self.training else 0.0
        if cache is None:
            qkv = self.c_attn(x)  # (B, T, 3C): q | k | v
            y = F.multi_head_self_attention(qkv, self.n_head, dropout_p=dropout_p)  # (B, T, C)
            return self.resid_dropout(self.c_proj(y))
        B, T, C = x.shape
        q, k, v = self.heads(x)
        if "k" in cache:
            k = engine.cat([cache["k"], k], axis=2)
            v = engine.cat([cache["v"], v], axis=2)
        cache["k"], cache["v"] = k, v
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=dropout_p)
        y = y.permute(0, 2, 1, 3).reshape(B, T, C)  # re-assemble the heads side by side
        return self.resid_dropout(self.c_proj(y))

    def attention_weights(self, x):
        """The softmax attention of every head, (B, nh, T, T), for pictures (no gradient)."""
        with engine.no_grad():
            q, k, _ = self.heads(x)
            T = x.shape[1]
            scores = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
            return (scores + causal_mask(T, T, scores.dtype)).softmax(axis=-1).data


class MLP(nn.Module):
    """Position-wise feed-forward: C -> 4C -> GELU -> C."""

    def __init__(self, config):
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd, bias=config.bias)
        self.gelu = nn.GELU(approximate=config.gelu)
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x):
        """(B, T, C) -> (B, T, C), each position on its own."""
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """One transformer block, pre-LayerNorm: the residual stream is never normalised itself."""

    def __init__(self, config):
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x, cache=None):
        """(B, T, C) -> (B, T, C): attention mixes positions, then the MLP transforms each."""
        x = x + self.attn(self.ln_1(x), cache=cache)
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    """The container nanoGPT calls `transformer`, so parameter names match GPT-2's."""

    def __init__(self, config):
        super().__init__()
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList([Block(config) for _ in range(config.n_layer)])
        self.ln_f = nn.LayerNorm(config.n_embd, bias=config.bias)


class GPT(nn.Module):
    """The language model: `logits, loss = model(idx, targets)`."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = Transformer(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying: one (V, C) matrix
        self._init_weights()

    def _init_weights(self):
        """GPT-2's init: N(0, 0.02) weights, zero biases, unit norms, and the residual
        projections scaled down by sqrt(2 n_layer) so the residual stream's variance stays
        put as blocks add to it."""
        residual_std = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=residual_std)
            elif name.endswith(".weight") and ".ln_" not in name:
                nn.init.normal_(p, mean=0.0, std=0.02)
            elif name.endswith(".bias"):
                nn.init.zeros_(p)
            else:
                nn.init.ones_(p)  # LayerNorm weights

    def num_params(self):
        """Number of parameters, the tied embedding counted once."""
        return sum(p.size for p in self.parameters())

    def forward(self, idx, targets=None, caches=None, start_pos=0):
        """idx (B, T) int -> logits (B, T, V), and the mean cross-entropy against `targets`
        (B, T) (entries of -1 are ignored), or None without targets.

        `caches` (one dict per block) and `start_pos` (the position of idx's first token) are
        for sampling with a KV cache; training leaves them out.
        """
        tr = self.transformer
        x = self.embed(idx, start_pos)
        for i, block in enumerate(tr.h):
            x = block(x, cache=None if caches is None else caches[i])
        logits = self.lm_head(tr.ln_f(x))  # (B, T, V)
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

    def embed(self, idx, start_pos=0):
        """Token plus position embeddings: idx (B, T) int -> (B, T, C), after dropout."""
        idx = np.asarray(idx.data if isinstance(idx, engine.Tensor) else idx)
        if idx.ndim != 2 or idx.dtype.kind not in "iu":
            raise ValueError(
                f"GPT input must be a (B, T) integer array, got {idx.dtype} {idx.shape}"
            )
        T = idx.shape[1]
        if start_pos + T > self.config.block_size:
            raise ValueError(
                f"sequence of length {start_pos + T} is longer than block_size "
                f"{self.config.block_size}"
            )
        tr = self.transformer
        pos = np.arange(start_pos, start_pos + T)
        return tr.drop(tr.wte(idx) + tr.wpe(pos))  # (B, T, C) + (T, C)

    def attention_maps(self, idx):
        """Attention weights of every layer for one forward pass: a list of (B, nh, T, T)."""
        maps, was_training = [], self.training
        self.eval()  # the maps of the model as it samples: no dropout
        try:
            with engine.no_grad():
                x = self.embed(idx)
                for block in self.transformer.h:
                    maps.append(block.attn.attention_weights(block.ln_1(x)))
                    x = block(x)
        finally:
            self.train(was_training)
        return maps
