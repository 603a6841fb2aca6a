"""F.batch_norm and nn.BatchNorm1d: values against the formula, gradients by gradcheck, and the
running statistics against updates worked out by hand from PyTorch's documented rule

    running ← (1 - momentum) running + momentum · batch statistic

with the running variance fed the batch's unbiased variance (divided by n - 1), while the
batch itself is normalised with the biased one (divided by n).
"""

import numpy as np
import pytest
import safetensors.numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck

FAST = settings(max_examples=8, deadline=None)
EPS = 1e-5


def t64(*shape, seed=0, requires_grad=True):
    rng = np.random.default_rng(seed)
    return Tensor(rng.standard_normal(shape) * 2.0 + 1.0, requires_grad=requires_grad)


def numpy_batch_norm(x, w, b, eps=EPS):
    """The formula on arrays: each channel (axis 1) over the batch and length axes."""
    axes = (0, *range(2, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    channel = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean) / np.sqrt(var + eps) * w.reshape(channel) + b.reshape(channel)


# ---- F.batch_norm ----------------------------------------------------------------------------


@FAST
@given(
    n=st.integers(2, 4),
    c=st.integers(1, 3),
    length=st.sampled_from([None, 1, 3]),
    affine=st.sampled_from(["wb", "w", ""]),
)
def test_batch_norm_training_matches_the_formula_and_gradchecks(n, c, length, affine):
    x = t64(n, c, *([] if length is None else [length]), seed=1)
    w, b = t64(c, seed=2), t64(c, seed=3)
    weight, bias = (w if "w" in affine else None), (b if "b" in affine else None)
    y = F.batch_norm(x, None, None, weight, bias, training=True)
    w_ref = w.data if weight is not None else np.ones(c)
    b_ref = b.data if bias is not None else np.zeros(c)
    np.testing.assert_allclose(y.data, numpy_batch_norm(x.data, w_ref, b_ref), rtol=1e-10)
    fn = {  # one closure per parameter set, so gradcheck perturbs exactly these inputs
        "wb": lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        "w": lambda x, w: F.batch_norm(x, None, None, w, training=True),
        "": lambda x: F.batch_norm(x, None, None, training=True),
    }[affine]
    assert gradcheck(fn, [x, *(p for p in (weight, bias) if p is not None)])


def test_batch_norm_updates_running_statistics_as_worked_out_by_hand():
    # channel 0 holds 1, 3: mean 2, biased variance 1, unbiased 2
    # channel 1 holds 2, 6: mean 4, biased variance 4, unbiased 8
    x = Tensor(np.array([[1.0, 2.0], [3.0, 6.0]]), requires_grad=True)
    mean, var = Tensor(np.zeros(2)), Tensor(np.ones(2))
    y = F.batch_norm(x, mean, var, training=True, momentum=0.1)
    np.testing.assert_allclose(mean.data, [0.9 * 0 + 0.1 * 2, 0.9 * 0 + 0.1 * 4], rtol=1e-15)
    np.testing.assert_allclose(var.data, [0.9 * 1 + 0.1 * 2, 0.9 * 1 + 0.1 * 8], rtol=1e-15)
    # the batch is normalised with its own (biased) statistics: ±1 up to eps
    expected = np.array([[-1, -2], [1, 2]]) / np.sqrt([1 + EPS, 4 + EPS])
    np.testing.assert_allclose(y.data, expected, rtol=1e-12)
    assert not mean.requires_grad and not var.requires_grad  # no gradient flows into them

    # (N, C, L): one channel over N·L = 4 numbers 1, 3, 5, 7: mean 4, unbiased variance 20/3
    mean, var = Tensor(np.zeros(1)), Tensor(np.ones(1))
    F.batch_norm(Tensor(np.array([[[1.0, 3.0]], [[5.0, 7.0]]])), mean, var, training=True)
    np.testing.assert_allclose([mean.item(), var.item()], [0.4, 0.9 + 0.1 * 20 / 3])


def test_batch_norm_evaluation_uses_the_running_statistics():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 6.0]]), requires_grad=True)
    mean, var = Tensor(np.array([1.0, -2.0])), Tensor(np.array([3.0, 0.25]))
    w, b = Tensor(np.array([2.0, 1.0])), Tensor(np.array([0.0, 10.0]))
    y = F.batch_norm(x, mean, var, w, b, training=False)
    col0 = (np.array([1.0, 3.0]) - 1) / np.sqrt(3 + EPS) * 2
    col1 = (np.array([2.0, 6.0]) + 2) / np.sqrt(0.25 + EPS) + 10
    np.testing.assert_allclose(y.data, np.stack([col0, col1], axis=1), rtol=1e-12)
    assert mean.tolist() == [1.0, -2.0] and var.tolist() == [3.0, 0.25]  # left as they were
    y.sum().backward()  # y is affine in x: dy/dx = w / sqrt(var + eps), per channel
    np.testing.assert_allclose(x.grad[0], [2 / np.sqrt(3 + EPS), 1 / np.sqrt(0.25 + EPS)])


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda x: F.batch_norm(x[0], None, None, training=True), ValueError, r"\(N, C\)"),
        (lambda x: F.batch_norm(x, None, None), ValueError, "needs running_mean/var"),
        (lambda x: F.batch_norm(x[:1], None, None, training=True), ValueError, "more than 1"),
        (lambda x: F.batch_norm(x, np.zeros(2), None), ValueError, "running_mean of shape"),
        (lambda x: F.batch_norm(x, engine.ones(3).double(), None), ValueError, "both running_mean"),
        (
            lambda x: F.batch_norm(x, None, None, engine.ones(3)),
            TypeError,
            "float64 differs from parameter dtype float32",
        ),
        (lambda x: F.batch_norm(x.long(), None, None, training=True), TypeError, "floating"),
        (  # PyTorch's F.batch_norm refuses None too: only BatchNorm1d counts the batches
            lambda x: F.batch_norm(
                x, engine.zeros(3).double(), engine.ones(3).double(), momentum=None
            ),
            TypeError,
            "batch_norm: momentum must be a number, got None",
        ),
        (
            lambda x: F.batch_norm(x, None, None, training=True, momentum="0.1"),
            TypeError,
            "momentum must be a number, got '0.1'",
        ),
    ],
)
def test_batch_norm_refuses_bad_arguments(call, error, message):
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(error, match=message):
        call(x)


# ---- nn.BatchNorm1d --------------------------------------------------------------------------


def test_batch_norm_layer_buffers_and_state_dict_are_pytorchs():
    layer = nn.BatchNorm1d(3)
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    state = layer.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert state["running_mean"].tolist() == [0, 0, 0] and state["running_var"].tolist() == [1] * 3
    counter = state["num_batches_tracked"]
    assert counter.shape == () and counter.dtype == np.int64 and counter == 0
    layer.to(np.float64)  # floating buffers follow the parameters, the counter stays int64
    assert layer.running_mean.dtype == np.float64 and layer.num_batches_tracked.dtype == np.int64

    layer(t64(4, 3, seed=5))
    layer(t64(4, 3, seed=6))
    saved = safetensors.numpy.load(safetensors.numpy.save(layer.state_dict()))  # a checkpoint
    restored = nn.BatchNorm1d(3).to(np.float64)
    restored.load_state_dict(saved)
    assert int(restored.num_batches_tracked) == 2
    np.testing.assert_array_equal(restored.running_var.data, layer.running_var.data)
    x = t64(5, 3, seed=7)
    np.testing.assert_array_equal(restored.eval()(x).data, layer.eval()(x).data)


def test_batch_norm_layer_follows_train_and_eval():
    layer = nn.BatchNorm1d(2).to(np.float64)
    x = Tensor(np.array([[1.0, 2.0], [3.0, 6.0]]))  # the batch of the hand-worked example
    y = layer(x)
    np.testing.assert_allclose(np.abs(y.data), [[1, 1], [1, 1]], rtol=1e-5)  # its own stats
    np.testing.assert_allclose(layer.running_mean.data, [0.2, 0.4], rtol=1e-15)
    np.testing.assert_allclose(layer.running_var.data, [1.1, 1.7], rtol=1e-15)
    layer.eval()
    y = layer(x)  # now normalised with the running statistics, which stay as they are
    np.testing.assert_allclose(y.data, (x.data - [0.2, 0.4]) / np.sqrt([1.1 + EPS, 1.7 + EPS]))
    assert int(layer.num_batches_tracked) == 1
    np.testing.assert_allclose(layer.running_mean.data, [0.2, 0.4], rtol=1e-15)


def test_momentum_none_keeps_the_plain_mean_of_every_batch():
    layer = nn.BatchNorm1d(1, momentum=None).to(np.float64)
    for k in range(3):  # batch k holds k and k + 2: mean k + 1, unbiased variance 2
        layer(Tensor(np.array([[k], [k + 2.0]])))
    assert int(layer.num_batches_tracked) == 3
    np.testing.assert_allclose(layer.running_mean.data, [(1 + 2 + 3) / 3], rtol=1e-15)
    np.testing.assert_allclose(layer.running_var.data, [2.0], rtol=1e-15)
    x = Tensor(np.array([[0.0], [4.0]]))
    expected = (x.data - 2.0) / np.sqrt(2.0 + layer.eps)  # by the running statistics
    np.testing.assert_allclose(layer.eval()(x).data, expected, rtol=1e-12)
    untracked = nn.BatchNorm1d(1, momentum=None, track_running_stats=False).to(np.float64)
    np.testing.assert_allclose(untracked(x).data, [[-1.0], [1.0]], rtol=1e-5)  # batch statistics


def test_batch_norm_layer_options_as_pytorch():
    untracked = nn.BatchNorm1d(2, affine=False, track_running_stats=False).to(np.float64)
    assert list(untracked.parameters()) == [] and untracked.state_dict() == {}
    assert untracked.running_mean is None and untracked.num_batches_tracked is None
    x = Tensor(np.array([[1.0, 2.0], [3.0, 6.0]]))
    batch_stats = F.batch_norm(x, None, None, training=True)
    np.testing.assert_allclose(untracked.eval()(x).data, batch_stats.data)  # even in eval
    no_bias = nn.BatchNorm1d(2, bias=False)
    assert no_bias.bias is None and [n for n, _ in no_bias.named_parameters()] == ["weight"]
    assert repr(nn.BatchNorm1d(3)) == (  # PyTorch's repr, then the parameter count
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
        "  # weight (3,), bias (3,): 6 parameters"
    )
    assert repr(nn.BatchNorm1d(3, bias=False)).startswith(
        "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=False, track_running_stats="
    )
    assert "affine=False, bias=False," in repr(nn.BatchNorm1d(3, affine=False))  # as PyTorch


@FAST
@given(length=st.sampled_from([None, 2]))
def test_batch_norm_layer_gradchecks_through_its_parameters(length):
    layer = nn.BatchNorm1d(3)
    nn.init.normal_(layer.weight)  # away from 1 and 0 so the parameter gradients matter
    nn.init.normal_(layer.bias)
    layer.to(np.float64)
    x = t64(4, 3, *([] if length is None else [length]), seed=8)
    assert gradcheck(lambda x, *p: layer(x), [x, *layer.parameters()])


def test_batch_norm_layer_errors_name_the_layer():
    layer = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3, .*\): .*\(N, C, L\), got shape \(2,"):
        layer(engine.zeros(2, 3, 4, 5))
    with pytest.raises(ValueError, match=r"running_mean of shape \(3,\), expected \(4,\)"):
        layer(engine.zeros(2, 4))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer(engine.zeros(1, 3))
    with pytest.raises(ValueError, match="give its size"):
        nn.BatchNorm1d(0)


def test_makemore_mlp_with_batch_norm_trains():
    # makemore part 3: Linear without bias, BatchNorm1d, tanh; the loss falls with SGD
    engine.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 16, bias=False), nn.BatchNorm1d(16), nn.Tanh())
    head = nn.Linear(16, 3)
    x = engine.randn(32, 4)
    y = (x[:, 0] > 0).long() + (x[:, 1] > 0).long()  # a class the inputs tell: 0, 1 or 2
    opt = nn.optim.SGD([*model.parameters(), *head.parameters()], lr=0.5)
    losses = []
    for _ in range(30):
        loss = F.cross_entropy(head(model(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]
    assert int(model[1].num_batches_tracked) == 30
