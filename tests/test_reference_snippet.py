"""The reference's nanoGPT-style snippet, run as it is printed there, and its idioms checked.

The block is read from docs/reference.md (so the page cannot drift from what is tested) and run.
Its attention, written with view, transpose, masked_fill(mask == 0, -inf) and
F.softmax(dim=-1) as nanoGPT writes it, must equal `F.scaled_dot_product_attention` with
is_causal=True; the model must learn its tiny task, and the accuracy idiom must be a number.
"""

import re
from pathlib import Path

import numpy as np

import engine
import nn.functional as F

REFERENCE = Path(__file__).parent.parent / "docs" / "reference.md"


def snippet():
    text = REFERENCE.read_text(encoding="utf-8")
    section = text.split("## Coming from PyTorch or nanoGPT", 1)[1]
    return re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)


def test_the_nanogpt_style_snippet_runs_and_learns(capsys):
    code = snippet()
    for idiom in (
        ".view(B, T, self.n_head, C // self.n_head)",
        "F.softmax(att, dim=-1)",
        'att.masked_fill(self.bias[:, :, :T, :T] == 0, float("-inf"))',
        "loss.item()",
        "(logits.argmax(-1) == y).float().mean()",
        "opt.zero_grad(set_to_none=True)",
    ):
        assert idiom in code
    scope = {}
    exec(compile(code, str(REFERENCE), "exec"), scope)  # noqa: S102 (the page's own code)
    printed = capsys.readouterr().out
    assert re.fullmatch(r"loss \d\.\d{4}, accuracy 100%\n", printed), printed
    assert scope["accuracy"].item() == 1.0 and scope["loss"].item() < 0.1
    assert [name for name, _ in scope["model"].named_buffers()] == ["attn.bias"]

    attn = scope["model"].attn
    h = engine.randn(2, 5, 32)  # shorter than block_size: the mask is cropped to (5, 5)
    q, k, v = attn.c_attn(h).split(32, dim=2)
    heads = [t.view(2, 5, 4, 8).transpose(1, 2) for t in (q, k, v)]
    reference = F.scaled_dot_product_attention(*heads, is_causal=True)
    reference = attn.c_proj(reference.transpose(1, 2).reshape(2, 5, 32))
    np.testing.assert_allclose(attn(h).data, reference.data, rtol=1e-5, atol=1e-6)
