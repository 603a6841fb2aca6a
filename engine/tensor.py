"""The Tensor and reverse-mode autograd: the heart of tinyllm.

A `Tensor` wraps a NumPy array. Every op on tensors that require a gradient records a
`Function` node: the op's forward result plus what its backward needs. The nodes form a
directed acyclic graph from the inputs (leaves) to the output; `backward()` walks that graph
from the output back to the leaves in topological order, applying the chain rule:

    dL/d(input) = sum over the ops that used the input of  (local backward of op)(dL/d(output))

Two rules keep the whole engine small:
- Broadcasting is undone in one place (`unbroadcast`): an op's backward returns gradients of
  the broadcast shape, and the engine sums them down to each input's own shape.
- Gradients from several uses of a tensor are added (`b = a + a` gives `a` two contributions).

The ops themselves live in `engine/ops.py` (arithmetic) and `engine/shape_ops.py` (moving
elements), each with its forward and backward side by side.
"""

import numpy as np

from engine import modes

_RELEASED = object()  # marks a node whose graph was freed by backward()


def unbroadcast(grad, shape):
    """Sum `grad` down to `shape`: the backward of NumPy broadcasting.

    A broadcast input was (virtually) copied along new leading axes and along its size-1 axes,
    so its gradient is the sum of the copies' gradients over exactly those axes.
    """
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def as_array(value, like):
    """An operand that is not a Tensor (number, list or array) as an ndarray.

    `float32 tensor * 0.5` must stay float32, so a number (a Python one or a NumPy scalar such
    as `np.sqrt(64)`, as in PyTorch) is given the dtype NumPy's promotion picks for `like` and a
    Python number; so is a 0-d array. A list is converted as `Tensor(list)` does; any other
    ndarray keeps its dtype.
    """
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value
    if isinstance(value, np.generic | np.ndarray):
        value = value.item()
    if isinstance(value, int | float | bool):
        return np.asarray(value, dtype=np.result_type(like, value))
    return Tensor(value).data


class Tensor:
    """An n-dimensional array that remembers how it was computed, so it can be differentiated.

    `Tensor(data, requires_grad=False)`: `data` is an ndarray (its dtype is kept), a Python
    number or a nested list (floats become float32, integers stay integers). Only floating
    tensors can require a gradient. `name` is an optional label shown in graph pictures.
    """

    __slots__ = ("data", "grad", "requires_grad", "name", "_ctx", "_retains_grad", "_scope")
    __array_priority__ = 100  # `ndarray * tensor` defers to Tensor.__rmul__

    def __init__(self, data, requires_grad=False, name=None):
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
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating-point tensors can require grad, got dtype {data.dtype}")
        self.data = data
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self.name = name
        self._ctx = None  # the Function that produced this tensor; None for a leaf
        self._retains_grad = False
        self._scope = ()

    # ---- plain attributes and conversions ----------------------------------------------------
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
        walked from any tensor back to its leaves (viz/ draws it that way).
        """
        if self._ctx is _RELEASED:
            raise RuntimeError(
                "this graph was freed by backward(); call backward(retain_graph=True) to keep it"
            )
        return self._ctx

    @property
    def scope(self):
        """The modules whose forward was running when this tensor was made, outermost first."""
        return self._scope

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        return f"Tensor({body}, dtype={self.dtype}{grad})"

    def numpy(self):
        """The data as an ndarray (shared, not copied)."""
        return self.data

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.size != 1:
            raise ValueError(f"item() needs a one-element tensor, got shape {self.shape}")
        return self.data.item()

    def detach(self):
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor(self.data)

    def retain_grad(self):
        """Keep `.grad` on this non-leaf tensor after backward (leaves always keep theirs)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad() on a tensor that does not require grad")
        self._retains_grad = True

    # ---- ops (each defined, forward beside backward, in engine/ops.py) ----------------------
    def __add__(self, other):
        return ops.Add.apply(self, other)

    def __radd__(self, other):
        return ops.Add.apply(other, self)

    def __sub__(self, other):
        return ops.Sub.apply(self, other)

    def __rsub__(self, other):
        return ops.Sub.apply(other, self)

    def __mul__(self, other):
        return ops.Mul.apply(self, other)

    def __rmul__(self, other):
        return ops.Mul.apply(other, self)

    def __truediv__(self, other):
        return ops.Div.apply(self, other)

    def __rtruediv__(self, other):
        return ops.Div.apply(other, self)

    def __matmul__(self, other):
        return ops.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return ops.MatMul.apply(other, self)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pow__(self, exponent):
        if isinstance(exponent, np.generic):
            exponent = exponent.item()  # an np.float64 exponent would promote float32 data
        if not isinstance(exponent, int | float):
            raise TypeError(f"** takes a number as exponent, got {type(exponent).__name__}")
        return ops.Pow.apply(self, exponent=exponent)

    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, index=index)

    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (None: every axis; an int or a tuple), as `np.sum`."""
        return ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis`, as `np.mean`."""
        return ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims=False):
        """Maximum over `axis`, as `np.max`; tied maxima share the gradient equally."""
        return ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def exp(self):
        return ops.Exp.apply(self)

    def log(self):
        return ops.Log.apply(self)

    def sqrt(self):
        return ops.Sqrt.apply(self)

    def erf(self):
        """The error function, elementwise (as `torch.erf`)."""
        return ops.Erf.apply(self)

    def tanh(self):
        return ops.TanhOp.apply(self)

    def sigmoid(self):
        return ops.SigmoidOp.apply(self)

    def relu(self):
        return ops.ReLUOp.apply(self)

    def softmax(self, axis=-1):
        """exp(x) / sum(exp(x)) along `axis`, stable for large |x| and -inf entries."""
        return ops.SoftmaxOp.apply(self, axis=axis)

    def log_softmax(self, axis=-1):
        """log(softmax(x)) along `axis`, computed without taking the log of a small number."""
        return ops.LogSoftmaxOp.apply(self, axis=axis)

    def reshape(self, *shape):
        """The same data in another shape (one entry may be -1), as `np.reshape`."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        return shape_ops.Reshape.apply(self, shape=tuple(shape))

    def view(self, *shape):
        """`reshape`, under PyTorch's name for it (NumPy makes a view whenever it can)."""
        return self.reshape(*shape)

    def transpose(self, axis1, axis2):
        """Swap two axes, as `torch.transpose`."""
        for axis in (axis1, axis2):
            if not -self.ndim <= axis < self.ndim:
                raise ValueError(f"transpose: axis {axis} is out of range for shape {self.shape}")
        axes = list(range(self.ndim))
        axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
        return shape_ops.Permute.apply(self, axes=tuple(axes))

    def permute(self, *axes):
        """Reorder every axis: output axis i is input axis axes[i]."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        return shape_ops.Permute.apply(self, axes=tuple(axes))

    @property
    def T(self):
        if self.ndim != 2:
            raise ValueError(f".T needs a 2-D tensor, got shape {self.shape}; use permute()")
        return shape_ops.Permute.apply(self, axes=(1, 0))

    def masked_fill(self, mask, value):
        """Where `mask` is True, `value`; elsewhere this tensor. `mask` broadcasts to self."""
        mask = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        return shape_ops.MaskedFill.apply(self, mask=mask, value=value)

    # ---- autograd ----------------------------------------------------------------------------
    def backward(self, grad=None, retain_graph=False):
        """Compute d(self)/d(leaf) for every leaf that requires grad; add it to `leaf.grad`.

        `grad` is dL/d(self), needed unless self has one element (then it is 1). The graph's
        saved arrays are freed afterwards unless `retain_graph=True`.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad")
        if grad is None:
            if self.size != 1:
                raise RuntimeError(
                    f"backward() without a gradient needs a one-element tensor, got shape "
                    f"{self.shape}; pass grad= of that shape"
                )
            grad = np.ones_like(self.data)
        else:
            grad = np.asarray(grad.data if isinstance(grad, Tensor) else grad, dtype=self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward() grad has shape {grad.shape}, tensor has shape {self.shape}"
                )

        for _ in backprop(self, grad, retain_graph):
            pass

    def _topological_order(self):
        """Nodes that lead to self, each after every node that uses it (self first).

        Iterative depth-first search, so a chain of 100,000 ops needs no recursion.
        """
        order, visited = [], set()
        stack = [(self, False)]
        while stack:
            node, inputs_done = stack.pop()
            if inputs_done:
                order.append(node)
                continue
            if id(node) in visited:
                continue
            visited.add(id(node))
            stack.append((node, True))
            ctx = node._ctx
            if ctx is not None and ctx is not _RELEASED:
                stack.extend(
                    (inp, False) for inp in ctx.inputs if inp is not None and inp.requires_grad
                )
        return reversed(order)


def backprop(root, grad, retain_graph=False):
    """The backward pass, one node at a time: yields `(node, g, sent)` in the order visited.

    `g` is dL/d(node); `sent` lists `(input, gradient)` for what the node passed to each of
    its inputs. `Tensor.backward` simply runs this to the end; the viz package watches it.
    """
    grads = {id(root): grad}  # dL/d(node) for the nodes reached so far, freed once used
    for node in root._topological_order():
        g = grads.pop(id(node), None)
        if g is None:
            continue  # no gradient reached this node (an op sent None to it)
        ctx = node._ctx
        if ctx is _RELEASED:
            raise RuntimeError(
                "backward through a graph whose saved arrays were already freed; pass "
                "retain_graph=True to the first backward() to go through it twice"
            )
        if ctx is None or node._retains_grad:
            # Gradients accumulate across backward calls (as in PyTorch), never aliased: a first
            # gradient is copied, since an op may have handed the same array to two inputs.
            if node.grad is None:
                node.grad = g.astype(node.dtype, copy=True)
            else:
                node.grad = node.grad + g.astype(node.dtype, copy=False)
        sent = []
        if ctx is not None:
            input_grads = ctx.backward(g)
            if modes.anomaly:
                shapes = [t.shape for t in ctx.inputs if t is not None]
                modes.check_finite(ctx, "backward", [g], input_grads, shapes)
            for inp, g_inp in zip(ctx.inputs, input_grads, strict=True):
                if g_inp is None or inp is None or not inp.requires_grad:
                    continue
                if g_inp.shape != inp.shape:
                    g_inp = unbroadcast(g_inp, inp.shape)
                key = id(inp)
                grads[key] = grads[key] + g_inp if key in grads else g_inp  # a reused input
                sent.append((inp, g_inp))
            if not retain_graph:
                node._ctx = _RELEASED
        yield node, g, sent


class Function:
    """One differentiable op. Subclasses define `forward` on arrays and `backward` on gradients.

    `forward(*arrays, **options)` returns the output array and saves on `self` what backward
    needs. `backward(grad)` receives dL/d(output) and returns one gradient (or None) per input,
    in the broadcast shape; the engine reduces it to the input's shape. `self.needs_grad[i]`
    tells whether input i wants a gradient, so backward can skip work nobody asked for.
    `rules` (one string per input) is the derivative written as math; graph pictures show it.
    """

    rules = ()

    @property
    def name(self):
        """The op's name, e.g. 'MatMul'."""
        return type(self).__name__

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on tensors (or numbers) and, when needed, record it in the graph.

        An input may be None, an optional operand left out (a layer without bias): forward
        gets None for it, and backward returns None in its place.
        """
        like = next((x.data for x in inputs if isinstance(x, Tensor)), None)
        if like is None:
            raise TypeError(f"{cls.__name__} needs at least one Tensor among its inputs")
        tensors = [
            x if x is None or isinstance(x, Tensor) else Tensor(as_array(x, like)) for x in inputs
        ]
        given = [t for t in tensors if t is not None]
        fn = cls()
        fn.needs_grad = [t is not None and t.requires_grad for t in tensors]
        try:
            out = Tensor(fn.forward(*[t if t is None else t.data for t in tensors], **options))
        except ValueError as error:  # e.g. shapes that do not broadcast: say which op and shapes
            shapes = " and ".join(str(t.shape) for t in given)
            raise ValueError(f"{cls.__name__} got shapes {shapes}: {error}") from error
        if modes.anomaly:
            arrays = [t.data for t in given] + [v for v in options.values() if isinstance(v, float)]
            modes.check_finite(fn, "forward", arrays, [out.data], [t.shape for t in given])
        if modes.grad_enabled and any(fn.needs_grad):
            fn.inputs, fn.options = tensors, options
            out.requires_grad, out._ctx, out._scope = True, fn, modes.scope
        return out

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError


# The ops subclass Function, so they are imported once it exists; Tensor's methods look them up
# when called.
from engine import ops, shape_ops  # noqa: E402
