"""A tensor-level reverse-mode autograd engine on NumPy.

>>> from engine import Tensor
>>> a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> loss = (a * a).sum()        # 1 + 4 + 9
>>> loss.backward()
>>> a.grad                      # d(sum a²)/da = 2a
array([2., 4., 6.], dtype=float32)

Axes are PyTorch's `dim=` / `keepdim=` or NumPy's `axis=` / `keepdims=`, everywhere (see
engine/axes.py). As in `torch`, this module's `float`, `int`, `bool`, `sum`, `max`, `min` and
`abs` are dtypes and tensor functions (engine/dtypes.py, engine/functions.py), not Python's.
"""

import numpy as np

from engine import shape_ops
from engine.axes import one_axis
from engine.backward import backprop
from engine.dtypes import (  # PyTorch's names: engine.float is float32, engine.int int32
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    short,
    uint8,
)
from engine.factories import (
    arange,
    empty,
    eye,
    full,
    linspace,
    multinomial,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    tensor,
    zeros,
    zeros_like,
)
from engine.function import Function
from engine.functions import (
    abs,
    allclose,
    argmax,
    argmin,
    clamp,
    exp,
    floor_divide,
    from_numpy,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    relu,
    remainder,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    std,
    sum,
    tanh,
    transpose,
    var,
)
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
from engine.random import (
    Generator,
    default_generator,
    generator,
    get_rng_state,
    manual_seed,
    set_rng_state,
)
from engine.tensor import Tensor


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
    "abs",
    "allclose",
    "arange",
    "argmax",
    "argmin",
    "backprop",
    "bool",
    "cat",
    "clamp",
    "default_generator",
    "detect_anomaly",
    "double",
    "empty",
    "enable_grad",
    "exp",
    "eye",
    "float",
    "float16",
    "float32",
    "float64",
    "floor_divide",
    "from_numpy",
    "full",
    "Function",
    "Generator",
    "generator",
    "get_rng_state",
    "gradcheck",
    "GradcheckError",
    "half",
    "int",
    "int16",
    "int32",
    "int64",
    "int8",
    "is_grad_enabled",
    "keep_freed_memory",
    "linspace",
    "log",
    "log_softmax",
    "long",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "module_scope",
    "multinomial",
    "no_grad",
    "ones",
    "ones_like",
    "rand",
    "rand_like",
    "randint",
    "randint_like",
    "randn",
    "randn_like",
    "relu",
    "remainder",
    "reshape",
    "set_grad_enabled",
    "set_rng_state",
    "short",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "std",
    "sum",
    "tanh",
    "Tensor",
    "tensor",
    "transpose",
    "tril",
    "uint8",
    "var",
    "where",
    "zeros",
    "zeros_like",
]
