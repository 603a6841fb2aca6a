"""Llama's pieces as GPTConfig switches: each op checked, the model on both paths, the KV cache,
checkpoints, and the preset."""

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck
from model import GPT, GPTConfig, checkpoint

FAST = settings(max_examples=10, deadline=None)
TINY = dict(vocab_size=13, block_size=8, n_layer=2, n_head=4, n_embd=16)
SWITCHES = [
    dict(norm="rmsnorm"),
    dict(pos="rope"),
    dict(mlp="swiglu"),
    dict(n_kv_head=2),
    dict(n_kv_head=1),
    dict(tie_weights=False),
]


def model_of(dtype=np.float64, **switches):
    engine.manual_seed(0)
    return GPT(GPTConfig(**{**TINY, **switches})).to(dtype)


def ids(shape, seed=0):
    return np.random.default_rng(seed).integers(0, TINY["vocab_size"], size=shape)


# ---- the new ops ------------------------------------------------------------------------------


def numpy_rotary(x, positions, theta):
    """Hugging Face Llama's rotary embedding, written from its definition."""
    d = x.shape[-1]
    inv_freq = 1.0 / theta ** (np.arange(0, d, 2) / d)
    angles = np.concatenate([np.outer(positions, inv_freq)] * 2, axis=-1)
    rotated = np.concatenate([-x[..., d // 2 :], x[..., : d // 2]], axis=-1)
    return x * np.cos(angles) + rotated * np.sin(angles)


@FAST
@given(t=st.integers(1, 5), half=st.integers(1, 3), start=st.integers(0, 50))
def test_rotary_embedding_matches_hf_llama_and_gradchecks(t, half, start):
    x = Tensor(np.random.default_rng(t).standard_normal((2, 3, t, 2 * half)), requires_grad=True)
    positions = np.arange(start, start + t)
    cos, sin = F.rotary_tables(positions, 2 * half, theta=500.0)
    y = F.rotary_embedding(x, cos, sin)
    np.testing.assert_allclose(y.data, numpy_rotary(x.data, positions, 500.0), atol=1e-12)
    assert gradcheck(lambda x: F.rotary_embedding(x, cos, sin), [x])


def test_rotary_embedding_keeps_lengths_and_sees_relative_positions():
    rng = np.random.default_rng(0)
    q, k = rng.standard_normal((1, 1, 1, 8)), rng.standard_normal((1, 1, 1, 8))

    def score(m, n):  # the dot product of a query at position m and a key at n
        rq = F.rotary_embedding(Tensor(q), *F.rotary_tables([m], 8)).data
        rk = F.rotary_embedding(Tensor(k), *F.rotary_tables([n], 8)).data
        assert np.linalg.norm(rq) == pytest.approx(np.linalg.norm(q))  # a rotation
        return float(np.sum(rq * rk))

    assert score(7, 3) == pytest.approx(score(104, 100)) and score(7, 3) != pytest.approx(
        score(7, 4)
    )
    with pytest.raises(ValueError, match="cos and sin"):
        F.rotary_embedding(Tensor(q), *F.rotary_tables([0, 1], 8))


@FAST
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple), h=st.integers(1, 4))
def test_swiglu_matches_its_definition_and_gradchecks(shape, h):
    x = Tensor(np.random.default_rng(h).standard_normal((*shape, 2 * h)) * 3, requires_grad=True)
    gate, up = x.data[..., :h], x.data[..., h:]
    np.testing.assert_allclose(F.swiglu(x).data, gate / (1 + np.exp(-gate)) * up, rtol=1e-12)
    for fused in (True, False):
        with nn.use_fused(fused):
            assert gradcheck(F.swiglu, [x])
    with pytest.raises(ValueError, match="even last axis"):
        F.swiglu(Tensor(np.ones((2, 3))))


@pytest.mark.parametrize("causal", [True, False])
def test_grouped_query_attention_is_attention_with_repeated_keys(causal):
    rng = np.random.default_rng(1)
    q = Tensor(rng.standard_normal((2, 6, 5, 3)), requires_grad=True)
    k, v = (Tensor(rng.standard_normal((2, 2, 5, 3)), requires_grad=True) for _ in range(2))
    repeated = [Tensor(np.repeat(t.data, 3, axis=1)) for t in (k, v)]  # each kv head thrice
    expected = F.scaled_dot_product_attention(q, *repeated, is_causal=causal).data
    for fused in (True, False):
        with nn.use_fused(fused):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
            np.testing.assert_allclose(y.data, expected, rtol=1e-12)

            def fn(q, k, v):
                return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)

            assert gradcheck(fn, [q, k, v])
    weights = F.attention_weights(q, k, is_causal=causal, enable_gqa=True)
    assert weights.shape == (2, 6, 5, 5)
    with pytest.raises(ValueError, match="multiple"):
        F.scaled_dot_product_attention(q, q[:, :4], q[:, :4], enable_gqa=True)
    flat = Tensor(rng.standard_normal((5, 3)))  # (L, E): no heads axis to group
    with pytest.raises(ValueError, match=r"q \(5, 3\) and k \(5, 3\) need a heads axis"):
        F.scaled_dot_product_attention(flat, flat, flat, enable_gqa=True)


# ---- the model with each switch ------------------------------------------------------------


@pytest.mark.parametrize("switches", SWITCHES + [GPTConfig.llama_like(**TINY).to_dict()])
def test_whole_model_gradchecks_and_both_paths_agree(switches):
    model = model_of(**switches)
    idx, targets = ids((2, 6)), ids((2, 6), seed=1)
    params = list(model.parameters())
    assert engine.gradcheck(lambda *_: model(idx, targets)[1], params, max_elements=6)
    results = []
    for fused in (True, False):
        with nn.use_fused(fused):
            logits, loss = model(idx, targets)
        loss.backward()
        results.append((logits.data, [p.grad for p in params]))
        model.zero_grad()
    (logits_a, grads_a), (logits_b, grads_b) = results
    np.testing.assert_allclose(logits_a, logits_b, rtol=1e-10, atol=1e-13)
    for a, b in zip(grads_a, grads_b, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize(
    "combo",
    list(
        itertools.product(["layernorm", "rmsnorm"], ["learned", "rope"], ["gelu", "swiglu"], [4, 1])
    ),
)
def test_kv_cache_equals_rerunning_the_context_for_every_combination(combo):
    norm, pos, mlp, n_kv_head = combo
    model = model_of(np.float32, norm=norm, pos=pos, mlp=mlp, n_kv_head=n_kv_head)
    prompt = ids((2, 3), seed=2)
    for options in (dict(temperature=0), dict(temperature=1.0, top_k=5, seed=3)):
        cached = model.generate(prompt, 9, use_cache=True, **options)  # past block_size too
        plain = model.generate(prompt, 9, use_cache=False, **options)
        np.testing.assert_array_equal(cached, plain)


def test_rope_model_has_no_position_table_and_is_causal():
    model = model_of(pos="rope")
    assert "transformer.wpe.weight" not in model.state_dict()
    idx = ids((1, 8))
    logits = model(idx)[0].data
    changed = idx.copy()
    changed[0, 5] = (changed[0, 5] + 1) % TINY["vocab_size"]
    np.testing.assert_array_equal(model(changed)[0].data[0, :5], logits[0, :5])


def test_untied_and_grouped_shapes_and_parameter_counts():
    C, V, hs = TINY["n_embd"], TINY["vocab_size"], TINY["n_embd"] // TINY["n_head"]
    untied = model_of(tie_weights=False)
    assert untied.lm_head.weight is not untied.transformer.wte.weight
    assert untied.num_params() == model_of().num_params() + V * C
    gqa = model_of(n_kv_head=1).state_dict()
    assert gqa["transformer.h.0.attn.c_attn.weight"].shape == ((4 + 2 * 1) * hs, C)
    swiglu = GPTConfig(**TINY, mlp="swiglu")
    assert swiglu.n_inner == 48 and 3 * swiglu.n_inner * C == pytest.approx(2 * 4 * C * C, rel=0.15)
    assert model_of(mlp="swiglu").state_dict()["transformer.h.0.mlp.c_fc.weight"].shape == (96, C)


@pytest.mark.parametrize("switches", SWITCHES + [dict(bias=False, mlp="swiglu", norm="rmsnorm")])
def test_the_memory_estimate_counts_the_parameters_of_each_switch(switches):
    from model import memory

    config = GPTConfig(**{**TINY, **switches})
    assert memory.parameter_count(config) == GPT(config).num_params()


def test_llama_like_preset_and_overrides():
    config = GPTConfig.llama_like(**TINY)
    assert (config.norm, config.pos, config.mlp) == ("rmsnorm", "rope", "swiglu")
    assert (config.n_kv_head, config.bias, config.tie_weights) == (2, False, False)
    assert GPTConfig.llama_like(**{**TINY, "n_head": 2, "n_kv_head": 2}).n_kv_head == 2
    assert GPTConfig.llama_like(**{**TINY, "n_head": 1, "n_embd": 8}).n_kv_head == 1
    model = GPT(config)
    assert not any(name.endswith(".bias") for name, _ in model.named_parameters())
    assert isinstance(model.transformer.h[0].ln_1, nn.RMSNorm)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("norm", "batchnorm", "norm"),
        ("pos", "alibi", "pos"),
        ("mlp", "relu", "mlp"),
        ("n_kv_head", 3, "n_kv_head"),
        ("n_kv_head", 0, "n_kv_head"),
        ("rope_theta", math.inf, "rope_theta"),
        ("norm_eps", -1.0, "norm_eps"),
        ("tie_weights", "yes", "tie_weights"),
        ("n_inner", 0, "n_inner"),
    ],
)
def test_impossible_switches_name_the_field(field, value, words):
    with pytest.raises(ValueError, match=words):
        GPTConfig(**{**TINY, field: value})
    with pytest.raises(ValueError, match="even head size"):
        GPTConfig(**{**TINY, "n_embd": 12, "pos": "rope"})


def test_checkpoints_record_the_switches(tmp_path):
    model = model_of(np.float32, **GPTConfig.llama_like(**TINY).to_dict())
    checkpoint.save_model(tmp_path / "m.safetensors", model, step=3)
    loaded, _ = checkpoint.load_model(tmp_path / "m.safetensors")
    assert loaded.config == model.config
    idx = ids((1, 5))
    np.testing.assert_array_equal(loaded(idx)[0].data, model(idx)[0].data)


def test_train_command_has_a_flag_for_each_switch_and_the_llama_preset(tmp_path, capsys):
    from model.cli import main

    flags = ["--corpus-chars", "20000", "--block-size", "16", "--n-layer", "1", "--n-head", "4",
             "--n-embd", "16", "--batch-size", "4", "--max-iters", "2", "--lr-decay-iters", "2",
             "--warmup-iters", "1", "--eval-interval", "2", "--eval-batches", "1",
             "--no-progress"]  # fmt: skip
    run = tmp_path / "llama"
    assert main(["train", "--llama", "--n-kv-head", "1", "--out-dir", str(run), *flags]) == 0
    loaded, _ = checkpoint.load_model(next(run.rglob("model.safetensors")))
    c = loaded.config
    assert (c.norm, c.pos, c.mlp, c.n_kv_head, c.tie_weights, c.bias) == (
        "rmsnorm", "rope", "swiglu", 1, False, False
    )  # fmt: skip
    run = tmp_path / "mixed"
    assert main(["train", "--mlp", "swiglu", "--no-tie-weights", "--pos", "rope",
                 "--rope-theta", "500", "--out-dir", str(run), *flags]) == 0  # fmt: skip
    c = checkpoint.load_model(next(run.rglob("model.safetensors")))[0].config
    assert (c.mlp, c.tie_weights, c.rope_theta, c.norm) == ("swiglu", False, 500.0, "layernorm")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = capsys.readouterr().out
    for flag in ("--norm", "--pos", "--rope-theta", "--mlp", "--n-inner", "--n-kv-head",
                 "--tie-weights", "--llama"):  # fmt: skip
        assert flag in help_text
