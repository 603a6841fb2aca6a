"""The GPT: its gradient end to end, causality, learning, sampling with and without a cache."""

import numpy as np
import pytest

import engine
import nn
from engine import Tensor
from model import GPT, GPTConfig
from model.sample import KVCache, next_token_probs, sample_tokens

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8)


def tiny_model(dtype=np.float64, **overrides):
    engine.manual_seed(0)
    model = GPT(GPTConfig(**{**TINY, **overrides}))
    return model.to(dtype)


def random_ids(shape, vocab=TINY["vocab_size"], seed=0):
    return np.random.default_rng(seed).integers(0, vocab, size=shape)


@pytest.mark.parametrize("bias", [True, False])
def test_whole_model_gradcheck(bias):
    model = tiny_model(bias=bias)
    idx, targets = random_ids((2, 6)), random_ids((2, 6), seed=1)
    targets[0, 2] = -1  # an ignored target
    params = list(model.parameters())
    assert engine.gradcheck(lambda *_: model(idx, targets)[1], params, max_elements=12)


def test_parameter_names_and_shapes_are_gpt2s():
    model = tiny_model()
    C, V, T = 8, 11, 8
    shapes = dict((name, p.shape) for name, p in model.state_dict().items())
    assert shapes["transformer.wte.weight"] == (V, C)
    assert shapes["transformer.wpe.weight"] == (T, C)
    assert shapes["transformer.h.1.attn.c_attn.weight"] == (3 * C, C)
    assert shapes["transformer.h.1.attn.c_attn.bias"] == (3 * C,)
    assert shapes["transformer.h.0.attn.c_proj.weight"] == (C, C)
    assert shapes["transformer.h.0.mlp.c_fc.weight"] == (4 * C, C)
    assert shapes["transformer.h.0.mlp.c_proj.weight"] == (C, 4 * C)
    assert shapes["transformer.ln_f.bias"] == (C,)
    assert shapes["lm_head.weight"] == (V, C)
    assert model.lm_head.weight is model.transformer.wte.weight
    no_bias = tiny_model(bias=False).state_dict()
    assert not any(name.endswith(".bias") for name in no_bias)


def test_init_statistics():
    engine.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=200, n_layer=8, n_embd=64, n_head=4))
    sd = model.state_dict()
    assert abs(sd["transformer.wte.weight"].std() - 0.02) < 0.002
    expected = 0.02 / np.sqrt(2 * 8)
    assert abs(sd["transformer.h.3.mlp.c_proj.weight"].std() - expected) < 0.1 * expected
    assert np.all(sd["transformer.h.0.attn.c_attn.bias"] == 0)
    assert np.all(sd["transformer.h.0.ln_1.weight"] == 1)
    tied_once = sum(p.size for p in model.parameters())
    assert model.num_params() == tied_once == sum(a.size for a in sd.values()) - 200 * 64


def test_causality():
    model = tiny_model()
    idx = random_ids((1, 8))
    logits, _ = model(idx)
    for t in range(7):
        changed = idx.copy()
        changed[0, t + 1] = (changed[0, t + 1] + 1) % TINY["vocab_size"]
        logits2, _ = model(changed)
        np.testing.assert_array_equal(logits2.data[0, : t + 1], logits.data[0, : t + 1])
        assert not np.allclose(logits2.data[0, t + 1 :], logits.data[0, t + 1 :])


def test_overfits_one_batch():
    model = tiny_model(np.float32, n_embd=32, n_head=4)
    idx, targets = random_ids((4, 8)), random_ids((4, 8), seed=3)
    optimizer = nn.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    for _ in range(300):
        _, loss = model(idx, targets)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    assert loss.dtype == np.float32
    assert loss.item() < 0.05


def test_loss_is_mean_cross_entropy_over_kept_targets():
    model = tiny_model()
    idx, targets = random_ids((2, 5)), random_ids((2, 5), seed=4)
    targets[1, :2] = -1
    logits, loss = model(idx, targets)
    z = logits.data - logits.data.max(-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
    kept = targets != -1
    expected = -logp[kept, targets[kept]].mean()
    assert loss.item() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    "field, value",
    [("n_embd", 9), ("n_head", 0), ("vocab_size", -3), ("dropout", 1.0), ("gelu", "relu")],
)
def test_impossible_configs_name_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        GPTConfig(**{**TINY, field: value})


def test_too_long_input_is_refused():
    model = tiny_model()
    with pytest.raises(ValueError, match="block_size"):
        model(random_ids((1, 9)))


@pytest.mark.parametrize(
    "options",
    [
        dict(temperature=1.0, seed=5),
        dict(temperature=0),
        dict(temperature=0.7, top_k=3, seed=6),
        dict(temperature=1.3, top_p=0.6, seed=7),
        dict(temperature=1.0, top_k=50, top_p=0.9, seed=8),
    ],
)
@pytest.mark.parametrize("prompt_len", [1, 5, 12])
def test_kv_cache_sampling_equals_plain_sampling(options, prompt_len):
    model = tiny_model(np.float32)
    prompt = random_ids((2, prompt_len), seed=prompt_len)
    cached = model.generate(prompt, 14, use_cache=True, **options)
    plain = model.generate(prompt, 14, use_cache=False, **options)
    assert cached.shape == (2, prompt_len + 14)
    np.testing.assert_array_equal(cached[:, :prompt_len], prompt)
    np.testing.assert_array_equal(cached, plain)


def test_greedy_picks_the_argmax():
    model = tiny_model()
    prompt = random_ids((1, 3))
    out = model.generate(prompt, 1, temperature=0)
    logits, _ = model(prompt)
    assert out[0, -1] == logits.data[0, -1].argmax()


def test_top_k_one_is_greedy():
    model = tiny_model()
    prompt = random_ids((1, 3))
    np.testing.assert_array_equal(
        model.generate(prompt, 6, top_k=1, seed=1), model.generate(prompt, 6, temperature=0)
    )


def test_a_temperature_too_small_to_divide_by_is_greedy_and_numpy_integers_are_ints():
    model = tiny_model()
    prompt = random_ids((2, 3))
    greedy = model.generate(prompt, 6, temperature=0)
    np.testing.assert_array_equal(model.generate(prompt, 6, temperature=1e-310, seed=1), greedy)
    np.testing.assert_array_equal(model.generate(prompt, np.int64(6), top_k=np.int64(1)), greedy)


class LargestDraws:
    """A generator whose every uniform draw is the largest below 1."""

    def random(self, shape):
        return np.full(shape, 1 - 2**-53)


def test_a_draw_never_lands_on_a_token_of_probability_0():
    # Probabilities whose sum is short of 1 (as rounding can leave it), the largest draw: the
    # draw scaled by the sum still lands on the last token that may be drawn.
    short = np.array([[0.5, 0.25, 0.0, 0.0], [0.0, 0.0, 0.3, 0.0]])
    assert sample_tokens(short, LargestDraws()).tolist() == [1, 2]
    probs = next_token_probs(np.array([[2.0, 1.0, 0.5, -1.0]]), top_k=2)
    assert probs[0, 2:].tolist() == [0.0, 0.0]
    assert sample_tokens(probs, LargestDraws()).tolist() == [1]


@pytest.mark.parametrize(
    "options, match",
    [
        (dict(temperature=-1.0), "temperature"),
        (dict(temperature=float("nan")), "temperature"),
        (dict(temperature=float("inf")), "temperature"),
        (dict(top_p=float("nan")), "top_p"),
        (dict(top_p=0.0), "top_p"),
        (dict(top_p=1.5), "top_p"),
        (dict(top_k=0), "top_k"),
        (dict(top_k=2.5), "top_k must be an int"),
        (dict(top_k=float("nan")), "top_k must be an int"),
        (dict(top_k=True), "top_k must be an int"),
    ],
)
def test_bad_sampling_options(options, match):
    with pytest.raises(ValueError, match=match):
        tiny_model().generate(random_ids((1, 2)), 3, **options)


@pytest.mark.parametrize("use_cache", [True, False])
def test_generate_stops_at_the_first_non_finite_logits(use_cache):
    model = tiny_model()
    model.transformer.wpe.weight.data[3] = np.nan  # position 3: its logits come at step 3
    with pytest.raises(FloatingPointError, match="step 3 are NaN"):
        model.generate(random_ids((2, 1)), 6, use_cache=use_cache, seed=0)


def test_generate_refuses_float_prompts_and_restores_the_mode():
    model = tiny_model()
    model.train()
    with pytest.raises(ValueError, match="integer prompt"):
        model.generate(np.array([[1.7, 2.0]]), 2)
    with pytest.raises(IndexError, match="999"):
        model.generate(np.array([[1, 999]]), 2)  # 999 is no token: fails inside the loop
    assert model.training


def test_attention_maps_check_their_input_like_forward():
    model = tiny_model()
    maps = model.attention_maps(random_ids((1, 5)))
    assert len(maps) == TINY["n_layer"] and maps[0].shape == (1, TINY["n_head"], 5, 5)
    np.testing.assert_allclose(maps[0].sum(axis=-1), 1.0)
    assert np.all(np.triu(maps[1][0, 0], k=1) == 0)  # no weight on the future
    with pytest.raises(ValueError, match="block_size"):
        model.attention_maps(random_ids((1, 9)))


def test_the_kv_cache_fills_one_buffer_in_place_and_refuses_misuse():
    cache = KVCache(capacity=3)
    rng = np.random.default_rng(0)
    k, v = (Tensor(rng.standard_normal((2, 4, 2, 8)).astype(np.float32)) for _ in range(2))
    k_all, v_all = cache.update(k, v)  # the prompt: two positions
    np.testing.assert_array_equal(k_all.data, k.data)
    k1, v1 = (Tensor(rng.standard_normal((2, 4, 1, 8)).astype(np.float32)) for _ in range(2))
    k_all, v_all = cache.update(k1, v1)
    assert cache.length == 3 and k_all.shape == (2, 4, 3, 8)
    np.testing.assert_array_equal(k_all.data, np.concatenate([k.data, k1.data], axis=2))
    np.testing.assert_array_equal(v_all.data, np.concatenate([v.data, v1.data], axis=2))
    assert np.shares_memory(k_all.data, cache.k)  # a view of the buffer, not a copy
    with pytest.raises(ValueError, match="full"):
        cache.update(k1, v1)
    filled = KVCache(8)
    filled.update(k, v)
    with pytest.raises(ValueError, match="one position per call"):
        filled.update(k, v)
    with pytest.raises(RuntimeError, match="no_grad"):
        KVCache(8).update(Tensor(k.data, requires_grad=True), v)
