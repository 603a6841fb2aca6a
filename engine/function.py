"""`Function`: one differentiable op, and the node it leaves in the graph.

An op is a small subclass with `forward` on arrays and `backward` on gradients, side by side
(`engine/ops.py`, `engine/power_ops.py`, `engine/reduction_ops.py`, `engine/division_ops.py`,
`engine/shape_ops.py`, `engine/dtype_ops.py`).
`Function.apply` runs one on tensors and, when a gradient will be wanted, records it: the
output tensor keeps the Function object as its `grad_fn`, with the input tensors and the op's
options. That object is the node of the graph; `backward()` (engine/backward.py) calls its
`backward` and then frees what its forward saved, keeping the node itself so the graph can
still be drawn.
"""

import numpy as np

from engine import changes, modes, promotion

KEPT = ("inputs", "options", "needs_grad")  # what a node keeps once backward has freed it


def as_array(value, like):
    """An operand that is not a Tensor (number, list or array) as an ndarray.

    `float32 tensor * 0.5` must stay float32, so a number (a Python one or a NumPy scalar such
    as `np.sqrt(64)`, as in PyTorch) is given the dtype NumPy's promotion picks for `like` and a
    Python number, but float32 for a float beside integers or booleans (engine/promotion.py);
    so is a 0-d array. A list is converted as `Tensor(list)` does; any other ndarray keeps
    its dtype.
    """
    if isinstance(value, np.ndarray) and value.ndim > 0:
        return value
    if isinstance(value, np.generic | np.ndarray):
        value = value.item()
    if isinstance(value, float) and like.dtype.kind != "f":
        return np.asarray(value, dtype=np.float32)
    if isinstance(value, int | float | bool):
        return np.asarray(value, dtype=np.result_type(like, value))
    return tensor.Tensor(value).data


class Function:
    """One differentiable op. Subclasses define `forward` on arrays and `backward` on gradients.

    `forward(*arrays, **options)` returns the output array and saves on `self` what backward
    needs. `backward(grad)` receives dL/d(output) and returns one gradient (or None) per input,
    in the broadcast shape; the engine reduces it to the input's shape. An array it returns is
    the caller's from then on (a leaf may keep it as its `.grad`), so backward must not keep it
    for later use, as a buffer reused across calls would be. `self.needs_grad[i]` tells whether
    input i wants a gradient, so backward can skip work nobody asked for. `rules` (one string
    per input) is the derivative written as math; graph pictures show it.

    Only a floating output carries a gradient: an op whose output is boolean or integer (a
    comparison, argmax) is never recorded, whatever its inputs.

    The inputs listed in `promotes` are computed in one dtype, the one PyTorch gives them
    (engine/promotion.py), and with `to_float` a floating one (`/` and exp of integers are
    float32); forward sees them cast, and each gradient goes back in its input's dtype.
    """

    rules = ()
    promotes = ()  # indices of the inputs cast to their common dtype, or "all"
    to_float = False
    freed = False  # set by `free_saved`, once backward has used the node
    saves_output = False  # True where backward reads the op's own output (exp: dX = G * Y)
    differentiable = True  # False for an op with no derivative (floor_divide): backward raises

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
        Tensor = tensor.Tensor
        like = None  # the first tensor's array: numbers among the inputs take their dtype from it
        for x in inputs:
            if isinstance(x, Tensor):
                like = x.data
                break
        if like is None:
            raise TypeError(f"{cls.__name__} needs at least one Tensor among its inputs")
        fn = cls()
        # Plain loops, not comprehensions: an op's own cost is a few microseconds, and at the
        # small sizes (sampling, one token at a time) it is most of the step.
        tensors, arrays, fn.needs_grad = [], [], []
        for x in inputs:
            if x is not None and not isinstance(x, Tensor):
                x = Tensor(as_array(x, like))
            tensors.append(x)
            arrays.append(None if x is None else x.data)
            fn.needs_grad.append(x is not None and x.requires_grad)
        if cls.promotes:
            arrays = promotion.promote(arrays, cls.promotes, cls.to_float)
        try:
            out = Tensor(fn.forward(*arrays, **options))
        except ValueError as error:  # e.g. shapes that do not broadcast: say which op and shapes
            shapes = " and ".join(str(t.shape) for t in tensors if t is not None)
            raise ValueError(f"{cls.__name__} got shapes {shapes}: {error}") from error
        if modes.anomaly:
            given = [t for t in tensors if t is not None]
            arrays = [t.data for t in given] + [v for v in options.values() if isinstance(v, float)]
            modes.check_finite(fn, "forward", arrays, [out.data], [t.shape for t in given])
        if modes.grad_enabled and any(fn.needs_grad) and out.dtype.kind == "f":
            fn.inputs, fn.options = tensors, options
            fn.stamp = modes.in_place_changes  # to tell, in backward, what changed since
            out._requires_grad, out._ctx, out._scope = True, fn, modes.scope
        return out

    def check_unchanged(self, output):
        """Refuse a backward whose inputs were changed in place after forward read them, or
        its `output` (where `saves_output`: backward reads it): what it saved no longer holds
        the values it used, so the gradient would be silently wrong. PyTorch refuses it the
        same way (it counts versions; here each in-place change of a block of memory is
        numbered, engine/changes.py, and a node keeps the number of the last before it)."""
        watched = [("input", "used", t) for t in self.inputs if t is not None]
        if self.saves_output:
            watched.append(("output", "made", output))
        for what, verb, t in watched:
            if changes.changed_since(t.data, self.stamp):
                raise RuntimeError(
                    f"{self.name}'s {what} {t.shape} was changed in place after {self.name} "
                    f"{verb} it (itself, or a view or detach() sharing its memory), so its "
                    "gradient would be wrong: change a copy (t.clone()), or change it after "
                    "backward()"
                )

    def free_saved(self):
        """Drop what forward saved for backward (`self.x`, `self.y`, ...): backward has used it.

        The node stays, with its inputs and options, so the graph can still be walked and drawn;
        only a second backward through it is refused (`freed`).
        """
        saved = vars(self)
        self.__dict__ = {name: saved[name] for name in KEPT}
        self.freed = True

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError


# Function.apply makes Tensors, and a Tensor's methods apply Functions, so engine/tensor.py and
# this file need each other. This one takes the module, not the class: by the time any op
# runs, both are complete.
from engine import tensor  # noqa: E402
