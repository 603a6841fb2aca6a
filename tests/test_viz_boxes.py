"""Collapsed pictures (`depth=k`) that do not mislead: a box per call of a module, no cycle a
forward pass never had, arrows that carry no gradient dashed at every depth, and the inputs a
model is fed drawn as its inputs, the constants it makes inside it."""

import re
from graphlib import TopologicalSorter

import numpy as np
import pytest

import engine
import nn
import viz
from model import GPT, GPTConfig
from viz.check import COLOURS


class Twice(nn.Module):
    """One layer called twice: lin(relu(lin(x)))."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x):
        return self.lin(self.lin(x).relu()).sum()


class Pair(nn.Module):
    """A module with sub-modules and an op of its own (the residual +)."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)

    def forward(self, x):
        return x + self.b(self.a(x).relu())


class Shared(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(self.inner(x)).sum()


class Scale(nn.Module):
    def forward(self, x, c):
        return x * c


class Outer(nn.Module):
    """Makes a constant in its forward and hands it to two calls of `scale`."""

    def __init__(self):
        super().__init__()
        self.scale = Scale()

    def forward(self, x):
        c = engine.Tensor(np.full(3, 2.0, np.float32), name="c")
        return self.scale(self.scale(x, c), c).sum()


def x_in():
    return engine.Tensor(np.ones((2, 3), np.float32), name="x")


def edges(dot):
    return re.findall(r"^\s*(\w+) -> (\w+)(.*)$", dot.source, flags=re.M)


def acyclic(dot):
    after = {}
    for src, dst, _ in edges(dot):
        after.setdefault(dst, set()).add(src)
    list(TopologicalSorter(after).static_order())  # raises CycleError on a cycle
    return True


def node(dot, text):
    """The name of the node whose label holds `text`."""
    return re.search(rf"^\s*(\w+) \[label=.*{re.escape(text)}", dot.source, flags=re.M).group(1)


def titles(dot):
    return re.findall(r"<b>([^<]*)</b>", dot.source)


def test_a_layer_called_twice_is_a_box_per_call_and_no_cycle():
    dot = viz.draw_graph(Twice()(x_in()), depth=1)
    assert [t for t in titles(dot) if t.startswith("lin")] == ["lin.weight", "lin.bias"] + [
        "lin #1",
        "lin #2",
    ]
    assert "call 1 of 2" in dot.source and "call 2 of 2" in dot.source and acyclic(dot)
    first, second, relu = node(dot, "lin #1"), node(dot, "lin #2"), node(dot, "<td>relu</td>")
    pairs = {(src, dst) for src, dst, _ in edges(dot)}
    relu_out = next(dst for src, dst in pairs if src == relu)
    assert {(first, relu), (relu_out, second)} <= pairs  # lin #1 -> relu -> lin #2
    weight = node(dot, "<b>lin.weight</b>")  # one weight, read by both calls
    assert {(weight, first), (weight, second)} <= pairs
    assert "in (2, 3)" in dot.source and "(3, 3)," not in dot.source  # its own weight: counted
    _, checked = viz.check_graph(Twice()(x_in()), depth=1)
    assert sum(COLOURS[0] in line for line in checked.source.splitlines() if "lin #" in line) == 2


def test_a_model_that_calls_a_layer_twice_is_one_box_and_its_name_shows_once():
    dot = viz.draw_graph(Twice()(x_in()), depth=0)
    assert titles(dot) == ["x", "Twice"] and '<font point-size="10">Twice</font>' not in dot.source
    assert "call" not in dot.source and "in (2, 3)" in dot.source


@pytest.mark.parametrize(
    ("inner", "boxes"),
    [(Pair, ["a #1", "b #1", "a #2", "b #2"]), (lambda: nn.Sequential(nn.Linear(3, 3), nn.ReLU()),
     ["0 #1", "1 #1", "0 #2", "1 #2"])],
)  # fmt: skip
def test_a_module_with_sub_modules_called_twice_is_drawn_open(inner, boxes):
    """Its calls cannot be told apart (a nested call keeps no link to the outer one), so it
    is a cluster and its layers are the boxes, a box per call."""
    dot = viz.draw_graph(Shared(inner())(x_in()), depth=1)
    assert [t for t in titles(dot) if "#" in t] == boxes and acyclic(dot)
    assert re.search(r'label="inner \((Pair|Sequential)\)"', dot.source)
    assert viz.draw_graph(Shared(inner())(x_in()), depth=0).source.count("filled,bold") == 1


def test_arrows_into_boxes_are_dashed_where_no_gradient_flows_as_at_full_depth():
    class Mul(nn.Module):
        def forward(self, x, w):
            return (x * w).sum()

    x = engine.Tensor(np.ones(3, np.float32), name="x")
    w = engine.Tensor(np.ones(3, np.float32), requires_grad=True, name="w")
    for depth in (None, 0):
        dot = viz.draw_graph(Mul()(x, w), depth=depth)
        style = {src: "dashed" in rest for src, _, rest in edges(dot)}
        assert style[node(dot, "<b>x</b>")] and not style[node(dot, "<b>w</b>")], depth


def tiny_gpt():
    return GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8))


def test_gpt_inputs_are_its_token_ids_and_its_masks_are_made_inside_attention(tmp_path):
    model, ids = tiny_gpt(), np.arange(9).reshape(1, 9) % 11
    idx, targets = ids[:, :-1], ids[:, 1:]  # overlapping views of one array: not confused
    with nn.use_fused(False):
        _, loss = model(idx, targets)
    inputs = {"idx": idx, "targets": targets}
    bare = viz.draw_graph(loss, depth=0)
    assert bare.source.count("<b>causal mask</b>") == 2  # without inputs: drawn as inputs
    assert all("dashed" in rest for src, _, rest in edges(bare) if src != "m0")
    zero = viz.draw_graph(loss, depth=0, inputs=inputs)
    outside = zero.source.split("subgraph")[0]
    assert titles(zero) == ["GPT", "idx"] and "(1, 8) int64" in outside
    assert [(src, dst) for src, dst, _ in edges(zero)] == [("a0", "m0")]  # idx into GPT
    # targets: the reference cross-entropy reads a copy with ignored rows set to 0: not shown
    full = viz.draw_graph(loss, inputs=inputs).source
    attention = re.split(r'label="?attn \(CausalSelfAttention\)"?', full)
    assert len(attention) == 3 and all("causal mask" in a.split("}")[0] for a in attention[1:])
    with nn.use_fused(True):
        _, fused = model(idx, targets)
    dot = viz.draw_graph(fused, inputs=inputs)
    ops = {src: re.search(r"<td>([^<]*)</td>", dot.source.split(f"\t{dst} [")[1]).group(1)
           for src, dst, _ in edges(dot) if src in ("a0", "a1")}  # fmt: skip
    assert ops == {"a0": "[ints(1, 8)]", "a1": "fused_cross_entropy"}
    path = viz.render_model_graph(model, tmp_path / "gpt.svg", depth=0)  # as tinyllm graph
    text = path.read_text(encoding="utf-8")
    assert ">idx<" in text and "(1, 8) int64" in text and "causal mask" not in text


def test_constants_made_in_a_forward_live_in_the_call_that_reads_them():
    x = engine.Tensor(np.ones(3, np.float32), requires_grad=True, name="x")
    plain = viz.draw_graph(Outer()(x))
    assert "<b>c</b>" in plain.source.split("subgraph")[0]  # no inputs: c is drawn as one
    dot = viz.draw_graph(Outer()(x), inputs={"x": x})
    inside = dot.source.split("subgraph")[1]  # Outer's cluster, before scale's
    assert "<b>c</b>" in inside and "<b>x</b>" in dot.source.split("subgraph")[0]
    boxes = viz.draw_graph(Outer()(x), depth=1, inputs={"x": x})  # read by both calls
    c, pairs = node(boxes, "<b>c</b>"), {(s, d) for s, d, _ in edges(boxes)}
    assert {(c, node(boxes, "scale #1")), (c, node(boxes, "scale #2"))} <= pairs
    for bad in ([x], {"x": [1.0, 2.0]}):
        with pytest.raises(TypeError, match="inputs"):
            viz.draw_graph(Outer()(x), inputs=bad)
