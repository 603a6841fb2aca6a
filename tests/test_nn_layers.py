"""nn layers: parameters, shapes, errors naming the layer, gradchecks through the parameters."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
from engine import Tensor, gradcheck

FAST = settings(max_examples=6, deadline=None)
leading_shapes = st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple)


def x64(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def check_layer(layer, x):
    """Gradcheck a float64 copy of `layer` with respect to its input and all its parameters."""
    layer.to(np.float64)
    params = list(layer.parameters())
    return gradcheck(lambda x, *p: layer(x), [x, *params])


@FAST
@given(lead=leading_shapes)
def test_linear_layer(lead):
    engine.manual_seed(0)
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (3, 4) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32
    assert np.abs(layer.weight.data).max() <= 0.5  # uniform in ±1/sqrt(4)
    assert check_layer(layer, x64(*lead, 4))
    assert nn.Linear(4, 3, bias=False).bias is None


def test_linear_error_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"Linear\(128 -> 64\): .*input of shape \(12, 64, 96\)"):
        nn.Linear(128, 64)(Tensor(np.zeros((12, 64, 96), np.float32)))


def test_embedding_layer():
    layer = nn.Embedding(5, 3)
    ids = np.array([[0, 4, 4], [2, 0, 1]])
    assert layer(ids).shape == (2, 3, 3)
    layer.to(np.float64)
    assert gradcheck(lambda w: layer(ids), [layer.weight])
    with pytest.raises(IndexError, match=r"Embedding\(5, 3\): .* got id 5; valid ids are 0..4"):
        layer(np.array([5]))
    with pytest.raises(TypeError, match=r"Embedding\(5, 3\): .* needs integer ids"):
        layer(np.array([1.0]))


@FAST
@given(lead=leading_shapes, bias=st.booleans())
def test_layer_norm_layer(lead, bias):
    layer = nn.LayerNorm(5, bias=bias)
    nn.init.normal_(layer.weight)  # away from 1 and 0 so the parameter gradients matter
    if bias:
        nn.init.normal_(layer.bias)
    x = x64(*lead, 5, seed=1)
    assert check_layer(layer, x)
    y = nn.LayerNorm(5).to(np.float64)(x)
    np.testing.assert_allclose(y.data.mean(-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.data.var(-1), 1, atol=1e-4)  # var / (var + eps)


@pytest.mark.parametrize("fused", [True, False])
def test_layer_norm_without_affine_or_bias_as_pytorch(fused):
    plain = nn.LayerNorm(4, elementwise_affine=False)
    assert plain.weight is None and plain.bias is None and plain.state_dict() == {}
    assert list(plain.parameters()) == [] and repr(plain).endswith("elementwise_affine=False)")
    assert nn.LayerNorm(4, elementwise_affine=False, bias=True).bias is None  # as PyTorch
    no_bias = nn.LayerNorm(4, bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    x = x64(3, 4, seed=4)
    with nn.use_fused(fused):  # the kernel and the reference both take weight or bias None
        y = plain(x)
        np.testing.assert_allclose(y.data.mean(-1), 0, atol=1e-12)
        np.testing.assert_allclose(y.data.var(-1), 1, atol=1e-4)  # var / (var + eps)
        assert gradcheck(lambda x: plain(x), [x])
        nn.init.normal_(no_bias.weight)
        assert check_layer(no_bias, x)
        np.testing.assert_allclose(no_bias(x).data, y.data * no_bias.weight.data, rtol=1e-12)


@FAST
@given(lead=leading_shapes)
def test_rms_norm_layer(lead):
    layer = nn.RMSNorm(4)
    nn.init.normal_(layer.weight)
    assert check_layer(layer, x64(*lead, 4, seed=2))
    with pytest.raises(ValueError, match=r"RMSNorm\(4, eps=None\): .*input of shape \(2, 3\)"):
        layer(x64(2, 3))


def test_norm_layers_validate_sizes():
    assert nn.LayerNorm((6,)).weight.shape == (6,)
    assert nn.LayerNorm(6).normalized_shape == (6,)  # a tuple, as PyTorch's
    with pytest.raises(ValueError, match=r"LayerNorm\(6, eps=1e-05\): .*input of shape \(2, 5\)"):
        nn.LayerNorm(6)(x64(2, 5))
    with pytest.raises(ValueError, match="give its size"):
        nn.LayerNorm((2, 3))


def test_activation_layers_gradcheck():
    x = x64(3, 7, seed=3)
    assert gradcheck(lambda x: nn.GELU()(x), [x])
    assert gradcheck(lambda x: nn.GELU("tanh")(x), [x])
    assert gradcheck(lambda x: nn.ReLU()(x), [x])
    np.testing.assert_array_equal(nn.ReLU()(x).data, np.maximum(x.data, 0))
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("erf")


def test_dropout_layer_follows_train_and_eval():
    layer = nn.Dropout(0.5)
    x = Tensor(np.ones((50, 50), np.float32))
    assert (layer(x).data == 0).any()
    layer.eval()
    assert layer(x) is x
    with pytest.raises(ValueError, match="1.5"):
        nn.Dropout(1.5)


def test_layers_tag_their_ops_with_the_module_scope():
    layer = nn.Linear(2, 2)
    y = layer(Tensor(np.ones((1, 2), np.float32), requires_grad=True))
    assert y._scope == (layer,)


def test_layer_reprs():
    assert repr(nn.Linear(3, 2)) == "Linear(3 -> 2)  # weight (2, 3), bias (2,): 8 parameters"
    assert repr(nn.Embedding(5, 3)) == "Embedding(5, 3)  # weight (5, 3): 15 parameters"
    assert repr(nn.Dropout(0.1)) == "Dropout(p=0.1)"
    assert repr(nn.GELU()) == "GELU(approximate='none')"  # PyTorch's default: the exact form
