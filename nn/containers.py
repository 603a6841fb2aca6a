"""Containers: modules that hold other modules, registered under their keys, as in PyTorch.

`ModuleList` and `ModuleDict` have no forward of their own: the model that owns them says how
their children are used. `Sequential` is the one whose forward is fixed: each child in turn.
`Identity` holds nothing and returns its input (a placeholder where a layer is switched off).

    self.h = ModuleList([Block(config) for _ in range(n_layer)])   # children "0", "1", ...
    self.transformer = ModuleDict(dict(wte=..., h=...))            # children "wte", "h"
    mlp = Sequential(Linear(2, 16), Tanh(), Linear(16, 2))         # mlp(x) runs all three
"""

from collections import OrderedDict

from nn.module import Module


def _check(module, container):
    if not isinstance(module, Module):
        raise TypeError(f"{container} holds Modules, got {type(module).__name__}")
    return module


class ModuleList(Module):
    """A list of modules, registered as children "0", "1", ...: `self.h = ModuleList(blocks)`."""

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        """Add `module` as the next child ("0", "1", ...)."""
        setattr(self, str(len(self._modules)), _check(module, "ModuleList"))
        return self

    def extend(self, modules):
        """Append each of `modules`."""
        for module in modules:
            self.append(module)
        return self

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(items[index])
        return items[index]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """Modules by name, registered as children under their keys: `self.transformer =
    ModuleDict(dict(wte=Embedding(V, C), h=ModuleList(blocks)))`, then `self.transformer.wte`
    or `self.transformer["wte"]`."""

    def __init__(self, modules=None):
        super().__init__()
        for name, module in (modules or {}).items():
            self[name] = module

    def __setitem__(self, name, module):
        if not isinstance(name, str) or not name.isidentifier():
            raise KeyError(f"ModuleDict keys must be identifiers, got {name!r}")
        if name not in self._modules and hasattr(self, name):  # "items", "training", ...
            raise KeyError(f"ModuleDict key {name!r} is the name of one of its attributes")
        setattr(self, name, _check(module, "ModuleDict"))

    def __getitem__(self, name):
        return self._modules[name]

    def __contains__(self, name):
        return name in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


class Sequential(ModuleList):
    """Modules applied one after the other: `Sequential(a, b, c)(x)` is `c(b(a(x)))`.

    Children are "0", "1", ... as in PyTorch, or the keys of an OrderedDict given instead:
    `Sequential(OrderedDict(fc=Linear(2, 4), act=ReLU()))`.
    """

    def __init__(self, *modules):
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            super().__init__()
            for name, module in modules[0].items():
                setattr(self, name, _check(module, "Sequential"))
        else:
            super().__init__(modules)

    def __getitem__(self, index):
        """A child, or a Sequential of a slice of them under their own names."""
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return list(self._modules.values())[index]

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


class Identity(Module):
    """Returns its input unchanged; it takes (and ignores) any constructor arguments, as in
    PyTorch, so it can stand in for a layer."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
