"""viz.backward_steps and viz.check_graph on small graphs and a tiny GPT."""

import re

import numpy as np
import pytest

import engine
import nn
import viz
from engine import Function
from model import GPT, GPTConfig
from viz.backward_steps import frame_paths
from viz.check import COLOURS, GOOD


def titles(frames):
    return [re.search(r'label="(step [^"]*)"', f.source).group(1) for f in frames]


def test_frames_of_a_reused_tensor(tmp_path):
    a = engine.Tensor(3.0, requires_grad=True, name="a")
    b = a + a
    b.name = "b"
    c = b * b
    c.name = "c"
    paths = viz.backward_steps(c, tmp_path)
    assert [p.name for p in paths] == ["step_000.svg", "step_001.svg", "step_002.svg"]
    assert all("<svg" in p.read_text(encoding="utf-8") for p in paths)

    frames = viz.backward_frames(c)  # a second backward pass: the graph was kept
    assert titles(frames) == [
        "step 1 of 3: visit c: dL/dc = 1.0000",
        "step 2 of 3: visit b: dL/db = 12.0000",  # 2b, b = 6
        "step 3 of 3: visit a: dL/da = 24.0000",  # two contributions of 12
    ]
    # c = b * b sends b two contributions: the second is added (+=) to the first
    assert "grad = 6.0000" in frames[0].source and "grad += 6.0000" in frames[0].source
    assert "grad = 12.0000" in frames[1].source and "grad += 12.0000" in frames[1].source
    assert "grad —" in frames[0].source  # a: not reached yet
    assert a.grad == 48.0  # two backward passes accumulated, as backward() does


def test_all_frames_side_by_side_in_one_picture(tmp_path):
    a = engine.Tensor(3.0, requires_grad=True, name="a")
    b = a + a
    b.name = "b"
    c = b * b
    c.name = "c"
    dot = viz.backward_side_by_side(c)
    source = dot.source
    assert re.findall(r"subgraph (cluster_step\d)", source) == [
        f"cluster_step{i}" for i in range(3)
    ]
    assert titles([dot]) == ["step 1 of 3: visit c: dL/dc = 1.0000"]
    assert "step 3 of 3: visit a: dL/da = 24.0000" in source
    assert source.count("grad += ") == 2  # the two accumulations, each in its own frame
    nodes = re.findall(r"^\s*(s\d_\w+) \[", source, flags=re.M)
    assert len(nodes) == 3 * 5 and len(set(nodes)) == 15  # a, +, b, ×, c in every frame
    assert "<svg" in viz.save_graph(dot, tmp_path / "all.svg").read_text(encoding="utf-8")
    assert a.grad == 24.0  # one backward pass, as backward() does


def test_frames_start_as_backward_does_and_leave_no_frame_of_an_earlier_pass(tmp_path):
    a = engine.Tensor(3.0, requires_grad=True, name="a")
    long = ((a * a) * a) * a
    short = a * 2.0
    assert len(viz.backward_steps(long, tmp_path)) == 4
    assert [p.name for p in viz.backward_steps(short, tmp_path)] == ["step_000.svg", "step_001.svg"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step_000.svg", "step_001.svg"]
    for draw in (viz.backward_frames, viz.backward_side_by_side):
        with pytest.raises(RuntimeError, match="does not require grad"):
            draw(engine.Tensor(1.0))
        with pytest.raises(RuntimeError, match="one-element tensor"):
            draw(engine.Tensor([1.0, 2.0], requires_grad=True) * 2.0)


def test_a_node_waits_for_all_its_users():
    x = engine.Tensor(0.5, requires_grad=True, name="x")
    y = x * 2.0
    y.name = "y"
    z = y.exp().tanh() + x  # x is used early (in y) and late (here)
    z.name = "z"
    steps = titles(viz.backward_frames(z))
    assert len(steps) == 5  # z, tanh's input, exp's input y, ..., x once everything reached it
    visited = [m.group(1) for t in steps if (m := re.search(r"visit (\w+): dL", t))]
    assert visited == ["z", "y", "x"]


class BrokenMul(Function):
    """A * B whose backward swaps the two gradients: the bug check_graph must find."""

    rules = ("dA = G * B", "dB = G * A")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        return g * self.a, g * self.b


def test_check_graph_finds_the_broken_op():
    rng = np.random.default_rng(0)
    x = engine.Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    w = engine.Tensor(rng.standard_normal((3, 5)).astype(np.float32), requires_grad=True)
    h = (x @ w).tanh()
    loss = BrokenMul.apply(h, h * 0.5 + 1.0).softmax(axis=-1).log().mean()
    checks, dot = viz.check_graph(loss)
    errors = {c.op: c.error for c in checks}  # each op name occurs once here
    assert len(checks) == 8
    assert errors["broken_mul"] > 0.1
    assert all(e < GOOD for op, e in errors.items() if op != "broken_mul")
    red = [line for line in dot.source.splitlines() if COLOURS[2] in line]
    assert len(red) == 1 and "broken_mul" in red[0]
    assert dot.source.count(COLOURS[0]) == 7


def test_check_graph_of_a_gpt_is_green_and_leaves_dropout_rng_alone():
    engine.manual_seed(0)
    config = GPTConfig(vocab_size=13, block_size=8, n_layer=2, n_head=2, n_embd=8, dropout=0.2)
    model = GPT(config)
    idx = np.arange(16).reshape(2, 8) % 13
    _, loss = model(idx, idx)
    state = engine.get_rng_state()
    checks, dot = viz.check_graph(loss, depth=2)
    assert engine.get_rng_state() == state
    masks = [t.name for c in checks for t in c.output.grad_fn.inputs if t is not None]
    assert "dropout mask" in masks
    assert max(c.error for c in checks) < GOOD
    assert {c.module for c in checks} >= {"transformer.h.0.attn", "transformer.h.1.mlp.c_fc"}
    assert COLOURS[2] not in dot.source and "<b>attn</b>" in dot.source


def test_check_graph_colours_a_collapsed_module_by_its_worst_op():
    class Bad(nn.Module):
        def forward(self, x):
            return BrokenMul.apply(x, x + 1.0)

    x = engine.Tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    _, dot = viz.check_graph(Bad()(x).sum(), depth=0)
    box = next(line for line in dot.source.splitlines() if "<b>Bad</b>" in line)
    assert COLOURS[2] in box


def test_frame_names_sort_in_step_order_and_every_old_frame_is_removed(tmp_path):
    names = [p.name for p in frame_paths(tmp_path, 1001)]
    assert names[:2] == ["step_0000.svg", "step_0001.svg"] and names[-1] == "step_1000.svg"
    assert sorted(names) == names  # step_1000 after step_0999, not between step_100 and 101
    assert [p.name for p in frame_paths(tmp_path, 3)][-1] == "step_002.svg"
    for old in ("step_1000.svg", "step_0001.svg", "step_12345.svg"):  # from longer passes
        (tmp_path / old).write_text("old frame")
    for mine in ("keep.svg", "step_x.svg", "step_001.png"):
        (tmp_path / mine).write_text("not a frame")
    a = engine.Tensor(3.0, requires_grad=True)
    viz.backward_steps(a * 2.0, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "keep.svg", "step_000.svg", "step_001.png", "step_001.svg", "step_x.svg",
    ]  # fmt: skip
