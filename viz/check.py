"""Checking a real graph node by node (`viz.check_graph`): where inside a model is a bug?

`engine.gradcheck` tests an op on inputs a test chose; a mistake may only show on the shapes
and values a real model feeds it. So after a real forward pass (a GPT's loss, say) this takes
every recorded node, runs its op again alone, in float64, on float64 copies of the very inputs
it saw, and compares its backward with finite differences by the dot-product test of HIPS
autograd: for a random upstream gradient u and a random direction v of one input x,

    <v, backward(u)>   ≈   (<u, f(x + eps v)> - <u, f(x - eps v)>) / (2 eps)

One backward and two forwards per input, however large the input: any wrong element of the
gradient moves the left side. The relative error of the two sides is about 1e-9 for a right
backward and about 1 for a wrong one; the picture colours every op by it.
"""

from dataclasses import dataclass

import numpy as np

from engine.tensor import unbroadcast
from viz import labels
from viz.graph import Paint, build, check_options, place
from viz.trace import rerun, trace

GOOD, SUSPECT = 1e-6, 1e-3  # relative error below GOOD: green; below SUSPECT: orange; else red
COLOURS = ("#b7e1a1", "#ffc870", "#ff6b6b")


@dataclass
class NodeCheck:
    """The result for one op: its name, its output tensor, the module that ran it (dotted path,
    "" outside any module) and the largest relative error over its inputs."""

    op: str
    output: object
    module: str
    error: float


def colour(error):
    """Green, orange or red for a relative error (NaN counts as red)."""
    if error < GOOD:
        return COLOURS[0]
    return COLOURS[1] if error < SUSPECT else COLOURS[2]


def check_node(output, eps=1e-6, seed=0):
    """The largest relative error of the backward of the op that made `output`, over its inputs.

    The op is rebuilt (`viz.trace.rerun`) and run on float64 copies of `ctx.inputs` with
    `ctx.options` (a dropout mask is one of them, so every run drops the same elements).
    """
    ctx = output.grad_fn
    rng = np.random.default_rng(seed)
    arrays = [x if x is None else x.data for x in ctx.inputs]  # None: an input left out
    arrays = [x.astype(np.float64) if x is not None and x.dtype.kind == "f" else x for x in arrays]

    with np.errstate(all="ignore"):  # -inf in masked attention scores is expected
        fn, y = rerun(ctx, arrays)
        finite = np.isfinite(y)
        u = rng.standard_normal(y.shape) * finite
        grads = fn.backward(u)
        scale = np.sum(np.abs(np.where(finite, y, 0) * u))  # sets the finite-difference noise

        def dot(xs):
            return np.sum(np.where(finite, rerun(ctx, xs)[1], 0) * u)

        worst = 0.0
        for i, (x, g) in enumerate(zip(arrays, grads, strict=True)):
            if not ctx.needs_grad[i] or g is None:
                continue
            g = unbroadcast(g, x.shape) if g.shape != x.shape else g
            v = rng.standard_normal(x.shape) * np.isfinite(x)
            plus, minus = list(arrays), list(arrays)
            plus[i], minus[i] = x + eps * v, x - eps * v
            analytic = np.sum(g * v)
            numeric = (dot(plus) - dot(minus)) / (2 * eps)
            error = abs(analytic - numeric) / max(abs(analytic), abs(numeric), 1e-8 * scale)
            worst = max(worst, error) if np.isfinite(error) else np.inf
    return float(worst)


def check_graph(root, depth=None, rankdir="LR"):
    """Check every op of the graph behind `root`; returns `(checks, picture)`.

    `checks` is a list of `NodeCheck`, one per op, in forward order; `picture` is the graph as
    `viz.draw_graph` draws it (with `depth`), each op coloured by its error and labelled with
    it; a collapsed module takes the colour of the worst op inside it.
    """
    check_options(depth, "auto", rankdir)
    graph = trace(root)
    paint, checks, worst_in = Paint(), [], {}
    for t in graph.tensors:
        if t.grad_fn is None:
            continue
        error = check_node(t)
        module = graph.module_names.get(id(t.scope[-1]), "") if t.scope else ""
        checks.append(NodeCheck(labels.op_name(t.grad_fn), t, module, error))
        paint.op_fill[id(t)] = colour(error)
        paint.op_text[id(t)] = f"err {error:.1e}"
        _, box = place(graph, t, depth)
        if box is not None:
            key = tuple(map(id, box))
            worst_in[key] = max(worst_in.get(key, 0.0), error)
    paint.module_fill = {key: colour(error) for key, error in worst_in.items()}
    worst = max((c.error for c in checks), default=0.0)
    paint.title = (
        f"backward of each op vs finite differences: worst relative error {worst:.1e} "
        f"(green < {GOOD:g} ≤ orange < {SUSPECT:g} ≤ red)"
    )
    return checks, build(graph, depth, "auto", False, rankdir, paint)
