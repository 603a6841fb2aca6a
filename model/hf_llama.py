"""Hugging Face's Llama (`LlamaForCausalLM`): its config.json and its tensors, as ours.

A Llama-like GPT (RMSNorm, rotary positions, a SwiGLU MLP, any number of key/value heads) is
Llama with GPT-2's names. Where HF keeps separate matrices, ours are stacked on the output axis
(one matmul makes them all):

    HF tensor                                      HF shape        ours
    model.embed_tokens.weight                      (V, C)          transformer.wte.weight
    model.layers.N.input_layernorm.weight          (C,)            transformer.h.N.ln_1.weight
    model.layers.N.self_attn.q_proj.weight         (nh hs, C)  \\
    model.layers.N.self_attn.k_proj.weight         (nkv hs, C)  >  attn.c_attn.weight: q | k | v
    model.layers.N.self_attn.v_proj.weight         (nkv hs, C) /
    model.layers.N.self_attn.o_proj.weight         (C, nh hs)      attn.c_proj.weight
    model.layers.N.post_attention_layernorm.weight (C,)            ln_2.weight
    model.layers.N.mlp.gate_proj.weight            (H, C)      \\   mlp.c_fc.weight: gate | up
    model.layers.N.mlp.up_proj.weight              (H, C)      /
    model.layers.N.mlp.down_proj.weight            (C, H)          mlp.c_proj.weight
    model.norm.weight                              (C,)            transformer.ln_f.weight
    lm_head.weight                                 (V, C)          lm_head.weight (untied only)

Both sides are `nn.Linear` (out, in), so nothing is transposed, and both rotate q and k with
`rotate_half` (channel i pairs with i + hs/2), so q and k need no permutation either. With
`attention_bias` / `mlp_bias` every projection has a bias of its output size: tinyllm has one
`bias` switch, so the two must agree. Files of older transformers carry each layer's rotary
`inv_freq` buffer; it is skipped (ours are computed).

transformers 5 writes `rope_theta` under `rope_parameters`, older files and the hub at the top
level: both are read (and both written). Scaled rotary variants (linear, dynamic, yarn,
llama3, ...) and a partial rotary factor are refused: tinyllm's rotary is the plain one.
"""

from model.config import GPTConfig

MODEL_TYPE, ARCHITECTURE, PREFIX = "llama", "LlamaForCausalLM", "model."
SKIPPED = (".rotary_emb.inv_freq",)


def misfits(config):
    """What Llama's format cannot express in `config` (a GPTConfig): [] when it fits."""
    wanted = dict(norm="rmsnorm", pos="rope", mlp="swiglu")
    return [f"{k}={getattr(config, k)!r}" for k, v in wanted.items() if getattr(config, k) != v]


def config_from_hf(file, read_int):
    """A GPTConfig from a Llama config.json (a tokenizer.jsonfile.JsonFile); `read_int(name[,
    default])` reads a positive int field. A field left out has the default of transformers'
    LlamaConfig, as there: Llama 2 7B's shape."""
    file.expect("hidden_act", ("silu",), "silu", ": the activation of Llama's SwiGLU")
    hidden, heads = read_int("hidden_size", 4096), read_int("num_attention_heads", 32)
    if hidden % heads:
        raise file.error("hidden_size", f"{hidden} is not divisible by num_attention_heads {heads}")
    has_kv = file.lookup("num_key_value_heads", None) is not None
    kv_heads = read_int("num_key_value_heads") if has_kv else heads
    if heads % kv_heads:
        raise file.error("num_key_value_heads", f"{kv_heads} does not divide {heads} heads")
    head_dim = file.get("head_dim", (int, None), None)
    if head_dim not in (None, hidden // heads):
        message = f"is {head_dim}; tinyllm needs hidden_size / num_attention_heads = "
        raise file.error("head_dim", message + str(hidden // heads))
    bias = file.get("attention_bias", (bool,), False)
    if file.get("mlp_bias", (bool,), False) != bias:
        raise file.error("mlp_bias", f"differs from attention_bias ({bias}): tinyllm has one bias")
    return GPTConfig(
        vocab_size=read_int("vocab_size", 32000),
        block_size=read_int("max_position_embeddings", 2048),
        n_layer=read_int("num_hidden_layers", 32),
        n_head=heads,
        n_embd=hidden,
        n_kv_head=kv_heads,
        n_inner=read_int("intermediate_size", 11008),
        norm="rmsnorm",
        pos="rope",
        mlp="swiglu",
        bias=bias,
        norm_eps=float(file.get("rms_norm_eps", (int, float), 1e-6)),
        rope_theta=rope_theta(file),
        dropout=float(file.get("attention_dropout", (int, float), 0.0)),
        tie_weights=file.get("tie_word_embeddings", (bool,), False),
    )


def rope_theta(file):
    """The rotary base, as transformers reads it: `rope_scaling` (older files) or
    `rope_parameters`, then the top-level `rope_theta`, then 10000."""
    top = float(file.get("rope_theta", (int, float), 10000.0))
    every_channel = ": tinyllm rotates every channel of a head"
    file.expect("partial_rotary_factor", (1, 1.0), 1.0, every_channel)
    key = next((k for k in ("rope_scaling", "rope_parameters") if file.lookup(k, None)), None)
    if key is None:
        return top
    file.get(key, (dict,))
    kind = f"{key}.rope_type" if file.lookup(f"{key}.rope_type", None) else f"{key}.type"
    file.expect(kind, ("default",), "default", ": tinyllm's rotary embedding is unscaled")
    file.expect(f"{key}.partial_rotary_factor", (1, 1.0), 1.0, every_channel)
    return float(file.get(f"{key}.rope_theta", (int, float), top))


def config_to_hf(config):
    """config.json's fields for a Llama-like GPTConfig."""
    return dict(
        vocab_size=config.vocab_size,
        hidden_size=config.n_embd,
        intermediate_size=config.n_inner,
        num_hidden_layers=config.n_layer,
        num_attention_heads=config.n_head,
        num_key_value_heads=config.n_kv_head,
        head_dim=config.head_size,
        hidden_act="silu",
        max_position_embeddings=config.block_size,
        rms_norm_eps=config.norm_eps,
        rope_theta=config.rope_theta,
        rope_parameters={"rope_type": "default", "rope_theta": config.rope_theta},
        attention_bias=config.bias,
        mlp_bias=config.bias,
        attention_dropout=config.dropout,
        tie_word_embeddings=config.tie_weights,
    )


def weights(config):
    """The tensors of Llama's file, [(our name, [(HF name, HF shape), ...], transposed)]: the
    HF tensors stacked on axis 0 make ours."""
    V, C, H, hs = config.vocab_size, config.n_embd, config.n_inner, config.head_size
    q, kv = config.n_head * hs, config.n_kv_head * hs
    rows = [("transformer.wte.weight", [("model.embed_tokens.weight", (V, C))])]
    for i in range(config.n_layer):
        ours, attn, mlp = (
            f"transformer.h.{i}.",
            f"model.layers.{i}.self_attn.",
            f"model.layers.{i}.mlp.",
        )
        projections = [
            (
                "attn.c_attn",
                [(attn + "q_proj", q), (attn + "k_proj", kv), (attn + "v_proj", kv)],
                C,
            ),
            ("attn.c_proj", [(attn + "o_proj", C)], q),
            ("mlp.c_fc", [(mlp + "gate_proj", H), (mlp + "up_proj", H)], C),
            ("mlp.c_proj", [(mlp + "down_proj", C)], H),
        ]
        for layer, parts, n_in in projections:
            rows.append(
                (f"{ours}{layer}.weight", [(f"{n}.weight", (n_out, n_in)) for n, n_out in parts])
            )
            if config.bias:
                rows.append(
                    (f"{ours}{layer}.bias", [(f"{n}.bias", (n_out,)) for n, n_out in parts])
                )
        layer = f"model.layers.{i}."
        rows.append((f"{ours}ln_1.weight", [(f"{layer}input_layernorm.weight", (C,))]))
        rows.append((f"{ours}ln_2.weight", [(f"{layer}post_attention_layernorm.weight", (C,))]))
    rows.append(("transformer.ln_f.weight", [("model.norm.weight", (C,))]))
    if not config.tie_weights:
        rows.append(("lm_head.weight", [("lm_head.weight", (V, C))]))
    return [(ours, parts, False) for ours, parts in rows]
