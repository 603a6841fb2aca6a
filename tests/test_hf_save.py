"""`model.save_pretrained`: the files follow Hugging Face's formats, and ours -> HF -> ours gives
back the very weights, config and tokenizer ids.

What the files must hold is checked against the formats (names, shapes, transposes, config.json
fields) with the safetensors library reading them raw, and their logits against the NumPy
forward passes of tests/hf_reference.py, which know nothing of tinyllm's names.
"""

import itertools
import json

import numpy as np
import pytest
import safetensors.numpy
from hf_reference import gpt2_forward, llama_forward

import engine
import tokenizer
from model import GPT, GPTConfig

SHAPE = dict(vocab_size=261, block_size=12, n_layer=2, n_head=4, n_embd=16)
IDS = np.random.default_rng(0).integers(0, SHAPE["vocab_size"], size=9)
GPT2_VARIANTS = [
    dict(bias=bias, gelu=gelu, tie_weights=tied)
    for bias, gelu, tied in itertools.product([True, False], ["tanh", "none"], [True, False])
]
LLAMA_VARIANTS = [
    dict(n_kv_head=2),  # the preset: GQA, untied, no biases
    dict(n_kv_head=1, tie_weights=True, bias=True, rope_theta=500.0, norm_eps=1e-6),
    dict(n_kv_head=4, n_inner=40),
]


def model_of(config):
    """A model whose every tensor matters: norm gains and biases random too."""
    engine.manual_seed(0)
    model = GPT(config)
    rng = np.random.default_rng(1)
    for name, p in model.named_parameters():
        p.data[...] = rng.standard_normal(p.shape) * (0.3 if p.ndim > 1 else 0.1)
        if p.ndim == 1 and ".ln_" in name and name.endswith("weight"):
            p.data += 1.0
    return model


def saved(model, directory):
    model.save_pretrained(directory)
    config = json.loads((directory / "config.json").read_text())
    return config, safetensors.numpy.load_file(directory / "model.safetensors")


def same_model(a, b):
    assert a.config == b.config
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype and np.array_equal(sa[name], sb[name]), name
    assert (a.lm_head.weight is a.transformer.wte.weight) == (
        b.lm_head.weight is b.transformer.wte.weight
    )


@pytest.mark.parametrize("variant", GPT2_VARIANTS, ids=str)
def test_gpt2_round_trip_and_files(variant, tmp_path):
    model = model_of(GPTConfig(**SHAPE, **variant))
    config, tensors = saved(model, tmp_path)
    C, H = 16, 64
    assert config["model_type"] == "gpt2" and config["architectures"] == ["GPT2LMHeadModel"]
    assert config["activation_function"] == {"tanh": "gelu_new", "none": "gelu"}[variant["gelu"]]
    assert config["tie_word_embeddings"] is variant["tie_weights"]
    assert (config["n_positions"], config["n_embd"], config["n_inner"]) == (12, C, H)
    assert config.get("tinyllm_bias", True) is variant["bias"]
    # every name prefixed, the Conv1D matrices (in, out), no lm_head when tied
    assert tensors["transformer.h.0.attn.c_attn.weight"].shape == (C, 3 * C)
    assert tensors["transformer.h.1.mlp.c_fc.weight"].shape == (C, H)
    assert tensors["transformer.h.1.mlp.c_proj.weight"].shape == (H, C)
    np.testing.assert_array_equal(
        tensors["transformer.h.0.attn.c_proj.weight"],
        model.transformer.h[0].attn.c_proj.weight.data.T,
    )
    assert ("lm_head.weight" in tensors) is not variant["tie_weights"]
    assert all(name.startswith("transformer.") for name in tensors if name != "lm_head.weight")
    assert len(tensors) == 4 + 2 * 12 + (not variant["tie_weights"])  # wte wpe ln_f, 12 a block
    if not variant["bias"]:  # GPT-2 has no bias-free form: zeros, the same function
        biases = [name for name in tensors if name.endswith(".bias")]
        assert len(biases) == 6 * 2 + 1 and not any(tensors[b].any() for b in biases)
    unprefixed = {
        name.removeprefix("transformer."): a.astype(np.float64) for name, a in tensors.items()
    }
    expected = gpt2_forward(unprefixed, IDS, 4, 1e-5, config["activation_function"])
    np.testing.assert_allclose(logits(model), expected, rtol=1e-4, atol=1e-4)
    same_model(GPT.from_pretrained(tmp_path), model)


@pytest.mark.parametrize("variant", LLAMA_VARIANTS, ids=str)
def test_llama_round_trip_and_files(variant, tmp_path):
    model = model_of(GPTConfig.llama_like(**SHAPE, **variant))
    config, tensors = saved(model, tmp_path)
    c = model.config
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    assert config["num_key_value_heads"] == c.n_kv_head and config["intermediate_size"] == c.n_inner
    assert config["rope_theta"] == config["rope_parameters"]["rope_theta"] == c.rope_theta
    assert config["rms_norm_eps"] == c.norm_eps and config["head_dim"] == 4
    assert config["attention_bias"] is config["mlp_bias"] is c.bias
    assert config["tie_word_embeddings"] is c.tie_weights
    assert tensors["model.layers.0.self_attn.q_proj.weight"].shape == (16, 16)
    assert tensors["model.layers.0.self_attn.k_proj.weight"].shape == (4 * c.n_kv_head, 16)
    assert tensors["model.layers.1.mlp.gate_proj.weight"].shape == (c.n_inner, 16)
    assert tensors["model.layers.1.mlp.down_proj.weight"].shape == (16, c.n_inner)
    per_layer = 9 + (7 if c.bias else 0)
    assert len(tensors) == 2 + 2 * per_layer + (0 if c.tie_weights else 1)
    assert ("lm_head.weight" in tensors) is not c.tie_weights
    as64 = {name: a.astype(np.float64) for name, a in tensors.items()}
    expected = llama_forward(as64, IDS, 4, c.n_kv_head, c.norm_eps, c.rope_theta)
    np.testing.assert_allclose(logits(model), expected, rtol=1e-4, atol=1e-4)
    same_model(GPT.from_pretrained(tmp_path), model)


def logits(model):
    model.eval()
    with engine.no_grad():
        return model(IDS[None])[0].data[0]


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_the_tokenizer_travels_with_the_model(kind, tmp_path):
    text = "Once upon a time, a tiny model read 123 stories.\n" * 5
    if kind == "bpe":
        tok = tokenizer.BPETokenizer().train(text, 300)
        tok.register_special_tokens({"<|endoftext|>": 300})
    else:
        tok = tokenizer.CharTokenizer.from_text(text)
    model = model_of(GPTConfig(**{**SHAPE, "vocab_size": tok.vocab_size}))
    written = model.save_pretrained(tmp_path, tokenizer=tok)
    assert {p.name for p in written} >= {"config.json", "model.safetensors", "tokenizer.json"}
    again = tokenizer.from_pretrained(tmp_path)
    assert type(again) is type(tok) and again.encode(text) == tok.encode(text)
    config = json.loads((tmp_path / "config.json").read_text())
    end = 300 if kind == "bpe" else None  # GPT-2's <|endoftext|>, its bos and eos
    assert config["bos_token_id"] == config["eos_token_id"] == end


@pytest.mark.parametrize(
    ("switches", "words"),
    [(dict(pos="rope"), ["GPT2LMHeadModel has no pos='rope'", "LlamaForCausalLM has no"]),
     (dict(norm="rmsnorm"), ["norm='rmsnorm'"]),
     (dict(n_kv_head=2), ["n_kv_head=2"]),
     (dict(norm="rmsnorm", pos="rope"), ["mlp='gelu'"])],
)  # fmt: skip
def test_a_model_neither_format_expresses_is_refused_and_nothing_written(switches, words, tmp_path):
    model = GPT(GPTConfig(**SHAPE, **switches))
    with pytest.raises(ValueError, match="neither Hugging Face format") as error:
        model.save_pretrained(tmp_path / "out")
    assert all(word in str(error.value) for word in words), str(error.value)
    assert not (tmp_path / "out").exists()
