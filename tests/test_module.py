"""The module system: registration, names and order, tying, modes, dtype, state dicts, repr."""

from collections import OrderedDict

import numpy as np
import pytest

import engine
import nn
from engine import Tensor


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln = nn.LayerNorm(4)
        self.fc = nn.Linear(4, 4)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        return x + self.drop(self.fc(self.ln(x)))


class Tiny(nn.Module):
    """A miniature GPT shape: embedding, a list of blocks, a head tied to the embedding."""

    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(6, 4)
        self.h = nn.ModuleList([Block(), Block()])
        self.lm_head = nn.Linear(4, 6, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying
        self.scale = nn.Parameter(np.ones(1, np.float32))

    def forward(self, ids):
        x = self.wte(ids)
        for block in self.h:
            x = block(x)
        return self.lm_head(x) * self.scale


BLOCK_NAMES = ["ln.weight", "ln.bias", "fc.weight", "fc.bias"]


def test_named_parameters_order_and_tying():
    model = Tiny()
    names = [name for name, _ in model.named_parameters()]
    expected = ["scale", "wte.weight"] + [f"h.{i}.{n}" for i in (0, 1) for n in BLOCK_NAMES]
    assert names == expected  # own parameters first, then children in registration order
    assert len(list(model.parameters())) == len(expected)  # lm_head.weight is wte.weight
    params = list(model.parameters())
    assert len({id(p) for p in params}) == len(params)


def test_named_modules_and_children():
    model = Tiny()
    names = [name for name, _ in model.named_modules()]
    assert names[:4] == ["", "wte", "h", "h.0"]
    assert names[-1] == "lm_head" and "h.1.drop" in names
    assert [n for n, _ in model.named_children()] == ["wte", "h", "lm_head"]
    assert len(list(model.modules())) == len(names)
    assert model.h[1] is list(model.h)[1] and len(model.h[:1]) == 1


def test_reassignment_keeps_order_and_plain_values_unregister():
    block = Block()
    block.ln = nn.LayerNorm(4)
    assert [n for n, _ in block.named_children()] == ["ln", "fc", "drop"]
    block.fc = None
    assert [n for n, _ in block.named_children()] == ["ln", "drop"]
    with pytest.raises(TypeError, match="nn.Parameter"):
        block.ln.weight = Tensor(np.ones(4, np.float32))
    with pytest.raises(TypeError, match="cannot assign int to parameter 'weight'"):
        block.ln.weight = 3  # would have quietly left LayerNorm without its weight
    with pytest.raises(TypeError, match="cannot assign str to sub-module 'ln'"):
        block.ln = "off"
    assert [n for n, _ in block.ln.named_parameters()] == ["weight", "bias"]


def test_a_module_under_two_names_is_saved_under_both():
    shared = nn.Linear(2, 2)
    pair = nn.ModuleDict(dict(a=shared, b=shared))
    assert list(pair.state_dict()) == ["a.weight", "a.bias", "b.weight", "b.bias"]  # as PyTorch
    assert len(list(pair.parameters())) == 2  # each parameter once, for an optimizer
    state = pair.state_dict()
    state["b.weight"] = np.full((2, 2), 7.0)  # the last name wins, as in PyTorch
    pair.load_state_dict(state)
    assert np.all(shared.weight.data == 7.0)
    assert list(nn.ModuleList([shared, shared]).state_dict()) == [
        "0.weight", "0.bias", "1.weight", "1.bias"
    ]  # fmt: skip


def test_buffers_containers_and_train_follow_pytorch():
    m = nn.Module()
    m.register_buffer("x", Tensor(np.ones(2)), persistent=False)
    m.register_buffer("x", Tensor(np.ones(2)))  # registered again: persistent now
    assert list(m.state_dict()) == ["x"]
    m.plain = 3
    with pytest.raises(KeyError, match="already has an attribute 'plain'"):
        m.register_buffer("plain", Tensor(np.ones(2)))
    for key in ("items", "training"):
        with pytest.raises(KeyError, match=f"'{key}' is the name of one of its attributes"):
            nn.ModuleDict({key: nn.Identity()})
    seq = nn.Sequential(OrderedDict(fc=nn.Linear(2, 3), act=nn.ReLU(), out=nn.Linear(3, 1)))
    assert [n for n, _ in seq[1:].named_children()] == ["act", "out"]  # their own names

    class Frozen(nn.Module):  # a module whose train() keeps it in eval mode
        def train(self, mode=True):
            return super().train(False)

    outer = nn.Sequential(nn.Linear(2, 2), Frozen())
    outer.train()
    assert outer[0].training and not outer[1].training  # each child's own train() ran
    with pytest.raises(ValueError, match="True or False"):
        outer.train("no")


def test_module_without_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(2, 2)

    with pytest.raises(RuntimeError, match="super"):
        Broken()


def test_train_eval_propagate():
    model = Tiny()
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_zero_grad_and_to_dtype():
    model = Tiny()
    model(np.array([[1, 2]])).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    arrays = [p.data for p in model.parameters()]
    model.to(np.float32)  # the dtype it has: the same arrays, which others may share
    assert all(p.data is a for p, a in zip(model.parameters(), arrays, strict=True))
    model.to(np.float64)
    assert {p.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert {p.grad.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert model.lm_head.weight is model.wte.weight  # tying survives the conversion
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    with pytest.raises(TypeError, match="floating"):
        model.to(np.int32)


def test_call_runs_forward_inside_the_module_scope():
    model = Tiny()
    ids = np.array([[0, 1]])
    fc = model.h[0].fc
    out = fc(Tensor(np.ones((1, 4), np.float32), requires_grad=True))
    assert out._scope == (fc,)
    seen = set()
    stack = [model(ids)]
    while stack:  # walk the graph: some op was created inside h.0.fc, within Tiny and h.0
        t = stack.pop()
        if t._ctx is not None:
            seen.add(t._scope)
            stack.extend(t for t in t._ctx.inputs if t is not None)
    assert (model, model.h[0], fc) in seen


def test_state_dict_round_trip_and_tied_names():
    engine.manual_seed(1)
    a = Tiny()
    sd = a.state_dict()
    assert "lm_head.weight" in sd and sd["lm_head.weight"] is sd["wte.weight"]
    assert list(sd)[:2] == ["scale", "wte.weight"]
    sd["scale"] += 1  # a copy: the model is unchanged
    assert a.scale.data[0] == 1.0
    engine.manual_seed(2)
    b = Tiny()
    weight = b.h[0].fc.weight
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert b.h[0].fc.weight is weight  # loaded in place
    for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_strict_loading_lists_every_problem_at_once():
    model = Tiny()
    sd = model.state_dict()
    del sd["h.0.fc.bias"]
    sd["h.9.fc.bias"] = np.zeros(4, np.float32)
    sd["h.1.ln.weight"] = np.zeros(5, np.float32)
    sd["scale"] = np.ones(1, np.int64)
    with pytest.raises(ValueError) as err:
        model.load_state_dict(sd)
    message = str(err.value)
    for piece in ["missing key 'h.0.fc.bias'", "unexpected key 'h.9.fc.bias'",
                  "h.1.ln.weight: shape (5,)", "scale: dtype int64 is not floating"]:  # fmt: skip
        assert piece in message
    before = model.wte.weight.data.copy()
    sd["wte.weight"] = sd["wte.weight"] + 1
    with pytest.raises(ValueError):
        model.load_state_dict(sd)
    np.testing.assert_array_equal(model.wte.weight.data, before)  # nothing was written


def test_non_strict_loading_reports_keys_and_converts_precision():
    model = Tiny()
    sd = {"wte.weight": np.full((6, 4), 0.5), "extra": np.zeros(2)}  # float64 -> float32
    missing, unexpected = model.load_state_dict(sd, strict=False)
    assert unexpected == ["extra"] and "h.0.fc.weight" in missing
    assert model.wte.weight.dtype == np.float32
    np.testing.assert_array_equal(model.lm_head.weight.data, 0.5)
    with pytest.raises(ValueError, match="shape"):
        model.load_state_dict({"scale": np.ones(3)}, strict=False)


def test_repr_prints_tree_with_counts():
    text = repr(Tiny())
    lines = text.splitlines()
    assert lines[0] == "Tiny(  # 81 parameters"  # 1 + 24 + 2 * (8 + 20); the tied head once
    assert "  (scale): Parameter (1,)" in lines
    assert "  (wte): Embedding(6, 4)  # weight (6, 4): 24 parameters" in lines
    assert "      (fc): Linear(4 -> 4)  # weight (4, 4), bias (4,): 20 parameters" in lines
    assert "  (lm_head): Linear(4 -> 6, bias=False)  # weight (6, 4): 24 parameters" in lines
    assert lines[-1] == ")"


def test_apply_visits_children_first():
    model = Tiny()
    order = []
    model.apply(lambda m: order.append(type(m).__name__))
    assert order[0] == "Embedding" and order[-1] == "Tiny"


def test_skip_init_draws_nothing_and_the_loaded_weights_are_all_there():
    from model import GPT, GPTConfig

    config = GPTConfig(vocab_size=11, block_size=4, n_layer=1, n_head=2, n_embd=8)
    engine.manual_seed(0)
    reference, state = GPT(config), engine.get_rng_state()
    skipped = nn.utils.skip_init(GPT, config)
    assert engine.get_rng_state() == state  # no number drawn
    assert [(n, p.shape) for n, p in skipped.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]
    skipped.load_state_dict(reference.state_dict())
    ids = np.arange(4)[None] % 11
    np.testing.assert_array_equal(skipped(ids)[0].data, reference(ids)[0].data)
    assert nn.Linear(2, 2).weight.data.any()  # outside skip_init, layers are initialised again
