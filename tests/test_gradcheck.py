"""engine.gradcheck itself: it passes correct gradients, catches wrong ones (including one that
an all-ones upstream gradient would hide), names what went wrong, and refuses float32.
"""

import re

import numpy as np
import pytest

from engine import Function, GradcheckError, Tensor, gradcheck


class SquareMissingFactor(Function):
    """y = x², with a backward that forgets the 2: dX = G * X (deliberately wrong)."""

    rules = ("dX = G * X  (wrong: should be 2 G X)",)

    def forward(self, x):
        self.x = x
        return x * x

    def backward(self, g):
        return (g * self.x,)


class ReversedIdentity(Function):
    """y = x, with a backward that reverses G: right only when G is the same everywhere."""

    rules = ("dX = G reversed  (wrong: should be G)",)

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g[::-1],)


class MulWrongAtOneElement(Function):
    """y = a * b, with dB off at element (1, 0) only."""

    rules = ("dA = G * B", "dB = G * A, off by 0.1 at (1, 0)")

    def forward(self, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, g):
        gb = g * self.a
        gb[1, 0] += 0.1
        return g * self.b, gb


def leaf(shape, seed=0):
    return Tensor(np.random.default_rng(seed).uniform(0.5, 2.0, shape), requires_grad=True)


MESSAGE = re.compile(r"input (\d+) \(shape (.*)\) at element (.*): analytic (\S+), numeric (\S+)$")


def test_catches_a_wrong_backward_and_names_input_element_and_values():
    x = leaf((2, 2))
    with pytest.raises(GradcheckError) as caught:
        gradcheck(SquareMissingFactor.apply, [x])
    k, shape, element, analytic, numeric = MESSAGE.search(str(caught.value)).groups()
    assert (k, shape, element) == ("0", "(2, 2)", "(0, 0)")
    # The numeric value is the true derivative 2 x u; the analytic one is half of it.
    assert float(numeric) == pytest.approx(2 * float(analytic), rel=1e-6)


def test_names_the_input_and_element_that_are_wrong():
    a, b = leaf((2, 3), seed=1), leaf((2, 3), seed=2)
    with pytest.raises(GradcheckError) as caught:
        gradcheck(MulWrongAtOneElement.apply, [a, b])
    k, shape, element, analytic, numeric = MESSAGE.search(str(caught.value)).groups()
    assert (k, shape, element) == ("1", "(2, 3)", "(1, 0)")
    assert float(analytic) - float(numeric) == pytest.approx(0.1, rel=1e-4)


def test_random_upstream_gradient_catches_what_all_ones_would_hide():
    x = leaf((5,))
    ReversedIdentity.apply(x).backward(np.ones(5))
    np.testing.assert_array_equal(x.grad, np.ones(5))  # looks right with an all-ones seed
    with pytest.raises(GradcheckError, match="input 0"):
        gradcheck(ReversedIdentity.apply, [x])


def test_passes_correct_gradients_and_restores_the_inputs():
    a, b = leaf((3, 4), seed=3), leaf((4,), seed=4)
    a.grad = np.full((3, 4), 7.0)
    before = a.data.copy()
    assert gradcheck(lambda a, b: (a * b).tanh().sum(axis=0), [a, b]) is True
    np.testing.assert_array_equal(a.data, before)
    np.testing.assert_array_equal(a.grad, np.full((3, 4), 7.0))  # earlier grads kept
    assert b.grad is None


def test_max_elements_checks_a_sample():
    x = leaf((20, 20))
    assert gradcheck(lambda t: (t * t).sum(), [x], max_elements=10)
    with pytest.raises(GradcheckError):
        gradcheck(SquareMissingFactor.apply, [x], max_elements=10)


def test_refuses_float32_inputs():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="float32.*float64"):
        gradcheck(lambda t: t * 2, [x])


def test_refuses_non_tensor_inputs():
    with pytest.raises(TypeError, match="not a Tensor"):
        gradcheck(lambda t: t * 2, [np.ones(3)])


def test_output_must_depend_on_an_input_that_requires_grad():
    x = Tensor(np.ones(3))
    with pytest.raises(GradcheckError, match="does not require grad"):
        gradcheck(lambda t: t * 2, [x])


def test_gradcheck_handles_non_contiguous_inputs():
    data = np.random.default_rng(0).standard_normal((3, 4)).T  # a transposed view
    x = Tensor(data, requires_grad=True)
    assert not x.data.flags.c_contiguous
    assert gradcheck(lambda x: (x * x).sum(axis=0), [x])
