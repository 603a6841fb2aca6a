"""The Tensor: the heart of tinyllm's reverse-mode autograd.

A `Tensor` wraps a NumPy array. Every op on tensors that require a gradient records a
`Function` node (engine/function.py): the op's forward result plus what its backward needs.
The nodes form a directed acyclic graph from the inputs (leaves) to the output; `backward()`
walks that graph from the output back to the leaves (engine/backward.py), applying the chain
rule, and adds each leaf's gradient into its `.grad`.

This file holds what a tensor is: its data, gradient and attributes, its conversions to Python
and NumPy, and `backward()`. Its op methods (`+`, `exp`, `==`, ...) are in
`engine/tensor_ops.py`, its reductions (`sum`, `max`) in `engine/tensor_reductions.py`, its
shape methods (`view`, `transpose`, `[...]`) in `engine/tensor_shapes.py`, what changes it in
place (`+=`, `zero_()`, `t[i] = v`) in `engine/tensor_in_place.py`, and the ops themselves,
forward beside backward, in `engine/ops.py` (arithmetic), `engine/reduction_ops.py` (sum,
mean, max), `engine/shape_ops.py` (moving elements) and `engine/dtype_ops.py` (comparisons,
argmax, casts).
"""

import numpy as np

from engine import backward
from engine.tensor_in_place import TensorInPlace
from engine.tensor_ops import TensorOps
from engine.tensor_reductions import TensorReductions
from engine.tensor_shapes import TensorShapes


class Tensor(TensorOps, TensorReductions, TensorShapes, TensorInPlace):
    """An n-dimensional array that remembers how it was computed, so it can be differentiated.

    `Tensor(data, requires_grad=False)`: `data` is an ndarray (its dtype is kept), a Python
    number or a nested list (floats become float32, integers stay integers). Only floating
    tensors can require a gradient. `name` is an optional label shown in graph pictures.

    `.size` is NumPy's: the number of elements, an int attribute (PyTorch's `size()` is
    `.shape` here; `numel()` is there too). `.grad` is an ndarray, not a Tensor.
    """

    __slots__ = (
        "data", "grad", "_requires_grad", "name", "_ctx", "_retains_grad", "_scope"
    )  # fmt: skip

    def __init__(self, data, requires_grad=False, name=None):
        if type(data) is not np.ndarray:  # the common case, an op's output, needs no more
            if isinstance(data, Tensor):
                data = data.data
            if isinstance(data, np.ndarray | np.generic):
                data = np.asarray(data)
            else:
                data = np.asarray(data)
                if data.dtype == np.float64:
                    data = data.astype(np.float32)
        if data.dtype.kind not in "fiub":
            raise TypeError(f"Tensor data must be numeric, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self._ctx = None  # the Function that produced this tensor; None for a leaf
        self._requires_grad = False
        if requires_grad:  # checked by the setter: a float leaf
            self.requires_grad = requires_grad
        self.name = name
        self._retains_grad = False
        self._scope = ()

    # ---- plain attributes ----------------------------------------------------------------------
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self._ctx is None)

    @property
    def grad_fn(self):
        """The `Function` node that produced this tensor, or None for a leaf (as in PyTorch).

        `t.grad_fn.name` is the op's name and `t.grad_fn.inputs` the tensors it read (None in
        the place of an optional input left out, such as a missing bias), so the graph can be
        walked from any tensor back to its leaves (viz/ draws it that way), also after
        backward() has freed the arrays the nodes saved.
        """
        return self._ctx

    @property
    def scope(self):
        """The modules whose forward was running when this tensor was made, outermost first."""
        return self._scope

    def __len__(self):
        return len(self.data)

    def __iter__(self):
        """The sub-tensors along the first axis, as PyTorch's (a 0-D tensor has none)."""
        if self.ndim == 0:
            raise TypeError("iteration over a 0-D tensor")
        return (self[i] for i in range(len(self.data)))

    def __format__(self, spec):
        """`f"{loss:.4f}"` formats a 0-D tensor's value, as in PyTorch."""
        return format(self.item(), spec) if self.ndim == 0 else super().__format__(spec)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    # ---- conversions to NumPy and Python ---------------------------------------------------------
    def numpy(self):
        """The data as an ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        """`np.asarray(t)`: the data (shared unless a dtype or a copy is asked for)."""
        if dtype is not None and np.dtype(dtype) != self.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor as an index: `data[i : i + 8]`, `range(n)`, as in
        PyTorch."""
        if self.dtype.kind not in "iu" or self.size != 1:
            raise TypeError(
                f"only a one-element integer tensor can be an index, got {self.dtype} of shape "
                f"{self.shape}"
            )
        return int(self.data.item())

    def __bool__(self):
        """`if t:` for a one-element tensor; more elements are ambiguous (use .any(), .all())."""
        if self.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                f"it needs one element"
            )
        return bool(self.data.item())

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        return self.data.tolist()

    def numel(self):
        """The number of elements (PyTorch's name for `.size`)."""
        return self.data.size

    nelement = numel  # PyTorch's other name: makemore counts parameters with p.nelement()

    def detach(self):
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor(self.data)

    # ---- autograd ----------------------------------------------------------------------------
    @property
    def requires_grad(self):
        """Whether ops on this tensor are recorded, for a gradient to reach it. Set it (or call
        `requires_grad_`) on a leaf; only floating tensors can require grad."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, requires_grad):
        if requires_grad and self.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {self.dtype}")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError(
                "requires_grad=False changes leaves only; detach() cuts a computed tensor off"
            )
        self._requires_grad = bool(requires_grad)

    def requires_grad_(self, requires_grad=True):
        """Start (or stop) recording ops on this leaf for a gradient; returns self.

        `p.requires_grad_(False)` freezes a weight: no gradient reaches it and optimizers
        leave it as it is.
        """
        self.requires_grad = requires_grad
        return self

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    def backward(self, gradient=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad; add it to `leaf.grad`.

        `gradient` is dL/d(self), needed unless self has one element (then it is 1). Afterwards
        each node's saved arrays are freed unless `retain_graph=True`; the graph's structure,
        the tensors' values and the gradients stay, so it can still be drawn.
        """
        for _ in backward.backprop(self, backward.root_gradient(self, gradient), retain_graph):
            pass
