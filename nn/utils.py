"""Gradient clipping, and building a module whose weights are loaded next.

Gradient clipping keeps one bad batch from throwing the weights far away.

All gradients together are seen as one long vector g. If its length ‖g‖ (the global L2 norm)
exceeds `max_norm`, every gradient is scaled by max_norm / ‖g‖, which shortens the vector
without turning it: the step keeps its direction, only its size is capped.
"""

import math

import numpy as np

from engine import Tensor
from nn import init


def clip_grad_norm_(parameters, max_norm):
    """Scale the gradients of `parameters` in place so their global L2 norm is <= max_norm.

    Parameters whose `.grad` is None are skipped. Returns the total norm *before* clipping,
    as a Python float (worth logging: spikes show instability). As in PyTorch, the scale is
    max_norm / (norm + 1e-6), applied only when that is below 1.
    """
    if not max_norm > 0:  # NaN too
        raise ValueError(f"clip_grad_norm_: max_norm must be > 0, got {max_norm}")
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    # Each grad's squared length is one BLAS dot product; the sum of a few hundred scalars is
    # done in Python floats (float64), so no float32 array is upcast. A float16 one is: its
    # squares would overflow past 65504.
    squares = 0.0
    for g in grads:
        flat = g.ravel() if g.itemsize >= 4 else g.ravel().astype(np.float32)
        squares += float(np.vdot(flat, flat))
    total = math.sqrt(squares)
    scale = max_norm / (total + 1e-6)
    if scale < 1.0:
        for p in params:
            if p.grad is not None:
                p.grad *= scale
    return total


def skip_init(module_cls, *args, **kwargs):
    """`module_cls(*args, **kwargs)` with its parameters left uninitialised, as
    `torch.nn.utils.skip_init`: for a module whose every weight is loaded right after (as
    `GPT.from_pretrained` does), so that no random numbers are drawn for nothing (about 8 s
    for GPT-2's 124M parameters). Their values are whatever memory held until then."""
    with init.skipped():
        return module_cls(*args, **kwargs)
