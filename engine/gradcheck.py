"""Finite-difference gradient checking: the project's test of every backward it has.

For a function f of tensors and a random upstream gradient u (random rather than all ones,
which can hide a transposed or mis-summed gradient), the analytic gradient of L = sum(u * f)
from backward() must match central differences

    dL/dx[i] ≈ (L(x + eps e_i) - L(x - eps e_i)) / (2 eps)

element by element, in float64 (float32 differences are too coarse to tell right from wrong).
"""

import numpy as np

from engine.modes import no_grad
from engine.tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the finite-difference one."""


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, max_elements=None, seed=0):
    """Check `fn(*inputs)`'s gradient with respect to every input that requires grad.

    `inputs` are float64 Tensors; `fn` returns a float64 Tensor of any shape. With
    `max_elements`, a seeded random sample of that many elements per input is checked (for
    large parameters); otherwise every element. Returns True or raises `GradcheckError`
    naming the input, the element, and the analytic and numeric values.
    """
    inputs = list(inputs)
    for k, x in enumerate(inputs):
        if not isinstance(x, Tensor):
            raise TypeError(f"gradcheck input {k} is a {type(x).__name__}, not a Tensor")
        if x.requires_grad and x.dtype != np.float64:
            raise TypeError(
                f"gradcheck input {k} has dtype {x.dtype}; finite differences need float64 "
                f"(use Tensor(array.astype(np.float64)) or module.to(np.float64))"
            )
    rng = np.random.default_rng(seed)
    out = fn(*inputs)
    if not out.requires_grad:
        raise GradcheckError("fn's output does not require grad: no input reaches it")
    if out.dtype != np.float64:
        raise TypeError(f"gradcheck needs a float64 output, fn returned {out.dtype}")
    upstream = rng.standard_normal(out.shape)

    saved_grads = [x.grad for x in inputs]
    for x in inputs:
        x.grad = None
    out.backward(upstream)
    analytic = [x.grad for x in inputs]
    for x, g in zip(inputs, saved_grads, strict=True):
        x.grad = g

    def loss():
        with no_grad():
            return float(np.sum(fn(*inputs).data * upstream))

    for k, x in enumerate(inputs):
        if not x.requires_grad:
            continue
        grad = np.zeros(x.shape) if analytic[k] is None else analytic[k]
        elements = range(x.size)
        if max_elements is not None and x.size > max_elements:
            elements = rng.choice(x.size, size=max_elements, replace=False)
        for i in elements:
            index = np.unravel_index(i, x.shape)  # written in place, whatever x's memory layout
            original = x.data[index]
            x.data[index] = original + eps
            plus = loss()
            x.data[index] = original - eps
            minus = loss()
            x.data[index] = original
            numeric = (plus - minus) / (2 * eps)
            exact = grad[index]
            if not abs(exact - numeric) <= atol + rtol * abs(numeric):
                raise GradcheckError(
                    f"gradient mismatch for input {k} (shape {x.shape}) at element "
                    f"{tuple(int(j) for j in index)}: analytic {exact:.8g}, numeric {numeric:.8g}"
                )
    return True
