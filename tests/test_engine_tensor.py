"""Tensor construction, attributes, dtype rules and bad-input errors.

The dtype rules: a float ndarray keeps its dtype; Python floats and lists of floats become
float32; integer data stays integer and can never require grad; and float32 stays float32
through every op, in forward and backward, also next to Python numbers (`t * 0.5`).
"""

import numpy as np
import pytest

import engine
from engine import Tensor


@pytest.mark.parametrize(
    ("data", "dtype"),
    [
        (1.5, np.float32),
        ([1.0, 2.0], np.float32),
        ([[1.0, 2.0], [3.0, 4.0]], np.float32),
        ([1, 2.5], np.float32),
        (np.array([1.0, 2.0]), np.float64),
        (np.array([1.0], dtype=np.float32), np.float32),
        (np.array([1.0], dtype=np.float16), np.float16),
        (np.float64(2.0), np.float64),
        (3, np.int_),
        ([1, 2, 3], np.int_),
        (np.array([1, 2], dtype=np.int32), np.int32),
        ([True, False], np.bool_),
    ],
)
def test_constructor_dtype_rules(data, dtype):
    t = Tensor(data)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, np.asarray(data))


def test_float_array_data_is_shared_not_copied():
    data = np.zeros(3)
    t = Tensor(data)
    assert t.data is data and t.numpy() is data


@pytest.mark.parametrize("data", [3, [1, 2], np.arange(3), np.array([True])])
def test_integer_and_bool_tensors_cannot_require_grad(data):
    with pytest.raises(TypeError, match="floating"):
        Tensor(data, requires_grad=True)


def test_non_numeric_data_is_refused():
    with pytest.raises(TypeError, match="numeric"):
        Tensor(["a", "b"])


def test_attributes():
    t = Tensor(np.zeros((2, 3, 4), dtype=np.float32), requires_grad=True, name="w")
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3, 4), 3, 24, np.float32)
    assert t.grad is None and t.requires_grad is True and t.name == "w" and t.is_leaf
    assert len(t) == 2
    assert "requires_grad=True" in repr(t)


def test_in_place_arithmetic_changes_the_data_when_no_graph_is_built():
    """PyTorch's hand-written SGD step: `p -= lr * p.grad` under no_grad updates p itself."""
    p = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    same = p
    with engine.no_grad():
        p -= 0.5 * np.array([2.0, 2.0])
        p *= 2.0
        p += Tensor(np.ones(2, np.float32))
        p /= 3.0
    assert p is same and p.requires_grad and p.dtype == np.float32
    np.testing.assert_allclose(p.data, [1.0 / 3.0, 1.0], rtol=1e-6)  # ((p - 1) · 2 + 1) / 3
    with pytest.raises(RuntimeError, match=r"inside `with engine.no_grad\(\):`"):
        p += 1.0  # a leaf of the graph, changed while it is built
    y = p * 2.0
    before = y
    y += 1.0  # a computed tensor, while the graph is built: a new one, as y = y + 1
    assert y is not before and y.requires_grad
    y.sum().backward()
    np.testing.assert_array_equal(p.grad, [2.0, 2.0])
    ids = Tensor(np.array([1, 2]))
    with engine.no_grad(), pytest.raises(TypeError, match="does not fit the tensor's int64"):
        ids /= 2


def test_format_iteration_and_gradients_that_accumulate_in_place():
    assert f"{Tensor(np.float32(2.5)):.2f}" == "2.50"  # a 0-D tensor, as PyTorch's
    rows = list(Tensor(np.arange(6.0).reshape(3, 2)))
    assert len(rows) == 3 and rows[2].tolist() == [4.0, 5.0]
    with pytest.raises(TypeError, match="iteration over a 0-D tensor"):
        list(Tensor(1.0))
    w = Tensor(np.ones(2), requires_grad=True)
    (w * 2).sum().backward()
    held = w.grad
    (w * 3).sum().backward()
    assert held is w.grad and held.tolist() == [5.0, 5.0]  # the reference sees the sum


def test_item():
    assert Tensor([[2.5]]).item() == 2.5
    assert isinstance(Tensor(np.array(3.0)).item(), float)
    with pytest.raises(ValueError, match=r"\(2,\)"):
        Tensor([1.0, 2.0]).item()


def test_integer_data_stays_integer_through_ops():
    ids = Tensor([3, 1, 2])
    assert (ids + 1).dtype == np.int_
    assert (ids * ids).sum().dtype == np.int_
    assert not (ids + 1).requires_grad


# ---- float32 stays float32 in every op, forward and backward --------------------------------

OPS = {
    "t * 0.5": lambda t, u: t * 0.5,
    "0.5 * t": lambda t, u: 0.5 * t,
    "t + 1": lambda t, u: t + 1,
    "2 - t": lambda t, u: 2 - t,
    "t / 3.0": lambda t, u: t / 3.0,
    "1 / t": lambda t, u: 1 / t,
    "t * np.float64": lambda t, u: t * np.sqrt(np.float64(2.0)),
    "t + list": lambda t, u: t + [1.0, 2.0, 3.0],
    "t + u": lambda t, u: t + u,
    "t - u": lambda t, u: t - u,
    "t * u": lambda t, u: t * u,
    "t / u": lambda t, u: t / u,
    "-t": lambda t, u: -t,
    "t ** 2": lambda t, u: t**2,
    "t ** 0.5": lambda t, u: t**0.5,
    "t ** -1.5": lambda t, u: t**-1.5,
    "t @ u.T": lambda t, u: t @ u.T,
    "sum": lambda t, u: t.sum(),
    "sum axis": lambda t, u: t.sum(axis=1, keepdims=True),
    "mean": lambda t, u: t.mean(axis=0),
    "max": lambda t, u: t.max(axis=-1),
    "exp": lambda t, u: t.exp(),
    "log": lambda t, u: t.log(),
    "sqrt": lambda t, u: t.sqrt(),
    "tanh": lambda t, u: t.tanh(),
    "sigmoid": lambda t, u: t.sigmoid(),
    "relu": lambda t, u: t.relu(),
    "erf": lambda t, u: t.erf(),
    "softmax": lambda t, u: t.softmax(),
    "log_softmax": lambda t, u: t.log_softmax(axis=0),
    "reshape": lambda t, u: t.reshape(-1),
    "transpose": lambda t, u: t.transpose(0, 1),
    "permute": lambda t, u: t.permute(1, 0),
    "T": lambda t, u: t.T,
    "index": lambda t, u: t[0, 1:],
    "int array index": lambda t, u: t[np.array([1, 1, 0])],
    "masked_fill": lambda t, u: t.masked_fill(np.array([True, False, False]), -np.inf).softmax(),
    "cat": lambda t, u: engine.cat([t, u], axis=1),
    "stack": lambda t, u: engine.stack([t, u]),
    "where": lambda t, u: engine.where(t.data > 1, t, 0.0),
    "abs": lambda t, u: (t - 1.0).abs(),
    "clamp": lambda t, u: t.clamp(0.8, 1.5),
    "max(dim) values": lambda t, u: t.max(dim=1).values,
    "min(axis)": lambda t, u: t.min(axis=0),
    "split": lambda t, u: t.split(2, dim=1)[1],
    "unsqueeze flatten": lambda t, u: t.unsqueeze(0).flatten(1),
    "float()": lambda t, u: t.float(),
    "masked_fill bool tensor": lambda t, u: t.masked_fill(t > 1.5, 0.0),
}


@pytest.mark.parametrize("name", OPS)
def test_float32_stays_float32_forward_and_backward(name):
    rng = np.random.default_rng(0)
    t = Tensor(rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32), requires_grad=True)
    u = Tensor(rng.uniform(0.5, 2.0, (2, 3)).astype(np.float32), requires_grad=True)
    out = OPS[name](t, u)
    assert out.dtype == np.float32
    upstream = rng.standard_normal(out.shape).astype(np.float32)
    # Every gradient passed along the graph stays float32 (not only the leaves' .grad, which
    # the engine casts to the leaf's dtype).
    for node, g, sent in engine.backprop(out, upstream):
        assert g.dtype == np.float32, f"dL/d(node) reaching {node.shape} is {g.dtype}"
        assert all(g_in.dtype == np.float32 for _, g_in in sent)
    assert t.grad is not None and t.grad.dtype == np.float32


def test_float64_stays_float64():
    t = Tensor(np.ones((2, 2)), requires_grad=True)
    out = (t * 0.5 + 1).softmax().log().mean()
    out.backward()
    assert out.dtype == np.float64 and t.grad.dtype == np.float64


# ---- bad input: the error names the op and the shapes ---------------------------------------

MISMATCHED = {
    "Add": lambda a, b: a + b,
    "Sub": lambda a, b: a - b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / b,
    "MatMul": lambda a, b: a @ b,
    "Where": lambda a, b: engine.where(np.ones((2, 3), dtype=bool), a, b),
    "Stack": lambda a, b: engine.stack([a, b]),
}


@pytest.mark.parametrize("op", MISMATCHED)
def test_mismatched_shapes_raise_value_error_naming_op_and_shapes(op):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    b = Tensor(np.ones((4, 3)))
    with pytest.raises(ValueError, match=rf"{op} got shapes \(2, 3\) and \(4, 3\)"):
        MISMATCHED[op](a, b)


def test_mismatched_numpy_operand_also_names_the_shapes():
    with pytest.raises(ValueError, match=r"Add got shapes \(2, 3\) and \(2,\)"):
        Tensor(np.ones((2, 3))) + np.ones(2)


def test_numpy_scalars_and_0d_arrays_do_not_promote_float32():
    t = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    assert (t ** np.float64(2)).dtype == np.float32
    assert (t * np.array(0.5)).dtype == np.float32
    assert (np.array(0.5) - t).dtype == np.float32


# PyTorch's promotion rules, from its documentation ("Type Promotion"): the kind decides
# (bool < integer < floating), then dimensioned operands over 0-d ones, then the widest.
INT32, INT64 = np.arange(3, dtype=np.int32), np.arange(3)
F32, F64 = np.ones(3, dtype=np.float32), np.ones(3)
PROMOTIONS = [
    (lambda: Tensor(INT64) + Tensor(F32), np.float32),  # NumPy: float64
    (lambda: Tensor(F32) * Tensor(np.array(2.0)), np.float32),  # a 0-d float64 does not widen
    (lambda: Tensor(INT32) + Tensor(np.array(2)), np.int32),  # nor a 0-d int64
    (lambda: Tensor(INT64) + Tensor(np.array(2.0)), np.float64),  # a 0-d of a higher kind does
    (lambda: Tensor(F32) + Tensor(F64), np.float64),
    (lambda: Tensor(INT32) + 5, np.int32),
    (lambda: Tensor(INT64) * 0.5, np.float32),  # a Python float beside integers: the default
    (lambda: Tensor(np.array([True, False, True])) + Tensor(INT32), np.int32),
    (lambda: Tensor(INT64) / 2, np.float32),  # true division leaves the integers
    (lambda: Tensor(INT64) @ Tensor(F32), np.float32),
    (lambda: Tensor(INT64).exp(), np.float32),
    (lambda: Tensor(INT64).softmax(0), np.float32),
    (lambda: engine.where(Tensor(INT64) > 0, Tensor(F32), Tensor(np.array(0.0))), np.float32),
    (lambda: Tensor(INT64).mean(), np.float32),
    (lambda: Tensor(INT64) ** 0.5, np.float32),
    (lambda: Tensor(INT64).clamp(min=0.5), np.float32),
    (lambda: Tensor(INT64).relu(), np.int64),
    (lambda: engine.cat([Tensor(INT64), Tensor(F32)]), np.float32),
    (lambda: engine.stack([Tensor(np.array(1)), Tensor(np.array(1.0))]), np.float64),
]


def test_comparisons_compare_in_the_promoted_dtype():
    big = Tensor(np.array([16777216, 16777217]))  # 2**24 and the next int, one float32 apart
    np.testing.assert_array_equal((big == 16777217.0).data, [True, True])  # as in float32
    tenth = Tensor(np.full(3, 0.1, dtype=np.float32))
    assert np.all((tenth == 0.1).data) and np.all((tenth == Tensor(np.array(0.1))).data)


@pytest.mark.parametrize("case", range(len(PROMOTIONS)))
def test_mixed_dtypes_promote_as_in_pytorch(case):
    make, dtype = PROMOTIONS[case]
    assert make().dtype == dtype


def test_a_gradient_goes_back_in_its_inputs_dtype_after_promotion():
    scale = Tensor(np.array(3.0), requires_grad=True)  # float64, 0-d
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    loss = (x * scale).sum()
    loss.backward()
    assert loss.dtype == np.float32 and loss.item() == 9.0
    assert scale.grad.dtype == np.float64 and scale.grad == 3.0
    assert x.grad.dtype == np.float32 and np.all(x.grad == 3.0)
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    out = (x.exp() * np.ones(3)).sum()  # a float64 array widens the product to float64
    assert out.dtype == np.float64
    for _, _, sent in engine.backprop(out, np.ones(())):
        assert all(g.dtype == inp.dtype for inp, g in sent), [(i.dtype, g.dtype) for i, g in sent]


def test_transpose_names_a_bad_axis():
    for dims, bad in (((0, 3), "3"), ((-3, 1), "-3"), ((0, 1.0), "1.0")):
        with pytest.raises(
            ValueError, match=rf"transpose\(\): dim {bad} is out of range for a 2-D"
        ):
            Tensor(np.ones((2, 2))).transpose(*dims)
