"""Shape and selection ops: reshape, transpose, permute, .T, indexing, masked_fill, cat, stack
and where. Forward values against NumPy, gradients by gradcheck on shapes drawn by hypothesis.
"""

import math

import numpy as np
import pytest
from conftest import broadcast_pairs, leaf, nonscalar_shapes, seeds, shapes
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import engine
from engine import Tensor, gradcheck

# ---- reshape, transpose, permute, .T --------------------------------------------------------


@st.composite
def shape_and_new_shape(draw):
    """A shape and a shape of the same size to reshape it to, often written with a -1."""
    shape = draw(shapes)
    size = math.prod(shape)
    d = draw(st.sampled_from([d for d in range(1, size + 1) if size % d == 0]))
    new = draw(st.sampled_from([(d, -1), (-1, d), (d, size // d), (-1,), (1, d, 1, size // d)]))
    return shape, new


@given(case=shape_and_new_shape(), seed=seeds)
def test_reshape(case, seed):
    shape, new_shape = case
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x.reshape(*new_shape).data, x.data.reshape(new_shape))
    np.testing.assert_array_equal(x.reshape(new_shape).data, x.data.reshape(new_shape))
    assert gradcheck(lambda t: t.reshape(*new_shape), [x])


def test_reshape_to_a_wrong_size_names_the_op_and_shape():
    with pytest.raises(ValueError, match=r"Reshape got shapes \(2, 3\)"):
        Tensor(np.ones((2, 3))).reshape(4, -1)


@st.composite
def shape_and_permutation(draw):
    """A shape, an order of its axes, and the same order with some axes counted from the end."""
    shape = draw(nonscalar_shapes)
    axes = tuple(draw(st.permutations(range(len(shape)))))
    negative = draw(st.lists(st.booleans(), min_size=len(shape), max_size=len(shape)))
    return (
        shape,
        axes,
        tuple(a - len(shape) if n else a for a, n in zip(axes, negative, strict=True)),
    )


@given(case=shape_and_permutation(), seed=seeds)
def test_permute(case, seed):
    shape, axes, spelled = case
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x.permute(*spelled).data, np.transpose(x.data, axes))
    np.testing.assert_array_equal(x.permute(spelled).data, np.transpose(x.data, axes))
    assert gradcheck(lambda t: t.permute(*spelled), [x])


def test_permute_refuses_what_is_not_an_order_of_every_axis():
    x = Tensor(np.ones((2, 3, 4)))
    for dims in [(0, 1), (0, 1, 1), (0, 2, -1), (0, 1, 3)]:
        with pytest.raises(ValueError, match="permute"):
            x.permute(*dims)


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_transpose(shape, seed, data):
    ndim = len(shape)
    axis1, axis2 = (data.draw(st.integers(-ndim, ndim - 1)) for _ in range(2))
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x.transpose(axis1, axis2).data, np.swapaxes(x.data, axis1, axis2))
    assert gradcheck(lambda t: t.transpose(axis1, axis2), [x])


def test_T_is_the_2d_transpose_only():
    x = leaf(np.random.default_rng(0), (2, 3))
    np.testing.assert_array_equal(x.T.data, x.data.T)
    assert gradcheck(lambda t: t.T, [x])
    with pytest.raises(ValueError, match=r"\(2, 3, 4\)"):
        _ = Tensor(np.ones((2, 3, 4))).T


# ---- indexing -------------------------------------------------------------------------------


@st.composite
def shape_and_basic_index(draw):
    """Ints, slices (any step), None and ... in any combination."""
    shape = draw(shapes)
    index = draw(hnp.basic_indices(shape, allow_newaxis=True, allow_ellipsis=True))
    return shape, index


@given(case=shape_and_basic_index(), seed=seeds)
def test_basic_indexing(case, seed):
    shape, index = case
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x[index].data, x.data[index])
    assert gradcheck(lambda t: t[index], [x])


@given(shape=nonscalar_shapes, seed=seeds, count=st.integers(1, 12))
def test_integer_array_index_with_repeats(shape, seed, count):
    """An embedding lookup: rows picked by integer array, often the same row several times."""
    rng = np.random.default_rng(seed)
    rows = rng.integers(-shape[0], shape[0], size=count)  # negative indices too
    x = leaf(rng, shape)
    np.testing.assert_array_equal(x[rows].data, x.data[rows])
    assert gradcheck(lambda t: t[rows], [x])


@given(shape=nonscalar_shapes, seed=seeds, data=st.data())
def test_integer_array_indices_on_every_axis(shape, seed, data):
    index = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(max_dims=2)))
    x = leaf(np.random.default_rng(seed), shape)
    np.testing.assert_array_equal(x[index].data, x.data[index])
    assert gradcheck(lambda t: t[index], [x])


def test_repeated_indices_accumulate_by_hand():
    table = Tensor(np.zeros((4, 2)), requires_grad=True)
    ids = np.array([[1, 3], [1, 1]])  # (B, T) token ids; row 1 is used three times
    out = table[ids]  # (B, T, C)
    out.backward(np.arange(8.0).reshape(2, 2, 2))
    np.testing.assert_array_equal(table.grad, [[0, 0], [0 + 4 + 6, 1 + 5 + 7], [0, 0], [2, 3]])


@pytest.mark.parametrize(
    "index",
    [
        (np.array([0, 0, 2]), slice(None, None, -1)),
        (Ellipsis, np.array([1, 1])),
        (slice(1, None), None, np.array([0, 2, 0])),
        ([2, 0, 2],),
        (Tensor(np.array([1, 1, 0])),),
    ],
)
def test_mixed_indexing(index):
    x = leaf(np.random.default_rng(0), (3, 3))
    plain = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    np.testing.assert_array_equal(x[index].data, x.data[plain])
    assert gradcheck(lambda t: t[index], [x])


@pytest.mark.parametrize(
    ("index", "selected", "rest"),
    [  # PyTorch takes the ints first, then the arrays index what is left
        ((0, slice(None), [2, 0, 1]), (0,), (slice(None), [2, 0, 1])),
        ((1, Ellipsis, np.array([3, 1])), (1,), (Ellipsis, np.array([3, 1]))),
        ((slice(None), [1, 0], slice(1, 3), 2), (..., 2), (slice(None), [1, 0], slice(1, 3))),
        ((0, slice(None), slice(None), np.arange(4) != 1), (0,), (..., [0, 2, 3])),
        ((np.int64(1), None, slice(None), [1]), (1,), (None, slice(None), [1])),
    ],
)  # fmt: skip
def test_ints_with_index_arrays_read_as_pytorch_reads_them(index, selected, rest):
    x = leaf(np.random.default_rng(1), (2, 3, 3, 4))
    expected = x.data[selected][rest]  # NumPy alone would move the arrays' axes to the front
    np.testing.assert_array_equal(x[index].data, expected)
    assert gradcheck(lambda t: t[index], [x])
    written = Tensor(x.data.copy())
    written[index] = np.arange(expected.size, dtype=np.float64).reshape(expected.shape)
    np.testing.assert_array_equal(written[index].data, written.data[selected][rest])
    np.testing.assert_array_equal(
        written.data[selected][rest], np.arange(expected.size).reshape(expected.shape)
    )


# ---- masked_fill, where, cat, stack ---------------------------------------------------------


@given(shape_pair=broadcast_pairs(), seed=seeds, value=st.sampled_from([0.0, -10.0, 2.5]))
def test_masked_fill(shape_pair, seed, value):
    rng = np.random.default_rng(seed)
    x = leaf(rng, shape_pair[0])
    mask = rng.random(shape_pair[1]) < 0.5
    np.testing.assert_array_equal(x.masked_fill(mask, value).data, np.where(mask, value, x.data))
    np.testing.assert_array_equal(
        x.masked_fill(Tensor(mask), value).data, np.where(mask, value, x.data)
    )
    assert gradcheck(lambda t: t.masked_fill(mask, value), [x])


def test_masked_fill_with_a_tensor_value_passes_it_the_gradient_of_the_places_it_fills():
    x = Tensor(np.arange(4.0), requires_grad=True)
    value = Tensor(np.array(2.5), requires_grad=True)
    mask = np.array([True, False, True, True])
    y = x.masked_fill(mask, value)
    np.testing.assert_array_equal(y.data, [2.5, 1.0, 2.5, 2.5])
    (y * Tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    assert value.grad == 1.0 + 3.0 + 4.0
    np.testing.assert_array_equal(x.grad, [0.0, 2.0, 0.0, 0.0])
    assert gradcheck(lambda t, v: t.masked_fill(mask, v), [x, value])
    small = Tensor(np.zeros(2, np.float32)).masked_fill(np.array([True, False]), value)
    assert small.dtype == np.float32  # the value takes the tensor's dtype, as in PyTorch
    with pytest.raises(RuntimeError, match=r"0-D value tensor, got one of shape \(2,\)"):
        x.masked_fill(mask, Tensor(np.ones(2)))


@given(shape_triple=broadcast_pairs(3), seed=seeds)
def test_where(shape_triple, seed):
    rng = np.random.default_rng(seed)
    cond = rng.random(shape_triple[0]) < 0.5
    a, b = leaf(rng, shape_triple[1]), leaf(rng, shape_triple[2])
    np.testing.assert_array_equal(engine.where(cond, a, b).data, np.where(cond, a.data, b.data))
    assert gradcheck(lambda a, b: engine.where(cond, a, b), [a, b])
    assert gradcheck(lambda a: engine.where(Tensor(cond), a, 0.0), [a])
    assert gradcheck(lambda b: engine.where(cond, 1.5, b), [b])


@st.composite
def cat_case(draw):
    """Shapes equal except along `axis`, where each tensor has its own length."""
    shape = list(draw(nonscalar_shapes))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    lengths = draw(st.lists(st.integers(1, 3), min_size=1, max_size=4))
    shapes = []
    for n in lengths:
        shape[axis] = n
        shapes.append(tuple(shape))
    return shapes, axis


@given(case=cat_case(), seed=seeds)
def test_cat(case, seed):
    shape_list, axis = case
    rng = np.random.default_rng(seed)
    xs = [leaf(rng, s) for s in shape_list]
    expected = np.concatenate([x.data for x in xs], axis=axis)
    np.testing.assert_array_equal(engine.cat(xs, axis=axis).data, expected)
    assert gradcheck(lambda *xs: engine.cat(xs, axis=axis), xs)


@given(shape=shapes, count=st.integers(1, 4), seed=seeds, data=st.data())
def test_stack(shape, count, seed, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    rng = np.random.default_rng(seed)
    xs = [leaf(rng, shape) for _ in range(count)]
    expected = np.stack([x.data for x in xs], axis=axis)
    np.testing.assert_array_equal(engine.stack(xs, axis=axis).data, expected)
    assert gradcheck(lambda *xs: engine.stack(xs, axis=axis), xs)


def test_cat_and_stack_accept_plain_arrays_among_tensors():
    rng = np.random.default_rng(0)
    x, plain = leaf(rng, (2, 3)), rng.standard_normal((2, 3))
    assert engine.cat([x, plain], axis=1).shape == (2, 6)
    assert gradcheck(lambda t: engine.stack([plain, t], axis=-1), [x])


def test_cat_of_mismatched_shapes_names_the_op_and_shapes():
    with pytest.raises(ValueError, match=r"Cat got shapes \(2, 3\) and \(3, 2\)"):
        engine.cat([Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2)))], axis=0)


def test_cat_and_stack_refuse_no_tensors_a_0d_cat_and_an_axis_out_of_range():
    x = Tensor(np.ones((2, 3)))
    for call, match in [
        (lambda: engine.cat([]), "cat.. needs at least one tensor"),
        (lambda: engine.stack([]), "stack.. needs at least one tensor"),
        (lambda: engine.cat([Tensor(1.0), Tensor(2.0)]), "0-D tensors .* use stack"),
        (lambda: engine.cat([x, x], dim=2), "cat.*dim 2 is out of range for a 2-D"),
        (lambda: engine.stack([x, x], dim=-4), "stack.*dim -4 is out of range"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
    assert engine.stack([x, x], dim=-3).shape == (2, 2, 3)


def test_small_integer_ids_index_a_larger_table():
    table = Tensor(np.ones((300, 4)), requires_grad=True)
    ids = np.array([1, 2, 200, 2], dtype=np.uint8)
    table[ids].sum().backward()
    assert table.grad[2].tolist() == [2.0] * 4 and table.grad[200].tolist() == [1.0] * 4
    assert table.grad.sum() == 16


@pytest.mark.parametrize(
    ("shape", "sizes", "expected"),
    [
        ((3, 1), (3, 4), (3, 4)),
        ((3, 1), (2, -1, 4), (2, 3, 4)),
        ((1,), (5,), (5,)),
        ((), (2, 2), (2, 2)),
    ],
)
def test_expand_broadcasts_and_its_gradient_sums_over_the_copies(shape, sizes, expected):
    x = leaf(np.random.default_rng(2), shape)
    np.testing.assert_array_equal(x.expand(*sizes).data, np.broadcast_to(x.data, expected))
    assert x.expand(sizes).shape == expected  # a tuple too, as in PyTorch
    assert gradcheck(lambda t: t.expand(*sizes), [x])


@pytest.mark.parametrize(
    ("shape", "repeats"), [((2, 3), (2, 1)), ((2, 3), (3, 1, 2)), ((3,), (0,)), ((), (4,))]
)
def test_repeat_tiles_and_its_gradient_sums_over_the_copies(shape, repeats):
    x = leaf(np.random.default_rng(3), shape)
    np.testing.assert_array_equal(x.repeat(*repeats).data, np.tile(x.data, repeats))
    assert gradcheck(lambda t: t.repeat(repeats), [x])


def test_expand_and_repeat_name_a_shape_they_cannot_make():
    x = Tensor(np.ones((3, 2)))
    for bad, said in [((3, 4), "(3, 4)"), ((2,), "(2,)"), ((-1, 2, 2), "(-1, 2, 2)")]:
        with pytest.raises(ValueError, match=rf"expand\{said[:-1]}\): a tensor of shape \(3, 2\)"):
            x.expand(*bad)
    with pytest.raises(ValueError, match=r"repeat\(2,\): give a count >= 0 for each of the 2 axes"):
        x.repeat(2)
    with pytest.raises(ValueError, match=r"repeat\(2, -1\)"):
        x.repeat(2, -1)
