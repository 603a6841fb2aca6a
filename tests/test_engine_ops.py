"""Arithmetic (`//` and `%` too), elementwise functions and matmul: forward values against
NumPy, gradients by gradcheck (float64, random upstream gradient), on shapes drawn by hypothesis.

The reductions, softmax and the shape ops are in test_engine_reductions.py and
test_engine_shape_ops.py.
"""

import math

import numpy as np
import pytest
from conftest import away_from_zero, broadcast_pairs, leaf, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import Tensor, gradcheck

# ---- binary operators, broadcasting either way ------------------------------------------------

BINARY = {
    "add": (lambda a, b: a + b, np.add),
    "sub": (lambda a, b: a - b, np.subtract),
    "mul": (lambda a, b: a * b, np.multiply),
    "div": (lambda a, b: a / b, np.divide),
}


@pytest.mark.parametrize("name", BINARY)
@given(shape_pair=broadcast_pairs(), seed=seeds)
def test_binary_op_matches_numpy_and_gradchecks(name, shape_pair, seed):
    op, reference = BINARY[name]
    rng = np.random.default_rng(seed)
    a = leaf(rng, shape_pair[0])
    b = away_from_zero(rng, shape_pair[1]) if name == "div" else leaf(rng, shape_pair[1])
    np.testing.assert_allclose(op(a, b).data, reference(a.data, b.data), rtol=1e-12)
    assert gradcheck(op, [a, b])


@pytest.mark.parametrize("name", BINARY)
@given(shape_pair=broadcast_pairs(), seed=seeds, which=st.sampled_from([0, 1]))
def test_binary_op_gradient_when_only_one_input_requires_grad(name, shape_pair, seed, which):
    op, _ = BINARY[name]
    rng = np.random.default_rng(seed)
    a = leaf(rng, shape_pair[0])
    b = away_from_zero(rng, shape_pair[1]) if name == "div" else leaf(rng, shape_pair[1])
    constant = (a, b)[which]
    constant.requires_grad = False
    assert gradcheck(op, [a, b])
    assert constant.grad is None


# Reflected forms and plain operands: a Python number or an ndarray on either side.
REFLECTED = {
    "2 * t": (lambda t, c: 2 * t, lambda x, c: 2 * x),
    "t * 0.5": (lambda t, c: t * 0.5, lambda x, c: x * 0.5),
    "1 - t": (lambda t, c: 1 - t, lambda x, c: 1 - x),
    "t - 3": (lambda t, c: t - 3, lambda x, c: x - 3),
    "2.5 + t": (lambda t, c: 2.5 + t, lambda x, c: 2.5 + x),
    "1 / t": (lambda t, c: 1 / t, lambda x, c: 1 / x),
    "t / 4": (lambda t, c: t / 4, lambda x, c: x / 4),
    "array + t": (lambda t, c: c + t, lambda x, c: c + x),
    "t - array": (lambda t, c: t - c, lambda x, c: x - c),
    "array - t": (lambda t, c: c - t, lambda x, c: c - x),
    "array * t": (lambda t, c: c * t, lambda x, c: c * x),
    "array / t": (lambda t, c: c / t, lambda x, c: c / x),
    "t / array": (lambda t, c: t / c, lambda x, c: x / c),
}


@pytest.mark.parametrize("name", REFLECTED)
@given(shape_pair=broadcast_pairs(), seed=seeds)
def test_numbers_and_arrays_on_either_side(name, shape_pair, seed):
    op, reference = REFLECTED[name]
    rng = np.random.default_rng(seed)
    t = away_from_zero(rng, shape_pair[0])
    c = away_from_zero(rng, shape_pair[1]).data  # a plain ndarray, broadcasting with t
    out = op(t, c)
    assert isinstance(out, Tensor)
    np.testing.assert_allclose(out.data, reference(t.data, c), rtol=1e-12)
    assert gradcheck(lambda x: op(x, c), [t])


def test_reflected_ops_by_hand():
    t = Tensor([1.0, 2.0, 4.0], requires_grad=True)
    (2 * t + (1 - t) + 1 / t).sum().backward()
    np.testing.assert_allclose(t.grad, [2 - 1 - 1, 2 - 1 - 0.25, 2 - 1 - 1 / 16])


# ---- elementwise functions ------------------------------------------------------------------


# name: (op, NumPy reference, inputs drawn as: "any", "positive" or "nonzero" (a kink at 0))
UNARY = {
    "neg": (lambda t: -t, lambda x: -x, "any"),
    "exp": (lambda t: t.exp(), np.exp, "any"),
    "log": (lambda t: t.log(), np.log, "positive"),
    "sqrt": (lambda t: t.sqrt(), np.sqrt, "positive"),
    "tanh": (lambda t: t.tanh(), np.tanh, "any"),
    "sigmoid": (lambda t: t.sigmoid(), lambda x: 1 / (1 + np.exp(-x)), "any"),
    "relu": (lambda t: t.relu(), lambda x: np.maximum(x, 0), "nonzero"),
    "erf": (lambda t: t.erf(), np.vectorize(math.erf), "any"),
    "square": (lambda t: t**2, np.square, "any"),
    "cube": (lambda t: t**3, lambda x: x * x * x, "any"),
    "** 0.5": (lambda t: t**0.5, np.sqrt, "positive"),
    "** -1": (lambda t: t**-1, np.reciprocal, "nonzero"),
    "** -1.5": (lambda t: t**-1.5, lambda x: 1 / (x * np.sqrt(x)), "positive"),
}


def draw_input(rng, shape, domain):
    if domain == "positive":
        return leaf(rng, shape, low=0.2, high=3.0)
    if domain == "nonzero":
        return away_from_zero(rng, shape)
    return leaf(rng, shape)


@pytest.mark.parametrize("name", UNARY)
@given(shape=shapes, seed=seeds)
def test_elementwise_op_matches_numpy_and_gradchecks(name, shape, seed):
    op, reference, domain = UNARY[name]
    x = draw_input(np.random.default_rng(seed), shape, domain)
    out = op(x)
    assert out.shape == x.shape
    np.testing.assert_allclose(out.data, reference(x.data), rtol=1e-12, atol=1e-15)
    assert gradcheck(op, [x])


def test_relu_gradient_is_zero_at_and_below_zero():
    x = Tensor([-np.inf, -1.0, 0.0, 2.0, np.inf], requires_grad=True)
    y = x.relu()
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.0, 2.0, np.inf])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0, 1.0, 1.0])


def test_pow_0_is_flat_everywhere_even_at_0():
    x = Tensor([0.0, -2.0, 3.0], requires_grad=True)
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


def test_sigmoid_keeps_its_digits_far_in_the_left_tail():
    for dtype, x in [(np.float32, [-10.0, -17.0, -30.0]), (np.float64, [-37.0, -100.0])]:
        t = Tensor(np.array(x, dtype), requires_grad=True)
        y = t.sigmoid()
        exact = np.exp(np.array(x)) / (1 + np.exp(np.array(x)))  # float64, no cancellation
        np.testing.assert_allclose(y.data, exact, rtol=1e-6)
        y.sum().backward()
        np.testing.assert_allclose(t.grad, exact * (1 - exact), rtol=1e-6)


def test_sigmoid_and_erf_saturate_without_overflow():
    x = Tensor(np.array([-1000.0, 1000.0], dtype=np.float32), requires_grad=True)
    np.testing.assert_array_equal(x.sigmoid().data, [0.0, 1.0])
    np.testing.assert_array_equal(x.erf().data, [-1.0, 1.0])


def test_pow_exponent_must_be_a_number_or_a_tensor():
    with pytest.raises(TypeError, match="a number or a tensor as exponent, got str"):
        Tensor([1.0]) ** "2"


# ---- matmul ---------------------------------------------------------------------------------


@st.composite
def matmul_shapes(draw):
    """Shapes for `a @ b`: batch dims that broadcast either way, and 1-D operands."""
    batch_a, batch_b = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=2, max_side=3)
    ).input_shapes
    n, k, m = (draw(st.integers(1, 4)) for _ in range(3))
    a = (k,) if draw(st.booleans()) else batch_a + (n, k)
    b = (k,) if draw(st.booleans()) else batch_b + (k, m)
    return a, b


@given(shape_pair=matmul_shapes(), seed=seeds)
def test_matmul_matches_numpy_and_gradchecks(shape_pair, seed):
    rng = np.random.default_rng(seed)
    a, b = leaf(rng, shape_pair[0]), leaf(rng, shape_pair[1])
    np.testing.assert_allclose((a @ b).data, np.matmul(a.data, b.data), rtol=1e-12)
    assert gradcheck(lambda a, b: a @ b, [a, b])


@pytest.mark.parametrize(
    ("shape_a", "shape_b"),
    [((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((4, 1, 2, 3), (5, 3, 2)), ((3,), (4, 3, 2))],
)
def test_matmul_one_dimensional_and_batched(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a, b = leaf(rng, shape_a), leaf(rng, shape_b)
    assert (a @ b).shape == np.matmul(a.data, b.data).shape
    assert gradcheck(lambda a, b: a @ b, [a, b])


def test_matmul_with_an_ndarray_on_either_side():
    rng = np.random.default_rng(1)
    t, w = leaf(rng, (2, 3)), rng.standard_normal((3, 3))
    np.testing.assert_allclose((t @ w).data, t.data @ w)
    np.testing.assert_allclose((w @ t.T).data, w @ t.data.T)
    assert gradcheck(lambda t: w @ t.T, [t])


# ---- floor division and remainder -----------------------------------------------------------

# Python's rules, which PyTorch follows: the quotient rounds toward -inf, the remainder takes
# the divisor's sign, and a == b * (a // b) + a % b. (C's truncation would give -3 and -1 for
# -7 and 2.)
DIVISIONS = [  # a, b, a // b, a % b
    (7, 2, 3, 1),
    (-7, 2, -4, 1),
    (7, -2, -4, -1),
    (-7, -2, 3, -1),
    (6, 3, 2, 0),
    (7.5, 2.0, 3.0, 1.5),
    (-7.5, 2.0, -4.0, 0.5),
    (7.5, -2.0, -4.0, -0.5),
]


@pytest.mark.parametrize(("a", "b", "quotient", "rest"), DIVISIONS)
def test_floor_division_and_remainder_round_toward_minus_infinity(a, b, quotient, rest):
    ta, tb = engine.tensor([a]), engine.tensor([b])
    for q, r in [
        (ta // tb, ta % tb),
        (ta // b, ta % b),
        (a // tb, a % tb),
        (ta.floor_divide(tb), ta.remainder(tb)),
        (engine.floor_divide(ta, b), engine.remainder(ta, b)),
    ]:
        assert q.tolist() == [quotient] and r.tolist() == [rest]
        assert q.dtype == r.dtype == (np.float32 if isinstance(a, float) else np.int64)


def test_floor_division_and_remainder_promote_as_the_other_arithmetic():
    small = engine.tensor([7, -7], dtype=np.int32)
    assert (small // 2).dtype == np.int32 and (small % 2).dtype == np.int32  # a number is weak
    assert (small // 2.5).dtype == np.float32  # integers and a float: float32
    assert (small // engine.tensor([2])).dtype == np.int64  # the wider integer
    assert (Tensor(np.array([7.0], np.float32)) % Tensor(np.array([2.0]))).dtype == np.float64
    assert (engine.tensor([True, False]) // 2).tolist() == [0, 0]  # bool counts as 1 and 0


def test_division_by_zero_is_an_error_for_integers_and_inf_or_nan_for_floats():
    with pytest.raises(ZeroDivisionError, match=r"floor_divide \(//\): integer division by zero"):
        engine.tensor([5, 6]) // engine.tensor([1, 0])
    with pytest.raises(ZeroDivisionError, match=r"remainder \(%\): integer division by zero"):
        engine.tensor([5]) % 0
    x = Tensor(np.array([5.0, -5.0, 0.0]))  # IEEE division, without NumPy's warnings
    np.testing.assert_array_equal((x // 0).data, [np.inf, -np.inf, np.nan])
    np.testing.assert_array_equal((x % 0.0).data, [np.nan, np.nan, np.nan])
    with pytest.raises(TypeError, match="got two bool tensors"):
        engine.tensor([True]) // engine.tensor([True])


def remainder_operands(rng, shape_a, shape_b):
    """a = k + u (k an integer in -5..5, u in [0.1, 0.9]) and b one of ±1, ±2, ±4: then a / b
    stays at least 0.025 from a whole number, where a % b jumps, so finite differences see
    the smooth piece; and ⌊a / b⌋ takes many values, so dB = -G ⌊A / B⌋ is tested with them."""
    a = rng.integers(-5, 6, shape_a) + rng.uniform(0.1, 0.9, shape_a)
    b = rng.choice([-4.0, -2.0, -1.0, 1.0, 2.0, 4.0], shape_b)
    return Tensor(a, requires_grad=True), Tensor(b, requires_grad=True)


@given(shape_pair=broadcast_pairs(), seed=seeds)
def test_remainder_gradchecks_and_floor_division_rebuilds_the_dividend(shape_pair, seed):
    a, b = remainder_operands(np.random.default_rng(seed), *shape_pair)
    with engine.no_grad():
        np.testing.assert_allclose(
            (b * (a // b) + a % b).data, np.broadcast_to(a.data, (a % b).shape)
        )
    assert gradcheck(lambda a, b: a % b, [a, b])
    assert gradcheck(lambda a: a % 2.0, [a])
    assert gradcheck(lambda b: 7.5 % b, [b])


def test_remainder_gradient_by_hand():
    a = Tensor([5.0, -5.0, 5.0, -5.0], requires_grad=True)
    b = Tensor([3.0, 3.0, -3.0, -3.0], requires_grad=True)
    (a % b).sum().backward()
    np.testing.assert_array_equal(a.grad, [1, 1, 1, 1])  # d(a - b ⌊a/b⌋)/da: the floor is flat
    np.testing.assert_array_equal(b.grad, [-1, 2, 2, -1])  # -⌊a/b⌋: ⌊5/3⌋ = 1, ⌊-5/3⌋ = -2


def test_floor_division_has_no_derivative_as_in_pytorch():
    x = Tensor([1.5, 2.5], requires_grad=True)
    y = x // 1  # recorded, as PyTorch records it, but its backward refuses
    assert y.requires_grad and y.tolist() == [1.0, 2.0]
    with pytest.raises(RuntimeError, match=r"derivative of floor_divide \(//\) is not"):
        (y * x).sum().backward()
    assert not (x.detach() // 1).requires_grad
    assert not (engine.tensor([3]) // 2).requires_grad  # integers never carry a gradient
