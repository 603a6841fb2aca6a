"""Containers: modules that only hold other modules, registered under their keys, as in PyTorch.

A container has no forward of its own: the model that owns it says how its children are used.

    self.h = ModuleList([Block(config) for _ in range(n_layer)])   # children "0", "1", ...
    self.transformer = ModuleDict(dict(wte=..., h=...))            # children "wte", "h"
"""

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
