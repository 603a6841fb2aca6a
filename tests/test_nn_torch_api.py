"""The nn surface a PyTorch user types: containers, activation and loss modules, losses'
options, buffers, freezing; each against the value torch's documentation gives (worked out
here from its formulas, without running PyTorch, which is no test dependency)."""

import math
from collections import OrderedDict

import numpy as np
import pytest

import engine
import nn
import nn.functional as F
from engine import Tensor, gradcheck
from model import GPT, GPTConfig


def x64(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


# ---- containers ------------------------------------------------------------------------------


def test_sequential_runs_its_children_in_order():
    engine.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 3))
    x = x64(5, 2).float()
    expected = mlp[2](mlp[1](mlp[0](x)))
    np.testing.assert_array_equal(mlp(x).data, expected.data)
    assert list(mlp.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]  # torch's keys
    assert len(mlp) == 3 and isinstance(mlp[1], nn.Tanh) and isinstance(mlp[:2], nn.Sequential)
    assert mlp[:2](x).shape == (5, 4) and mlp[-1] is mlp[2]
    named = nn.Sequential(OrderedDict(fc=nn.Linear(2, 2), act=nn.ReLU()))
    assert [n for n, _ in named.named_children()] == ["fc", "act"] and named.fc is named[0]
    with pytest.raises(TypeError, match="Sequential holds Modules"):
        nn.Sequential(OrderedDict(f=len))


def test_identity_passes_its_input_through():
    x = x64(2, 3)
    assert nn.Identity()(x) is x and nn.Identity(54, unused="argument")(x) is x
    assert list(nn.Identity().parameters()) == []


def test_module_dict_registers_its_values_under_their_keys():
    layers = nn.ModuleDict({"wte": nn.Embedding(5, 2), "head": nn.Linear(2, 5, bias=False)})
    layers["ln"] = nn.LayerNorm(2)
    assert list(layers) == ["wte", "head", "ln"] and len(layers) == 3
    assert "ln" in layers and "fc" not in layers and layers["head"] is layers.head
    assert [n for n, _ in layers.named_parameters()] == [
        "wte.weight",
        "head.weight",
        "ln.weight",
        "ln.bias",
    ]
    assert [k for k, _ in layers.items()] == list(layers.keys())
    with pytest.raises(KeyError, match="identifiers"):
        layers["not a name"] = nn.ReLU()


# ---- activation modules ----------------------------------------------------------------------


def test_activation_modules_compute_torchs_formulas():
    x = x64(3, 4, seed=1)
    d = x.data
    sigmoid = 1 / (1 + np.exp(-d))
    exact_gelu = d * 0.5 * (1 + np.vectorize(math.erf)(d / math.sqrt(2)))
    cases = [
        (nn.Tanh(), np.tanh(d)),
        (nn.Sigmoid(), sigmoid),
        (nn.SiLU(), d * sigmoid),
        (nn.Softmax(dim=0), np.exp(d) / np.exp(d).sum(0, keepdims=True)),
        (nn.Softmax(dim=-1), np.exp(d) / np.exp(d).sum(-1, keepdims=True)),
        (nn.GELU(), exact_gelu),  # torch's default: the exact form
        (nn.ReLU(), np.maximum(d, 0)),
    ]
    for module, expected in cases:
        np.testing.assert_allclose(module(x).data, expected, rtol=1e-12, atol=1e-14)
        assert gradcheck(module, [x]), module
    np.testing.assert_allclose(F.silu(x).data, d * sigmoid, rtol=1e-12)
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert F.gelu(x).grad_fn is not None and nn.GELU().approximate == "none"


# ---- losses ----------------------------------------------------------------------------------

LOGITS = [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]
TARGETS = [2, 0]


def torch_cross_entropy_rows(smoothing=0.0):
    """The two rows' losses by torch's formula: (1 - ε) (-log p[t]) + ε mean_v(-log p[v])."""
    z = np.array(LOGITS)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    nll = -log_p[[0, 1], TARGETS]  # [0.4076..., log 3]
    return (1 - smoothing) * nll + smoothing * -log_p.mean(-1)


@pytest.mark.parametrize("fused", [True, False])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_reductions_and_label_smoothing(fused, smoothing):
    rows = torch_cross_entropy_rows(smoothing)
    assert rows[1] == pytest.approx(math.log(3))  # a uniform row costs log 3, smoothed or not
    logits = Tensor(np.array(LOGITS), requires_grad=True)
    with nn.use_fused(fused):
        for reduction, expected in [("mean", rows.mean()), ("sum", rows.sum()), ("none", rows)]:
            criterion = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
            np.testing.assert_allclose(criterion(logits, TARGETS).data, expected, rtol=1e-12)
        ignored = F.cross_entropy(logits, np.array([2, -100]), label_smoothing=smoothing)
        assert ignored.item() == pytest.approx(rows[0])  # -100 is ignored by default
        losses = F.cross_entropy(logits, np.array([2, -100]), reduction="none")
        np.testing.assert_allclose(losses.data, [torch_cross_entropy_rows()[0], 0.0])
        F.cross_entropy(logits, TARGETS, label_smoothing=smoothing).backward()
    # d loss / d z = (softmax(z) - q) / N, q = (1 - ε) onehot + ε / V
    z = np.array(LOGITS)
    q = (1 - smoothing) * np.eye(3)[TARGETS] + smoothing / 3
    expected = (np.exp(z) / np.exp(z).sum(-1, keepdims=True) - q) / 2
    np.testing.assert_allclose(logits.grad, expected, rtol=1e-12)


def test_loss_options_are_checked():
    with pytest.raises(ValueError, match="reduction"):
        nn.CrossEntropyLoss(reduction="average")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x64(2), np.zeros(2), reduction="max")
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        nn.MSELoss()(x64(2), np.zeros(3))


def test_mse_loss():
    x = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = np.array([1.0, 0.0, 5.0])  # squared errors 0, 4, 4
    assert nn.MSELoss()(x, y).item() == pytest.approx(8 / 3)
    assert F.mse_loss(x, y, reduction="sum").item() == 8.0
    np.testing.assert_array_equal(F.mse_loss(x, y, reduction="none").data, [0.0, 4.0, 4.0])
    F.mse_loss(x, Tensor(y)).backward()
    np.testing.assert_allclose(x.grad, [0.0, 4 / 3, -4 / 3])  # 2 (x - y) / n
    target = x64(3, seed=2)
    assert gradcheck(lambda a, b: F.mse_loss(a, b), [x64(3, seed=1), target])


def test_one_hot_marks_each_class_with_a_1():
    ids = engine.tensor([0, 2, 1])
    expected = [[1, 0, 0], [0, 0, 1], [0, 1, 0]]  # row i: 1 in column ids[i]
    assert F.one_hot(ids).tolist() == expected and F.one_hot(ids).dtype == np.int64
    assert F.one_hot(ids, 4).tolist() == [row + [0] for row in expected]
    assert F.one_hot(engine.tensor([[3], [0]]), num_classes=5).shape == (2, 1, 5)
    assert F.one_hot(np.zeros(0, dtype=np.int64), 3).shape == (0, 3)  # nothing to mark
    # makemore: xenc = F.one_hot(xs, num_classes=27).float(); logits = xenc @ W
    W = x64(4, 3)
    np.testing.assert_array_equal((F.one_hot(ids, 4).double() @ W).data, W.data[[0, 2, 1]])


@pytest.mark.parametrize(
    ("ids", "num_classes", "error", "message"),
    [
        ([-1, 0], -1, ValueError, "class values must be >= 0, got -1"),
        ([0, 3], 3, ValueError, "class 3 does not fit num_classes=3"),
        ([1], 0, ValueError, "class 1 does not fit num_classes=0"),
        ([], -1, ValueError, "cannot infer num_classes from an empty tensor"),
        ([1], -2, ValueError, "num_classes must be -1 or a count >= 0, got -2"),
        ([1.0], -1, TypeError, "one_hot needs integer ids, got dtype float32"),
    ],
)
def test_one_hot_refuses_what_pytorch_refuses(ids, num_classes, error, message):
    with pytest.raises(error, match=message):
        F.one_hot(engine.tensor(ids, dtype=None if ids else np.int64), num_classes)


# ---- buffers ---------------------------------------------------------------------------------


class Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
        self.register_buffer("mask", engine.tensor(np.tril(np.ones((3, 3)))))
        self.register_buffer("count", engine.tensor([0]))
        self.register_buffer("scratch", engine.zeros(2), persistent=False)

    def forward(self, x):
        return self.fc(x).masked_fill(self.mask == 0, 0.0)


def test_buffers_are_saved_but_not_trained():
    model = Masked()
    assert [n for n, _ in model.named_parameters()] == ["fc.weight", "fc.bias"]
    assert [n for n, _ in model.named_buffers()] == ["mask", "count", "scratch"]
    assert list(model.state_dict()) == ["mask", "count", "fc.weight", "fc.bias"]
    assert model.mask is list(model.buffers())[0] and not model.mask.requires_grad
    model(x64(3, 3).float()).sum().backward()
    assert model.mask.grad is None
    other = Masked()
    other.mask = engine.zeros(3, 3)  # assigning to a buffer's name replaces the buffer
    assert other.mask is list(other.buffers())[0]
    state = model.state_dict()
    state["count"] = np.array([7])
    other.load_state_dict(state)
    np.testing.assert_array_equal(other.mask.data, np.tril(np.ones((3, 3))))
    assert other.count.tolist() == [7] and other.count.dtype == np.int64
    model.to(np.float64)
    assert model.mask.dtype == np.float64 and model.count.dtype == np.int64
    state["count"] = np.array([0.5])
    with pytest.raises(ValueError, match="count: dtype float64 does not fit"):
        other.load_state_dict(state)
    with pytest.raises(KeyError, match="already has"):
        model.register_buffer("fc", engine.zeros(1))
    with pytest.raises(TypeError, match="Tensor or None"):
        model.register_buffer("table", np.zeros(2))


# ---- freezing --------------------------------------------------------------------------------


def test_requires_grad_and_zero_grad_on_modules():
    layer = nn.Linear(2, 2)
    assert layer.requires_grad_(False) is layer
    assert not any(p.requires_grad for p in layer.parameters())
    y = layer(engine.ones(3, 2))
    assert not y.requires_grad  # nothing in it needs a gradient
    layer.requires_grad_()
    layer(x64(3, 2).float()).sum().backward()
    grad = layer.weight.grad
    layer.zero_grad(set_to_none=False)
    assert layer.weight.grad is grad and np.all(grad == 0)  # zeroed in place
    layer.zero_grad()
    assert layer.weight.grad is None  # set_to_none=True, torch's default


def test_a_gpt_with_frozen_embeddings_trains_everything_else():
    engine.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    model.transformer.wte.requires_grad_(False)  # the token embedding, tied to lm_head
    model.transformer.wpe.requires_grad_(False)
    frozen = {"transformer.wte.weight", "transformer.wpe.weight"}
    before = {name: p.data.copy() for name, p in model.named_parameters()}
    optimizer = nn.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.1)
    idx = np.arange(8)[None] % 11
    for fused in (True, False):
        with nn.use_fused(fused):
            _, loss = model(idx, np.roll(idx, -1, axis=1))
        loss.backward()
        for name, p in model.named_parameters():
            assert (p.grad is None) == (name in frozen), name
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    for name, p in model.named_parameters():
        unchanged = np.array_equal(p.data, before[name])
        assert unchanged == (name in frozen), name  # decay included: frozen means untouched
