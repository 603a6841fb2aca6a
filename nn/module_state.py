"""Saving and loading a module's state: `state_dict()` and `load_state_dict()`, as in PyTorch.

A state dict maps each parameter's and each persistent buffer's dotted name (a GPT's
"transformer.h.0.attn.c_attn.weight") to a NumPy array, module by module in registration
order, as PyTorch's does. It is what a checkpoint saves (model/checkpoint.py).
"""

import collections

import numpy as np

IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class ModuleState:
    """`nn.Module`'s state-dict methods (nn/module.py): the names, copies and checked loading."""

    def _own_parameters(self):
        """(name, parameter) for this module's own parameters, in registration order; a name
        whose parameter was set to None keeps its slot but has none."""
        return [(name, p) for name, p in self._parameters.items() if p is not None]

    def _named_state(self, prefix=""):
        """(dotted name, tensor) for what a state dict holds: each module's parameters, then its
        persistent buffers, module by module (PyTorch's order); a tied parameter, or a module
        held under two names, appears under each of its names."""
        buffers = [
            (name, b)
            for name, b in self._buffers.items()
            if b is not None and name not in self._non_persistent
        ]
        for name, t in [*self._own_parameters(), *buffers]:
            yield prefix + name, t
        for name, child in self._modules.items():
            yield from child._named_state(f"{prefix}{name}.")

    def state_dict(self):
        """An ordered dict name -> NumPy array (a copy of each parameter's and each persistent
        buffer's data).

        A tied parameter appears under both names (as in PyTorch), both names holding the
        same copied array.
        """
        copies, out = {}, {}
        for name, p in self._named_state():
            if id(p) not in copies:
                copies[id(p)] = p.data.copy()
            out[name] = copies[id(p)]
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy arrays from `state_dict` into the parameters and buffers, in place (references
        stay valid).

        Every problem is found before anything is written, and reported in one ValueError:
        keys missing from `state_dict` and keys it has that the model lacks (both only when
        `strict`), shape mismatches, non-floating arrays for parameters and arrays of another
        kind than a buffer's (always). Arrays of another precision are converted to the
        tensor's dtype. Returns (missing_keys, unexpected_keys).
        """
        own = dict(self._named_state())
        parameters = {id(p) for p in self.parameters()}
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        problems = []
        for key, p in own.items():
            if key not in state_dict:
                continue
            value = np.asarray(state_dict[key])
            if value.shape != p.shape:
                problems.append(f"{key}: shape {value.shape} in state_dict, {p.shape} in model")
            elif id(p) in parameters and value.dtype.kind != "f":
                problems.append(f"{key}: dtype {value.dtype} is not floating (model has {p.dtype})")
            elif not np.can_cast(value.dtype, p.dtype, casting="same_kind"):
                problems.append(f"{key}: dtype {value.dtype} does not fit the model's {p.dtype}")
        if strict:
            problems += [f"missing key {k!r}" for k in missing]
            problems += [f"unexpected key {k!r}" for k in unexpected]
        if problems:
            raise ValueError(
                f"load_state_dict failed for {type(self).__name__}:\n  " + "\n  ".join(problems)
            )
        for key, p in own.items():
            if key in state_dict:
                np.copyto(p.data, np.asarray(state_dict[key]), casting="same_kind")
        return IncompatibleKeys(missing, unexpected)
