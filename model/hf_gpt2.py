"""Hugging Face's GPT-2 (`GPT2LMHeadModel`): its config.json and its tensors, as ours.

Our names are GPT-2's own, so a tensor's name only gains or loses the `transformer.` prefix:

    HF tensor                                   HF shape     ours
    transformer.wte.weight                      (V, C)       the same
    transformer.wpe.weight                      (T, C)       the same
    transformer.h.N.ln_1.weight / .bias         (C,)         the same
    transformer.h.N.attn.c_attn.weight          (C, 3C)      transposed: (3C, C)
    transformer.h.N.attn.c_proj.weight          (C, C)       transposed
    transformer.h.N.mlp.c_fc.weight             (C, H)       transposed: (H, C)
    transformer.h.N.mlp.c_proj.weight           (H, C)       transposed: (C, H)
    ... .bias of each                           (out,)       the same
    transformer.ln_f.weight / .bias             (C,)         the same
    lm_head.weight                              (V, C)       only when untied

HF's projections are `Conv1D` layers, which store their matrix (in, out), the transpose of
`nn.Linear`'s (out, in): every projection matrix is transposed on the way in and out. The square
`attn.c_proj` would load either way, so a missed transpose shows only in the logits.

The hub's original GPT-2 files have no `transformer.` prefix and carry the causal mask as
buffers (`attn.bias`, `attn.masked_bias`); both are accepted, the buffers skipped.

GPT-2 always has biases. A model with `bias=False` is written with zero biases (the same
function), and config.json records `"tinyllm_bias": false` (HF keeps keys it does not know), so
that reading it back gives a bias-free model again, after checking the biases are zero.

`activation_function`: "gelu_new" (and "gelu_pytorch_tanh", the same formula) is our
gelu="tanh", GPT-2's own; "gelu" is the exact erf form, gelu="none". HF's three dropout rates
are one in tinyllm: `resid_pdrop` is read, and all three are written.
"""

from model.config import GPTConfig

MODEL_TYPE, ARCHITECTURE, PREFIX = "gpt2", "GPT2LMHeadModel", "transformer."
SKIPPED = (".attn.bias", ".attn.masked_bias")  # the hub files' causal-mask buffers
GELU = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu": "none"}


def misfits(config):
    """What GPT-2's format cannot express in `config` (a GPTConfig): [] when it fits."""
    wanted = dict(norm="layernorm", pos="learned", mlp="gelu")
    found = [f"{k}={getattr(config, k)!r}" for k, v in wanted.items() if getattr(config, k) != v]
    if config.n_kv_head != config.n_head:
        found.append(f"n_kv_head={config.n_kv_head} (grouped-query attention)")
    return found


def config_from_hf(file, read_int):
    """A GPTConfig from a GPT-2 config.json (a tokenizer.jsonfile.JsonFile); `read_int(name[,
    default])` reads a positive int field. A field left out has the default of transformers'
    GPT2Config, as there: GPT-2 small's shape."""
    why = ": tinyllm's attention is GPT-2's default"
    file.expect("scale_attn_weights", (True,), True, why)
    file.expect("scale_attn_by_inverse_layer_idx", (False,), False, why)
    file.expect("add_cross_attention", (False,), False, ": tinyllm has no cross-attention")
    activation = file.expect("activation_function", tuple(GELU), "gelu_new")
    n_embd, n_head = read_int("n_embd", 768), read_int("n_head", 12)
    if n_embd % n_head:
        raise file.error("n_embd", f"{n_embd} is not divisible by n_head ({n_head})")
    n_inner = file.get("n_inner", (int, None), None)
    return GPTConfig(
        vocab_size=read_int("vocab_size", 50257),
        block_size=read_int("n_positions", 1024),
        n_layer=read_int("n_layer", 12),
        n_head=n_head,
        n_embd=n_embd,
        n_inner=4 * n_embd if n_inner is None else read_int("n_inner"),
        dropout=float(file.get("resid_pdrop", (int, float), 0.1)),
        bias=file.get("tinyllm_bias", (bool,), True),
        gelu=GELU[activation],
        norm_eps=float(file.get("layer_norm_epsilon", (int, float), 1e-5)),
        tie_weights=file.get("tie_word_embeddings", (bool,), True),
    )


def config_to_hf(config):
    """config.json's fields for a GPT-2-shaped GPTConfig."""
    hf = dict(
        vocab_size=config.vocab_size,
        n_positions=config.block_size,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_embd=config.n_embd,
        n_inner=config.n_inner,
        activation_function="gelu_new" if config.gelu == "tanh" else "gelu",
        layer_norm_epsilon=config.norm_eps,
        resid_pdrop=config.dropout,
        embd_pdrop=config.dropout,
        attn_pdrop=config.dropout,
        scale_attn_weights=True,
        tie_word_embeddings=config.tie_weights,
    )
    return hf if config.bias else {**hf, "tinyllm_bias": False}


def weights(config):
    """The tensors of GPT-2's file, [(our name, [(HF name, HF shape)], transposed)]: our name is
    None for a zero bias that the bias-free model lacks (see model/hf.py)."""
    V, T, C, H = config.vocab_size, config.block_size, config.n_embd, config.n_inner
    rows = [("transformer.wte.weight", (V, C), False), ("transformer.wpe.weight", (T, C), False)]
    for i in range(config.n_layer):
        h = f"transformer.h.{i}."
        rows += [
            (f"{h}{norm}.{p}", (C,), False) for norm in ("ln_1", "ln_2") for p in ("weight", "bias")
        ]
        for layer, n_in, n_out in [("attn.c_attn", C, 3 * C), ("attn.c_proj", C, C),
                                   ("mlp.c_fc", C, H), ("mlp.c_proj", H, C)]:  # fmt: skip
            rows.append((f"{h}{layer}.weight", (n_in, n_out), True))
            rows.append((f"{h}{layer}.bias", (n_out,), False))
    rows += [("transformer.ln_f.weight", (C,), False), ("transformer.ln_f.bias", (C,), False)]
    if not config.tie_weights:
        rows.append(("lm_head.weight", (V, C), False))
    return [
        (None if name.endswith(".bias") and not config.bias else name, [(name, shape)], transposed)
        for name, shape, transposed in rows
    ]
