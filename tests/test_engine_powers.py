"""`base ** t`, a number to a tensor's power (engine/power_ops.py's NumberPow): exact values,
PyTorch's dtypes, the gradient base^t ln(base), and PyTorch's answers for a base <= 0.

Expected values are worked out by hand: powers of 10 up to 10¹⁰ = 2¹⁰ · 5¹⁰ (5¹⁰ < 2²⁴) are
exact in float32, so they must come out exact, as np.power gives them (exp(t ln 10) would
not: it gave 1000.0001). The dtypes are the ones torch 2.13's `number ** tensor` gives.
`t ** p` (Pow, beside it) is tested here for its dtypes and with the arithmetic in
test_engine_ops.py; `a ** b` of two tensors (TensorPow) at the end, its edges worked by hand
from PyTorch's rules (dA = 0 where b = 0, dB = 0 where a = 0 and b >= 0).
"""

import math
import re

import numpy as np
import pytest
from conftest import seeds
from hypothesis import given
from hypothesis.extra import numpy as hnp

import engine
from engine import Tensor, gradcheck


def test_powers_of_ten_are_exact_in_float32():
    y = 10 ** engine.arange(11.0)
    assert y.dtype == np.float32
    assert y.tolist() == [10.0**k for k in range(11)]  # 1000.0 exactly, not 1000.0001
    assert (3 ** engine.tensor([3.0])).tolist() == [27.0]
    assert (2 ** engine.tensor([-1.0, -3.0])).tolist() == [0.5, 0.125]
    assert (10 ** engine.tensor([3.0], dtype=engine.float64)).item() == 1000.0


@pytest.mark.parametrize(
    ("base", "exponent", "dtype", "expected"),
    [  # PyTorch's: a number is weaker than the tensor, but a float base beside integers floats
        (2, engine.tensor([1, 2]), np.int64, [2, 4]),
        (2, engine.tensor([1, 2], dtype=engine.int32), np.int32, [2, 4]),
        (2, engine.tensor([True, False]), np.int64, [2, 1]),
        (2.0, engine.tensor([1, 2]), np.float32, [2.0, 4.0]),
        (2.5, engine.tensor([1, 2], dtype=engine.int32), np.float32, [2.5, 6.25]),
        (2, engine.tensor([1.0, 2.0], dtype=engine.float64), np.float64, [2.0, 4.0]),
        (2, engine.tensor([1.0, 2.0], dtype=engine.float16), np.float16, [2.0, 4.0]),
        (np.float64(2.0), engine.tensor([1.0, 2.0]), np.float32, [2.0, 4.0]),  # as a number
        (True, engine.tensor([1.5]), np.float32, [1.0]),
    ],
)
def test_the_dtype_is_pytorchs(base, exponent, dtype, expected):
    y = base**exponent
    assert y.dtype == dtype and y.tolist() == expected


@pytest.mark.parametrize(
    ("base", "exponent", "dtype", "expected"),
    [  # PyTorch's `tensor ** number`: a whole power keeps integers (bools become int64), a
        # float power makes them float32
        (engine.tensor([True, False]), 2, np.int64, [1, 0]),
        (engine.tensor([True, False]), 2.0, np.float32, [1.0, 0.0]),
        (engine.tensor([1, 3], dtype=engine.int32), 2, np.int32, [1, 9]),
        (engine.tensor([4, 9]), 0.5, np.float32, [2.0, 3.0]),
        (engine.tensor([3.0], dtype=engine.float16), 2, np.float16, [9.0]),
    ],
)
def test_a_tensor_to_a_numbers_power_has_pytorchs_dtype(base, exponent, dtype, expected):
    y = base**exponent
    assert y.dtype == dtype and y.tolist() == expected


@given(seed=seeds)
def test_gradient_is_base_to_the_t_times_ln_base(seed):
    x = Tensor(np.random.default_rng(seed).uniform(-2, 2, (3, 2)), requires_grad=True)
    for base in (10, 0.5, 1, math.e):
        assert gradcheck(lambda t, base=base: base**t, [x])


def test_gradient_by_hand():
    x = Tensor([0.0, 1.0, 2.0], requires_grad=True)
    (2**x).sum().backward()
    np.testing.assert_allclose(x.grad, np.array([1, 2, 4]) * math.log(2), rtol=1e-6)
    x.grad = None
    (1**x).sum().backward()  # 1^t = 1 whatever t: flat
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_a_base_of_zero_or_below_is_pytorchs():
    x = Tensor([-1.0, 0.0, 0.5, 2.0], requires_grad=True)
    y = 0**x  # inf, 1, 0, 0: flat where t >= 0 (PyTorch's 0 at the jump t = 0), -inf below
    y.sum().backward()
    assert y.tolist() == [math.inf, 1.0, 0.0, 0.0] and x.grad.tolist() == [-math.inf, 0, 0, 0]
    x.grad = None
    y = (-2.0) ** x  # real at whole t only: ln(-2) has no real value, so no gradient either
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [-0.5, 1.0, np.nan, 4.0])
    assert np.isnan(x.grad).all()


def test_refusals_name_the_base():
    with pytest.raises(ValueError, match=r"negative integer power is no integer: 2 \*\* -1"):
        2 ** engine.tensor([-1, 2])  # PyTorch gives 0 for 2 ** -1 here, silently
    with pytest.raises(TypeError, match="got base True and a bool tensor"):
        True ** engine.tensor([True])  # PyTorch: "pow" not implemented for 'Bool'
    for base in ("10", 1j, [2.0]):
        with pytest.raises(TypeError, match=re.escape(f"real number as base, got {base!r}")):
            base ** engine.tensor([1.0])


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_tensor_to_a_tensors_power_has_both_gradients(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = shapes.input_shapes
    base = Tensor(rng.uniform(0.5, 2.0, a), requires_grad=True)  # > 0: both slopes are real
    exponent = Tensor(rng.uniform(-2.0, 2.0, b), requires_grad=True)
    assert (base**exponent).shape == shapes.result_shape
    assert gradcheck(lambda x, p: x**p, [base, exponent])


def test_tensor_to_a_tensors_power_at_its_edges():
    a = Tensor([0.0, 0.0, 0.0, 2.0, -2.0], requires_grad=True)
    b = Tensor([0.0, 2.0, -1.0, 3.0, 0.5], requires_grad=True)
    y = a**b
    y.sum().backward()
    np.testing.assert_array_equal(y.data, [1.0, 0.0, math.inf, 8.0, np.nan])
    # b a^(b-1): 0 where b = 0; 2 · 0 = 0; -1 · 0^-2 = -inf; 3 · 4 = 12; NaN for a < 0
    np.testing.assert_array_equal(a.grad, [0.0, 0.0, -math.inf, 12.0, np.nan])
    # a^b ln a: 0 where a = 0 and b >= 0; inf · -inf = -inf where b < 0; 8 ln 2; NaN
    np.testing.assert_allclose(b.grad, [0.0, 0.0, -math.inf, 8 * math.log(2), np.nan])


@pytest.mark.parametrize(
    ("base", "exponent", "dtype", "expected"),
    [  # torch 2.13's dtypes for tensor ** tensor: their common dtype
        (engine.tensor([2, 3]), engine.tensor([3, 0]), np.int64, [8, 1]),
        (engine.tensor([4], dtype=engine.int32), engine.tensor([2]), np.int64, [16]),
        (engine.tensor([4]), engine.tensor([0.5]), np.float32, [2.0]),
        (engine.tensor([2.0]), engine.tensor([3.0], dtype=engine.float64), np.float64, [8.0]),
        (engine.tensor([True]), engine.tensor([2]), np.int64, [1]),
    ],
)
def test_tensor_to_a_tensors_power_has_pytorchs_dtype(base, exponent, dtype, expected):
    y = base**exponent
    assert y.dtype == dtype and y.tolist() == expected


def test_tensor_to_a_tensors_power_refuses_what_pytorch_refuses():
    with pytest.raises(ValueError, match=r"no integer \(an exponent -1\); make the base float"):
        engine.tensor([2, 3]) ** engine.tensor([1, -1])
    with pytest.raises(TypeError, match="got two bool tensors"):
        engine.tensor([True]) ** engine.tensor([False])
