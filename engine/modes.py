"""Switches that change what every op does while they are on.

- `no_grad()`: build no graph (evaluation, sampling, optimizer updates); `enable_grad()` and
  `set_grad_enabled(flag)` switch it back on, or either way.
- `module_scope(module)`: tag each op with the modules whose forward is running, so graph
  pictures can group ops by module (`nn.Module.__call__` enters it).
- `detect_anomaly()`: check every op's forward and backward for newly made NaN or Inf.

Each is a module-level variable that `Function.apply` and `backprop` read (engine/function.py,
engine/backward.py): one for the whole process, where PyTorch keeps one per thread.
"""

import contextlib
import functools
import inspect

import numpy as np

grad_enabled = True
scope = ()  # the modules whose forward is running, outermost first
anomaly = False
in_place_changes = 0  # how many in-place changes the process has made (engine/changes.py)


class ContextDecorator(contextlib.ContextDecorator):
    """contextlib's: a context manager that also decorates a function, to run it inside. A
    generator function runs inside at each of its steps, as with PyTorch's grad modes (a plain
    decorator would switch only while the generator is made, not while its body runs)."""

    def __call__(self, function):
        if not inspect.isgeneratorfunction(function):
            return super().__call__(function)

        @functools.wraps(function)
        def steps(*args, **kwargs):
            generator = function(*args, **kwargs)
            resume, value = generator.send, None
            while True:
                try:
                    with self._recreate_cm():
                        request = resume(value)
                except StopIteration as stop:
                    return stop.value
                try:
                    resume, value = generator.send, (yield request)
                except GeneratorExit:
                    generator.close()
                    raise
                except BaseException as error:  # thrown in: passed on to the generator
                    resume, value = generator.throw, error

        return steps


class _GradMode(ContextDecorator):
    """Graph building on or off (`mode`) inside a `with` block or a decorated function.

    One decorator instance serves every call of its function, recursive ones included, so the
    states to restore are kept on a stack.
    """

    mode = True

    def __new__(cls, function=None):
        """`@no_grad()` or, as PyTorch also takes it, a bare `@no_grad`."""
        self = super().__new__(cls)
        if function is None:
            return self
        self.__init__()
        return self(function)  # the decorated function

    def __init__(self):
        self._previous = []

    def __enter__(self):
        global grad_enabled
        self._previous.append(grad_enabled)
        grad_enabled = self.mode

    def __exit__(self, *exc):
        global grad_enabled
        grad_enabled = self._previous.pop()


class no_grad(_GradMode):
    """Disable graph building: ops inside give plain results that require no grad.

    Use as `with engine.no_grad(): ...` or as a decorator `@engine.no_grad()`.
    """

    mode = False


class enable_grad(_GradMode):
    """Build the graph again inside a `no_grad` block (or decorated function)."""

    mode = True


class set_grad_enabled(ContextDecorator):
    """Graph building on (`mode=True`) or off, as PyTorch's: a plain call
    `engine.set_grad_enabled(False)` switches at once; `with engine.set_grad_enabled(flag):`
    switches for the block and then restores the mode from before the call; as a decorator,
    it switches only while the function runs."""

    def __init__(self, mode):
        global grad_enabled
        self.mode, self._before = bool(mode), grad_enabled
        grad_enabled = self.mode

    def __enter__(self):
        global grad_enabled
        grad_enabled = self.mode

    def __exit__(self, *exc):
        global grad_enabled
        grad_enabled = self._before

    def _recreate_cm(self):  # each call (or step) of a decorated function: a fresh switch
        return set_grad_enabled(self.mode)

    def __call__(self, function):
        global grad_enabled
        grad_enabled = self._before  # decorating is no call: nothing switches yet
        return super().__call__(function)


def is_grad_enabled():
    """True unless graph building is switched off (`no_grad`, `set_grad_enabled(False)`)."""
    return grad_enabled


class module_scope:
    """Tag the ops created inside with `module` (used by `nn.Module.__call__` and by viz).

    A class rather than a generator with `contextlib.contextmanager`: every module call
    enters one, and this is a few times cheaper, which sampling one token at a time feels."""

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        global scope
        self.outer = scope
        scope = self.outer + (self.module,)

    def __exit__(self, *exc):
        global scope
        scope = self.outer


@contextlib.contextmanager
def detect_anomaly():
    """Inside, the first op whose forward or backward turns finite numbers into NaN or Inf
    raises `FloatingPointError` naming the op and its input shapes (a debugging aid: it checks
    every array, so it is slow). Infinities that come in (a -inf attention mask) are allowed."""
    global anomaly
    previous, anomaly = anomaly, True
    try:
        yield
    finally:
        anomaly = previous


def check_finite(fn, stage, inputs, outputs, shapes):
    """Raise if `outputs` hold NaN or Inf although every float array in `inputs` is finite."""
    floats = [a for a in inputs if np.asarray(a).dtype.kind == "f"]
    if all(np.isfinite(a).all() for a in floats) and not all(
        np.isfinite(a).all() for a in outputs if a is not None
    ):
        raise FloatingPointError(
            f"{fn.name} {stage} produced NaN or Inf from finite inputs of shapes {shapes}"
        )
