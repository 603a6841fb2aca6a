"""Changing a tensor's data in place: `p -= lr * p.grad`, `t.zero_()`, `counts[i, j] += 1`.

`Tensor` (engine/tensor.py) inherits these from `TensorInPlace`. The graph's ops read their
inputs' data again in backward, so the rule, as PyTorch's for the cases it covers:
  - where no graph is built through the tensor (inside `engine.no_grad()`, or where neither the
    tensor nor the value requires grad), its data changes in place, and every reference to it
    sees the change: an optimizer's step, a table of bigram counts;
  - a leaf that requires grad, while the graph is built, is refused: the graph would lose it;
  - otherwise `a += b` makes a new tensor, as `a = a + b` does (the graph records it), while
    `t[i] = v` and the methods ending in `_`, which promise to change `t` itself, are refused.
Each change is numbered, against the memory it wrote (engine/changes.py: a tensor, its views
and its `detach()` share it); an op keeps the number current when it ran, and its backward
refuses to run if an input has changed since (`Function.check_unchanged`), as PyTorch's does
(it counts versions): a graph never differentiates values other than those it computed with.
Change a `clone()` instead, or change it after `backward()`.
"""

import operator

import numpy as np

from engine import changes, modes


class TensorInPlace:
    """The in-place methods of `Tensor`: `+= -= *= /=`, `add_ sub_ mul_ div_ zero_ fill_ copy_`
    and item assignment."""

    __slots__ = ()

    def __iadd__(self, other):
        return self._in_place("+=", _ufunc(np.add), other, operator.add)

    def __isub__(self, other):
        return self._in_place("-=", _ufunc(np.subtract), other, operator.sub)

    def __imul__(self, other):
        return self._in_place("*=", _ufunc(np.multiply), other, operator.mul)

    def __itruediv__(self, other):
        return self._in_place("/=", _ufunc(np.divide), other, operator.truediv)

    def add_(self, other, *, alpha=1):
        """self += alpha * other, in place; returns self."""
        return self._in_place("add_()", _ufunc(np.add), _scaled(other, alpha))

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other, in place; returns self."""
        return self._in_place("sub_()", _ufunc(np.subtract), _scaled(other, alpha))

    def mul_(self, other):
        """self *= other, in place; returns self."""
        return self._in_place("mul_()", _ufunc(np.multiply), other)

    def div_(self, other):
        """self /= other, in place; returns self."""
        return self._in_place("div_()", _ufunc(np.divide), other)

    def fill_(self, value):
        """Every element set to the number `value`, in place; returns self."""
        return self._in_place("fill_()", _copy("same_kind"), value)

    def zero_(self):
        """Every element set to 0, in place; returns self."""
        return self._in_place("zero_()", _copy("same_kind"), 0)

    def copy_(self, src):
        """`src`'s values (broadcast to self's shape, cast to its dtype) into self; returns self."""
        return self._in_place("copy_()", _copy("unsafe"), src)

    def __setitem__(self, index, value):
        """`t[index] = value` (NumPy's indexing, Tensors of ids or masks included, ints with
        index arrays read as PyTorch reads them: `ints_first`) writes into t's data."""
        index = plain_index(index)
        select, rest = ints_first(index) or (Ellipsis, index)
        # data[select] is a view of data: writing into it writes into data
        self._in_place("t[...] = v", lambda data, v: data[select].__setitem__(rest, v), value)

    def _in_place(self, what, write, other, op=None):
        """`write(self.data, other)` where no graph is built through self (see above); returns
        self. Else `op(self, other)`, a new tensor, or an error where there is no `op`."""
        if modes.grad_enabled and (self.requires_grad or getattr(other, "requires_grad", False)):
            if self.is_leaf and self.requires_grad:
                raise RuntimeError(
                    f"{what} on a leaf tensor that requires grad, while the graph is built: "
                    f"do it inside `with engine.no_grad():`, as an optimizer step does"
                )
            if op is None:
                raise RuntimeError(
                    f"{what} would change a tensor of the graph being built in place; write "
                    "t = t + ... (a new tensor), or build the values with engine.cat or stack"
                )
            return op(self, other)
        try:
            write(self.data, other.data if isinstance(other, TensorInPlace) else other)
        except TypeError:  # NumPy's UFuncTypeError: an int tensor /= 2, say
            raise TypeError(
                f"{what}: the result does not fit the tensor's {self.dtype} data; convert it "
                "first (t.float())"
            ) from None
        changes.record(self.data)  # a graph that read the old values refuses its backward
        return self


def plain_index(index):
    """`index` with each Tensor in it (of ids, or a boolean mask) as its ndarray. A uint8
    tensor is refused: PyTorch reads it as a mask (an old spelling it still takes), NumPy as
    ids, and either reading would be silently wrong for someone who meant the other."""
    parts = index if isinstance(index, tuple) else (index,)
    if not any(isinstance(i, TensorInPlace) for i in parts):
        return index
    if any(isinstance(i, TensorInPlace) and i.dtype == np.uint8 for i in parts):
        raise IndexError(
            "an index tensor of dtype uint8 is a mask in PyTorch but ids in NumPy: convert it, "
            "with .bool() for a mask or .long() for ids"
        )
    parts = tuple(i.data if isinstance(i, TensorInPlace) else i for i in parts)
    return parts if isinstance(index, tuple) else parts[0]


def ints_first(index):
    """PyTorch's reading of an index that mixes ints with index arrays, as (select, rest), or
    None where NumPy reads it the same way (no int, or no array).

    PyTorch takes the ints first, as selections that remove their axes, and then indexes what
    is left with the arrays. NumPy counts an int as one more index array, and where a slice or
    `...` stands between it and an array, it moves the arrays' axes to the front: for x of
    shape (2, 3, 3), x[0, :, [2, 1]] is x[0][:, [2, 1]], (3, 2), in PyTorch, and its transpose
    in NumPy. So `x[index]` is `x[select][rest]` here, where `select` holds the ints (and the
    slices, None and ...) and `rest` the arrays."""
    parts = index if isinstance(index, tuple) else (index,)

    def is_int(i):
        if isinstance(i, np.ndarray):
            return i.ndim == 0 and i.dtype.kind in "iu"
        return isinstance(i, int | np.integer) and not isinstance(i, bool)

    arrays = [isinstance(i, list | np.ndarray) and not is_int(i) for i in parts]
    if not any(arrays) or not any(map(is_int, parts)):
        return None
    select, rest = [], []
    for part, array in zip(parts, arrays, strict=True):
        if array:  # its axes, kept whole by select, then indexed by rest
            dims = np.ndim(part) if np.asarray(part).dtype == bool else 1
            select += [slice(None)] * dims
            rest.append(part)
        elif is_int(part):
            select.append(part)  # its axis is gone: nothing for rest
        else:  # a slice, None or ...: applied by select; rest keeps what it made
            select.append(part)
            rest.append(Ellipsis if part is Ellipsis else slice(None))
    return tuple(select), tuple(rest)


def _ufunc(ufunc):
    """A write that applies `ufunc(data, value)` into data, which keeps its shape and dtype."""

    def write(data, value):
        if np.broadcast_shapes(data.shape, np.shape(value)) != data.shape:
            raise ValueError(
                f"in place, a value of shape {np.shape(value)} does not fit a tensor of shape "
                f"{data.shape}"
            )
        ufunc(data, value, out=data, casting="same_kind")

    return write


def _copy(casting):
    def write(data, value):
        np.copyto(data, value, casting=casting)

    return write


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha
