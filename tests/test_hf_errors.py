"""Bad Hugging Face directories: each gets one line naming the file and the field or tensor,
with exit status 2 on the command line, and nothing is ever unpickled."""

import json

import numpy as np
import pytest
from hf_reference import gpt2_tensors, llama_tensors, write_safetensors

import tokenizer
from model import GPT, hf
from model.cli import main

V, T, C, L, NH = 23, 12, 16, 1, 4


def write(directory, config, tensors):
    directory.mkdir()
    (directory / "config.json").write_text(json.dumps(config))
    write_safetensors(directory / "model.safetensors", tensors)
    tokenizer.CharTokenizer(list("abcdefghijklmnopqrstuvw")).save_pretrained(directory)
    return directory


@pytest.fixture
def gpt2_dir(tmp_path):
    config = dict(model_type="gpt2", vocab_size=V, n_positions=T, n_embd=C, n_layer=L, n_head=NH)
    tensors = gpt2_tensors(np.random.default_rng(0), V, T, C, L, 4 * C)
    return write(tmp_path / "gpt2", config, {f"transformer.{k}": a for k, a in tensors.items()})


@pytest.fixture
def llama_dir(tmp_path):
    config = dict(model_type="llama", vocab_size=V, hidden_size=C, intermediate_size=24,
                  num_hidden_layers=L, num_attention_heads=NH, num_key_value_heads=2,
                  max_position_embeddings=T)  # fmt: skip
    return write(
        tmp_path / "llama", config, llama_tensors(np.random.default_rng(0), V, C, L, NH, 2, 24)
    )


def sample_error(capsys, directory):
    """`tinyllm sample --run directory`: exit status 2 and one line on stderr, returned."""
    code = main(["sample", "--run", str(directory), "--max-new-tokens", "2", "--seed", "0"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    return err


def test_a_good_directory_samples(gpt2_dir, llama_dir, capsys):
    for directory in (gpt2_dir, llama_dir):
        assert (
            main(["sample", "--run", str(directory), "--prompt", "ab", "--max-new-tokens", "3"])
            == 0
        )
        assert capsys.readouterr().out.startswith("ab")


def edit_config(directory, **changes):
    path = directory / "config.json"
    config = json.loads(path.read_text())
    for name, value in changes.items():
        if value is None:
            config.pop(name)
        else:
            config[name] = value
    path.write_text(json.dumps(config))


def test_a_config_that_leaves_out_the_shape_has_transformers_defaults(tmp_path):
    shapes = {  # GPT2Config's (GPT-2 small) and LlamaConfig's (Llama 2 7B) defaults
        "gpt2": dict(vocab_size=50257, block_size=1024, n_embd=768, n_layer=12, n_head=12,
                     n_kv_head=12, n_inner=3072),
        "llama": dict(vocab_size=32000, block_size=2048, n_embd=4096, n_layer=32, n_head=32,
                      n_kv_head=32, n_inner=11008),
    }  # fmt: skip
    for model_type, shape in shapes.items():
        (tmp_path / model_type).mkdir()
        (tmp_path / model_type / "config.json").write_text(json.dumps({"model_type": model_type}))
        config = hf.read_config(tmp_path / model_type)[1]
        assert {name: getattr(config, name) for name in shape} == shape


@pytest.mark.parametrize(
    ("changes", "words"),
    [(dict(model_type="bert"), ['config.json, model_type: is "bert"', '"gpt2", "llama"']),
     (dict(model_type=None), ["config.json, model_type: missing"]),
     (dict(n_embd=None), ["transformer.wte.weight", "(23, 768)"]),  # GPT2Config's default
     (dict(n_embd="16"), ["config.json, n_embd: expected int"]),
     (dict(n_layer=0), ["config.json, n_layer: must be a positive int"]),
     (dict(n_head=5), ["config.json, n_embd: 16 is not divisible by n_head (5)"]),
     (dict(activation_function="relu"), ["config.json, activation_function", '"gelu_new"']),
     (dict(scale_attn_weights=False), ["config.json, scale_attn_weights"]),
     (dict(tie_word_embeddings="yes"), ["config.json, tie_word_embeddings: expected bool"]),
     (dict(n_positions=16), ["transformer.wpe.weight", "(12, 16)", "(16, 16)"]),
     (dict(vocab_size=24), ["transformer.wte.weight", "model.safetensors"]),
     (dict(tinyllm_bias=False), ["transformer.h.0.ln_1.bias", "not zero", "no biases"]),
     (dict(tie_word_embeddings=False), ["'lm_head.weight' is missing", "model.safetensors"])],
)  # fmt: skip
def test_bad_gpt2_configs(gpt2_dir, capsys, changes, words):
    edit_config(gpt2_dir, **changes)
    err = sample_error(capsys, gpt2_dir)
    assert all(word in err for word in words), err


@pytest.mark.parametrize(
    ("changes", "words"),
    [(dict(hidden_act="gelu"), ["config.json, hidden_act: is \"gelu\"", '"silu"']),
     (dict(head_dim=8), ["config.json, head_dim: is 8", "= 4"]),
     (dict(num_key_value_heads=3), ["config.json, num_key_value_heads: 3 does not divide 4"]),
     (dict(mlp_bias=True), ["config.json, mlp_bias: differs from attention_bias"]),
     (dict(rope_parameters={"rope_type": "llama3", "factor": 8.0}),
      ['config.json, rope_parameters.rope_type: is "llama3"', "unscaled"]),
     (dict(rope_scaling={"type": "linear", "factor": 2.0}),
      ['config.json, rope_scaling.type: is "linear"']),
     (dict(partial_rotary_factor=0.5), ["config.json, partial_rotary_factor: is 0.5"]),
     (dict(rope_theta=-1.0), ["config.json", "rope_theta must be a finite number > 0"]),
     (dict(intermediate_size=32), ["model.layers.0.mlp.gate_proj.weight", "(24, 16)", "(32, 16)"]),
     (dict(num_key_value_heads=4), ["model.layers.0.self_attn.k_proj.weight", "(8, 16)"]),
     (dict(tie_word_embeddings=True), ["'lm_head.weight' differs from the tied token embedding"])],
)  # fmt: skip
def test_bad_llama_configs(llama_dir, capsys, changes, words):
    edit_config(llama_dir, **changes)
    err = sample_error(capsys, llama_dir)
    assert all(word in err for word in words), err


def rewrite_weights(directory, change):
    from safetensors.numpy import load_file

    tensors = dict(load_file(directory / "model.safetensors"))
    change(tensors)
    write_safetensors(directory / "model.safetensors", tensors)


def test_missing_unexpected_and_non_finite_tensors(gpt2_dir, capsys):
    name = "transformer.h.0.attn.c_proj.weight"
    rewrite_weights(gpt2_dir, lambda t: t.pop(name))
    assert f"model.safetensors: tensor '{name}' is missing" in sample_error(capsys, gpt2_dir)
    rewrite_weights(
        gpt2_dir, lambda t: t.update({name: np.zeros((C, C)), "transformer.h.0.x": np.ones(2)})
    )
    assert "'transformer.h.0.x' is not part of a GPT2LMHeadModel" in sample_error(capsys, gpt2_dir)

    def poison(tensors):
        del tensors["transformer.h.0.x"]
        tensors[name] = np.full((C, C), np.nan)

    rewrite_weights(gpt2_dir, poison)
    assert f"'{name}' holds NaN or Inf" in sample_error(capsys, gpt2_dir)


def test_a_damaged_file_or_a_tensor_of_integers(gpt2_dir, capsys):
    weights = gpt2_dir / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert "model.safetensors is not a readable safetensors file" in sample_error(capsys, gpt2_dir)
    config = dict(model_type="gpt2", vocab_size=V, n_positions=T, n_embd=C, n_layer=L, n_head=NH)
    tensors = {
        f"transformer.{k}": a
        for k, a in gpt2_tensors(np.random.default_rng(0), V, T, C, L, 4 * C).items()
    }
    write_safetensors(weights, tensors)
    (gpt2_dir / "config.json").write_text(json.dumps(config))
    raw = weights.read_bytes().replace(b'"F32"', b'"I32"', 1)  # one tensor's dtype, same size
    weights.write_bytes(raw)
    assert "is I32, not F32, F16, BF16 or F64" in sample_error(capsys, gpt2_dir)


def test_a_corrupt_config_json(gpt2_dir, capsys):
    (gpt2_dir / "config.json").write_text('{"model_type": "gpt2",')
    assert "config.json: not a JSON file" in sample_error(capsys, gpt2_dir)
    (gpt2_dir / "config.json").write_text("[1, 2]")
    assert "config.json: expected a JSON object" in sample_error(capsys, gpt2_dir)


def test_a_pickle_is_never_loaded_and_the_way_to_convert_it_is_named(tmp_path, capsys):
    directory = tmp_path / "old"
    directory.mkdir()
    # A pickle that would run code if it were loaded: it must never be.
    (directory / "pytorch_model.bin").write_bytes(b"cos\nsystem\n(S'touch pwned'\ntR.")
    err = sample_error(capsys, directory)
    assert "pytorch_model.bin is a pickle, which tinyllm never loads" in err
    assert "save_pretrained" in err and "model.safetensors" in err
    assert not (tmp_path / "pwned").exists() and not any(
        p.name == "pwned" for p in tmp_path.rglob("*")
    )
    (directory / "config.json").write_text(json.dumps(dict(model_type="gpt2")))
    assert "is a pickle" in sample_error(capsys, directory)


def test_sharded_index_errors(gpt2_dir, capsys):
    (gpt2_dir / "model.safetensors").unlink()
    assert "no model.safetensors (nor model.safetensors.index.json)" in sample_error(
        capsys, gpt2_dir
    )
    index = gpt2_dir / "model.safetensors.index.json"
    index.write_text(json.dumps({"weight_map": {"transformer.wte.weight": "../model.safetensors"}}))
    err = sample_error(capsys, gpt2_dir)
    assert "model.safetensors.index.json, weight_map['transformer.wte.weight']" in err
    index.write_text(json.dumps({"weight_map": {"transformer.wte.weight": "part-1.safetensors"}}))
    assert "weights file not found" in sample_error(capsys, gpt2_dir)
    write_safetensors(gpt2_dir / "part-1.safetensors", {"transformer.wpe.weight": np.zeros((T, C))})
    assert (
        "no tensor 'transformer.wte.weight', which model.safetensors.index.json puts"
        in sample_error(capsys, gpt2_dir)
    )


def test_a_tokenizer_that_is_not_byte_level_or_none_at_all(gpt2_dir, capsys):
    path = gpt2_dir / "tokenizer.json"
    data = json.loads(path.read_text())
    data["model"]["type"] = "WordPiece"
    path.write_text(json.dumps(data))
    assert "tokenizer.json, model.type: is 'WordPiece'" in sample_error(capsys, gpt2_dir)
    path.unlink()
    assert "no tokenizer.json, and no vocab.json + merges.txt" in sample_error(capsys, gpt2_dir)


def test_a_directory_with_nothing_loadable(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    err = sample_error(capsys, tmp_path / "empty")
    assert "holds no complete checkpoint" in err and "config.json" in err


def test_hf_errors_are_value_errors_to_the_api(gpt2_dir):
    edit_config(gpt2_dir, model_type="t5")
    with pytest.raises(ValueError, match="model_type"):
        GPT.from_pretrained(gpt2_dir)
    assert hf.is_model_directory(gpt2_dir) and not hf.is_model_directory(gpt2_dir / "config.json")
