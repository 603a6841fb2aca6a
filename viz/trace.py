"""Reading a recorded computation graph as data: its tensors, its ops and its modules.

Every op on tensors that need a gradient leaves a node behind: the output tensor `t` keeps
`t.grad_fn`, the `Function` that made it, whose `.inputs` are the tensors it read. Following
those links back from the root finds the whole graph. Modules add two facts:

- each op's output remembers the module forwards that were running when it was made
  (`t.scope`, outermost first), e.g. `(GPT, Block h.0, CausalSelfAttention h.0.attn)`;
- each parameter has a dotted name in its model (`model.named_parameters()`).

From these, every tensor gets a *path*: the tuple of modules it lives in. A parameter lives in
the module that owns it, a number written in the code (`x * 0.5`) beside the op that reads it,
any other input (the data) outside every module.
The pictures (`viz/graph.py`) only draw what this file finds.
"""

from dataclasses import dataclass, field

from engine import Tensor


@dataclass
class Graph:
    """A traced graph. Tensors and modules are keyed by `id()`: the graph holds them alive.

    `tensors`: every tensor, each after the tensors it was computed from (root last).
    `users`: id(tensor) -> the tensors whose op read it. `names`: id(tensor) -> parameter name
    or user label. `module_names`: id(module) -> dotted name ("" for an outermost model).
    `paths`: id(tensor) -> the tuple of modules the tensor lives in.
    """

    root: object
    tensors: list
    users: dict
    names: dict = field(default_factory=dict)
    module_names: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)

    def module_name(self, module, parent=None):
        """`module`'s dotted name, relative to `parent` when given; a class name for a model."""
        name = self.module_names.get(id(module), "")
        if parent is not None:
            outer = self.module_names.get(id(parent), "")
            if outer and name.startswith(outer + "."):
                name = name[len(outer) + 1 :]
        return name or type(module).__name__


def rerun(ctx, arrays=None):
    """A fresh copy of the op node `ctx` with its forward run again, on `arrays` (by default
    its inputs' data) with its options: `(copy, output array)`.

    The recorded node has freed its saved arrays once backward ran through it; the copy holds
    them again, so its backward can be called (to check it, or to see its gradients' shapes)
    without touching the graph.
    """
    fn = type(ctx)()
    fn.needs_grad = list(ctx.needs_grad)
    if arrays is None:
        arrays = [x if x is None else x.data for x in ctx.inputs]  # None: an input left out
    return fn, fn.forward(*arrays, **ctx.options)


def forward_order(root):
    """Every tensor that leads to `root`, each after its inputs (iterative depth-first search)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in seen:
            continue
        seen.add(id(tensor))
        stack.append((tensor, True))
        if tensor.grad_fn is not None:
            inputs = [inp for inp in tensor.grad_fn.inputs if inp is not None]  # None: left out
            stack.extend((inp, False) for inp in reversed(inputs))
    return order


def trace(root):
    """Walk the graph that produced `root` (an `engine.Tensor`) and name and place every tensor
    in it. TypeError for anything else: every picture of a graph starts here."""
    if not isinstance(root, Tensor):
        raise TypeError(f"root must be an engine.Tensor, got {type(root).__name__}")
    tensors = forward_order(root)
    users = {id(t): [] for t in tensors}
    for t in tensors:
        if t.grad_fn is not None:  # each input once, though an op may read it twice (a + a)
            inputs = {id(inp): inp for inp in t.grad_fn.inputs if inp is not None}
            for inp in inputs.values():
                users[id(inp)].append(t)
    graph = Graph(root, tensors, users)

    # Modules: the outermost module of each scope is a model. The models that are no part of
    # another name every module and parameter, so a name does not hang on which op the walk
    # meets first: in `net.fc1(x).sum() + net(x).sum()`, fc1 is `fc1` whichever comes first.
    module_paths = {}  # id(module) -> the longest scope path ending at that module
    models = {}  # id(model) -> model, for each outermost module of a scope
    for t in tensors:
        for i, module in enumerate(t.scope):
            if i + 1 > len(module_paths.get(id(module), ())):
                module_paths[id(module)] = t.scope[: i + 1]
        if t.scope:
            models.setdefault(id(t.scope[0]), t.scope[0])
    inside = {id(m) for model in models.values() for name, m in model.named_modules() if name}
    by_name = {}  # dotted name -> module, from the outermost models
    param_names = {}  # id(parameter) -> its dotted name
    for model in models.values():
        if id(model) in inside:  # named by the model it is part of
            continue
        for name, module in model.named_modules():
            graph.module_names.setdefault(id(module), name)
            by_name.setdefault(name, module)
        for name, p in model.named_parameters():
            param_names.setdefault(id(p), name)

    for t in tensors:
        name = param_names.get(id(t), t.name)
        if name is not None:  # a label as text, whatever was given (`name=5`)
            graph.names[id(t)] = str(name)
        if t.grad_fn is not None:
            graph.paths[id(t)] = t.scope
        elif id(t) in param_names:
            graph.paths[id(t)] = _owner_path(param_names[id(t)], by_name, module_paths)
    for t in tensors:  # a number written in the code (`x * 0.5`): beside the op that reads it
        if id(t) not in graph.paths:
            number = t.size == 1 and not t.requires_grad and id(t) not in graph.names
            graph.paths[id(t)] = users[id(t)][0].scope if number and users[id(t)] else ()
    return graph


def _owner_path(param_name, by_name, module_paths):
    """The scope path of the innermost called module owning `a.b.weight` (a.b, then a, then "")."""
    parts = param_name.split(".")[:-1]
    while True:
        module = by_name.get(".".join(parts))
        if module is not None and id(module) in module_paths:
            return module_paths[id(module)]
        if not parts:
            return ()
        parts.pop()
