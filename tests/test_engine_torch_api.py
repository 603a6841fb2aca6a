"""The Tensor surface a PyTorch user types, against the values PyTorch's documentation gives.

The expected values are written from torch's documented semantics (and worked out by hand
here), not from running PyTorch, which is no test dependency: torch.max(x, dim) returns
(values, indices) with the first of tied maxima; torch.squeeze(x, dim) leaves an axis that is
not of size 1; torch.chunk gives pieces of ceil(n / chunks); torch.clamp passes the gradient
at its bounds; torch.abs has gradient 0 at 0; comparisons give bool tensors without grad.
"""

import numpy as np
import pytest
from conftest import away_from_zero, seeds
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine import Tensor, gradcheck

X = [[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]]


def leaf(data=X):
    return Tensor(np.array(data), requires_grad=True)


# ---- dim= and axis=, keepdim= and keepdims= ----------------------------------------------------

SPELLINGS = {
    "sum": lambda t, **kw: t.sum(**kw),
    "mean": lambda t, **kw: t.mean(**kw),
    "argmax": lambda t, **kw: t.argmax(**kw),
    "argmin": lambda t, **kw: t.argmin(**kw),
}


@pytest.mark.parametrize("name", SPELLINGS)
@pytest.mark.parametrize("keep", [False, True])
def test_reductions_take_both_spellings(name, keep):
    op, t = SPELLINGS[name], leaf()
    torch_way, numpy_way = op(t, dim=1, keepdim=keep), op(t, axis=1, keepdims=keep)
    np.testing.assert_array_equal(torch_way.data, numpy_way.data)
    assert torch_way.shape == ((2, 1) if keep else (2,))
    np.testing.assert_array_equal(op(t, dim=1).data, getattr(t, name)(1).data)  # positional
    with pytest.raises(TypeError, match="dim= and axis="):
        op(t, dim=1, axis=1)
    with pytest.raises(TypeError, match="keepdim= and keepdims="):
        op(t, dim=1, keepdim=True, keepdims=True)


def test_axis_taking_ops_take_both_spellings():
    t = leaf()
    pairs = [
        (t.softmax(dim=0), t.softmax(axis=0)),
        (t.log_softmax(dim=0), t.log_softmax(axis=0)),
        (t.unsqueeze(dim=1), t.unsqueeze(axis=1)),
        (t[None].squeeze(dim=0), t[None].squeeze(axis=0)),
        (t.split(1, dim=1)[2], t.split(1, axis=1)[2]),
        (t.chunk(2, dim=1)[1], t.chunk(2, axis=1)[1]),
        (engine.cat([t, t], dim=1), engine.cat([t, t], axis=1)),
        (engine.stack([t, t], dim=2), engine.stack([t, t], axis=2)),
    ]
    for torch_way, numpy_way in pairs:
        assert torch_way.shape == numpy_way.shape
        np.testing.assert_array_equal(torch_way.data, numpy_way.data)
    for both in (lambda: t.softmax(dim=0, axis=0), lambda: engine.cat([t], dim=0, axis=0)):
        with pytest.raises(TypeError, match="give one"):
            both()
    with pytest.raises(ValueError, match="dim 2 is out of range"):
        t.softmax(dim=2)


# ---- max and min: (values, indices) for a dim, the values for an axis ----------------------


def test_max_and_min_with_a_dim_return_values_and_indices():
    t = leaf()
    values, indices = t.max(dim=1)  # torch.max(x, 1)
    np.testing.assert_array_equal(values.data, [5.0, 6.0])
    np.testing.assert_array_equal(indices.data, [1, 2])
    assert indices.dtype == np.int64 and not indices.requires_grad and values.requires_grad
    result = t.min(0, keepdim=True)  # positional dim: PyTorch's reading
    assert result.values.shape == (1, 3) and result.indices.shape == (1, 3)
    np.testing.assert_array_equal(result.values.data, [[1.0, 2.0, 3.0]])
    np.testing.assert_array_equal(result.indices.data, [[0, 1, 0]])
    np.testing.assert_array_equal(t.max(dim=-1).values.data, [5.0, 6.0])


def test_max_with_axis_returns_the_values_as_numpy():
    t = leaf()
    np.testing.assert_array_equal(t.max(axis=1).data, [5.0, 6.0])
    np.testing.assert_array_equal(t.min(axis=(0, 1), keepdims=True).data, [[1.0]])
    assert t.max().item() == 6.0 and t.min().item() == 1.0
    with pytest.raises(TypeError, match="one int dim"):
        t.max(dim=(0, 1))


def test_gradient_of_max_values_goes_to_the_index_but_ties_share_without_a_dim():
    tied = [[2.0, 7.0, 7.0]]
    t = leaf(tied)
    values, indices = t.max(dim=1)
    assert indices.item() == 1  # the first of the tied maxima
    values.sum().backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 1.0, 0.0]])  # torch: to the index only
    t = leaf(tied)
    t.max().backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 0.5, 0.5]])  # torch's max(): shared evenly
    t = leaf(tied)
    t.min(dim=1).values.backward(np.array([3.0]))
    np.testing.assert_array_equal(t.grad, [[3.0, 0.0, 0.0]])


@given(seed=seeds, dim=st.integers(-2, 1), keepdim=st.booleans())
def test_max_and_min_values_gradcheck(seed, dim, keepdim):
    x = away_from_zero(np.random.default_rng(seed), (3, 4))  # distinct values: no ties
    for which in ("max", "min"):
        assert gradcheck(lambda t, w=which: getattr(t, w)(dim, keepdim).values, [x])
        assert gradcheck(lambda t, w=which: getattr(t, w)(axis=dim, keepdims=keepdim), [x])


def test_argmax_and_argmin():
    t = leaf()
    assert t.argmax().item() == 5 and t.argmin().item() == 0  # of the flattened tensor
    np.testing.assert_array_equal(t.argmax(-1).data, [1, 2])
    np.testing.assert_array_equal(t.argmin(dim=0, keepdim=True).data, [[0, 1, 0]])
    assert t.argmax(-1).dtype == np.int64 and not t.argmax(-1).requires_grad


# ---- comparisons -----------------------------------------------------------------------------


def test_comparisons_give_bool_tensors_without_grad():
    t = leaf()
    cases = {
        "==": (t == 5.0, [[False, True, False], [False, False, False]]),
        "!=": (t != 5.0, [[True, False, True], [True, True, True]]),
        "<": (t < 3.0, [[True, False, False], [False, True, False]]),
        "<=": (t <= 3.0, [[True, False, True], [False, True, False]]),
        ">": (t > 4.0, [[False, True, False], [False, False, True]]),
        ">=": (t >= 4.0, [[False, True, False], [True, False, True]]),
        "3 < t": (3.0 < t, [[False, True, False], [True, False, True]]),  # noqa: SIM300
        "t == t": (t == t, [[True] * 3] * 2),
        "array == t": (np.array(X) == t, [[True] * 3] * 2),
        "t == tensor": (t == Tensor([1.0, 2.0, 3.0]), [[True, False, True], [False, True, False]]),
    }
    for name, (result, expected) in cases.items():
        assert isinstance(result, Tensor) and result.dtype == np.bool_, name
        assert not result.requires_grad and result.is_leaf, name
        np.testing.assert_array_equal(result.data, expected, err_msg=name)


def test_accuracy_idiom():
    logits = Tensor(np.array([[0.1, 2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.1, 0.2]]), True)
    y = Tensor(np.array([1, 0, 0]))
    accuracy = (logits.argmax(-1) == y).float().mean()
    assert accuracy.dtype == np.float32 and accuracy.item() == pytest.approx(2 / 3)


def test_tensors_stay_dict_keys_and_are_found_by_identity():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 2.0])
    state = {a: "a", b: "b"}
    assert state[a] == "a" and state[b] == "b" and len(state) == 2
    assert hash(a) != hash(b) and hash(a) == hash(a)
    assert a in [a] and a in {a}  # `in` tries identity first
    with pytest.raises(ValueError, match="ambiguous"):
        [b, a].index(a)  # b == a is a bool tensor, as in torch: so the code base uses `is`
    assert (a == None) is False and (a != None) is True  # noqa: E711 (as torch: no elementwise)


# ---- elementwise math ------------------------------------------------------------------------


def test_abs_clamp_pow_matmul_values_and_gradients():
    t = leaf([[-2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(t.abs().data, [[2.0, 0.0, 3.0]])
    np.testing.assert_array_equal(abs(t).data, [[2.0, 0.0, 3.0]])
    t.abs().sum().backward()
    np.testing.assert_array_equal(t.grad, [[-1.0, 0.0, 1.0]])  # torch.sign: 0 at 0
    t = leaf([[-2.0, 0.0, 1.0, 3.0]])
    np.testing.assert_array_equal(t.clamp(min=0.0, max=1.0).data, [[0.0, 0.0, 1.0, 1.0]])
    t.clamp(0.0, 1.0).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 1.0, 1.0, 0.0]])  # the bounds pass G
    np.testing.assert_array_equal(t.clamp(max=0.5).data, [[-2.0, 0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match="min, max"):
        t.clamp()
    with pytest.raises(TypeError, match="clamp\\(\\) takes a number or None as max, got Tensor"):
        t.clamp(0.0, leaf([1.0]))
    with pytest.raises(TypeError, match=r"use t.maximum\(low\) and t.minimum\(high\)"):
        t.clamp(min=leaf([1.0]))
    flags = Tensor(np.array([True, False]))
    assert flags.clamp(0, 2).dtype == np.int64 and flags.clamp(0, 2).tolist() == [1, 0]
    assert flags.clamp(0.5).dtype == np.float32 and flags.clamp(0.5).tolist() == [1.0, 0.5]
    np.testing.assert_array_equal(leaf([[1.0, 2.0]]).pow(3).data, [[1.0, 8.0]])
    a, b = leaf([[1.0, 2.0]]), leaf([[3.0], [4.0]])
    np.testing.assert_array_equal(a.matmul(b).data, [[11.0]])


@given(seed=seeds)
def test_abs_and_clamp_gradcheck(seed):
    x = away_from_zero(np.random.default_rng(seed), (3, 4), margin=0.2)
    assert gradcheck(lambda t: t.abs(), [x])
    assert gradcheck(lambda t: t.clamp(-0.1, 0.1) * t.clamp(min=0.1), [x])  # kinks at ±0.1


# ---- shapes ----------------------------------------------------------------------------------


def test_view_unsqueeze_squeeze_flatten():
    t = Tensor(np.arange(24.0).reshape(2, 3, 4), requires_grad=True)
    np.testing.assert_array_equal(t.view(4, 6).data, t.data.reshape(4, 6))
    assert t.view(-1, 4).shape == (6, 4) and t.view((2, 12)).shape == (2, 12)
    assert t.unsqueeze(0).shape == (1, 2, 3, 4) and t.unsqueeze(-1).shape == (2, 3, 4, 1)
    assert t.unsqueeze(1).shape == (2, 1, 3, 4)
    ones = t.reshape(1, 2, 1, 3, 4, 1)
    assert ones.squeeze().shape == (2, 3, 4)
    assert ones.squeeze(0).shape == (2, 1, 3, 4, 1)
    assert ones.squeeze(1).shape == ones.shape  # not of size 1: left alone, as in torch
    assert ones.squeeze((0, 2)).shape == (2, 3, 4, 1)
    assert t.flatten().shape == (24,) and t.flatten(1).shape == (2, 12)
    assert t.flatten(0, 1).shape == (6, 4) and Tensor(3.0).flatten().shape == (1,)
    assert t.contiguous() is t
    t.unsqueeze(0).flatten(2).squeeze(0).sum().backward()
    np.testing.assert_array_equal(t.grad, np.ones((2, 3, 4)))


def test_split_and_chunk():
    t = Tensor(np.arange(10.0).reshape(5, 2), requires_grad=True)
    assert [p.shape[0] for p in t.split(2)] == [2, 2, 1]
    assert [p.shape[0] for p in t.split([1, 4])] == [1, 4]
    assert [p.shape[0] for p in t.chunk(3)] == [2, 2, 1]  # ceil(5 / 3) = 2 each
    assert [p.shape[0] for p in Tensor(np.zeros(6)).chunk(4)] == [2, 2, 2]  # fewer than 4
    assert [p.shape[1] for p in t.split(1, dim=1)] == [1, 1]
    np.testing.assert_array_equal(t.split([1, 4])[1].data, t.data[1:])
    with pytest.raises(ValueError, match="add up"):
        t.split([2, 2])
    weights = np.arange(1.0, 6.0)[:, None]  # a non-uniform upstream gradient
    (engine.cat(t.split(2)) * weights).sum().backward()
    np.testing.assert_array_equal(t.grad, np.broadcast_to(weights, (5, 2)))


def test_tril():
    t = Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    np.testing.assert_array_equal(engine.tril(t).data, [[1.0, 0.0, 0.0], [4.0, 5.0, 0.0]])
    np.testing.assert_array_equal(t.tril(1).data, [[1.0, 2.0, 0.0], [4.0, 5.0, 6.0]])
    np.testing.assert_array_equal(t.tril(-1).data, [[0.0, 0.0, 0.0], [4.0, 0.0, 0.0]])
    (t.tril() * np.arange(6.0).reshape(2, 3)).sum().backward()
    np.testing.assert_array_equal(t.grad, [[0.0, 0.0, 0.0], [3.0, 4.0, 0.0]])
    assert engine.tril(engine.ones(2, 3, 3)).data.sum() == 12  # batched: the last two axes


def test_getitem_takes_a_tensor_of_ids():
    t = leaf()
    np.testing.assert_array_equal(t[Tensor([1, 1])].data, [X[1], X[1]])
    np.testing.assert_array_equal(t[t > 4.0].data, [5.0, 6.0])


# ---- conversions -----------------------------------------------------------------------------


def test_conversions():
    t = leaf()
    assert t.float().dtype == np.float32 and t.long().dtype == np.int64
    assert t.long().tolist() == [[1, 5, 3], [4, 2, 6]] and not t.long().requires_grad
    assert t.to(np.float64) is t and t.to("float32").dtype == np.float32
    t.to(np.float32).sum().backward()  # a floating cast carries the gradient back
    assert t.grad.dtype == np.float64 and np.all(t.grad == 1.0)
    with pytest.raises(TypeError, match="dtype"):
        t.to("cuda")
    assert t.numel() == 6 and t.size == 6 and isinstance(t.size, int)
    assert t.tolist() == X
    one = Tensor(np.array([[2.5]]))
    assert float(one) == 2.5 and int(one) == 2 and bool(one) and not bool(Tensor(0.0))
    for convert in (float, int, bool):
        with pytest.raises(ValueError, match=r"\(2, 3\)"):
            convert(t)
    array = np.asarray(t)
    assert array is t.data and np.asarray(t, dtype=np.float32).dtype == np.float32
    assert isinstance(t.grad, np.ndarray)


def test_requires_grad_on_tensors():
    t = Tensor(np.ones(2))
    assert t.requires_grad_() is t and t.requires_grad
    (t * 2).sum().backward()
    np.testing.assert_array_equal(t.grad, [2.0, 2.0])
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2]).requires_grad_()
    with pytest.raises(RuntimeError, match="leaves"):
        (t * 2).requires_grad_(False)


# ---- factories -------------------------------------------------------------------------------


def test_factories_follow_torch_dtypes_and_shapes():
    assert engine.tensor([1.0, 2.0]).dtype == np.float32  # torch's default float
    assert engine.tensor([1, 2]).dtype == np.int64 and engine.tensor(True).dtype == np.bool_
    assert engine.tensor(np.zeros(2)).dtype == np.float64  # an ndarray keeps its dtype
    data = np.ones(2)
    assert not np.shares_memory(engine.tensor(data).data, data)  # a copy, as torch.tensor
    w = engine.tensor([[1.0]], dtype=np.float64, requires_grad=True)
    assert w.dtype == np.float64 and w.requires_grad
    assert engine.zeros(2, 3).shape == (2, 3) and engine.ones((2, 3)).dtype == np.float32
    np.testing.assert_array_equal(engine.zeros(2).data, [0.0, 0.0])
    assert engine.full((2,), 7).dtype == np.int64 and engine.full(2, 0.5).dtype == np.float32
    np.testing.assert_array_equal(engine.full((1, 2), 3.0).data, [[3.0, 3.0]])
    like = engine.ones_like(Tensor(np.zeros((2, 2))))
    assert like.dtype == np.float64 and np.all(like.data == 1)
    assert engine.zeros_like(like, dtype=np.int64).dtype == np.int64
    np.testing.assert_array_equal(engine.arange(4).data, [0, 1, 2, 3])
    assert engine.arange(4).dtype == np.int64
    np.testing.assert_array_equal(engine.arange(1, 7, 2).data, [1, 3, 5])
    np.testing.assert_array_equal(engine.arange(0, 1, 0.25).data, [0.0, 0.25, 0.5, 0.75])
    assert engine.arange(0, 1, 0.25).dtype == np.float32
    with pytest.raises(TypeError, match="floating"):
        engine.zeros(2, dtype=np.int64, requires_grad=True)
    with pytest.raises(ValueError, match="sizes"):
        engine.zeros(2, -1)


def test_rand_and_randn_draw_from_the_seeded_generator():
    engine.manual_seed(3)
    u, n = engine.rand(1000), engine.randn(2, 500, requires_grad=True)
    engine.manual_seed(3)
    np.testing.assert_array_equal(engine.rand(1000).data, u.data)
    np.testing.assert_array_equal(engine.randn(2, 500).data, n.data)
    assert u.dtype == n.dtype == np.float32 and n.requires_grad
    assert u.data.min() >= 0 and u.data.max() < 1 and abs(u.data.mean() - 0.5) < 0.05
    assert abs(n.data.mean()) < 0.1 and abs(n.data.std() - 1) < 0.1


# ---- grad modes ------------------------------------------------------------------------------


def test_enable_grad_and_set_grad_enabled():
    a = Tensor(np.ones(2), requires_grad=True)
    with engine.no_grad():
        assert not (a * 2).requires_grad
        with engine.enable_grad():
            assert (a * 2).requires_grad
        assert not engine.is_grad_enabled()
    with engine.set_grad_enabled(False):
        assert not (a * 2).requires_grad
    assert engine.is_grad_enabled()
    engine.set_grad_enabled(False)  # a plain call switches at once
    try:
        assert not (a * 2).requires_grad
    finally:
        engine.set_grad_enabled(True)
    assert (a * 2).requires_grad

    @engine.set_grad_enabled(False)
    def evaluate():
        return engine.is_grad_enabled()

    assert engine.is_grad_enabled()  # decorating switches nothing
    assert evaluate() is False and engine.is_grad_enabled()
    with engine.no_grad():
        assert engine.enable_grad()(engine.is_grad_enabled)() is True
        assert not engine.is_grad_enabled()
