"""Backpropagation as a flip-book: one picture per node the backward pass visits.

`engine.backprop` runs the backward pass one node at a time and says, at each step, which node
it visited, that node's finished gradient G = dL/d(node), and what it sent to each input. The
frames make two things visible:

- why a *topological* order: a node is visited only once every op that used it has sent its
  share, so its gradient is complete (a waiting node is yellow until then);
- why `+=`: a tensor used twice (`b = a + a`) receives two contributions, and the second is
  added to the first (the arrow says `+=`), never written over it.

Colours: orange = visited now, green = done, yellow = has part of its gradient, white = not
reached yet. Arrows that carry a gradient in this step are red, labelled with what they carry.
`backward_side_by_side` puts all the frames into one picture.
"""

import re
from pathlib import Path

import graphviz

from engine import backprop
from engine.backward import root_gradient
from viz import labels
from viz.graph import FONT, Paint, build, check_options, save_graph
from viz.trace import trace

FRAME = re.compile(r"step_\d+\.svg")  # the name of a frame that backward_steps writes
NOW, DONE, WAITING, UNREACHED, SENT = "#ffb347", "#cfe8c4", "#fff2b3", "#ffffff", "#d9480f"


def backward_frames(root, grad=None, show_rules=False, rankdir="LR"):
    """Run backward from `root`, returning one `graphviz.Digraph` per visited node, in order.

    `grad` is dL/d(root), as `root.backward(grad)` takes it (None: 1, for a one-element root).
    The leaves' `.grad` accumulate exactly as with `root.backward(grad)`; the graph is kept
    (`retain_graph=True`), so backward can still run through it afterwards.
    """
    check_options(None, "auto", rankdir)
    graph = trace(root)
    return [build(graph, None, "auto", show_rules, rankdir, p) for p in _paints(graph, grad)]


def backward_side_by_side(root, grad=None, show_rules=False):
    """Every frame of `backward_frames` in one `graphviz.Digraph`, left to right, each frame
    drawn top to bottom: the whole backward pass in one picture."""
    graph = trace(root)
    dot = graphviz.Digraph(graph_attr={"rankdir": "TB", "fontname": FONT, "nodesep": "0.2"})
    for step, paint in enumerate(_paints(graph, grad)):
        frame = build(graph, None, "auto", show_rules, "TB", paint, prefix=f"s{step}_")
        frame.name = f"cluster_step{step}"  # a cluster: drawn as a box with the title on top
        frame.graph_attr.update(style="rounded", color="#bbbbbb", fontsize="12")
        dot.subgraph(frame)
    return dot


def _paints(graph, grad):
    """Run backward through the traced `graph`; one Paint per visited node, as it found it."""
    root = graph.root
    grad = root_gradient(root, grad)  # checked as backward() checks it
    received = {id(root): grad}  # dL/d(tensor) summed so far
    done, paints = set(), []
    order = list(backprop(root, grad, retain_graph=True))
    for step, (node, g, sent) in enumerate(order):
        paint = Paint()
        if node.grad_fn is not None:
            paint.op_fill[id(node)] = NOW
            for slot, (inp, g_inp) in _slots(node.grad_fn.inputs, sent):
                key = id(inp)
                verb = "+=" if key in received else "="
                received[key] = received[key] + g_inp if key in received else g_inp
                amount = labels.values(g_inp) if g_inp.size <= labels.SMALL else _norm(g_inp)
                paint.edges[(id(node), slot)] = (f"grad {verb} {amount}", SENT)
        paint.grads = dict(received)
        for t in graph.tensors:
            if t.requires_grad:
                seen = id(t) in done
                paint.fill[id(t)] = DONE if seen else WAITING if id(t) in received else UNREACHED
        paint.fill[id(node)] = NOW
        name = graph.names.get(id(node))
        amount = labels.values(g) if g.size <= labels.SMALL else _norm(g)
        shape = labels.shape_word(node.shape)
        what = f"{name}: dL/d{name}" if name else f"a {shape} tensor: its gradient"
        paint.title = f"step {step + 1} of {len(order)}: visit {what} = {amount}"
        paints.append(paint)
        done.add(id(node))
    return paints


def backward_steps(root, out_dir, grad=None, show_rules=False, rankdir="LR"):
    """Write the frames of `backward_frames` as `out_dir/step_000.svg`, ... (`frame_paths`);
    return the paths. The frames of an earlier, longer pass written there are removed, so none
    is left over."""
    out_dir = Path(out_dir)
    frames = backward_frames(root, grad, show_rules, rankdir)
    names = frame_paths(out_dir, len(frames))
    paths = [save_graph(dot, path) for dot, path in zip(frames, names, strict=True)]
    for old in set(out_dir.glob("step_*.svg")) - set(paths):
        if FRAME.fullmatch(old.name):  # an earlier pass's frame, however many digits it has
            old.unlink()
    return paths


def frame_paths(out_dir, count):
    """`out_dir/step_000.svg` ... for `count` frames, numbered with as many digits as the last
    number needs (at least 3), so that the names sort in the order of the steps."""
    width = max(3, len(str(count - 1)))
    return [out_dir / f"step_{i:0{width}d}.svg" for i in range(count)]


def _slots(inputs, sent):
    """Pair each `(input, gradient)` that a node sent with the input's slot in its op.

    `sent` follows the op's inputs in order, skipping those that got no gradient, so a tensor
    used twice (`a + a`) is matched to its two slots in turn.
    """
    k = 0
    for slot, inp in enumerate(inputs):
        if k < len(sent) and sent[k][0] is inp:
            yield slot, sent[k]
            k += 1


def _norm(g):
    return "‖·‖ " + labels.norm(g)
