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

Each call of a module also leaves a mark: entering a forward makes a fresh scope tuple, which
every op made directly in that call shares (the same object, not only equal), so two calls of
one layer are told apart by `id(t.scope)`, the tensor's *call* (viz/boxes.py uses it). A call
nested inside another keeps no link to the outer call's tuple: which outer call it ran in is
not recorded.

A leaf holds no trace of where it was made: the data given to a model and a mask made inside
its attention look the same. `inputs`, the tensors and arrays the caller fed in, tells them
apart: each is drawn outside every module under its given name (an array where an op kept it
among its options, as an embedding keeps its token ids), and every other constant is taken to
be made inside the model, so it lives in the innermost call that reads it.
The pictures (`viz/graph.py`) only draw what this file finds.
"""

from dataclasses import dataclass, field

import numpy as np

from engine import Tensor
from engine.backward import post_order


@dataclass
class Graph:
    """A traced graph. Tensors and modules are keyed by `id()`: the graph holds them alive.

    `tensors`: every tensor, each after the tensors it was computed from (root last).
    `users`: id(tensor) -> the tensors whose op read it. `names`: id(tensor) -> parameter name
    or user label. `module_names`: id(module) -> dotted name ("" for an outermost model).
    `paths`: id(tensor) -> the tuple of modules the tensor lives in. `calls`: id(tensor) -> the
    call of its path's last module it belongs to (absent: none in particular, as a parameter).
    `arrays`: (name, array, readers) for each array in `inputs` that ops kept as an option.
    """

    root: object
    tensors: list
    users: dict
    names: dict = field(default_factory=dict)
    module_names: dict = field(default_factory=dict)
    paths: dict = field(default_factory=dict)
    calls: dict = field(default_factory=dict)
    arrays: list = field(default_factory=list)

    def module_name(self, module, parent=None):
        """`module`'s dotted name, relative to `parent` when given; a class name for a model."""
        name = self.module_names.get(id(module), "")
        if parent is not None:
            outer = self.module_names.get(id(parent), "")
            if outer and name.startswith(outer + "."):
                name = name[len(outer) + 1 :]
        return name or type(module).__name__


def rerun(ctx, arrays=None, options=None):
    """A fresh copy of the op node `ctx` with its forward run again, on `arrays` (by default
    its inputs' data) with `options` (by default its own): `(copy, output array)`.

    The recorded node has freed its saved arrays once backward ran through it; the copy holds
    them again, so its backward can be called (to check it, or to see its gradients' shapes)
    without touching the graph.
    """
    fn = type(ctx)()
    fn.needs_grad = list(ctx.needs_grad)
    if arrays is None:
        arrays = [x if x is None else x.data for x in ctx.inputs]  # None: an input left out
    return fn, fn.forward(*arrays, **(ctx.options if options is None else options))


def forward_order(root):
    """Every tensor that leads to `root`, each after its inputs, all of them (a constant too),
    in the order the op listed them."""

    def inputs_of(tensor):
        if tensor.grad_fn is None:
            return []
        return reversed([inp for inp in tensor.grad_fn.inputs if inp is not None])  # None: left out

    return post_order(root, inputs_of)


def trace(root, inputs=None):
    """Walk the graph that produced `root` (an `engine.Tensor`) and name and place every tensor
    in it. TypeError for anything else: every picture of a graph starts here. `inputs`: None,
    or a dict of name -> Tensor or array that the graph was computed from (see above)."""
    if not isinstance(root, Tensor):
        raise TypeError(f"root must be an engine.Tensor, got {type(root).__name__}")
    tensors = forward_order(root)
    users = {id(t): [] for t in tensors}
    for t in tensors:
        if t.grad_fn is not None:  # each input once, though an op may read it twice (a + a)
            inputs_read = {id(inp): inp for inp in t.grad_fn.inputs if inp is not None}
            for inp in inputs_read.values():
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

    given = _given(graph, inputs)
    for t in tensors:
        name = param_names.get(id(t), t.name)
        if name is not None and id(t) not in given:  # a label as text, whatever was given
            graph.names[id(t)] = str(name)
        if t.grad_fn is not None:
            graph.paths[id(t)] = t.scope
            if t.scope:
                graph.calls[id(t)] = id(t.scope)
        elif id(t) in param_names:
            graph.paths[id(t)] = _owner_path(param_names[id(t)], by_name, module_paths)
    for t in tensors:  # the leaves left: numbers written in the code, constants, data
        if id(t) in graph.paths:
            continue
        readers = users[id(t)]
        number = t.size == 1 and not t.requires_grad and id(t) not in graph.names
        made_inside = inputs is not None and not t.requires_grad and id(t) not in given
        if readers and (number or made_inside):  # a number: beside the op that reads it
            graph.paths[id(t)], call = _shared_call(readers[:1] if number else readers)
            if call is not None:
                graph.calls[id(t)] = call
        else:
            graph.paths[id(t)] = ()
    return graph


def _given(graph, inputs):
    """Name the `inputs` found in the graph; returns the ids of the tensors among them. An
    array (or a tensor that no op read as a tensor) is found where an op kept the very same
    array among its options, so a copy made from it (targets with some rows set to 0) is not."""
    if inputs is None:
        return set()
    if not isinstance(inputs, dict):
        raise TypeError(f"inputs must be a dict of name -> Tensor or array, got {inputs!r}")
    given = set()
    for name, value in inputs.items():
        if not isinstance(value, Tensor | np.ndarray):
            raise TypeError(f"inputs[{name!r}] must be a Tensor or an array, got {value!r}")
        if isinstance(value, Tensor) and id(value) in graph.users:
            graph.names[id(value)] = str(name)
            graph.paths[id(value)] = ()
            given.add(id(value))
            continue
        array = value.data if isinstance(value, Tensor) else value
        readers = [t for t in graph.tensors if t.grad_fn and _keeps(t.grad_fn.options, array)]
        if readers:
            graph.arrays.append((str(name), array, readers))
    return given


def _keeps(options, array):
    """Whether an op's options hold `array` itself (or a view of the very same elements)."""
    for value in options.values():
        for item in value if isinstance(value, tuple) else (value,):  # an index: a tuple
            if isinstance(item, np.ndarray) and _same(item, array):
                return True
    return False


def _same(a, b):
    """The same elements: the same memory, shape, strides and dtype (slices of one array that
    merely overlap, as ids[:, :-1] and ids[:, 1:] do, are not)."""
    where = a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
    return where and (a.shape, a.strides, a.dtype) == (b.shape, b.strides, b.dtype)


def _shared_call(readers):
    """(path, call) of the innermost module call that made every reader: the readers' call
    when they share one (call None otherwise), else their longest common path, less its
    last module when different calls of it read the leaf (it was made outside them)."""
    scopes = [r.scope for r in readers]
    first = scopes[0]
    if all(s is first for s in scopes):
        return first, (id(first) if first else None)
    n = 0
    while all(len(s) > n and s[n] is first[n] for s in scopes):
        n += 1
    if len({id(s) for s in scopes if len(s) == n}) > 1:
        n -= 1
    return first[:n], None


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
