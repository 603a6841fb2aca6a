"""Names are shown as written, whatever they hold, and gradient norms of float16 tensors."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import nn
import viz
from engine import Tensor


def svg_texts(dot, tmp_path):
    """The text lines of the picture `dot` draws: what a reader sees (parsing it proves that
    the SVG file is well-formed XML)."""
    root = ET.parse(viz.save_graph(dot, tmp_path / "picture.svg")).getroot()
    return [text.text for text in root.iter("{http://www.w3.org/2000/svg}text")]


class Outer(nn.Module):
    """Calls a child module registered under `name`, an attribute name of any text."""

    def __init__(self, name):
        super().__init__()
        self.child_name = name
        setattr(self, name, nn.Linear(2, 2))

    def forward(self, x):
        return getattr(self, self.child_name)(x).sum()


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("x\\G", "x\\G"),  # dot reads \G as the graph's name, \N as the node's, ...
        ("a\\nb\\l\\", "a\\nb\\l\\"),
        ("<i>&", "<i>&"),
        ("red\x1b[31m\ttab", "red\\x1b[31m\\x09tab"),  # control characters: no valid XML
        ("half \ud800", "half \ufffd"),  # a lone surrogate: no UTF-8 file can hold it
        (5, "5"),  # Tensor(name=5): a label all the same
    ],
)
def test_tensor_and_module_names_show_as_written(name, shown, tmp_path):
    a = Tensor(np.float32(2.0), requires_grad=True, name=name)
    loss = a * a
    assert shown in svg_texts(viz.draw_graph(loss), tmp_path)  # an HTML-like label
    title = svg_texts(viz.backward_frames(loss)[-1], tmp_path)[0]  # a plain label
    assert title == f"step 2 of 2: visit {shown}: dL/d{shown} = 4.0000"
    if isinstance(name, str):  # a module's name: an attribute name, so a str
        x = Tensor(np.ones((1, 2), np.float32), name=name)
        texts = svg_texts(viz.draw_graph(Outer(name)(x)), tmp_path)
        assert f"{shown} (Linear)" in texts  # the cluster's title
        # depth=0: x crosses into the collapsed Outer box, its name on the arrow
        assert f" {shown}" in svg_texts(viz.draw_graph(Outer(name)(x), depth=0), tmp_path)


def test_float16_gradient_norms_are_summed_in_float64():
    """300² overflows float16 (its largest number is 65504): the norm showed inf."""
    h = Tensor(np.ones(100, np.float16), requires_grad=True)
    loss = (h * 300.0).sum()
    loss.backward(retain_graph=True)
    assert "‖grad‖ 3000<" in viz.draw_graph(loss).source  # 300 · √100
    frames = viz.backward_frames(loss)
    assert "grad = ‖·‖ 3000" in frames[1].source  # × sends h its gradient of 100 times 300
    small = Tensor(np.ones(3, np.float16), requires_grad=True)
    (small * 300.0).sum().backward()  # a norm not shown is not computed: no overflow warning
    shown = re.findall(r"grad \[[^<]*", viz.draw_graph(small * 1.0).source)
    assert shown == ["grad [300, 300, 300]"]
