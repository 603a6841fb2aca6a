"""Which memory was changed in place, and when: what lets a backward refuse stale inputs.

Every in-place change of a tensor's data (engine/tensor_in_place.py) takes the next number
of `modes.in_place_changes`, and a node of the graph keeps the number that was current when
its forward ran (`Function.apply`). The change is recorded against the memory it wrote, not
the tensor: a tensor, its views (`t[0]`, `t.T`, `t.view(...)`, which are NumPy views) and its
`detach()` all read the memory of one array, so a change through any of them changes what
every other one holds. NumPy tells which array that is: a view's `.base` is the array that
owns its memory. (Arrays that NumPy made apart over one foreign buffer, as `np.frombuffer`
twice, count apart: the engine makes none.) PyTorch gets the same effect from one version
counter shared by a tensor and its views. An optimizer's step changes its parameters in
place too (nn/optimizer.py), so a backward after it, through the graph of a forward before
it, is refused as well.
"""

import weakref

import numpy as np

from engine import modes

_last_change = {}  # id(owner) -> (weak reference to the owner, number of its last change)


def owner(array):
    """The array that owns `array`'s memory: itself, or the array its views were made from."""
    while isinstance(array.base, np.ndarray):
        array = array.base
    return array


def record(array):
    """Count one in-place change of `array`'s memory."""
    modes.in_place_changes += 1
    memory = owner(array)
    key = id(memory)
    entry = _last_change.get(key)
    if entry is None:  # the entry goes when the memory does
        entry = (weakref.ref(memory, lambda _: _last_change.pop(key, None)),)
    _last_change[key] = (entry[0], modes.in_place_changes)


def changed_since(array, number):
    """Whether `array`'s memory was changed in place after change `number`."""
    memory = owner(array)
    entry = _last_change.get(id(memory))
    return entry is not None and entry[0]() is memory and entry[1] > number
