"""A tensor-level reverse-mode autograd engine on NumPy.

>>> from engine import Tensor
>>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> loss = (a * a).sum()        # 1 + 4 + 9
>>> loss.backward()
>>> a.grad                      # d(sum a²)/da = 2a
array([2., 4., 6.], dtype=float32)
"""

import numpy as np

from engine import shape_ops
from engine.gradcheck import GradcheckError, gradcheck
from engine.memory import keep_freed_memory
from engine.modes import detect_anomaly, is_grad_enabled, module_scope, no_grad
from engine.random import generator, get_rng_state, manual_seed, set_rng_state
from engine.tensor import Function, Tensor, backprop


def _tensors(values):
    return [v if isinstance(v, Tensor) else Tensor(v) for v in values]


def cat(tensors, axis=0):
    """Join tensors along an existing axis (as `np.concatenate`)."""
    return shape_ops.Cat.apply(*_tensors(tensors), axis=axis)


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis (as `np.stack`)."""
    return shape_ops.Stack.apply(*_tensors(tensors), axis=axis)


def where(cond, a, b):
    """`a` where `cond` is True, else `b` (as `np.where`); differentiable in `a` and `b`."""
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        a = Tensor(a)  # the op takes the dtype for plain numbers from a Tensor operand
    return shape_ops.Where.apply(a, b, cond=cond)


__all__ = [
    "Function",
    "GradcheckError",
    "Tensor",
    "backprop",
    "cat",
    "detect_anomaly",
    "generator",
    "get_rng_state",
    "gradcheck",
    "is_grad_enabled",
    "keep_freed_memory",
    "manual_seed",
    "module_scope",
    "no_grad",
    "set_rng_state",
    "stack",
    "where",
]
