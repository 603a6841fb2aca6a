"""Graph semantics of backward(): reused nodes, accumulation, no_grad, detach, retain_grad,
released and retained graphs, deep graphs, and the errors for a missing or mis-shaped seed.
"""

import numpy as np
import pytest

import engine
import nn
from engine import Tensor


def test_reused_node_gets_the_sum_of_its_gradients():
    a = Tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    b = a + a  # b = 2a: a is used twice
    c = b * b  # c = 4a², b is used twice
    c.backward(np.array([1.0, 2.0, 3.0]))
    # dc/da = 8a, times the upstream gradient
    np.testing.assert_allclose(a.grad, 8 * a.data * [1.0, 2.0, 3.0])


def test_diamond_graph_by_hand():
    x = Tensor(np.array(2.0), requires_grad=True)
    y = Tensor(np.array(5.0), requires_grad=True)
    h = x * y
    out = h * x + y  # x²y + y: x reaches out by two paths
    out.backward()
    assert x.grad == pytest.approx(2 * 2.0 * 5.0)
    assert y.grad == pytest.approx(2.0**2 + 1)


def test_leaf_gradients_accumulate_across_backward_calls():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    (a * 3).sum().backward()
    (a * a).sum().backward()
    np.testing.assert_allclose(a.grad, 3 + 2 * a.data)
    a.grad = None  # reset, as an optimizer's zero_grad does
    (a * 3).sum().backward()
    np.testing.assert_allclose(a.grad, [3.0, 3.0])


def test_a_zero_dimensional_leaf_accumulates_into_one_array():
    t = Tensor(np.array(2.0), requires_grad=True)
    (t * 3.0).backward()  # NumPy's ufuncs give a 0-d input's gradient as a scalar
    held = t.grad
    (t * 3.0).backward()
    assert isinstance(held, np.ndarray) and held.shape == ()
    assert t.grad is held and held == 6.0
    held[...] = 0  # as zero_grad(set_to_none=False) does
    assert t.grad == 0.0


def test_intermediate_keeps_grad_only_after_retain_grad():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    hidden, kept = a * 2, a * 3
    kept.retain_grad()
    (hidden * kept).sum().backward()
    assert hidden.grad is None
    np.testing.assert_allclose(kept.grad, hidden.data)
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).retain_grad()


def test_gradients_never_alias_each_other_or_the_seed():
    x = Tensor(np.ones(3), requires_grad=True)
    y = Tensor(np.ones(3), requires_grad=True)
    seed = np.array([1.0, 2.0, 3.0])
    (x + y).backward(seed)
    x.grad += 100
    np.testing.assert_array_equal(y.grad, [1.0, 2.0, 3.0])
    np.testing.assert_array_equal(seed, [1.0, 2.0, 3.0])


class OneArrayForBoth(engine.Function):
    """x + y, whose backward gives one fresh array to both inputs (Add passes g on instead)."""

    def forward(self, x, y):
        return x + y

    def backward(self, g):
        both = g * 1.0
        return both, both


class FreshGradient(engine.Function):
    """2x, whose backward's gradients are kept in `made`, to see which array a leaf keeps."""

    made = []

    def forward(self, x):
        return 2 * x

    def backward(self, g):
        self.made.append(2 * g)
        return (self.made[-1],)


def test_a_leaf_keeps_a_gradient_made_for_it_alone_and_copies_a_shared_one():
    x, y = (Tensor(np.ones(3), requires_grad=True) for _ in range(2))
    OneArrayForBoth.apply(x, y).sum().backward()
    x.grad += 100
    np.testing.assert_array_equal(y.grad, [1.0, 1.0, 1.0])  # never the same array
    w = Tensor(np.ones(3), requires_grad=True)
    FreshGradient.made.clear()
    FreshGradient.apply(w).sum().backward()
    assert w.grad is FreshGradient.made[0]  # kept, not copied (as PyTorch steals it)
    FreshGradient.apply(w).sum().backward()
    assert w.grad is FreshGradient.made[0] and w.grad.tolist() == [4.0, 4.0, 4.0]  # in place
    v = Tensor(np.ones(3, np.float32), requires_grad=True)
    FreshGradient.made.clear()
    (FreshGradient.apply(v.double()) * 1).sum().backward()  # the float64 gradient cast back
    assert v.grad.dtype == np.float32 and v.grad.tolist() == [2.0, 2.0, 2.0]


def test_backward_leaves_inputs_unchanged():
    data = np.array([[1.0, -1.0], [0.5, 2.0]])
    x = Tensor(data.copy(), requires_grad=True)
    (x.softmax() * x[np.array([0, 0])]).sum().backward()
    np.testing.assert_array_equal(x.data, data)


# ---- no_grad and detach ---------------------------------------------------------------------


def test_no_grad_context_builds_no_graph():
    a = Tensor(np.ones(2), requires_grad=True)
    with engine.no_grad():
        assert not engine.is_grad_enabled()
        out = (a * 2).exp().sum()
    assert engine.is_grad_enabled()
    assert not out.requires_grad and out.is_leaf
    with pytest.raises(RuntimeError, match="does not require grad"):
        out.backward()


def test_no_grad_decorator_and_nesting():
    a = Tensor(np.ones(2), requires_grad=True)

    @engine.no_grad()
    def evaluate(depth):
        assert not engine.is_grad_enabled()
        return a * 2 if depth == 0 else evaluate(depth - 1)  # the same instance, re-entered

    out = evaluate(3)
    assert not out.requires_grad and out._ctx is None
    assert engine.is_grad_enabled()
    with engine.no_grad():
        with engine.no_grad():
            pass
        assert not engine.is_grad_enabled()
    assert engine.is_grad_enabled()


@pytest.mark.parametrize(
    ("mode", "inside"),  # inside: (grad enabled, kernels enabled) while the body runs
    [(engine.no_grad, (False, True)),
     (lambda: engine.set_grad_enabled(False), (False, True)),
     (lambda: nn.use_fused(False), (True, False))],
)  # fmt: skip
def test_a_decorated_generator_runs_each_step_in_the_mode(mode, inside):
    """As PyTorch's grad modes do: a plain decorator would switch only while the generator
    object is made, and its body would run in the caller's mode."""
    a = Tensor(np.ones(2), requires_grad=True)

    def now():
        return engine.is_grad_enabled(), nn.kernels.enabled()

    @mode()
    def steps():
        received = yield now(), (a * 2).requires_grad
        try:
            yield received, now()
        except KeyError:
            yield "thrown", now()
        return "done"

    outside = now()
    gen = steps()
    assert next(gen) == (inside, inside[0]) and now() == outside  # the caller's between steps
    assert gen.send("sent") == ("sent", inside) and now() == outside
    assert gen.throw(KeyError()) == ("thrown", inside) and now() == outside
    with pytest.raises(StopIteration) as stop:
        next(gen)
    assert stop.value.value == "done" and now() == outside


def test_a_bare_no_grad_decorates_too_and_seeds_may_be_numpy_ints():
    @engine.no_grad  # without the parentheses, as PyTorch also takes it
    def evaluate():
        return engine.is_grad_enabled()

    assert evaluate() is False and engine.is_grad_enabled()
    engine.manual_seed(np.int64(3))
    first = engine.generator().random()
    engine.manual_seed(3)
    assert engine.generator().random() == first


def test_no_grad_restores_grad_mode_after_an_exception():
    with pytest.raises(KeyError), engine.no_grad():
        raise KeyError("inside")
    assert engine.is_grad_enabled()


def test_detach_shares_data_and_stops_the_gradient():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    d = a.detach()
    assert np.shares_memory(d.data, a.data)
    assert not d.requires_grad and d.is_leaf
    (a * d).sum().backward()  # d is a constant: d(a * d)/da = d
    np.testing.assert_array_equal(a.grad, [1.0, 2.0])


# ---- released and retained graphs -----------------------------------------------------------


def test_second_backward_through_a_released_graph_raises():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (a.exp() * a).sum()
    loss.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()


def test_retained_graph_allows_a_second_backward():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (a * a).sum()
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)
    np.testing.assert_allclose(a.grad, 2 * (2 * a.data))
    loss.backward()  # the last one may release it
    with pytest.raises(RuntimeError, match="freed"):
        loss.backward()


def test_released_part_of_a_graph_raises_when_reached_again():
    a = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    hidden = a * a
    hidden.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (hidden * 2).sum().backward()


def test_a_chain_of_100000_ops():
    """The topological sort is iterative: no recursion limit on deep graphs."""
    x = Tensor(np.array(1.0), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad == pytest.approx(1.00001**100_000, rel=1e-9)


# ---- the seed gradient ----------------------------------------------------------------------


def test_backward_seeds_one_for_a_one_element_tensor():
    a = Tensor(np.array([[3.0]]), requires_grad=True)
    (a * a).backward()
    np.testing.assert_array_equal(a.grad, [[6.0]])


def test_backward_without_grad_on_a_non_scalar_raises():
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"one-element.*\(2, 3\)"):
        (a * 2).backward()


@pytest.mark.parametrize("shape", [(3, 2), (6,), (2, 3, 1), ()])
def test_backward_with_a_mis_shaped_grad_raises(shape):
    a = Tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        (a * 2).backward(np.ones(shape))


def test_backward_accepts_a_tensor_grad_and_casts_it_to_the_output_dtype():
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    (a * 2).backward(Tensor(np.array([1.0, 3.0])))  # a float64 seed for a float32 output
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad, [2.0, 6.0])


def test_backward_on_a_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).backward()
