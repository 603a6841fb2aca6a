"""Names are shown as written, whatever they hold; numbers as one rule writes each (ints, bools
and floats alike, in arrays as alone); gradient norms of float16 tensors."""

import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import nn
import viz
from engine import Tensor
from viz import labels
from viz.labels import values


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
        ("]", "]"),  # Graphviz 2.43 cannot read a cell of "]" or "]]" alone
        ("]]", "]]"),
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
    assert shown == ["grad [300.0000, 300.0000, 300.0000]"]


def test_every_number_is_written_by_its_dtype_alone_or_in_an_array():
    x = Tensor([1.0, 2.0], requires_grad=True)
    for constant, shown in [
        (Tensor(5), ["scalar int64", "data 5"]),  # not 5.0000
        (Tensor(True), ["scalar bool", "data True"]),  # not 1.0000
        (Tensor(np.array([True, False])), ["(2,) bool", "data [True, False]"]),
    ]:
        lines = re.findall(r'point-size="10">([^<]*)<', viz.draw_graph((x * constant).sum()).source)
        assert lines[:4] == ["(2,) float32", "data [1.0000, 2.0000]", *shown]  # as 2.0000 alone
    assert values(np.array([1e-5, 2.5e7, -0.5])) == "[1e-05, 2.5e+07, -0.5000]"


def test_index_labels_say_bool_mask_or_ints_and_titles_say_scalar():
    x = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    source = viz.draw_graph(x[np.array([True, False, True])]).source
    assert "<td>[bool mask(3,)]</td>" in source
    assert "<td>[ints(2,)]</td>" in viz.draw_graph(x[np.array([0, 2])]).source
    assert "<td>[ints(2,)]</td>" in viz.draw_graph(x[[0, 2]]).source  # a list: as an array
    assert "<td>[bool mask(3,)]</td>" in viz.draw_graph(x[[True, False, True]]).source
    frames = viz.backward_frames((x * 2.0).sum())
    title = re.search(r'label="([^"]*)"', frames[0].source).group(1)
    assert title == "step 1 of 3: visit a scalar tensor: its gradient = 1.0000"  # not "a ()"
    assert "visit a (3,) tensor: its gradient = [1.0000, 1.0000, 1.0000]" in frames[1].source


def test_powers_are_labelled_with_their_constant_on_its_side():
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    assert labels.op_name((x**2).grad_fn) == "** 2"
    assert labels.op_name((10**x).grad_fn) == "10 **"
    assert labels.op_name((x**x).grad_fn) == "**"  # two tensors: nothing constant to show
