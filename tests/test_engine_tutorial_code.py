"""Code as PyTorch tutorials write it (Karpathy's makemore and "Let's build GPT", PyTorch's "Learn
the basics"), with `engine` for `torch`: dtype names, function forms, in-place writes, indexing
by a tensor, std and var, masks combined with & | ~, linspace, eye, empty and nelement.

Expected values are worked out by hand from PyTorch's documented semantics: `torch.float` is
float32 and `torch.int` int32; `var` and `std` divide by n - 1 unless told otherwise;
`a[idx] += 1` with a repeated index adds once (as NumPy); in-place methods return the tensor.
"""

import numpy as np
import pytest
from conftest import seeds
from hypothesis import given
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck


def test_dtype_names_are_pytorchs():
    assert (engine.float, engine.float32, engine.double, engine.half) == (
        np.float32, np.float32, np.float64, np.float16
    )  # fmt: skip
    assert (engine.long, engine.int64, engine.int, engine.short, engine.bool) == (
        np.int64, np.int64, np.int32, np.int16, np.bool_
    )  # fmt: skip
    data = engine.tensor([5, 3, 1], dtype=engine.long)  # "Let's build GPT", its first line
    assert data.dtype == np.int64 and engine.zeros((1, 1), dtype=engine.long).dtype == np.int64
    t = engine.tensor([0.5, 2.0])
    assert t.double().dtype == np.float64 and t.half().dtype == np.float16
    assert t.int().tolist() == [0, 2] and t.int().dtype == np.int32
    assert (t > 1).type(engine.float).tolist() == [0.0, 1.0] and t.bool().tolist() == [True, True]
    assert t.to("cpu") is t and t.to("cpu:0") is t
    model = nn.Linear(2, 2)
    assert model.to("cpu") is model and model.weight.dtype == np.float32  # model.to(device)
    with pytest.raises(TypeError, match=r"CPU alone\), got 'cuda'"):
        t.to("cuda")
    with pytest.raises(TypeError, match=r"^Module.to\(\) takes a dtype .*CPU alone\), got 'cuda'"):
        model.to("cuda")  # NumPy alone would say "data type 'cuda' not understood"
    assert model.weight.dtype == np.float32  # refused before anything was converted


def test_function_forms_are_the_methods():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]]), requires_grad=True)
    pairs = [
        (engine.tanh(x), x.tanh()), (engine.exp(x), x.exp()), (engine.abs(x), x.abs()),
        (engine.sigmoid(x), x.sigmoid()), (engine.relu(x), x.relu()),
        (engine.mean(x, 0), x.mean(0)), (engine.sum(x, dim=1, keepdim=True), x.sum(1, True)),
        (engine.softmax(x, dim=-1), x.softmax(-1)), (engine.log_softmax(x, 0), x.log_softmax(0)),
        (engine.max(x), x.max()), (engine.argmax(x, dim=1), x.argmax(1)),
        (engine.clamp(x, min=0.0), x.clamp(0.0)), (engine.matmul(x, x.T), x @ x.T),
        (engine.transpose(x, 0, 1), x.T), (engine.reshape(x, (3, 2)), x.reshape(3, 2)),
        (engine.sqrt(engine.abs(x)), x.abs().sqrt()), (engine.std(x, 1), x.std(1)),
    ]  # fmt: skip
    for got, want in pairs:
        np.testing.assert_array_equal(got.data, want.data)
    assert engine.max(x, 1).indices.tolist() == [2, 0]  # (values, indices), as torch.max(x, 1)
    assert engine.allclose(x, x + 1e-9) and not engine.allclose(x, x + 1e-3)
    assert engine.allclose(x, x.data) is True
    array = np.zeros(3)
    shared = engine.from_numpy(array)
    array[0] = 7.0
    assert shared.tolist() == [7.0, 0.0, 0.0] and shared.dtype == np.float64
    for method, number in (("add", 2.0), ("sub", 2.0), ("mul", 2.0), ("div", 2.0)):
        want = {"add": x + 2.0, "sub": x - 2.0, "mul": x * 2.0, "div": x / 2.0}[method]
        np.testing.assert_array_equal(getattr(x, method)(number).data, want.data)


def test_var_and_std_divide_by_n_minus_one_unless_told():
    t = Tensor(np.array([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]]))
    assert t[0].var().item() == pytest.approx(5 / 3)  # squared deviations 2.25+0.25+0.25+2.25
    assert t[0].var(unbiased=False).item() == pytest.approx(5 / 4)
    assert t[0].var(correction=0).item() == pytest.approx(5 / 4)
    np.testing.assert_allclose(t.var(1).data, [5 / 3, 0.0])
    np.testing.assert_allclose(t.std(dim=1, keepdim=True).data, [[(5 / 3) ** 0.5], [0.0]])
    np.testing.assert_allclose(t.var(0).data, [0.5, 0.0, 0.5, 2.0])
    with pytest.raises(ValueError, match="1 element.* correction 1 leave no degree of freedom"):
        Tensor(np.array([1.0])).var()


@given(shape=st.lists(st.integers(2, 4), min_size=1, max_size=3), seed=seeds, data=st.data())
def test_var_and_std_gradients(shape, seed, data):
    x = Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    gradcheck(lambda t: t.var(dim), [x])
    gradcheck(lambda t: t.std(dim, keepdim=True, unbiased=False), [x])


def test_masks_combine_with_and_or_xor_not_and_reduce_with_all_any():
    t = engine.arange(6)
    inside = (t > 1) & (t < 4)
    assert inside.tolist() == [False, False, True, True, False, False]
    assert ((t < 1) | (t > 4)).tolist() == [True, False, False, False, False, True]
    assert (~inside).tolist() == [True, True, False, False, True, True]
    assert ((t > 1) ^ (t > 3)).tolist() == [False, False, True, True, False, False]
    assert (t & 3).tolist() == [0, 1, 2, 3, 0, 1]  # integers: bitwise, as in PyTorch
    assert inside.any().item() is True and inside.all().item() is False
    grid = engine.arange(6).reshape(2, 3) > 0
    assert grid.all(dim=1).tolist() == [False, True] and grid.any(0, keepdim=True).shape == (1, 3)
    with pytest.raises(TypeError, match="BitwiseAnd needs bool or integer tensors"):
        engine.ones(2) & (t[:2] > 0)


def test_a_number_to_a_tensor_power():
    exponents = engine.tensor([0.0, 1.0, -2.0])
    np.testing.assert_allclose((10**exponents).data, [1.0, 10.0, 0.01], rtol=1e-6)
    t = Tensor(np.array([0.5, -1.0, 2.0]), requires_grad=True)
    gradcheck(lambda t: 10**t, [t])  # d 10^t / dt = 10^t ln 10 (more in test_engine_powers.py)
    assert ((-2) ** exponents).tolist() == [1.0, -2.0, 0.25]  # as PyTorch: real at whole powers


def test_a_one_element_integer_tensor_is_an_index():
    data = engine.arange(20)
    ix = engine.tensor([3, 11])
    batch = engine.stack([data[i : i + 4] for i in ix])  # get_batch in "Let's build GPT"
    assert batch.tolist() == [[3, 4, 5, 6], [11, 12, 13, 14]]
    assert list(range(engine.tensor(3))) == [0, 1, 2] and "abcd"[engine.tensor(2)] == "c"
    with pytest.raises(TypeError, match="only a one-element integer tensor can be an index"):
        [1, 2][engine.tensor(1.0)]
    with pytest.raises(TypeError, match="of shape \\(2,\\)"):
        range(ix)


def test_item_assignment_writes_into_the_data():
    counts = engine.zeros((3, 3), dtype=engine.int32)  # makemore's bigram table
    counts[1, 2] += 1
    counts[engine.tensor([0, 0]), engine.tensor([1, 1])] += 1  # a repeated index adds once
    assert counts.tolist() == [[0, 1, 0], [0, 0, 1], [0, 0, 0]] and counts.dtype == np.int32
    losses = engine.zeros(3)
    for k in range(3):
        losses[k] = Tensor(np.float32(k) / 2).item()  # estimate_loss in "Let's build GPT"
    assert losses.tolist() == [0.0, 0.5, 1.0]
    losses[losses > 0.2] = 9.0  # a boolean mask, as a tensor
    losses[:, None][0] = engine.tensor([4.0])
    assert losses.tolist() == [4.0, 9.0, 9.0]
    w = Tensor(np.ones(3, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="on a leaf tensor that requires grad"):
        w[0] = 2.0
    with pytest.raises(RuntimeError, match="would change a tensor of the graph being built"):
        losses[0] = (w * 2).sum()  # the value's gradient would be lost
    with engine.no_grad():
        w[0] = 2.0
    assert w.tolist() == [2.0, 1.0, 1.0]


def test_in_place_methods_change_the_tensor_and_return_it():
    t = engine.tensor([1.0, 2.0, 3.0])
    assert t.add_(1.0) is t and t.tolist() == [2.0, 3.0, 4.0]
    assert t.sub_(engine.tensor([1.0, 1.0, 1.0]), alpha=2).tolist() == [0.0, 1.0, 2.0]
    assert t.mul_(3).tolist() == [0.0, 3.0, 6.0] and t.div_(2).tolist() == [0.0, 1.5, 3.0]
    assert t.fill_(7).tolist() == [7.0, 7.0, 7.0] and t.zero_().tolist() == [0.0, 0.0, 0.0]
    m = engine.zeros(2, 3)
    assert m.copy_(engine.tensor([1.0, 2.0, 3.0])).tolist() == [[1.0, 2.0, 3.0]] * 2
    assert engine.zeros(2, dtype=engine.long).copy_(engine.tensor([1.7, -1.7])).tolist() == [1, -1]
    with pytest.raises(ValueError, match="a value of shape \\(2, 3\\) does not fit .* \\(3,\\)"):
        t.add_(m)
    with pytest.raises(TypeError, match="does not fit the tensor's int64"):
        engine.arange(3).div_(2)
    w = Tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(RuntimeError, match="zero_\\(\\) on a leaf tensor that requires grad"):
        w.zero_()
    with pytest.raises(RuntimeError, match="mul_\\(\\) would change a tensor of the graph"):
        (w * 1).mul_(2)
    with engine.no_grad():
        w.grad = np.ones(2, np.float32)
        w.sub_(Tensor(w.grad), alpha=0.5)  # an old-style SGD step
    assert w.tolist() == [0.5, 0.5]


@pytest.mark.parametrize(
    ("name", "op"),
    [("Exp", lambda x: x.exp()), ("Sqrt", lambda x: x.sqrt()), ("TanhOp", lambda x: x.tanh()),
     ("SigmoidOp", lambda x: x.sigmoid()), ("SoftmaxOp", lambda x: x.softmax(-1)),
     ("LogSoftmaxOp", lambda x: x.log_softmax(-1)), ("NumberPow", lambda x: 2.0**x),
     ("TensorPow", lambda x: x**x), ("StdFromVar", lambda x: x.std(-1, keepdim=True)),
     ("FusedAttention", lambda x: F.scaled_dot_product_attention(x, x, x))],
)  # fmt: skip
def test_an_output_its_backward_reads_changed_in_place_refuses_the_backward(name, op):
    """These ops' backward reads their own output (exp: dX = G * Y), so a change to it in
    place, after forward, would make the gradient wrong: refused, as PyTorch refuses it."""
    x = Tensor(np.random.default_rng(0).uniform(0.5, 2.0, (2, 3)), requires_grad=True)
    y = op(x)
    with engine.no_grad():
        y *= 2.0
    with pytest.raises(RuntimeError, match=rf"{name}'s output \({y.shape[0]}, .*made it"):
        y.sum().backward()


def test_an_output_its_backward_does_not_read_may_change_in_place():
    x = engine.ones(3, requires_grad=True)
    y = x * 3.0  # Mul's backward reads x's partner, 3, not y: as in PyTorch, no harm done
    with engine.no_grad():
        y *= 2.0
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]


def test_plus_equals_changes_a_tensor_no_graph_goes_through():
    a = engine.zeros(3)
    alias = a
    a += 1  # neither requires grad: in place even while graphs are built, as in PyTorch
    assert alias.tolist() == [1.0, 1.0, 1.0] and a is alias
    w = Tensor(np.full(3, 2.0, np.float32), requires_grad=True)
    b = engine.ones(3)
    b *= w  # the graph goes through: a new tensor, recorded, and the old one as it was
    assert b is not alias and b.requires_grad
    b.sum().backward()
    assert w.grad.tolist() == [1.0, 1.0, 1.0]


def test_a_tensor_a_graph_read_changed_in_place_refuses_the_backward():
    x, w = engine.ones(3), engine.ones(3, requires_grad=True)
    y = x * w  # Mul keeps x for w's gradient, x (all ones)
    x += 1
    with pytest.raises(RuntimeError, match=r"Mul's input \(3,\) was changed in place after"):
        y.sum().backward()  # w.grad would be 2s instead of the 1s the forward used
    x, w = engine.ones(3), engine.ones(3, requires_grad=True)
    y = x.clone() * w  # a copy changes nothing the graph read
    x += 1
    (y * engine.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(w.grad, [1.0, 2.0, 3.0])
    x[0] = 5.0  # after backward, as an optimizer's step is: nothing to refuse
    c = w.clone()
    assert c.requires_grad and c.grad_fn is not None
    assert gradcheck(lambda t: t.clone(), [Tensor(np.arange(3.0), requires_grad=True)])


def test_requires_grad_is_checked_when_set():
    ids = engine.tensor([1, 2])
    with pytest.raises(TypeError, match="only floating-point tensors can require grad"):
        ids.requires_grad = True  # PyTorch refuses too; the gradient would be truncated
    x = engine.tensor([2.0])
    x.requires_grad = True
    y = x * 3
    with pytest.raises(RuntimeError, match="requires_grad=False changes leaves only"):
        y.requires_grad = False
    (y * x).sum().backward()
    assert x.grad.tolist() == [12.0]


def test_T_of_a_vector_is_itself():
    v = engine.tensor([1.0, 2.0])
    assert v.T is v and engine.tensor(3.0).T.item() == 3.0


def test_linspace_eye_empty_and_nelement():
    # makemore: lre = torch.linspace(-3, 0, 1000); lrs = 10**lre (learning rates to try)
    lre = engine.linspace(-3, 0, 4)
    assert lre.dtype == np.float32
    np.testing.assert_allclose((10**lre).data, [0.001, 0.01, 0.1, 1.0], rtol=1e-6)
    np.testing.assert_array_equal(engine.linspace(0, 1, 5).data, [0, 0.25, 0.5, 0.75, 1])
    np.testing.assert_array_equal(engine.linspace(1, 0, 3).data, [1, 0.5, 0])  # going down
    assert engine.linspace(2, 5, 1).tolist() == [2.0] and engine.linspace(0, 1, 0).shape == (0,)
    assert engine.linspace(0, 10, 3, dtype=np.int64).tolist() == [0, 5, 10]
    assert engine.linspace(0, 1, 3, dtype=np.float64, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="steps must be >= 0, got -1"):
        engine.linspace(0, 1, -1)
    with pytest.raises(TypeError, match="steps must be an int, got 2.5"):
        engine.linspace(0, 1, 2.5)

    np.testing.assert_array_equal(engine.eye(2).data, [[1, 0], [0, 1]])
    np.testing.assert_array_equal(engine.eye(2, 3).data, [[1, 0, 0], [0, 1, 0]])
    assert engine.eye(3).dtype == np.float32 and engine.eye(2, dtype=np.int64).dtype == np.int64
    x = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal((x @ engine.eye(3, dtype=np.float64)).data, x.data)
    with pytest.raises(ValueError, match="m must be an int >= 0, got -1"):
        engine.eye(2, -1)

    e = engine.empty(2, 3)  # zeros here (PyTorch leaves whatever was in the memory)
    assert e.shape == (2, 3) and e.dtype == np.float32 and engine.empty((4,)).shape == (4,)
    assert engine.empty(2, dtype=np.float64, requires_grad=True).requires_grad
    with pytest.raises(ValueError, match="sizes"):
        engine.empty(-1)

    # makemore: print(sum(p.nelement() for p in parameters))  # number of parameters in total
    parameters = [engine.randn(27, 10), engine.randn(30, 200), engine.randn(200)]
    assert sum(p.nelement() for p in parameters) == 27 * 10 + 30 * 200 + 200
    assert Tensor(3.0).nelement() == 1 == Tensor(3.0).numel()
