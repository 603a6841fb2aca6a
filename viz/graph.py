"""Pictures of computation graphs, from `a * b + c` to a whole GPT (`viz.draw_graph`).

Boxes are tensors (name, shape, dtype; values and gradients when small), ellipses are ops,
arrows go forward, from an op's inputs to the op and on to its output. Every module whose
forward ran is a labelled cluster around the ops it made. A GPT has hundreds of ops, so
`depth=k` draws each module nested deeper than k as one box instead (its name, class,
parameter count and the shapes going in and out): the model itself is depth 1, so a GPT at
`depth=1` shows the embeddings, the blocks and the head, and at `depth=2` the attention and MLP
inside each block. A module called twice is a box per call (viz/boxes.py), and `inputs` tells
the data fed in from the constants made inside (viz/trace.py): only then can a picture show the
token ids going into a GPT and its causal masks inside attention, where they are made.

`show_rules=True` writes on each arrow the backward rule that carries the gradient back along
it (`dA = G @ Bᵀ`, G being the gradient of the op's output) and, where the input was broadcast,
the sum that undoes the broadcast: where learners get stuck.
"""

import itertools
import numbers
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import graphviz

from engine.files import write_atomic
from viz import labels
from viz.boxes import Layout
from viz.trace import trace

FONT = "Helvetica"
TENSOR_FILL = {"param": "#fde3c8", "constant": "#eeeeee", "value": "#dceaf7", "root": "#c8e6c0"}
OP_FILL = "#fff3c4"
MODULE_FILL = "#e6dcf2"
CLUSTER_FILLS = ("#f5f7fb", "#eaeff7", "#dfe6f2", "#d4ddec")
NO_GRAD = {"style": "dashed", "color": "#aaaaaa"}  # an arrow no gradient flows back along
FORMATS = ("svg", "png", "pdf", "dot", "gv")  # dot, gv: the DOT text, `dot -Tsvg g.dot` draws


class DotNotFound(FileNotFoundError):
    """Graphviz's `dot` program, which turns a graph into a picture, is not installed."""

    def __init__(self):
        super().__init__(
            "drawing a graph needs Graphviz's dot program, which is not installed: "
            "`apt-get install graphviz` installs it (`make train` and `make test` do)"
        )


@dataclass
class Paint:
    """What `backward_steps` and `check_graph` add to a plain picture.

    `grads`: id(tensor) -> gradient to show instead of `.grad` (None: show `.grad`).
    `fill`: id(tensor) -> fill colour of the tensor. `op_fill`: id(output) -> fill of its op.
    `op_text`: id(output) -> a line added under the op's name.
    `module_fill`: a collapsed module's `Box.key` -> fill of its box.
    `edges`: (id(output), input slot) -> (label, colour) of an arrow that carries a gradient
    (drawn pointing back, the way the gradient goes). `title`: a caption.
    """

    grads: dict | None = None
    fill: dict = field(default_factory=dict)
    op_fill: dict = field(default_factory=dict)
    op_text: dict = field(default_factory=dict)
    module_fill: dict = field(default_factory=dict)
    edges: dict = field(default_factory=dict)
    title: str = ""


def draw_graph(root, depth=None, show_data="auto", show_rules=False, rankdir="LR", inputs=None):
    """Draw the graph that computed the tensor `root`; returns a `graphviz.Digraph`.

    `depth`: None draws every op; k draws modules nested deeper than k as single boxes.
    `show_data`: "auto" shows the values of tensors of at most `labels.SMALL` elements, True
    of every tensor (long ones abbreviated), False of none. `rankdir`: "LR" (left to right)
    or "TB" (top to bottom). Save the picture with `viz.save_graph(dot, "graph.svg")`. It
    works before and after `root.backward()` (which frees only what the ops saved), and in
    Jupyter the Digraph shows itself. `inputs`: the tensors and arrays the graph was computed
    from, by name (`{"idx": idx}`): drawn as inputs, and every other constant inside the module
    call that reads it; without it, every constant is drawn as an input.
    """
    check_options(depth, show_data, rankdir)
    return build(trace(root, inputs), depth, show_data, show_rules, rankdir)


def check_options(depth, show_data, rankdir):
    if depth is not None and (
        not isinstance(depth, numbers.Integral) or isinstance(depth, bool) or depth < 0
    ):
        raise ValueError(f"depth must be None or an int >= 0, got {depth!r}")
    if show_data not in ("auto", True, False):
        raise ValueError(f"show_data must be 'auto', True or False, got {show_data!r}")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")


def save_graph(dot, path):
    """Render `dot` to `path` with Graphviz, atomically; the extension picks the format (svg,
    png, pdf), and `.dot` or `.gv` writes the DOT source itself, as Graphviz users expect.
    Raises DotNotFound when Graphviz's `dot` program is missing."""
    if not isinstance(dot, graphviz.Graph | graphviz.Digraph | graphviz.Source):
        hint = " (check_graph returns (checks, picture): save the picture)" * isinstance(dot, tuple)
        raise TypeError(f"dot must be a graphviz.Digraph, got {type(dot).__name__}{hint}")
    if os.fspath(path).endswith(("/", os.sep)):  # Path() would drop it, and write a file
        raise IsADirectoryError(f"graph file {os.fspath(path)!r} ends in '/': give a file name")
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"graph file must end in one of {FORMATS}, got {str(path)!r}")
    try:
        picture = dot.source.encode(dot.encoding) if fmt in ("dot", "gv") else dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        raise DotNotFound() from None
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, picture)


def build(graph, depth, show_data, show_rules, rankdir, paint=None, prefix=""):
    """The Digraph of a traced graph: nodes placed in module clusters, then the arrows.

    `prefix` starts every node's name, so several pictures can share one Digraph."""
    paint, layout = paint or Paint(), Layout(graph, depth)
    nodes = defaultdict(list)  # cluster path -> [(node name, attributes)]
    item = {}  # id(tensor) -> its node: the tensor's own, or its collapsed module's
    op_item = {}  # id(tensor) -> the node of the op that made it
    boxes = {}  # Box.key -> {"name", "box", "spot", "in", "out", "own"}
    edges = []
    for t in graph.tensors:
        cluster, box = layout.place(t)
        if box is not None:
            if box.key not in boxes:
                spot = (cluster, len(nodes[cluster]))  # where its node goes, once labelled
                boxes[box.key] = {"name": f"{prefix}m{len(boxes)}", "box": box, "spot": spot}
                # a layer called twice: its parameters, drawn beside, are no "in" of a call
                own = {id(p) for p in box.path[-1].parameters()} if box.call else set()
                boxes[box.key].update({"in": {}, "out": {}, "own": own})
                nodes[cluster].append(None)
            item[id(t)] = op_item[id(t)] = boxes[box.key]["name"]
            continue
        name = item[id(t)] = f"{prefix}t{len(item)}"
        nodes[cluster].append((name, tensor_node(graph, t, show_data, paint)))
        if t.grad_fn is not None:
            op = op_item[id(t)] = f"{prefix}op{len(op_item)}"
            op_name, options = labels.op_parts(t.grad_fn)
            lines = [x for x in (options, paint.op_text.get(id(t))) if x]
            attrs = {"label": labels.table(None, lines, first=op_name), "margin": "0.02"}
            nodes[cluster].append((op, attrs | {"fillcolor": paint.op_fill.get(id(t), OP_FILL)}))
            edges.append((op, name, {}))

    box_of = {box["name"]: box for box in boxes.values()}
    merged = {}  # (src, dst) -> (names of the tensors crossing into or out of a box, any grad?)
    for t in graph.tensors:
        if t.grad_fn is None:
            continue
        dst = op_item[id(t)]
        notes = None
        for slot, inp in enumerate(t.grad_fn.inputs):
            if inp is None:  # an optional input left out (a bias-free layer)
                continue
            src = item[id(inp)]
            if src == dst:
                continue
            if src in box_of or dst in box_of:
                shape = labels.shape_text(inp.shape)
                names, grad = merged.get((src, dst), ({}, False))
                if id(inp) in graph.names:  # a named tensor (a tied weight) crossing modules
                    names[graph.names[id(inp)]] = None
                merged[(src, dst)] = names, grad or inp.requires_grad
                if dst in box_of and id(inp) not in box_of[dst]["own"]:
                    box_of[dst]["in"][id(inp)] = shape
                if src in box_of:
                    box_of[src]["out"][id(inp)] = shape
                continue
            if show_rules and notes is None:
                notes = labels.broadcast_notes(t.grad_fn, t)
            edges.append((src, dst, input_edge(t, slot, inp, show_rules, notes, paint)))
    for i, (name, array, readers) in enumerate(graph.arrays):  # inputs kept as op options
        node = f"{prefix}a{i}"
        nodes[()].append((node, array_node(name, array, show_data)))
        for dst in dict.fromkeys(op_item[id(t)] for t in readers):
            if dst in box_of:
                box_of[dst]["in"][id(array)] = labels.shape_text(array.shape)
            edges.append((node, dst, dict(NO_GRAD)))
    if item[id(graph.root)] in box_of:
        box_of[item[id(graph.root)]]["out"][id(graph.root)] = labels.shape_text(graph.root.shape)
    for (src, dst), (names, grad) in merged.items():
        attrs = {"label": " " + labels.plain(", ".join(names))} if names else {}
        edges.append((src, dst, attrs if grad else attrs | NO_GRAD))  # as for a single tensor

    title = labels.plain(paint.title)
    dot = graphviz.Digraph(
        graph_attr={"rankdir": rankdir, "fontname": FONT, "label": title, "labelloc": "t"},
        node_attr={"fontname": FONT, "fontsize": "11", "style": "filled", "penwidth": "0.8"},
        edge_attr={"fontname": FONT, "fontsize": "9", "arrowsize": "0.6", "color": "#555555"},
    )
    for key, box in boxes.items():
        cluster, i = box["spot"]
        nodes[cluster][i] = (box["name"], module_node(graph, box, paint.module_fill.get(key)))
    emit(dot, graph, nodes, (), itertools.count(), prefix)
    for src, dst, attrs in edges:
        dot.edge(src, dst, **attrs)
    return dot


def tensor_node(graph, t, show_data, paint):
    """A tensor's box: name, shape and dtype, then data and gradient."""
    lines, small = data_lines(t.data, show_data)
    grad = t.grad if paint.grads is None else paint.grads.get(id(t))
    if grad is not None:
        lines.append("grad " + labels.values(grad) if small else "‖grad‖ " + labels.norm(grad))
    elif paint.grads is not None and t.requires_grad:
        lines.append("grad —")  # not reached yet; the line keeps the layout steady
    if t is graph.root:
        kind = "root"
    elif t.grad_fn is not None:
        kind = "value"
    else:
        kind = "param" if t.requires_grad else "constant"
    fill = paint.fill.get(id(t), TENSOR_FILL[kind])
    label = labels.table(graph.names.get(id(t)), lines)
    return {"label": label, "shape": "box", "style": "rounded,filled", "fillcolor": fill}


def data_lines(array, show_data):
    """(lines, small): "(2, 3) float32", or "scalar int64", then the data where it is shown."""
    lines = [f"{labels.shape_word(array.shape)} {array.dtype}"]
    small = show_data is True or (show_data == "auto" and array.size <= labels.SMALL)
    if small:
        lines.append("data " + labels.values(array))
    return lines, small


def array_node(name, array, show_data):
    """An input array that ops kept as an option (the token ids an embedding looks up)."""
    label = labels.table(name, data_lines(array, show_data)[0])
    fill = TENSOR_FILL["constant"]
    return {"label": label, "shape": "box", "style": "rounded,filled", "fillcolor": fill}


def input_edge(t, slot, inp, show_rules, notes, paint):
    """The arrow from input `slot` of t's op: dashed where no gradient flows back."""
    attrs = {} if inp.requires_grad else dict(NO_GRAD)
    if show_rules and inp.requires_grad:
        text = labels.rule(t.grad_fn, slot)
        attrs["label"] = " " + (f"{text}\n{notes[slot]}" if notes[slot] else text)
        attrs["fontcolor"] = "#9c3d00"
    if (id(t), slot) in paint.edges:
        text, colour = paint.edges[(id(t), slot)]
        attrs.update(label=" " + text, color=colour, fontcolor=colour, penwidth="2", dir="back")
    return attrs


def module_node(graph, box, fill=None):
    """A collapsed module's box: name, class (unless the name is the class: a model), which
    call it is when it has several, parameter count, shapes in and out."""
    call = box["box"]
    module, parent = call.path[-1], call.path[-2] if len(call.path) > 1 else None
    name, cls = graph.module_name(module, parent), type(module).__name__
    lines = [cls] if name != cls else []
    if call.call:
        name += f" #{call.call}"
        lines.append(f"call {call.call} of {call.calls}")
    lines.append(f"{sum(p.size for p in module.parameters()):,} params")
    if box["in"]:
        lines.append("in " + ", ".join(dict.fromkeys(box["in"].values())))
    if box["out"]:
        lines.append("out " + ", ".join(dict.fromkeys(box["out"].values())))
    label = labels.table(name, lines)
    attrs = {"label": label, "shape": "box", "style": "filled,bold"}
    return attrs | {"fillcolor": fill or MODULE_FILL}


def emit(container, graph, nodes, path, counter, prefix=""):
    """Add the nodes of cluster `path` to `container`, then each sub-cluster, recursively."""
    for name, attrs in nodes.get(path, ()):
        container.node(name, **attrs)
    children = dict.fromkeys(p[: len(path) + 1] for p in nodes if len(p) > len(path))
    for child in children:
        if child[: len(path)] != path:
            continue
        module = child[-1]
        name = graph.module_name(module, child[-2] if len(child) > 1 else None)
        cls = type(module).__name__
        title = labels.plain(name if name == cls else f"{name} ({cls})")
        fill = CLUSTER_FILLS[(len(child) - 1) % len(CLUSTER_FILLS)]
        with container.subgraph(name=f"cluster_{prefix}{next(counter)}") as sub:
            sub.attr(label=title, style="rounded,filled", fillcolor=fill, color="#8a9bb5")
            sub.attr(labeljust="l", fontname=FONT, fontsize="11")
            emit(sub, graph, nodes, child, counter, prefix)
