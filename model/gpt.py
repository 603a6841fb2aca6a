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
from dataclasses import asdict, dataclass, field

import numpy as np

import engine
import nn
import nn.functional as F
from model.sample import generate


@dataclass
class GPTConfig:
    """The shape of a GPT. Each field's help is the `tinyllm train` flag's of the same name."""

    vocab_size: int = field(
        default=50257, metadata={"help": "tokens in the vocabulary (a run takes its tokenizer's)"}
    )
    block_size: int = field(default=64, metadata={"help": "context length in tokens"})
    n_layer: int = field(default=4, metadata={"help": "number of transformer blocks"})
    n_head: int = field(default=4, metadata={"help": "attention heads per block"})
    n_embd: int = field(
        default=128, metadata={"help": "width of the residual stream (divisible by --n-head)"}
    )
    dropout: float = field(default=0.0, metadata={"help": "dropout probability while training"})
    bias: bool = field(default=True, metadata={"help": "biases in Linear and LayerNorm layers"})
    gelu: str = field(
        default="tanh", metadata={"help": "GELU form: 'tanh' (GPT-2) or 'none' (exact erf)"}
    )

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"GPTConfig.bias must be True or False, got {self.bias!r}")
        if self.gelu not in ("tanh", "none"):
            raise ValueError(f"GPTConfig.gelu must be 'tanh' or 'none', got {self.gelu!r}")

    def to_dict(self):
        """The config as a plain dict (saved in checkpoints)."""
        return asdict(self)


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where each position attends to itself and the past only.

    One projection `c_attn` makes queries, keys and values for all heads at once (C -> 3C,
    q | k | v); each head works on hs = C / n_head channels; `c_proj` mixes the heads.
    """

    def __init__(self, config):
        super().__init__()
        self.n_head, self.n_embd = config.n_head, config.n_embd
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.attn_dropout = config.dropout
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None):
        """x (B, T, C) -> (B, T, C). With a `cache` (a KVCache), the queries also see the keys
        and values of the positions before x, and x's are added to them."""
        B, T, C = x.shape
        q, k, v = self.split_heads(self.c_attn(x))  # 3 × (B, nh, T, hs)
        if cache is not None:
            k, v = cache.update(k, v)  # (B, nh, past + T, hs)
        # A cache takes T > 1 positions only when empty (the prompt), so causal is the right
        # mask then, and a single new query sees everything before it: no mask.
        dropout_p = self.attn_dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=dropout_p, is_causal=T > 1)
        y = y.transpose(1, 2).reshape(B, T, C)  # (B, T, nh, hs) -> heads side by side
        return self.resid_dropout(self.c_proj(y))  # (B, T, C)

    def split_heads(self, qkv):
        """(B, T, 3C) -> q, k, v, each (B, nh, T, hs): the heads of the packed projection."""
        B, T, _ = qkv.shape
        heads = qkv.view(B, T, 3, self.n_head, self.n_embd // self.n_head)  # (B, T, 3, nh, hs)
        heads = heads.permute(2, 0, 3, 1, 4)  # (3, B, nh, T, hs)
        return heads[0], heads[1], heads[2]

    def attention_weights(self, x):
        """x (B, T, C) -> (B, nh, T, T): how each head's queries spread over the keys."""
        q, k, _ = self.split_heads(self.c_attn(x))
        return F.attention_weights(q, k, is_causal=True)


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


class GPT(nn.Module):
    """The language model: `logits, loss = model(idx, targets)`."""

    def __init__(self, config):
        super().__init__()
        self.config = config
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(config.vocab_size, config.n_embd),
                wpe=nn.Embedding(config.block_size, config.n_embd),
                drop=nn.Dropout(config.dropout),
                h=nn.ModuleList([Block(config) for _ in range(config.n_layer)]),
                ln_f=nn.LayerNorm(config.n_embd, bias=config.bias),
            )
        )
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.transformer.wte.weight  # weight tying: one (V, C) matrix
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
        pos = np.arange(start, start + T)
        return tr.drop(tr.wte(idx) + tr.wpe(pos))  # (B, T, C) + (T, C)

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
