"""viz.draw_architecture: the diagram follows the config's switches, and renders."""

import doctest
import re

import pytest

import viz
import viz.architecture
from model import GPT, GPTConfig


def boxes(dot):
    """The bold titles of the diagram's boxes."""
    return re.findall(r"<b>([^<]*)</b>", dot.source)


def test_gpt2_layout(tmp_path):
    config = GPTConfig(vocab_size=54, block_size=32, n_layer=3, n_head=4, n_embd=64)
    dot = viz.draw_architecture(config)
    assert boxes(dot) == [
        "idx", "transformer.wte", "transformer.wpe", "ln_1", "attn", "ln_2", "mlp",
        "transformer.ln_f", "lm_head", "logits",
    ]  # fmt: skip
    source = dot.source
    assert "3 × Block" in source and "Embedding (32, 64)" in source  # the position table
    assert "4 heads of 16" in source and "c_attn 64 → 192 (q | k | v)" in source
    assert "LayerNorm (64)" in source and "GELU (tanh form)" in source and "c_fc 64 → 256" in source
    assert "same (V, C) matrix" in source  # the tied output matrix
    assert source.count("residual") == 2
    assert "<svg" in viz.save_graph(dot, tmp_path / "a.svg").read_text(encoding="utf-8")


def test_llama_switches_change_the_picture():
    config = GPTConfig.llama_like(vocab_size=54, block_size=32, n_layer=2, n_head=4, n_embd=64)
    source = viz.draw_architecture(GPT(config)).source  # a model works as well as its config
    assert "transformer.wpe" not in source and "rope, θ = 10000" in source
    assert "2 key/value heads, each shared by 2 (grouped-query)" in source
    assert "c_attn 64 → 128 (q | k | v)" in source  # (4 + 2 · 2) heads of 16
    assert "RMSNorm (64)" in source and "LayerNorm" not in source
    assert f"2 × {config.n_inner} (gate | up)" in source and "silu(gate) · up" in source
    assert "a matrix of its own" in source and "same (V, C) matrix" not in source


def test_docstring_example():
    result = doctest.testmod(viz.architecture)
    assert result.failed == 0 and result.attempted == 3


def test_anything_but_a_config_or_a_gpt_is_refused_with_a_type_error():
    for bad in ({"vocab_size": 54}, None):
        with pytest.raises(TypeError, match=f"GPTConfig or a GPT, got {type(bad).__name__}"):
            viz.draw_architecture(bad)
