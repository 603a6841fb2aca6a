"""Which modules a picture at `depth=k` folds into boxes, and which call of a module each box is.

At `depth=k` every module nested deeper than k is drawn as one box, its ops hidden. A module
called twice (`self.lin(self.lin(x).relu())`) must not become one box, though: the arrows out
of it would run through the relu and back into it, a cycle no forward pass has, and nothing
would say which output fed what. So each call gets its own box ("lin #1", "lin #2") where the
recorded graph tells the calls apart, and the module is drawn open where it cannot.

What tells them apart (viz/trace.py): the ops a call makes directly share one scope tuple, a
fresh one per call. A call nested in another keeps no link to its outer call, so for a module
with sub-modules the calls are counted, not told apart. The count rests on one assumption: a
module that makes ops of its own makes them in every call. Then

- a module with ops of its own ran as many times as it has scope tuples;
- one with none (a container, as `nn.Sequential`) ran once if one of its sub-modules did;
- and otherwise nothing tells: it may have run once or more.

A module that ran once is one box. A module with no sub-modules that ran several times gets a
box per call, numbered in forward order; its parameters, read by every call, are drawn beside
the boxes with an arrow into each. Any other module that ran (or may have run) several times
is drawn open, a cluster, as at full depth: the question moves to its sub-modules, and a
picture shows more than asked rather than guess. (Calls that ran different sub-modules each,
in a forward that branches on its input, are the case no count sees.)
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    """One collapsed module call. `key`: the ids of the modules on its path, and its call's
    when the module's calls are drawn apart; `path`: those modules, outermost first;
    `call`, `calls`: its number among the module's calls (1, 2, ...) and their count, or 0 and
    1 for a box that stands for all of them."""

    key: tuple
    path: tuple
    call: int = 0
    calls: int = 1


class Layout:
    """Where each tensor of a traced graph goes at `depth` (None: no box at all)."""

    def __init__(self, graph, depth):
        self.graph, self.depth = graph, depth
        self.tokens = {}  # ids of a path -> the calls made directly there, in forward order
        self.children = {}  # ids of a path -> the ids of the paths one module deeper
        for t in graph.tensors:
            path = tuple(map(id, graph.paths[id(t)]))
            for i in range(1, len(path) + 1):
                self.children.setdefault(path[:i], set())
                if i < len(path):
                    self.children[path[:i]].add(path[: i + 1])
            if id(t) in graph.calls:
                self.tokens.setdefault(path, {})[graph.calls[id(t)]] = None
        self._counts = {}

    def place(self, tensor):
        """(cluster path, Box or None) for a tensor and the op that made it."""
        path = self.graph.paths[id(tensor)]
        level = self.depth
        while level is not None and len(path) > level:
            module = path[: level + 1]
            key = tuple(map(id, module))
            calls = self.count(key)
            if calls == 1:
                return path[:level], Box(key, module)
            if calls is not None and not self.children[key]:  # a layer called several times
                call = self.graph.calls.get(id(tensor))
                if call is None:  # its parameter: beside the boxes, read by each of them
                    return path[:level], None
                number = list(self.tokens[key]).index(call) + 1
                return path[:level], Box((*key, call), module, number, calls)
            level += 1  # calls not told apart: drawn open, one level deeper
        return path, None

    def count(self, key):
        """How many times the module at path `key` ran, or None when the scopes cannot tell."""
        if key not in self._counts:
            calls = len(self.tokens.get(key, ()))
            if not calls and any(self.count(child) == 1 for child in self.children[key]):
                calls = 1
            self._counts[key] = calls or None
        return self._counts[key]
