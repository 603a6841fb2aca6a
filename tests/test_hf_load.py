"""`GPT.from_pretrained` on Hugging Face directories written from the formats' specification.

Each directory is written here by hand (tests/hf_reference.py: config.json's fields, the
tensors' names, shapes and layout, the safetensors bytes), and the model we load from it must
give the logits of a plain NumPy forward pass on those very tensors.
"""

import json

import numpy as np
import pytest
from hf_reference import (
    gpt2_forward,
    gpt2_tensors,
    llama_forward,
    llama_tensors,
    write_safetensors,
)

import engine
from model import GPT

V, T, C, L, NH = 23, 12, 16, 2, 4
IDS = np.random.default_rng(0).integers(0, V, size=(2, 9))


def write_dir(directory, config, tensors, dtype="F32"):
    directory.mkdir(exist_ok=True)
    (directory / "config.json").write_text(json.dumps(config))
    write_safetensors(directory / "model.safetensors", tensors, dtype)
    return directory


def our_logits(directory):
    model = GPT.from_pretrained(directory).to(np.float64)  # float32 weights, widened exactly
    model.eval()
    with engine.no_grad():
        return model(IDS)[0].data


def gpt2_config(**fields):
    config = dict(model_type="gpt2", vocab_size=V, n_positions=T, n_embd=C, n_layer=L, n_head=NH)
    return {**config, **fields}


GPT2_CASES = {
    # save_pretrained's layout: the `transformer.` prefix, tied, gelu_new, n_inner null
    "prefix, tied": (dict(n_inner=None, activation_function="gelu_new"), True, True, False),
    # the hub's: no prefix, the causal-mask buffers, every default left out
    "hub: no prefix, buffers": ({}, True, False, True),
    "exact gelu, untied, eps, n_inner": (
        dict(
            activation_function="gelu",
            tie_word_embeddings=False,
            layer_norm_epsilon=1e-6,
            n_inner=24,
        ),
        False,
        True,
        False,
    ),  # fmt: skip
}


@pytest.mark.parametrize("case", GPT2_CASES)
@pytest.mark.parametrize("dtype", ["F32", "F16", "BF16", "F64"])
def test_gpt2_directories_load_with_the_logits_of_the_format(case, dtype, tmp_path):
    fields, tied, prefixed, buffers = GPT2_CASES[case]
    config = gpt2_config(**fields)
    H = config.get("n_inner") or 4 * C
    values = "F32" if dtype == "F64" else dtype  # tinyllm computes in float32
    t = gpt2_tensors(np.random.default_rng(1), V, T, C, L, H, tied=tied, dtype=values)
    stored = {(f"transformer.{k}" if prefixed and k != "lm_head.weight" else k): a
              for k, a in t.items()}  # fmt: skip
    if buffers:
        for i in range(L):
            stored[f"h.{i}.attn.bias"] = np.tril(np.ones((T, T)))[None, None]
            stored[f"h.{i}.attn.masked_bias"] = np.array(-1e4)
    write_dir(tmp_path / "gpt2", config, stored, dtype)
    eps = config.get("layer_norm_epsilon", 1e-5)
    activation = config.get("activation_function", "gelu_new")
    expected = [gpt2_forward(t, row, NH, eps, activation) for row in IDS]
    np.testing.assert_allclose(our_logits(tmp_path / "gpt2"), expected, rtol=1e-9, atol=1e-9)


def test_a_sharded_directory_loads_as_one(tmp_path):
    t = gpt2_tensors(np.random.default_rng(2), V, T, C, L, 4 * C)
    names = sorted(t)
    shards = {
        "model-00001-of-00002.safetensors": names[:7],
        "model-00002-of-00002.safetensors": names[7:],
    }
    directory = tmp_path / "sharded"
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(gpt2_config()))
    for shard, part in shards.items():
        write_safetensors(directory / shard, {name: t[name] for name in part})
    weight_map = {name: shard for shard, part in shards.items() for name in part}
    index = {
        "metadata": {"total_size": 4 * sum(a.size for a in t.values())},
        "weight_map": weight_map,
    }
    (directory / "model.safetensors.index.json").write_text(json.dumps(index))
    expected = [gpt2_forward(t, row, NH) for row in IDS]
    np.testing.assert_allclose(our_logits(directory), expected, rtol=1e-9, atol=1e-9)


def llama_config(**fields):
    config = dict(model_type="llama", vocab_size=V, hidden_size=C, intermediate_size=24,
                  num_hidden_layers=L, num_attention_heads=NH,
                  max_position_embeddings=T)  # fmt: skip
    return {**config, **fields}


LLAMA_CASES = {
    # older files and the hub: rope_theta at the top level; GQA, untied, no biases
    "top-level rope_theta, GQA": (
        dict(num_key_value_heads=2, rope_theta=500.0, rms_norm_eps=1e-5, hidden_act="silu"),
        dict(n_kv_head=2, theta=500.0, eps=1e-5), False, False,
    ),
    # transformers 5: rope_parameters; multi-query, tied, attention and MLP biases
    "rope_parameters, MQA, tied, biases": (
        dict(num_key_value_heads=1, rope_parameters={"rope_type": "default", "rope_theta": 300.0},
             tie_word_embeddings=True, attention_bias=True, mlp_bias=True, head_dim=C // NH),
        dict(n_kv_head=1, theta=300.0), True, True,
    ),
    # every default: as many key/value heads as heads, theta 10000, eps 1e-6
    "defaults": ({}, dict(n_kv_head=NH), False, False),
}  # fmt: skip


@pytest.mark.parametrize("case", LLAMA_CASES)
@pytest.mark.parametrize("dtype", ["F32", "BF16"])
def test_llama_directories_load_with_the_logits_of_the_format(case, dtype, tmp_path):
    fields, forward, tied, bias = LLAMA_CASES[case]
    forward = dict(forward)
    n_kv_head = forward.pop("n_kv_head")
    t = llama_tensors(np.random.default_rng(3), V, C, L, NH, n_kv_head, 24, tied, bias, dtype)
    stored = dict(t)
    for i in range(L):  # older transformers kept each layer's rotary frequencies as a buffer
        stored[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = np.ones(C // NH // 2)
    directory = write_dir(tmp_path / "llama", llama_config(**fields), stored, dtype)
    expected = [llama_forward(t, row, NH, n_kv_head, **forward) for row in IDS]
    np.testing.assert_allclose(our_logits(directory), expected, rtol=1e-9, atol=1e-9)


def test_a_llama_directory_loads_as_the_llama_like_config(tmp_path):
    t = llama_tensors(np.random.default_rng(4), V, C, L, NH, 2, 24)
    fields = dict(num_key_value_heads=2, rms_norm_eps=1e-5, rope_theta=500.0, attention_dropout=0.1)
    model = GPT.from_pretrained(write_dir(tmp_path / "l", llama_config(**fields), t))
    assert not model.training  # eval mode, as transformers loads a model
    config = model.config
    assert (config.norm, config.pos, config.mlp, config.bias, config.tie_weights) == (
        "rmsnorm", "rope", "swiglu", False, False,
    )  # fmt: skip
    assert (config.n_kv_head, config.n_inner, config.block_size) == (2, 24, T)
    assert (config.norm_eps, config.rope_theta, config.dropout) == (1e-5, 500.0, 0.1)


def test_the_hub_gpt2_config_gives_gpt2s_shape(tmp_path):
    """GPT-2 124M's config.json as the hub has it (its fields, not its weights)."""
    hub = dict(activation_function="gelu_new", architectures=["GPT2LMHeadModel"], attn_pdrop=0.1,
               bos_token_id=50256, embd_pdrop=0.1, eos_token_id=50256, initializer_range=0.02,
               layer_norm_epsilon=1e-05, model_type="gpt2", n_ctx=1024, n_embd=768, n_head=12,
               n_layer=12, n_positions=1024, resid_pdrop=0.1, summary_activation=None,
               summary_first_dropout=0.1, summary_proj_to_labels=True,
               summary_type="cls_index", summary_use_proj=True, vocab_size=50257,
               task_specific_params={"text-generation": {"do_sample": True,
                                                         "max_length": 50}})  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(hub))
    from model import hf

    config = hf.read_config(tmp_path)[1]
    shape = (config.vocab_size, config.block_size, config.n_layer, config.n_head, config.n_embd)
    assert shape == (50257, 1024, 12, 12, 768)
    assert (config.gelu, config.n_inner, config.bias, config.tie_weights) == (
        "tanh",
        3072,
        True,
        True,
    )
    from model.memory import parameter_count

    assert parameter_count(config) == 124_439_808  # GPT-2 small, as HF counts it
