"""Places where code ported from PyTorch used to run here with other results: each now does
what PyTorch does, or is refused with a message that says why. The expected values are
PyTorch's documented behaviour, worked out by hand."""

import numpy as np
import pytest

import engine
import nn
import nn.functional as F
from engine import Tensor


def test_an_element_picked_by_ints_is_a_view_that_in_place_methods_change():
    x = engine.zeros(2, 3)
    x[0, 1].fill_(5.0)
    x[1, 2].add_(1.0)
    y = x[1, 0]
    y += 9.0
    x[0][2].zero_()
    assert x.tolist() == [[0.0, 5.0, 0.0], [9.0, 0.0, 1.0]]
    assert y.shape == () and y.item() == 9.0
    w = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (w[1, 2] * 3.0).backward()
    np.testing.assert_array_equal(w.grad, [[0, 0, 0], [0, 0, 3]])


def test_contiguous_copies_a_transposed_tensor_and_keeps_a_contiguous_one():
    x = engine.arange(6.0).reshape(2, 3)
    c = x.T.contiguous()
    c[0, 0] = 100.0  # a copy: x stays as it was
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]] and c.tolist()[0] == [100.0, 3.0]
    assert x.contiguous() is x
    w = Tensor(np.ones((2, 3)), requires_grad=True)
    (w.T.contiguous() * Tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(w.grad, [[0, 2, 4], [1, 3, 5]])


def test_a_uint8_index_tensor_is_refused_as_ambiguous():
    x = engine.tensor([10.0, 20.0, 30.0, 40.0])
    mask = (x > 15).to(engine.uint8)  # a mask in PyTorch, ids 0, 1, 1, 1 in NumPy
    with pytest.raises(IndexError, match=r"uint8.*\.bool\(\) for a mask or \.long\(\) for ids"):
        x[mask]
    with pytest.raises(IndexError, match="uint8"):
        x[mask] = 0.0
    assert x[mask.bool()].tolist() == [20.0, 30.0, 40.0]
    assert x[mask.long()].tolist() == [10.0, 20.0, 20.0, 20.0]


def test_backward_takes_its_gradient_by_pytorchs_keyword():
    w = engine.ones(3, requires_grad=True)
    (w * 2.0).backward(gradient=engine.tensor([1.0, 2.0, 3.0]))
    assert w.grad.tolist() == [2.0, 4.0, 6.0]
    with pytest.raises(RuntimeError, match="pass gradient= of that shape"):
        (w * 2.0).backward()


def test_a_parameter_set_to_none_takes_only_a_parameter_again():
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    assert list(layer.state_dict()) == ["weight"] and "bias=False" in repr(layer)
    with pytest.raises(TypeError, match="parameter 'bias' of Linear: it takes an nn.Parameter"):
        layer.bias = engine.zeros(2)  # would have added a bias that is never trained or saved
    layer.bias = nn.Parameter(np.zeros(2, np.float32))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]


@pytest.mark.parametrize("fused", [True, False])
def test_attention_refuses_mixed_dtypes_and_no_keys(fused):
    q = Tensor(np.ones((2, 3), np.float32))
    with nn.use_fused(fused):
        with pytest.raises(TypeError, match="share one dtype, got float32, float64 and float64"):
            F.scaled_dot_product_attention(q, Tensor(np.ones((2, 3))), Tensor(np.ones((2, 3))))
        empty = Tensor(np.ones((0, 3), np.float32))
        with pytest.raises(ValueError, match=r"keys \(0, 3\) hold no key"):
            F.scaled_dot_product_attention(q, empty, empty)


@pytest.mark.parametrize(
    ("softmax", "explicit"),
    [
        (F.softmax, F.softmax),
        (F.log_softmax, F.log_softmax),
        (lambda x: nn.Softmax()(x), F.softmax),
    ],
    ids=["softmax", "log_softmax", "nn.Softmax"],
)
def test_softmax_without_a_dim_is_refused_where_pytorch_would_pick_another_axis(softmax, explicit):
    x = Tensor(np.arange(24.0).reshape(2, 3, 4) / 7)
    with pytest.raises(ValueError, match="3-D input needs dim=: .* dim 0 "):
        softmax(x)
    with pytest.raises(ValueError, match="4-D input needs dim=: .* dim 1 "):
        softmax(x.reshape(1, 2, 3, 4))
    for shape in [(6,), (2, 3)]:  # the last axis, PyTorch's implicit choice there too
        y = Tensor(np.arange(6.0).reshape(shape))
        np.testing.assert_array_equal(softmax(y).data, explicit(y, dim=-1).data)
