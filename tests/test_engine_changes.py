"""In-place changes are counted against memory: a change through a view or `detach()` of a
tensor that a graph read refuses the backward, as PyTorch's shared version counter does."""

import gc

import numpy as np
import pytest

import engine
import nn
from engine import Tensor, changes

REFUSED = r"was changed in place after .* \(itself, or a view or detach\(\) sharing its memory\)"


def exp_of_ones():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    return x, x.exp()  # Exp's backward reads its output


@pytest.mark.parametrize(
    "change",
    [
        lambda y: y.detach().add_(1.0),
        lambda y: y[0].mul_(2.0),
        lambda y: y[:, 1:].zero_(),
        lambda y: y.T.__setitem__(0, 5.0),
        lambda y: y.view(6).fill_(0.5),
        lambda y: y.detach()[1].copy_(Tensor(np.zeros(3))),
    ],
    ids=["detach", "row", "columns", "transpose", "view", "detached row"],
)
def test_a_change_through_a_view_or_detach_refuses_the_backward(change):
    x, y = exp_of_ones()
    with engine.no_grad():
        change(y)
    with pytest.raises(RuntimeError, match="Exp's output .*" + REFUSED):
        y.sum().backward()


def test_a_change_through_a_view_of_an_input_refuses_the_backward():
    w = Tensor(np.ones(3), requires_grad=True)
    x = engine.ones(2, 3)
    y = x[0] * w  # Mul keeps x's first row for w's gradient
    x.detach()[0, 1] = 7.0  # neither requires grad: written in place, even while graphs are built
    with pytest.raises(RuntimeError, match=r"Mul's input \(3,\) " + REFUSED):
        y.sum().backward()


def test_a_change_to_other_memory_does_not_refuse_the_backward():
    x, y = exp_of_ones()
    copy = y.detach().clone()
    with engine.no_grad():
        copy += 1.0
        Tensor(np.ones(3)).add_(1.0)
    y.sum().backward()
    np.testing.assert_allclose(x.grad, np.e)


def test_the_record_of_a_change_goes_with_its_memory():
    before = len(changes._last_change)
    for _ in range(100):
        Tensor(np.zeros(4))[1:].add_(1.0)
    gc.collect()
    assert len(changes._last_change) == before
    kept = Tensor(np.zeros(4))
    kept[1:].add_(1.0)
    assert changes.changed_since(kept.data[2:], engine.modes.in_place_changes - 1)
    assert not changes.changed_since(kept.data, engine.modes.in_place_changes)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("make", [lambda p: nn.optim.SGD(p, lr=0.1), lambda p: nn.optim.AdamW(p)])
def test_an_optimizer_step_between_forward_and_backward_refuses_the_backward(make, fused):
    w = nn.Parameter(np.ones(3, np.float32))
    optimizer = make([w])
    loss = (w * w).sum()  # Mul keeps w for the gradient
    w.grad = np.ones(3, np.float32)
    with nn.use_fused(fused):
        optimizer.step()
    with pytest.raises(RuntimeError, match=r"Mul's input \(3,\) " + REFUSED):
        loss.backward()
    optimizer.zero_grad()
    (w * w).sum().backward()  # a forward after the step: its graph saw the new weights
    np.testing.assert_allclose(w.grad, 2 * w.data)
