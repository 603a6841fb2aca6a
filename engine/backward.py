"""The backward pass: the chain rule applied over the graph, one node at a time.

`Tensor.backward()` (engine/tensor.py) starts here. The nodes that lead to the output are put
in topological order, so that each node's gradient is complete (the sum over every op that
used it) before its own op's backward sends it on to the op's inputs:

    dL/d(input) = sum over the ops that used the input of  (local backward of op)(dL/d(output))

Two rules keep the whole engine small:
- Broadcasting is undone in one place (`unbroadcast`): an op's backward returns gradients of
  the broadcast shape, and they are summed down to each input's own shape here.
- Gradients from several uses of a tensor are added (`b = a + a` gives `a` two contributions).
"""

import numpy as np

from engine import modes


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the backward of NumPy broadcasting.

    A broadcast input was (virtually) copied along new leading axes and along its size-1 axes,
    so its gradient is the sum of the copies' gradients over exactly those axes.
    """
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def post_order(root, inputs_of):
    """Every node that leads to `root`, each after all of its inputs (`inputs_of(node)`, in the
    order they are to be visited). Iterative depth-first search, so a chain of 100,000 ops
    needs no recursion. The graph pictures walk it too (viz/trace.py)."""
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for inp in inputs_of(node):
            stack.append((inp, False))
    return order


def topological_order(root):
    """The nodes that lead to `root` and want a gradient, each after every node that uses it
    (root first): the order in which every node's gradient is complete when it is visited."""

    def inputs_of(node):
        ctx = node._ctx
        return [] if ctx is None else [i for i in ctx.inputs if i is not None and i.requires_grad]

    return reversed(post_order(root, inputs_of))


def root_gradient(root, grad=None):
    """dL/d(root), where the backward pass starts: `grad` (an array or Tensor of root's shape;
    `backward(gradient=...)`), or 1 when root has one element (dL/dL = 1). Refuses a root that
    does not require grad."""
    if not root.requires_grad:
        raise RuntimeError("backward() on a tensor that does not require grad")
    if grad is None:
        if root.size != 1:
            raise RuntimeError(
                f"backward() without a gradient needs a one-element tensor, got shape "
                f"{root.shape}; pass gradient= of that shape"
            )
        return np.ones_like(root.data)
    grad = np.asarray(grad.data if isinstance(grad, tensor.Tensor) else grad, dtype=root.dtype)
    if grad.shape != root.shape:
        raise ValueError(
            f"backward() gradient has shape {grad.shape}, tensor has shape {root.shape}"
        )
    return grad


def backprop(root, grad, retain_graph=False):
    """The backward pass, one node at a time: yields `(node, g, sent)` in the order visited.

    `g` is dL/d(node); `sent` lists `(input, gradient)` for what the node passed to each of
    its inputs. `Tensor.backward` simply runs this to the end; the viz package watches it.
    """
    grads = {id(root): grad}  # dL/d(node) for the nodes reached so far, freed once used
    # The ids of the arrays sent to a node so far, and of those sent twice (an op that passed
    # its g on, or gave one array to two inputs) or held by the caller: a leaf copies those.
    sent_once, shared = {id(grad)}, {id(grad)}
    for node in topological_order(root):
        g = grads.pop(id(node), None)
        if g is None:
            continue  # no gradient reached this node (an op sent None to it)
        ctx = node._ctx
        if ctx is not None and ctx.freed:
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed; pass "
                "retain_graph=True to the first backward() to go through it twice"
            )
        if ctx is None or node._retains_grad:
            # Gradients accumulate across backward calls (as in PyTorch), never aliased. A leaf
            # keeps a first gradient that an op made for it alone (as PyTorch "steals" one that
            # nothing else references): copying a 512-wide GPT's would cost 1% of its step.
            if node.grad is None:
                own = ctx is None and id(g) not in shared and g.base is None
                own = own and g.dtype == node.dtype and g.flags.writeable
                # np.array, not astype: a 0-d gradient may be a NumPy scalar, and .grad is
                # always an array that later gradients are added into.
                node.grad = g if own else np.array(g, dtype=node.dtype)
            else:  # in place, as in PyTorch: a reference held to .grad sees the sum
                node.grad += g.astype(node.dtype, copy=False)
        sent = []
        if ctx is not None:
            if ctx.stamp != modes.in_place_changes:  # something changed in place since forward
                ctx.check_unchanged(node)
            input_grads = ctx.backward(g)
            if modes.anomaly:
                shapes = [t.shape for t in ctx.inputs if t is not None]
                modes.check_finite(ctx, "backward", [g], input_grads, shapes)
            for inp, g_inp in zip(ctx.inputs, input_grads, strict=True):
                if g_inp is None or inp is None or not inp.requires_grad:
                    continue
                if g_inp.shape != inp.shape:
                    g_inp = unbroadcast(g_inp, inp.shape)
                if g_inp.dtype != inp.dtype:  # an op that promoted its inputs (promotion.py)
                    g_inp = g_inp.astype(inp.dtype)
                key = id(inp)
                grads[key] = grads[key] + g_inp if key in grads else g_inp  # a reused input
                routed = id(grads[key])
                if routed in sent_once:
                    shared.add(routed)
                sent_once.add(routed)
                sent.append((inp, g_inp))
            if not retain_graph:
                ctx.free_saved()
        yield node, g, sent


# root_gradient takes a Tensor as `grad`, and engine/tensor.py imports this file: the module is
# taken, not the class, as engine/function.py does.
from engine import tensor  # noqa: E402
