"""Checking a real graph node by node (`viz.check_graph`): where inside a model is a bug?

`engine.gradcheck` tests an op on inputs a test chose; a mistake may only show on the shapes
and values a real model feeds it. So after a real forward pass (a GPT's loss, say) this takes
every recorded node, runs its op again alone, in float64, on float64 copies of the very inputs
it saw, and compares its backward with finite differences by the dot-product test of HIPS
autograd: for a random upstream gradient u and a random direction d of one input x,

    <d, backward(u)>   ≈   (<u, f(x + eps d)> - <u, f(x - eps d)>) / (2 eps)

One backward and two forwards per input, however large the input: any wrong element of the
gradient moves the left side. The relative error of the two sides is about 1e-9 for a right
backward and about 1 for a wrong one; the picture colours every op by it.

The step is relative: d_i = |x_i| v_i (v standard normal), so x_i moves by about eps |x_i|.
A fixed step is too coarse for 1/x, log or sqrt at x = 1e-5 (x ± 1e-6 is a 10% change) and
too fine at x = 1e5 (float64 holds 1e5 to about 1e-11: a step of 1e-6 keeps 5 digits). A
central difference with step h is off by f'''(x) h² / 6 against f'(x) h: with h = eps |x|
that is (h/x)² = 1e-12 for 1/x, a third of it for log and an eighth for sqrt, at any x, and
rounding costs about 1e-16 / eps = 1e-10; both are far below the green threshold. A relative
step never moves an element across 0; exact zeros (a zero bias) take a step the size of the
tensor's largest element.

A kink (relu or abs at 0, a tie in max, a clamp at its bound) inside the step is where finite
differences do not apply: the two sides' slopes differ, the difference sees their mean, and
any slope between them is a right gradient. The second difference f(x + h) - 2 f(x) + f(x - h),
zero up to h² where f is smooth, measures the bend; an error it explains is reported as a
kink (grey), not as a bug.
"""

from dataclasses import dataclass

import numpy as np

from engine.backward import unbroadcast
from viz import labels
from viz.boxes import Layout
from viz.graph import Paint, build, check_options
from viz.trace import rerun, trace

GOOD, SUSPECT = 1e-6, 1e-3  # relative error below GOOD: green; below SUSPECT: orange; else red
COLOURS = ("#b7e1a1", "#ffc870", "#ff6b6b")
KINK = "#d3d3d3"  # grey: a kink within the step explains the error, not the backward
LEGEND = (
    f"green < {GOOD:g} ≤ orange < {SUSPECT:g} ≤ red; grey: a kink within the step (relu or "
    "abs at 0, a tie in max), where finite differences do not apply"
)


@dataclass
class NodeCheck:
    """The result for one op: its name, its output tensor, the module that ran it (dotted path,
    "" outside any module), the largest relative error over its inputs, and whether a kink
    within the finite-difference step explains that error."""

    op: str
    output: object
    module: str
    error: float
    kink: bool = False


def colour(error, kink=False):
    """Green, orange or red for a relative error (NaN counts as red); grey for a kink."""
    if kink:  # only said of an error of GOOD or more
        return KINK
    if error < GOOD:
        return COLOURS[0]
    return COLOURS[1] if error < SUSPECT else COLOURS[2]


def check_node(output, eps=1e-6, seed=0):
    """`(error, kink)` for the backward of the op that made `output`: the largest relative
    error over its inputs, and whether a kink within the step explains it (only said of an
    error of GOOD or more).

    The op is rebuilt (`viz.trace.rerun`) and run on float64 copies of `ctx.inputs` with
    `ctx.options` (a dropout mask is one of them, so every run drops the same elements).
    `eps` is the step relative to each element's size. Where it gives an error above GOOD / 100,
    steps 100 and 10,000 times larger are tried too, and the smallest error is kept: rounding,
    not the backward, may be to blame where an input moves the output by little of its size
    (a variance of 1e-10 added to 1e-5 in a LayerNorm), and a larger step moves it more. A
    wrong backward is wrong at every step.
    """
    ctx = output.grad_fn
    rng = np.random.default_rng(seed)
    arrays = [x if x is None else x.data for x in ctx.inputs]  # None: an input left out
    arrays = [x.astype(np.float64) if x is not None and x.dtype.kind == "f" else x for x in arrays]
    options = {  # a cast to float16 or float32 is checked as one to float64: all in float64
        k: np.float64 if k == "dtype" and np.dtype(v).kind == "f" else v
        for k, v in ctx.options.items()
    }

    with np.errstate(all="ignore"):  # -inf in masked attention scores is expected
        fn, y = rerun(ctx, arrays, options)
        finite = np.isfinite(y)
        u = rng.standard_normal(y.shape) * finite
        grads = fn.backward(u)
        uy = np.where(finite, y, 0) * u
        scale = np.sum(np.abs(uy))  # sets the finite-difference noise

        def compare(i, g, d, step):  # (error, kink) of <d, g> against differences along d
            plus, minus = list(arrays), list(arrays)
            plus[i], minus[i] = arrays[i] + step * d, arrays[i] - step * d
            up, down = (np.where(finite, rerun(ctx, xs, options)[1], 0) * u for xs in (plus, minus))
            analytic = np.sum(g * d)
            numeric = np.sum(up - down) / (2 * step)
            bend = np.sum(np.abs(up - 2 * uy + down)) / (2 * step)  # the most a kink explains
            gap = abs(analytic - numeric)
            error = gap / max(abs(analytic), abs(numeric), 1e-8 * scale) if gap else 0.0
            error = error if np.isfinite(error) else np.inf
            return error, bool(error >= GOOD and gap <= 2 * bend)

        worst = (0.0, False)
        for i, (x, g) in enumerate(zip(arrays, grads, strict=True)):
            if not ctx.needs_grad[i] or g is None:
                continue
            g = unbroadcast(g, x.shape) if g.shape != x.shape else g
            size = np.abs(np.where(np.isfinite(x), x, 0))
            d = rng.standard_normal(x.shape) * np.where(size > 0, size, size.max(initial=0) or 1)
            results = []
            for step in (eps, 1e2 * eps, 1e4 * eps):  # larger steps while the error is not small
                results.append(compare(i, g, d, step))
                if results[-1][0] < GOOD / 100:
                    break
            error = min(result[0] for result in results)
            # A kink is judged at the smallest step alone: a smooth op's second differences
            # grow with the step (and add up over every element), a kink's do not.
            worst = max(worst, (error, bool(results[0][1] and error >= GOOD)))
    return float(worst[0]), worst[1]


def check_graph(root, depth=None, rankdir="LR"):
    """Check every op of the graph behind `root`; returns `(checks, picture)`.

    `checks` is a list of `NodeCheck`, one per op, in forward order; `picture` is the graph as
    `viz.draw_graph` draws it (with `depth`), each op coloured by its error and labelled with
    it; a collapsed module takes the colour of the worst op inside it.
    """
    check_options(depth, "auto", rankdir)
    graph = trace(root)
    paint, checks, worst_in, layout = Paint(), [], {}, Layout(graph, depth)
    underived = set()  # the ops with no derivative (floor_divide): nothing to check
    for t in graph.tensors:
        if t.grad_fn is not None and not t.grad_fn.differentiable:
            underived.add(labels.op_name(t.grad_fn))
        if t.grad_fn is None or not t.grad_fn.differentiable:
            continue
        error, kink = check_node(t)
        module = graph.module_names.get(id(t.scope[-1]), "") if t.scope else ""
        checks.append(NodeCheck(labels.op_name(t.grad_fn), t, module, error, kink))
        paint.op_fill[id(t)] = colour(error, kink)
        paint.op_text[id(t)] = f"err {error:.1e}" + " (kink)" * kink
        _, box = layout.place(t)
        if box is not None:
            worst = worst_in.get(box.key, ())
            worst_in[box.key] = max(worst, (_rank(error, kink), error, kink))
    paint.module_fill = {key: colour(error, kink) for key, (_, error, kink) in worst_in.items()}
    paint.title = _title(checks, underived)
    return checks, build(graph, depth, "auto", False, rankdir, paint)


def _rank(error, kink):
    """How bad a colour is, for a collapsed module's box: green, grey, orange, red."""
    return (COLOURS[0], KINK, COLOURS[1], COLOURS[2]).index(colour(error, kink))


def _title(checks, underived):
    """The picture's caption: the worst error of an op that is no kink, the ops left unchecked
    for want of a derivative (a backward through them raises), and the legend."""
    names = ", ".join(sorted(underived))
    if not checks:
        if underived:
            return f"nothing to check: its ops ({names}) have no derivative"
        return "nothing to check: the graph has no ops (its root is a leaf tensor)"
    errors = [c.error for c in checks if not c.kink]
    kinks = len(checks) - len(errors)
    besides = f", besides {kinks} kink{'s' * (kinks > 1)}" if kinks else ""
    besides += f"; unchecked, with no derivative: {names}" if underived else ""
    worst = max(errors, default=0.0)
    return f"backward vs finite differences: worst relative error {worst:.1e}{besides}\n{LEGEND}"
