"""viz.draw_graph: the DOT it writes for small known graphs, and real rendering with dot."""

import re

import numpy as np
import pytest

import engine
import nn
import viz
from model import GPT, GPTConfig


def node_names(dot):
    return re.findall(r"^\s*((?:t|op|m)\d+) \[", dot.source, flags=re.M)


def edge_lines(dot):
    return [line for line in dot.source.splitlines() if " -> " in line]


def micrograd_expression():
    """micrograd's picture: L = (a * b + c) * f, with gradients."""
    a = engine.Tensor(2.0, requires_grad=True, name="a")
    b = engine.Tensor(-3.0, requires_grad=True, name="b")
    c = engine.Tensor(10.0, requires_grad=True, name="c")
    f = engine.Tensor(-2.0, requires_grad=True, name="f")
    loss = (a * b + c) * f
    loss.backward(retain_graph=True)
    return loss


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(2, 16)
        self.fc2 = nn.Linear(16, 3)

    def forward(self, x):  # (N, 2) -> (N, 3)
        return self.fc2(self.fc1(x).relu())


def test_micrograd_expression_nodes_edges_values_and_grads():
    dot = viz.draw_graph(micrograd_expression())
    names = node_names(dot)
    assert len(names) == 7 + 3  # a, b, c, f, a*b, a*b+c, L and the ops ×, +, ×
    assert len([n for n in names if n.startswith("op")]) == 3
    assert len(edge_lines(dot)) == 3 + 6  # op -> output, and two inputs per op
    source = dot.source
    for text in ("<b>a</b>", "<b>f</b>", "scalar float32", "data 2.0000", "data -8.0000"):
        assert text in source
    # dL/da = b f = 6, dL/db = a f = -4, dL/dc = f = -2, dL/df = a b + c = 4
    for grad in ("grad 6.0000", "grad -4.0000", "grad -2.0000", "grad 4.0000"):
        assert grad in source


def test_shapes_in_labels_and_show_data():
    x = engine.Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True, name="x")
    w = engine.Tensor(np.ones((3, 4)), requires_grad=True, name="w")
    y = x @ w
    auto = viz.draw_graph(y).source
    assert "(4, 3) float64" in auto and "(3, 4) float64" in auto and "(4, 4) float64" in auto
    assert "data" not in auto  # 12 and 16 elements: too many to list by default
    assert "data [[0.0000, 1.0000, 2.0000]," in viz.draw_graph(y, show_data=True).source
    z = engine.Tensor([1.0, 2.0], requires_grad=True) * 3.0
    assert "data [1.0000, 2.0000]" in viz.draw_graph(z).source  # as a scalar's 2.0000
    assert "data" not in viz.draw_graph(z, show_data=False).source


def test_index_labels_are_written_as_python_writes_them_and_small_values_show():
    x = engine.Tensor(np.ones((4, 6)), requires_grad=True)
    for index, label in [((slice(None), slice(1, None)), "[:, 1:]"),
                         ((slice(None, 2),), "[:2]"),
                         ((slice(None), slice(None, None, 2)), "[:, ::2]"),
                         ((Ellipsis, slice(1, 5, 2)), "[..., 1:5:2]"),
                         ((0, slice(None)), "[0, :]")]:  # fmt: skip
        assert f"<td>{label}</td>" in viz.draw_graph(x[index]).source, label
    eps = engine.Tensor(np.float32(1e-5), name="eps")
    assert "data 1e-05" in viz.draw_graph(x.sum() + eps).source  # not 0.0000


def test_rules_on_edges_with_broadcast_reductions():
    x = engine.Tensor(np.ones((2, 4, 3)), requires_grad=True)
    bias = engine.Tensor(np.ones(3), requires_grad=True)
    col = engine.Tensor(np.ones((4, 1)), requires_grad=True)
    w = engine.Tensor(np.ones((3, 5)), requires_grad=True)
    y = ((x + bias) * col) @ w
    source = viz.draw_graph(y, show_rules=True).source
    assert "dA = G @ Bᵀ" in source and "dB = Aᵀ @ G" in source
    assert "dB = G\nthen sum over axes 0, 1" in source  # bias (3,) was broadcast to (2, 4, 3)
    assert "dB = G * A\nthen sum over axes 0, 2" in source  # col (4, 1) to (2, 4, 3)
    assert 'dA = G"' in source  # x itself was not broadcast: no note
    assert "dA = G" not in viz.draw_graph(y).source


def test_constants_are_dashed_and_get_no_rule():
    a = engine.Tensor(2.0, requires_grad=True)
    source = viz.draw_graph(a * 0.5, show_rules=True).source
    dashed = [line for line in edge_lines(viz.draw_graph(a * 0.5)) if "dashed" in line]
    assert len(dashed) == 1
    assert source.count("dB = G * A") == 0 and source.count("dA = G * B") == 1


def test_module_clusters_and_parameter_names():
    mlp = MLP()
    x = engine.Tensor(np.ones((5, 2), dtype=np.float32))
    dot = viz.draw_graph(mlp(x).sum())
    source = dot.source
    assert source.count("subgraph cluster_") == 3  # MLP around fc1 and fc2
    assert 'label="fc1 (Linear)"' in source and 'label="fc2 (Linear)"' in source
    assert re.search(r'label="?MLP"? ', source)
    for name in ("fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"):
        assert f"<b>{name}</b>" in source
    # the ReLU ran in MLP.forward: inside MLP's cluster, outside fc1's and fc2's
    mlp_cluster = re.split(r'label="?MLP"? ', source)[1]
    assert "relu" in mlp_cluster.split("subgraph")[0]


def test_depth_collapses_modules_into_boxes():
    mlp = MLP()
    x = engine.Tensor(np.ones((5, 2), dtype=np.float32), name="x")
    loss = mlp(x).sum()
    one = viz.draw_graph(loss, depth=1).source
    assert one.count("subgraph cluster_") == 1  # MLP; fc1 and fc2 are boxes
    assert "<b>fc1</b>" in one and "48 params" in one  # 2 * 16 + 16
    assert "<b>fc2</b>" in one and "51 params" in one  # 16 * 3 + 3
    assert "in (5, 2)" in one and "out (5, 16)" in one and "out (5, 3)" in one
    assert "fc1.weight" not in one
    zero = viz.draw_graph(loss, depth=0)
    assert "subgraph cluster_" not in zero.source
    assert "<b>MLP</b>" in zero.source and "99 params" in zero.source
    assert len(node_names(zero)) == 4  # x, the MLP box, sum and its output
    assert len(edge_lines(zero)) == 3


def test_gpt_depth_one_shows_embeddings_blocks_and_head():
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8))
    idx = np.arange(8).reshape(1, 8) % 11
    _, loss = model(idx, idx)
    one = viz.draw_graph(loss, depth=1).source
    for name in ("transformer.wte", "transformer.wpe", "transformer.h.0", "transformer.h.1"):
        assert f"<b>{name}</b>" in one
    assert "<b>lm_head</b>" in one and one.count('<font point-size="10">Block</font>') == 2
    assert "transformer.wte.weight" in one  # the tied weight flows from wte into lm_head
    two = viz.draw_graph(loss, depth=2).source
    assert 'label="transformer.h.0 (Block)"' in two
    assert "<b>attn</b>" in two and "<b>mlp</b>" in two and "CausalSelfAttention" in two


def test_draws_after_a_plain_backward_as_before_it():
    """micrograd and torchviz users draw after `loss.backward()`: backward frees what the nodes
    saved, but keeps the nodes, the values and the gradients, so the picture is the same."""
    a, b, c, f = (
        engine.Tensor(v, requires_grad=True, name=n)
        for v, n in zip((2.0, -3.0, 10.0, -2.0), "abcf", strict=True)
    )
    loss = (a * b + c) * f
    loss.backward()
    after = viz.draw_graph(loss, show_rules=True)
    assert after.source == viz.draw_graph(micrograd_expression(), show_rules=True).source
    assert "grad 6.0000" in after.source and "dA = G * B" in after.source
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()  # the freed arrays are gone: a second backward is refused


def test_broadcast_notes_and_gpt_graph_after_backward():
    x = engine.Tensor(np.ones((2, 4, 3)), requires_grad=True)
    bias = engine.Tensor(np.ones(3), requires_grad=True)
    y = ((x + bias) @ engine.Tensor(np.ones((3, 5)), requires_grad=True)).sum()
    y.backward()
    assert "dB = G\nthen sum over axes 0, 1" in viz.draw_graph(y, show_rules=True).source
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    idx = np.arange(8).reshape(1, 8) % 11
    _, loss = model(idx, idx)
    before = viz.draw_graph(loss).source
    loss.backward()
    after = viz.draw_graph(loss).source
    assert "‖grad‖" not in before and "‖grad‖" in after  # the parameters' gradients, drawn
    assert before.count(" -> ") == after.count(" -> ") and "cross_entropy" in after
    checks, _ = viz.check_graph(loss)  # every node's op re-run from its inputs: still works
    assert len(checks) >= 20 and all(check.error < viz.check.GOOD for check in checks)


def test_bad_options_raise():
    b = engine.Tensor(1.0, requires_grad=True) * 2.0
    for bad in ({"depth": -1}, {"show_data": "yes"}, {"rankdir": "up"}):
        with pytest.raises(ValueError):
            viz.draw_graph(b, **bad)
    assert viz.draw_graph(b, depth=np.int64(1)).source  # a NumPy int is an int
    model = GPT(GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=1, n_embd=8))
    with pytest.raises(ValueError, match=r"idx must be \(B, T\) token ids, got shape \(3,\)"):
        viz.render_model_graph(model, "unused.svg", idx=np.array([1, 2, 3]))


def test_renders_svg_and_png_with_dot(tmp_path):
    dot = viz.draw_graph(micrograd_expression(), show_rules=True)
    svg = viz.save_graph(dot, tmp_path / "graph.svg")
    png = viz.save_graph(dot, tmp_path / "graph.png")
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "dA = G * B" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.png", "graph.svg"]
    with pytest.raises(ValueError, match="svg"):
        viz.save_graph(dot, tmp_path / "graph.gif")
    with pytest.raises(IsADirectoryError, match="more.svg/' ends in '/': give a file name"):
        viz.save_graph(dot, f"{tmp_path}/sub/more.svg/")
    assert not (tmp_path / "sub").exists()  # refused before anything is made


def test_default_gpt_loss_graph_renders_at_depth_two(tmp_path):
    model = GPT(GPTConfig(vocab_size=65))
    idx = np.random.default_rng(0).integers(0, 65, size=(2, 64))
    path = viz.render_model_graph(model, tmp_path / "gpt.svg", idx, idx, depth=2)
    text = path.read_text(encoding="utf-8")
    assert text.count("CausalSelfAttention") == 4 and "cross_entropy" in text
    one = viz.render_model_graph(model, tmp_path / "gpt.png", depth=1)  # its own input
    assert one.read_bytes()[:4] == b"\x89PNG"


def test_names_do_not_depend_on_the_order_of_the_operands():
    """fc1 called alone and inside its model is still `fc1`, its parameters `fc1.weight` and
    `fc1.bias`, whichever use the walk back from the root meets first."""
    mlp = MLP()
    x = engine.Tensor(np.ones((5, 2), dtype=np.float32))
    for loss in (mlp.fc1(x).sum() + mlp(x).sum(), mlp(x).sum() + mlp.fc1(x).sum()):
        source = viz.draw_graph(loss).source
        names = set(re.findall(r"<b>([^<]*)</b>", source))
        assert names == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
        assert source.count('label="fc1 (Linear)"') == 2  # alone, and inside MLP
        assert re.search(r'label="?MLP"? ', source) and 'label="Linear"' not in source


def test_wrong_argument_types_raise_type_errors_naming_what_was_expected(tmp_path):
    t = engine.Tensor(2.0, requires_grad=True) * 3.0
    for root in (3.0, np.ones(3), None, [t]):
        for draw in (viz.draw_graph, viz.check_graph, viz.backward_frames):
            with pytest.raises(TypeError, match=f"engine.Tensor, got {type(root).__name__}"):
                draw(root)
    with pytest.raises(TypeError, match="graphviz.Digraph, got Tensor"):
        viz.save_graph(t, tmp_path / "g.svg")
    with pytest.raises(TypeError, match=r"check_graph returns \(checks, picture\)"):
        viz.save_graph(viz.check_graph(t), tmp_path / "g.svg")
    assert not list(tmp_path.iterdir())


def test_dot_and_gv_files_hold_the_dot_source(tmp_path):
    dot = viz.draw_graph(micrograd_expression())
    for name in ("graph.dot", "graph.GV"):
        assert viz.save_graph(dot, tmp_path / name).read_text(encoding="utf-8") == dot.source
