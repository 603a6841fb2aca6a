"""`engine.detect_anomaly` and the public view of the graph (`grad_fn`, `scope`)."""

import numpy as np
import pytest

import engine
from engine import Function, Tensor


def test_forward_nan_names_the_op_and_shapes():
    x = Tensor(np.array([1.0, -1.0]), requires_grad=True)
    anomaly = pytest.raises(FloatingPointError, match=r"Log forward.*\(2,\)")
    with engine.detect_anomaly(), np.errstate(invalid="ignore"), anomaly:
        x.log()


class BadBackward(Function):
    """Identity whose backward divides by zero: a bug detect_anomaly must find."""

    rules = ("dX = G / 0 (wrong)",)

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return (g / np.zeros_like(g),)


def test_backward_inf_names_the_op():
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    with engine.detect_anomaly(), np.errstate(divide="ignore"):
        y = (BadBackward.apply(x) * 2.0).sum()
        with pytest.raises(FloatingPointError, match=r"BadBackward backward.*\(2, 3\)"):
            y.backward()


def test_masks_that_bring_their_own_infinity_are_allowed():
    x = Tensor(np.random.default_rng(0).standard_normal((3, 3)), requires_grad=True)
    causal = np.triu(np.ones((3, 3), dtype=bool), k=1)
    with engine.detect_anomaly():
        y = x.masked_fill(causal, -np.inf).softmax(axis=-1)
        (y * y).sum().backward()
    assert np.isfinite(x.grad).all()


def test_without_detect_anomaly_nothing_is_checked():
    x = Tensor(np.array([-1.0]), requires_grad=True)
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.log().data).all()


def test_grad_fn_exposes_op_name_and_inputs():
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = Tensor([3.0, 4.0], requires_grad=True)
    c = a * b
    assert a.grad_fn is None and a.is_leaf
    assert c.grad_fn.name == "Mul"
    assert c.grad_fn.inputs[0] is a and c.grad_fn.inputs[1] is b
    d = c.sum()
    assert d.grad_fn.inputs[0] is c
    d.backward()  # frees what the nodes saved, keeps the nodes: the graph can still be walked
    assert d.grad_fn.name == "Sum" and d.grad_fn.inputs[0] is c and d.grad_fn.freed
    assert c.grad_fn.inputs[1] is b and not hasattr(c.grad_fn, "a")  # Mul's saved A is gone
