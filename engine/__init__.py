"""A tensor-level reverse-mode autograd engine on NumPy.

>>> from engine import Tensor
>>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> loss = (a * a).sum()        # 1 + 4 + 9
>>> loss.backward()
>>> a.grad                      # d(sum a²)/da = 2a
array([2., 4., 6.], dtype=float32)

Axes are PyTorch's `dim=` / `keepdim=` or NumPy's `axis=` / `keepdims=`, everywhere (see
engine/axes.py).
"""

import numpy as np

from engine import shape_ops
from engine.axes import one_axis
from engine.factories import (
    arange,
    full,
    ones,
    ones_like,
    rand,
    randn,
    tensor,
    zeros,
    zeros_like,
)
from engine.function import Function
from engine.gradcheck import GradcheckError, gradcheck
from engine.memory import keep_freed_memory
from engine.modes import (
    detect_anomaly,
    enable_grad,
    is_grad_enabled,
    module_scope,
    no_grad,
    set_grad_enabled,
)
from engine.random import generator, get_rng_state, manual_seed, set_rng_state
from engine.tensor import Tensor, backprop


def _tensors(what, values):
    """The values as Tensors: at least one."""
    tensors = [v if isinstance(v, Tensor) else Tensor(v) for v in values]
    if not tensors:
        raise ValueError(f"{what}() needs at least one tensor")
    return tensors


def cat(tensors, dim=None, *, axis=None):
    """Join tensors along an existing axis (default 0), as `torch.cat` and `np.concatenate`."""
    tensors = _tensors("cat", tensors)
    if tensors[0].ndim == 0:
        raise ValueError("cat(): 0-D tensors have no axis to join along; use stack()")
    axis = one_axis("cat", tensors[0].ndim, dim, axis, default=0)
    return shape_ops.Cat.apply(*tensors, axis=axis)


def stack(tensors, dim=None, *, axis=None):
    """Join same-shaped tensors along a new axis (default 0), as `torch.stack` and `np.stack`."""
    tensors = _tensors("stack", tensors)
    axis = one_axis("stack", tensors[0].ndim, dim, axis, default=0, extra=1)
    return shape_ops.Stack.apply(*tensors, axis=axis)


def tril(t, diagonal=0):
    """`t.tril(diagonal)`: the lower triangle of the last two axes, as `torch.tril`."""
    return t.tril(diagonal)


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
    "arange",
    "backprop",
    "cat",
    "detect_anomaly",
    "enable_grad",
    "full",
    "generator",
    "get_rng_state",
    "gradcheck",
    "is_grad_enabled",
    "keep_freed_memory",
    "manual_seed",
    "module_scope",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "randn",
    "set_grad_enabled",
    "set_rng_state",
    "stack",
    "tensor",
    "tril",
    "where",
    "zeros",
    "zeros_like",
]
