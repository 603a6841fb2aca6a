"""Our model files continue in nanoGPT's model.py: the same state-dict names and shapes.

nanoGPT's list below is written from its model.py (karpathy/nanoGPT): `GPT` holds
`transformer = ModuleDict(wte, wpe, drop, h = [Block ...], ln_f)` and `lm_head`, each `Block`
`ln_1, attn (c_attn, c_proj), ln_2, mlp (c_fc, c_proj)`, its own `LayerNorm(ndim, bias)` with
`weight` and an optional `bias`, and `nn.Linear(..., bias=config.bias)`. PyTorch's state_dict
lists the tied `lm_head.weight` too, and has no `attn.bias` mask buffer since PyTorch 2.0
(flash attention). The loading lines are those of the model/checkpoint.py docstring.
"""

import json
import re
from pathlib import Path

import pytest
import safetensors
import safetensors.numpy

from model import GPT, GPTConfig, checkpoint

NANOGPT_CONFIG_FIELDS = (
    "block_size",
    "vocab_size",
    "n_layer",
    "n_head",
    "n_embd",
    "dropout",
    "bias",
)


def nanogpt_state_dict(block_size, vocab_size, n_layer, n_head, n_embd, dropout, bias):
    """name -> shape of nanoGPT's `GPT(GPTConfig(...)).state_dict()`, in its order."""
    C, shapes = n_embd, {}

    def linear(name, n_in, n_out):
        shapes[f"{name}.weight"] = (n_out, n_in)
        if bias:
            shapes[f"{name}.bias"] = (n_out,)

    def layer_norm(name):
        shapes[f"{name}.weight"] = (C,)
        if bias:
            shapes[f"{name}.bias"] = (C,)

    shapes["transformer.wte.weight"] = (vocab_size, C)
    shapes["transformer.wpe.weight"] = (block_size, C)
    for i in range(n_layer):
        h = f"transformer.h.{i}"
        layer_norm(f"{h}.ln_1")
        linear(f"{h}.attn.c_attn", C, 3 * C)
        linear(f"{h}.attn.c_proj", C, C)
        layer_norm(f"{h}.ln_2")
        linear(f"{h}.mlp.c_fc", C, 4 * C)
        linear(f"{h}.mlp.c_proj", 4 * C, C)
    layer_norm("transformer.ln_f")
    shapes["lm_head.weight"] = (vocab_size, C)
    return shapes


@pytest.mark.parametrize("bias", [True, False])
def test_a_saved_model_loads_into_nanogpt_with_strict_true(bias, tmp_path):
    model = GPT(GPTConfig(vocab_size=65, block_size=16, n_layer=2, n_head=2, n_embd=8,
                          bias=bias, gelu="none"))  # fmt: skip
    path = tmp_path / "model.safetensors"
    checkpoint.save_model(path, model, step=0)
    # The lines of the docstring, with NumPy in place of torch:
    with safetensors.safe_open(path, "np") as f:
        ours = json.loads(f.metadata()["config"])
    config = {k: ours[k] for k in NANOGPT_CONFIG_FIELDS}
    state = safetensors.numpy.load_file(path)
    state["lm_head.weight"] = state["transformer.wte.weight"]
    expected = nanogpt_state_dict(**config)
    assert {name: a.shape for name, a in state.items()} == expected  # what strict=True checks
    assert [(n, a.shape) for n, a in model.state_dict().items()] == list(expected.items())
    assert ours["gelu"] == "none"  # nanoGPT's nn.GELU() is the exact form
    assert "gelu" in checkpoint.__doc__ and "strict=True" in checkpoint.__doc__


def test_the_reference_gives_the_docstrings_lines():
    readme = (Path(__file__).parent.parent / "docs" / "reference.md").read_text(encoding="utf-8")
    section = readme.split("### Continuing in nanoGPT", 1)[1]
    block = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    lines = [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]
    documented = [line.split("#")[0].strip() for line in checkpoint.__doc__.splitlines()]
    assert len(lines) == 12 and all(line in documented for line in lines)
