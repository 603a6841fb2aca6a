"""Reductions (sum, mean, max) and softmax / log_softmax: forward values against NumPy,
gradients by gradcheck, every axis and tuple of axes with and without keepdims, max's tie rule,
masked (partly -inf) rows and float32 stability for large logits; and the maximum and minimum
of two tensors element by element, with ties and NaN as PyTorch 2.13 gives them.
"""

import itertools

import numpy as np
import pytest
from conftest import leaf, nonscalar_shapes, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import Tensor, gradcheck

REDUCTIONS = {
    "sum": (lambda t, axis, keepdims: t.sum(axis=axis, keepdims=keepdims), np.sum),
    "mean": (lambda t, axis, keepdims: t.mean(axis=axis, keepdims=keepdims), np.mean),
    "max": (lambda t, axis, keepdims: t.max(axis=axis, keepdims=keepdims), np.max),
    "min": (lambda t, axis, keepdims: t.min(axis=axis, keepdims=keepdims), np.min),
}


@st.composite
def shape_and_axis(draw):
    """A shape and an axis for it: None, an int (negative too) or a tuple of distinct axes."""
    shape = draw(shapes)
    ndim = len(shape)
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    return shape, draw(st.one_of(choices))


@pytest.mark.parametrize("name", REDUCTIONS)
@given(case=shape_and_axis(), keepdims=st.booleans(), seed=seeds)
def test_reduction_matches_numpy_and_gradchecks(name, case, keepdims, seed):
    op, reference = REDUCTIONS[name]
    shape, axis = case
    x = leaf(np.random.default_rng(seed), shape)
    expected = reference(x.data, axis=axis, keepdims=keepdims)
    out = op(x, axis, keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    assert gradcheck(lambda t: op(t, axis, keepdims), [x])


def every_axis_choice(ndim):
    """None, every int axis (both signs) and every non-empty tuple of axes."""
    ints = list(range(-ndim, ndim))
    tuples = [c for r in range(1, ndim + 1) for c in itertools.combinations(range(ndim), r)]
    return [None, *ints, *tuples, (-1, 0)]


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", every_axis_choice(3))
@pytest.mark.parametrize("keepdims", [False, True])
def test_reduction_over_every_axis_of_a_3d_tensor(name, axis, keepdims):
    op, reference = REDUCTIONS[name]
    x = leaf(np.random.default_rng(3), (2, 3, 4))
    expected = reference(x.data, axis=axis, keepdims=keepdims)
    np.testing.assert_allclose(op(x, axis, keepdims).data, expected, rtol=1e-12)
    assert gradcheck(lambda t: op(t, axis, keepdims), [x])


def test_reduction_gradients_by_hand():
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.sum(axis=0).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(x.grad, [[1, 2, 3], [1, 2, 3]])
    x.grad = None
    x.mean(axis=1, keepdims=True).backward(np.array([[3.0], [6.0]]))
    np.testing.assert_array_equal(x.grad, [[1, 1, 1], [2, 2, 2]])


def test_reduction_dims_as_pytorch_spells_them():
    x = Tensor(np.arange(6.0).reshape(2, 3))
    assert x.sum(dim=()).item() == x.sum(dim=[]).item() == 15.0  # PyTorch: every axis
    np.testing.assert_array_equal(x.sum(axis=()).data, x.data)  # NumPy: none
    np.testing.assert_array_equal(x.mean(np.int64(1)).data, [1.0, 4.0])
    np.testing.assert_array_equal(x.sum(dim=[0, 1], keepdim=True).data, [[15.0]])
    scalar = Tensor(np.array(2.0), requires_grad=True)
    for dim in (0, -1):  # a 0-D tensor's one "axis", as in PyTorch
        assert scalar.sum(dim).item() == scalar.mean(dim).item() == 2.0
    scalar.sum(0).backward()
    assert scalar.grad == 1.0


@pytest.mark.parametrize("name", REDUCTIONS)
@pytest.mark.parametrize("axis", [2, -3, (0, 2), (0, 0)])
def test_reduction_rejects_a_bad_axis(name, axis):
    op, _ = REDUCTIONS[name]
    with pytest.raises(ValueError, match=name.capitalize()):
        op(Tensor(np.ones((2, 3))), axis, False)


# ---- max: ties share the gradient equally ---------------------------------------------------


@pytest.mark.parametrize(
    ("data", "axis", "expected"),
    [
        ([1.0, 3.0, 3.0], None, [0.0, 0.5, 0.5]),
        ([2.0, 2.0, 2.0, 2.0], 0, [0.25, 0.25, 0.25, 0.25]),
        ([[2.0, 2.0, 1.0], [0.0, 5.0, 5.0]], 1, [[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]),
        ([[4.0, 1.0], [4.0, 4.0]], None, [[1 / 3, 0.0], [1 / 3, 1 / 3]]),
        ([[4.0, 1.0], [4.0, 4.0]], 0, [[0.5, 0.0], [0.5, 1.0]]),
    ],
)
def test_max_ties_share_the_gradient_equally(data, axis, expected):
    x = Tensor(np.array(data), requires_grad=True)
    out = x.max(axis=axis)
    out.backward(np.ones(out.shape))
    np.testing.assert_allclose(x.grad, expected)


def test_max_tie_shares_scale_the_upstream_gradient():
    x = Tensor(np.array([[1.0, 1.0], [3.0, 2.0]]), requires_grad=True)
    x.max(axis=1, keepdims=True).backward(np.array([[4.0], [-2.0]]))
    np.testing.assert_allclose(x.grad, [[2.0, 2.0], [-2.0, 0.0]])


# ---- the maximum and minimum of two tensors -------------------------------------------------


@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3), seed=seeds)
def test_maximum_and_minimum_of_two_tensors_gradcheck(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (Tensor(rng.standard_normal(s), requires_grad=True) for s in shapes.input_shapes)
    for op, ref in ((engine.maximum, np.maximum), (engine.minimum, np.minimum)):
        np.testing.assert_array_equal(op(a, b).data, ref(a.data, b.data))
        assert gradcheck(op, [a, b])  # random floats: no ties, where the slope jumps


def test_maximum_and_minimum_ties_and_nan_are_pytorchs():
    """Ties share G equally; where one is NaN, the result is NaN and both get G (neither is
    the smaller), as torch.maximum and torch.minimum give them."""
    for op, first in (("maximum", [0.0, 0.5, 1.0, 1.0, 1.0]), ("minimum", [1.0, 0.5, 0.0, 1, 1])):
        a = Tensor([1.0, 2.0, 3.0, np.nan, 1.0], requires_grad=True)
        b = Tensor([3.0, 2.0, 1.0, 1.0, np.nan], requires_grad=True)
        y = getattr(a, op)(b)
        y.sum().backward()
        assert np.isnan(y.data[3:]).all()
        assert a.grad.tolist() == first and b.grad.tolist() == first[2::-1] + [1.0, 1.0]


@pytest.mark.parametrize(
    ("a", "b", "smaller"),
    [(np.array([0, 7], np.uint8), np.array([5, 3], np.uint8), [0, 3]),  # -0 is 0 in uint8
     (np.array([-128], np.int8), np.array([0], np.int8), [-128]),  # -(-128) wraps in int8
     (np.array([True, False]), np.array([False, False]), [False, False])],  # no -bool at all
)  # fmt: skip
def test_minimum_and_min_of_integers_and_bools_are_exact(a, b, smaller):
    """Minima are found directly, not as -max(-x): negation wraps or fails for these dtypes."""
    x, y = Tensor(a), Tensor(b)
    assert engine.minimum(x, y).tolist() == x.min(y).tolist() == smaller
    assert engine.minimum(x, y).dtype == a.dtype
    assert x.min().item() == a.min() and x.min(axis=0).item() == a.min()


def test_max_and_min_of_two_tensors_are_maximum_and_minimum():
    a, b = engine.tensor([1.0, 5.0]), engine.tensor([3.0, 2.0])
    assert engine.max(a, b).tolist() == a.max(b).tolist() == [3.0, 5.0]
    assert engine.min(a, b).tolist() == a.min(b).tolist() == [1.0, 2.0]
    assert engine.maximum(engine.tensor([1, 5]), engine.tensor([3, 2])).dtype == np.int64
    assert engine.maximum(engine.tensor([1, 5]), b).dtype == np.float32
    with pytest.raises(TypeError, match=r"maximum\(\) takes a tensor as other, got int; for a "
                       r"number, use clamp\(min=...\)"):  # fmt: skip
        a.maximum(2)
    with pytest.raises(TypeError, match=r"use clamp\(max=...\)"):
        engine.minimum(a, 2.0)


# ---- softmax and log_softmax ----------------------------------------------------------------


def softmax_reference(x, axis):
    e = np.exp(x)  # values are small here, so the plain formula is exact enough
    return e / e.sum(axis=axis, keepdims=True)


@st.composite
def shape_and_one_axis(draw):
    shape = draw(nonscalar_shapes)
    return shape, draw(st.integers(-len(shape), len(shape) - 1))


@given(case=shape_and_one_axis(), seed=seeds)
def test_softmax_matches_numpy_and_gradchecks(case, seed):
    shape, axis = case
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_allclose(x.softmax(axis).data, softmax_reference(x.data, axis), rtol=1e-12)
    assert gradcheck(lambda t: t.softmax(axis), [x])


@given(case=shape_and_one_axis(), seed=seeds)
def test_log_softmax_matches_numpy_and_gradchecks(case, seed):
    shape, axis = case
    x = leaf(np.random.default_rng(seed), shape)
    expected = np.log(softmax_reference(x.data, axis))
    np.testing.assert_allclose(x.log_softmax(axis).data, expected, rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda t: t.log_softmax(axis), [x])


def random_mask(rng, shape):
    """A boolean mask with at least one False (kept) entry in every last-axis row."""
    mask = rng.random(shape) < 0.5
    keep = rng.integers(shape[-1], size=shape[:-1])
    np.put_along_axis(mask, keep[..., None], False, axis=-1)
    return mask


@given(shape=nonscalar_shapes, seed=seeds, causal=st.booleans())
def test_softmax_of_masked_rows(shape, seed, causal):
    rng = np.random.default_rng(seed)
    if causal:  # a causal attention mask: row i sees columns 0..i
        shape = (*shape[:-1], shape[-1], shape[-1])
        mask = np.triu(np.ones(shape[-2:], dtype=bool), k=1)
    else:
        mask = random_mask(rng, shape)
    x = leaf(rng, shape)
    probs = x.masked_fill(mask, -np.inf).softmax()
    kept = np.where(mask, 0.0, np.exp(x.data))
    np.testing.assert_allclose(probs.data, kept / kept.sum(axis=-1, keepdims=True), rtol=1e-12)
    assert gradcheck(lambda t: t.masked_fill(mask, -np.inf).softmax(), [x])


@given(shape=nonscalar_shapes, seed=seeds)
def test_log_softmax_of_masked_rows(shape, seed):
    rng = np.random.default_rng(seed)
    mask = random_mask(rng, shape)
    x = leaf(rng, shape)
    log_probs = x.masked_fill(mask, -np.inf).log_softmax()
    assert np.all(log_probs.data[mask] == -np.inf)
    kept = np.where(mask, 0.0, np.exp(x.data))
    expected = x.data - np.log(kept.sum(axis=-1, keepdims=True))
    np.testing.assert_allclose(log_probs.data[~mask], expected[~mask], rtol=1e-10, atol=1e-12)

    def masked_log_softmax(t):  # the -inf entries are zeroed before the loss, as a loss would
        return t.masked_fill(mask, -np.inf).log_softmax().masked_fill(mask, 0.0)

    assert gradcheck(masked_log_softmax, [x])


def test_softmax_is_stable_for_large_float32_logits():
    x = Tensor(np.array([[1e4, 1e4 - 1, -1e4], [-1e4, -1e4, -1e4]], dtype=np.float32))
    e = np.exp(-1.0)
    expected = [[1 / (1 + e), e / (1 + e), 0.0], [1 / 3, 1 / 3, 1 / 3]]
    np.testing.assert_allclose(x.softmax().data, expected, rtol=1e-6)
    np.testing.assert_allclose(x.log_softmax().data[0, :2], np.log(expected[0][:2]), rtol=1e-6)
    assert x.log_softmax().data[0, 2] == pytest.approx(-2e4 - np.log(1 + e), rel=1e-6)


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_float32_forward_and_backward_for_logits_up_to_1e4(op):
    rng = np.random.default_rng(0)
    data = rng.uniform(-1e4, 1e4, size=(8, 50)).astype(np.float32)
    x = Tensor(data, requires_grad=True)
    out = getattr(x, op)(axis=-1)
    out.backward(rng.standard_normal(out.shape).astype(np.float32))
    assert out.dtype == np.float32 and x.grad.dtype == np.float32
    assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(x.grad))
    shifted = data.astype(np.float64) - data.max(axis=-1, keepdims=True)
    expected = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    if op == "softmax":
        expected = np.exp(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-5, atol=1e-6)


def test_std_of_no_spread_has_gradient_zero_as_in_pytorch():
    x = Tensor(np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]]), requires_grad=True)
    x.std(dim=1).sum().backward()  # row 0: std 0, where √'s derivative is infinite
    assert x.grad[0].tolist() == [0.0, 0.0, 0.0]
    deviation = x.data[1] - x.data[1].mean()
    np.testing.assert_allclose(x.grad[1], deviation / (2 * np.std(x.data[1], ddof=1)))
    assert gradcheck(lambda t: t.std(dim=1, correction=0), [Tensor(x.data[1:], requires_grad=True)])


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int32, np.int64])
def test_a_sum_of_integers_or_booleans_is_int64_as_in_pytorch(dtype):
    t = Tensor(np.array([[200, 100], [1, 0]]).astype(dtype))
    assert t.sum().dtype == np.int64 and t.sum(dim=0).dtype == np.int64
    assert t.sum().item() == np.array([[200, 100], [1, 0]]).astype(dtype).astype(np.int64).sum()
