"""`Optimizer`: what every optimizer shares (nn/optim.py has the rules themselves).

An optimizer holds references to the model's Parameters, grouped in `param_groups` (a list of
dicts with "params" and the group's hyperparameters, such as "lr"), and a `state` per
parameter (momenta). A step changes the parameters in place, and counts it as an in-place
change (engine/changes.py): a backward through a graph made before the step is refused, as in
PyTorch, since it would differentiate weights that are gone.

Checkpoints: `state_dict()` returns two entries, made to be stored without pickle (arrays in a
safetensors file, the rest as JSON in its metadata):
    "state":        {"<i>.<name>": ndarray}  for parameter i (counted across groups, in order),
                    e.g. "0.exp_avg", "0.exp_avg_sq", and "0.step" (a 0-d int64 array)
    "param_groups": [{"lr": 0.001, "betas": [0.9, 0.999], ..., "params": [0, 1, 2]}, ...]
                    (JSON-able: numbers, lists, and the parameter indices of each group)
`load_state_dict` restores both, so a resumed run continues bit for bit, and refuses a state
that would not: one with a parameter's entries missing, of another shape, or NaN or Inf.
"""

import functools
import math
import numbers

import numpy as np

from engine import Tensor, changes
from nn import kernels, lr_scheduler


def check_finite(optimizer, name, value):
    """Raise ValueError unless `value` is a finite number >= 0 (NaN and Inf are refused)."""
    if not (isinstance(value, numbers.Real) and math.isfinite(value) and value >= 0):
        raise ValueError(f"{optimizer}: {name} must be a finite number >= 0, got {value!r}")


class Optimizer:
    """Shared machinery: parameter groups, zero_grad, state_dict / load_state_dict."""

    def __init__(self, params, defaults):
        groups = [params] if isinstance(params, Tensor) else list(params)
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self.defaults, self.param_groups, self.state = defaults, [], {}
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a dict {"params": [...], option: value, ...} as one more group; options it leaves
        out take the optimizer's defaults. A frozen parameter (requires_grad False) may be in a
        group: it has no gradient, so `step()` leaves it alone, as in PyTorch."""
        name = type(self).__name__
        unknown = set(group) - set(self.defaults) - {"params", lr_scheduler.INITIAL_LR}
        if unknown:
            raise ValueError(f"{name}: unknown group options {sorted(unknown)}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for p in self._params()}
        for p in params:
            if not isinstance(p, Tensor) or p.dtype.kind != "f":
                raise TypeError(f"{name} optimizes floating-point tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name} cannot optimize a computed (non-leaf) tensor")
            if id(p) in seen:
                raise ValueError("a parameter appears in more than one parameter group")
            seen.add(id(p))
        full = {**self.defaults, **group, "params": params}
        self._check(full)
        self.param_groups.append(full)

    def _check(self, group):
        check_finite(type(self).__name__, "learning rate (lr)", group["lr"])
        check_finite(type(self).__name__, "weight_decay", group["weight_decay"])

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def _run(self, step_one, updates):
        """`step_one(p, *options)` for each (p, options) in `updates`: in order, or where
        `nn.use_fused` is on (the default), shared over the cores by nn/kernels/threads.py.
        Each parameter's state is made here first, so the threads only fill their own."""
        for p, _ in updates:
            self.state.setdefault(p, {})
        jobs = [(p.data.size, functools.partial(step_one, p, *options)) for p, options in updates]
        if kernels.enabled():
            kernels.run_updates(jobs)
        else:
            for _, job in jobs:
                job()
        for p, _ in updates:  # in place: a graph made before the step refuses its backward
            changes.record(p.data)

    def zero_grad(self, set_to_none=True):
        """Set every parameter's `.grad` to None (the next backward writes fresh ones), or with
        `set_to_none=False` fill it with zeros in place."""
        for p in self._params():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad[...] = 0

    def state_dict(self):
        """{"state": flat name -> ndarray (copies), "param_groups": JSON-able list}."""
        index = {id(p): i for i, p in enumerate(self._params())}
        state = {}
        for i, p in enumerate(self._params()):
            for name, value in self.state.get(p, {}).items():
                state[f"{i}.{name}"] = np.array(value, dtype=np.int64 if name == "step" else None)
        groups = []
        for group in self.param_groups:
            saved = {k: list(v) if isinstance(v, tuple) else v for k, v in group.items()}
            saved["params"] = [index[id(p)] for p in group["params"]]
            groups.append(saved)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore hyperparameters and per-parameter state saved by `state_dict()`.

        As `Module.load_state_dict` does, every problem is found before anything changes and
        all are listed in one ValueError: groups of other sizes, hyperparameters that are
        missing, unknown or out of range, state keys this optimizer does not know, shapes that
        are not the parameter's, values that are NaN or Inf, and a parameter with only part of
        its state. A parameter with none has not stepped yet (frozen, say, or never given a
        gradient): it starts afresh, as in PyTorch.
        """
        try:
            groups, saved_state = list(state_dict["param_groups"]), dict(state_dict["state"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"load_state_dict needs 'state' and 'param_groups': {e}") from None
        params, problems = self._params(), []
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g.get("params", ())) if isinstance(g, dict) else None for g in groups]
        if saved_sizes != sizes:
            problems.append(
                f"saved groups hold {saved_sizes} parameters, this optimizer's hold {sizes}"
            )
        new_groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, groups, strict=False)):
            if not isinstance(saved, dict):
                continue
            names = set(saved) - {"params", lr_scheduler.INITIAL_LR}
            if names != set(self.defaults):
                problems.append(
                    f"param_groups[{i}] has options {sorted(names)}, this optimizer "
                    f"{sorted(self.defaults)}"
                )
                continue
            values = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
            new = {**values, "params": group["params"]}  # the saved group, as in PyTorch
            try:
                self._check(new)
            except (TypeError, ValueError) as e:
                problems.append(f"param_groups[{i}]: {e}")
            new_groups.append(new)
        loaded = {}
        for key, value in saved_state.items():
            i, _, name = str(key).partition(".")
            if not i.isdigit() or int(i) >= len(params) or name not in self._state_names:
                problems.append(f"unexpected state key {key!r}")
                continue
            p, value = params[int(i)], np.asarray(value)
            if value.dtype.kind not in "fiu":
                problems.append(f"{key}: dtype {value.dtype} is not a number")
            elif name == "step":
                if value.shape != () or value.dtype.kind not in "iu" or value < 0:
                    problems.append(f"{key}: a step count must be one int >= 0, got {value!r}")
                else:
                    loaded.setdefault(p, {})[name] = int(value)
            elif value.shape != p.shape:
                problems.append(f"{key}: shape {value.shape}, parameter has {p.shape}")
            elif not np.isfinite(value).all():
                problems.append(f"{key} holds NaN or Inf")
            else:
                loaded.setdefault(p, {})[name] = value.astype(p.dtype, copy=True)
        for i, p in enumerate(params):
            if p in loaded:
                missing = [f"{i}.{name}" for name in self._state_names if name not in loaded[p]]
                problems += [f"missing state {key!r}" for key in missing]
        if problems:
            raise ValueError("optimizer load_state_dict failed:\n  " + "\n  ".join(problems))
        for group, new in zip(self.param_groups, new_groups, strict=True):
            group.update(new)
        self.state = loaded
