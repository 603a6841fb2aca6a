"""The shape of a GPT, and the switches that turn GPT-2's pieces into Llama's.

GPT-2 (2019) is where the story starts. Today's open models (Llama, Qwen, Mistral) changed four
of its pieces, and each is a switch here, so it can be tried alone:

    norm="rmsnorm"    RMSNorm instead of LayerNorm: no mean subtracted, no bias; cheaper
    pos="rope"        rotary position embeddings on q and k instead of a learned table added
                      to the input; attention then sees relative positions
    mlp="swiglu"      a gated MLP, silu(x W_gate) * (x W_up), instead of GELU(x W_fc)
    n_kv_head < n_head  grouped-query attention: heads share keys and values, so the KV cache
                      shrinks by n_head / n_kv_head
    tie_weights=False   a separate output matrix instead of the token embedding's transpose

`GPTConfig.llama_like(...)` turns them all on, without biases.
"""

import math
from dataclasses import asdict, dataclass, field

CHOICES = {"norm": ("layernorm", "rmsnorm"), "pos": ("learned", "rope"), "mlp": ("gelu", "swiglu")}


def flag(default, help, **metadata):
    """A config field that is also a `tinyllm train --flag`: `help` is the flag's help."""
    return field(default=default, metadata={"help": help, **metadata})


@dataclass
class GPTConfig:
    """The shape of a GPT. Each field is a `tinyllm train --flag` of the same name (but
    vocab_size, which a run takes from its tokenizer)."""

    vocab_size: int = flag(50257, "tokens in the vocabulary (a run takes its tokenizer's)")
    block_size: int = flag(256, "context length in tokens")
    n_layer: int = flag(4, "number of transformer blocks")
    n_head: int = flag(4, "attention heads per block")
    n_embd: int = flag(128, "width of the residual stream (divisible by --n-head)")
    dropout: float = flag(0.0, "dropout probability while training")
    bias: bool = flag(True, "biases in Linear and LayerNorm layers")
    gelu: str = flag("tanh", "GELU form: 'tanh' (GPT-2) or 'none' (exact erf)")
    norm: str = flag("layernorm", "normalisation: 'layernorm' (GPT-2) or 'rmsnorm' (Llama)")
    norm_eps: float = flag(1e-5, "the normalisation's epsilon")
    pos: str = flag("learned", "positions: 'learned' (GPT-2's table) or 'rope' (rotary)")
    rope_theta: float = flag(10000.0, "rotary base: the longest wavelength, in positions")
    mlp: str = flag("gelu", "MLP: 'gelu' (GPT-2) or 'swiglu' (Llama's gated MLP)")
    n_inner: int | None = flag(
        None,
        "MLP hidden size (default: 4 n_embd for gelu; for swiglu 8/3 n_embd rounded up to a "
        "multiple of 8, so its three matrices hold about as many weights as gelu's two)",
        type=int,
    )
    n_kv_head: int | None = flag(
        None, "key/value heads, dividing n_head (default: n_head; fewer: grouped-query)", type=int
    )
    tie_weights: bool = flag(True, "use the token embedding as the output matrix (GPT-2)")

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            _check_positive_int(name, getattr(self, name))
        if self.n_embd % self.n_head != 0:
            raise ValueError(
                f"GPTConfig.n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"GPTConfig.dropout must be in [0, 1), got {self.dropout!r}")
        for name in ("bias", "tie_weights"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(
                    f"GPTConfig.{name} must be True or False, got {getattr(self, name)!r}"
                )
        if self.gelu not in ("tanh", "none"):
            raise ValueError(f"GPTConfig.gelu must be 'tanh' or 'none', got {self.gelu!r}")
        for name, choices in CHOICES.items():
            if getattr(self, name) not in choices:
                raise ValueError(
                    f"GPTConfig.{name} must be one of {choices}, got {getattr(self, name)!r}"
                )
        for name in ("norm_eps", "rope_theta"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"GPTConfig.{name} must be a finite number > 0, got {value!r}")
        if self.n_kv_head is None:
            self.n_kv_head = self.n_head
        _check_positive_int("n_kv_head", self.n_kv_head)
        if self.n_head % self.n_kv_head != 0:
            raise ValueError(
                f"GPTConfig.n_kv_head ({self.n_kv_head}) must divide n_head ({self.n_head})"
            )
        if self.pos == "rope" and self.head_size % 2:
            raise ValueError(f"GPTConfig.pos='rope' needs an even head size, got {self.head_size}")
        if self.n_inner is None:
            self.n_inner = 4 * self.n_embd if self.mlp == "gelu" else -(-8 * self.n_embd // 24) * 8
        _check_positive_int("n_inner", self.n_inner)

    @property
    def head_size(self):
        """Channels per attention head: n_embd / n_head."""
        return self.n_embd // self.n_head

    @classmethod
    def llama_like(cls, **overrides):
        """Llama's pieces: RMSNorm, rotary positions, a SwiGLU MLP, grouped-query attention
        (half as many key/value heads as heads, when n_head is even), untied output weights and
        no biases. Any field can be overridden."""
        return cls(**{**cls.llama_preset(overrides.get("n_head", cls.n_head)), **overrides})

    @staticmethod
    def llama_preset(n_head):
        """The fields `llama_like` sets, for a model of `n_head` heads."""
        preset = dict(norm="rmsnorm", pos="rope", mlp="swiglu", bias=False, tie_weights=False)
        return {**preset, "n_kv_head": n_head // 2 if n_head % 2 == 0 else n_head}

    def to_dict(self):
        """The config as a plain dict (saved in checkpoints)."""
        return asdict(self)


def _check_positive_int(name, value):
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"GPTConfig.{name} must be a positive int, got {value!r}")
