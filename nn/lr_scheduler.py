"""The learning-rate schedule, and schedulers as objects: `nn.optim.lr_scheduler`, as
`torch.optim.lr_scheduler`.

`cosine_with_warmup(step, ...)` is the project's schedule as a plain function: the lr of one
step, which a training loop may set by hand. A scheduler owns the "lr" of its optimizer's
parameter groups. Made, it sets each group's lr for step 0; each `scheduler.step()` (once per
optimizer step, after it) moves to the next:

    scheduler = nn.optim.lr_scheduler.CosineWithWarmup(optimizer, warmup_steps=100,
                                                       decay_steps=2900, min_lr=2e-4)
    for step in range(max_iters):
        ...; optimizer.step(); scheduler.step()

`get_last_lr()` is the list of lrs the last step set; `state_dict()` is plain JSON-able
numbers, and `load_state_dict` continues a schedule where it was saved. Each group's lr as the
first scheduler found it is its base lr (`base_lrs`), kept in the group as "initial_lr", as in
PyTorch: a scheduler made again on the same optimizer, or after loading its state, starts
from there, not from a lr already scheduled down.
"""

import math

import numpy as np

INITIAL_LR = "initial_lr"
"""The group option a scheduler adds: the lr it found there, its base lr. Kept in the group, it
is saved with the optimizer, and a second scheduler starts from it too."""


def cosine_with_warmup(step, max_lr, min_lr, warmup_steps, decay_steps):
    """The learning rate at `step` (0-based): linear warmup, cosine decay, then flat.

        lr
     max_lr |      .--.
            |     /    `.
            |    /       `.
            |   /          `.
     min_lr |  /             `------------
            +--+------------+------------> step
            0  warmup       warmup + decay

    - step < warmup_steps:  max_lr · (step + 1) / warmup_steps (never 0, so no step is wasted)
    - then, for s = (step - warmup_steps) / decay_steps in [0, 1]:
      min_lr + (max_lr - min_lr) · (1 + cos(π s)) / 2
    - from step = warmup_steps + decay_steps on: min_lr.
    Returns a Python float (so it never promotes float32 arrays).
    """
    counts = {"step": step, "warmup_steps": warmup_steps, "decay_steps": decay_steps}
    for name, value in counts.items():
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
            raise ValueError(f"cosine_with_warmup: {name} must be an int >= 0, got {value!r}")
    if not 0 <= min_lr <= max_lr:
        raise ValueError(f"cosine_with_warmup: need 0 <= min_lr <= max_lr, got {min_lr}, {max_lr}")
    if step < warmup_steps:
        return float(max_lr) * (step + 1) / warmup_steps
    if step >= warmup_steps + decay_steps:
        return float(min_lr)
    s = (step - warmup_steps) / decay_steps
    return float(min_lr) + (float(max_lr) - float(min_lr)) * 0.5 * (1.0 + math.cos(math.pi * s))


class LRScheduler:
    """The shared machinery: subclasses say `lr_at(base_lr, i, step)` for group i at `step`."""

    def __init__(self, optimizer):
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group.setdefault(INITIAL_LR, float(group["lr"]))
        self.base_lrs = [group[INITIAL_LR] for group in optimizer.param_groups]
        self.last_epoch = -1  # PyTorch's name for the number of steps taken
        self.step()

    def lr_at(self, base_lr, i, step):
        raise NotImplementedError

    def step(self):
        """Move the schedule on by one step and set every group's lr."""
        self.last_epoch += 1
        for i, group in enumerate(self.optimizer.param_groups):
            group["lr"] = float(self.lr_at(self.base_lrs[i], i, self.last_epoch))
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def get_last_lr(self):
        """The lr of each parameter group, as the last `step()` set it."""
        return list(self._last_lr)

    def state_dict(self):
        """{"last_epoch": int, "base_lrs": [float, ...]}: JSON-able, no functions."""
        return {"last_epoch": self.last_epoch, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict):
        """Continue the schedule saved by `state_dict()`: the groups get that step's lrs."""
        if len(state_dict["base_lrs"]) != len(self.optimizer.param_groups):
            raise ValueError(
                f"scheduler state has {len(state_dict['base_lrs'])} base lrs, the optimizer "
                f"{len(self.optimizer.param_groups)} parameter groups"
            )
        self.base_lrs = [float(lr) for lr in state_dict["base_lrs"]]
        self.last_epoch = int(state_dict["last_epoch"]) - 1
        self.step()


class LambdaLR(LRScheduler):
    """lr = base_lr · lr_lambda(step): `LambdaLR(optimizer, lambda step: 0.95 ** step)`.
    `lr_lambda` may be a list, one function per parameter group."""

    def __init__(self, optimizer, lr_lambda):
        groups = len(optimizer.param_groups)
        lambdas = list(lr_lambda) if isinstance(lr_lambda, list | tuple) else [lr_lambda] * groups
        if len(lambdas) != groups:
            raise ValueError(f"LambdaLR got {len(lambdas)} functions for {groups} groups")
        self.lr_lambdas = lambdas
        super().__init__(optimizer)

    def lr_at(self, base_lr, i, step):
        return base_lr * self.lr_lambdas[i](step)


class CosineWithWarmup(LRScheduler):
    """The project's schedule (`cosine_with_warmup` above) from each group's base lr: linear
    warmup over `warmup_steps`, cosine decay to `min_lr` over `decay_steps`, then flat."""

    def __init__(self, optimizer, warmup_steps, decay_steps, min_lr=0.0):
        self.warmup_steps, self.decay_steps, self.min_lr = warmup_steps, decay_steps, min_lr
        super().__init__(optimizer)

    def lr_at(self, base_lr, i, step):
        return cosine_with_warmup(step, base_lr, self.min_lr, self.warmup_steps, self.decay_steps)
