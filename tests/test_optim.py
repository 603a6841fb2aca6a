"""Optimizers against per-element re-derivations of their published rules; clipping."""

import json
import math

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from conftest import parameters

import nn
from nn.optim import SGD, Adam, AdamW
from nn.utils import clip_grad_norm_


def grads_for(step, params):
    """A fixed gradient sequence; parameter 1 has no gradient on step 2 (it must be skipped)."""
    rng = np.random.default_rng(100 + step)
    grads = [rng.standard_normal(p.shape) for p in params]
    grads[1] = None if step == 2 else grads[1]
    return grads


def run(optimizer, params, steps, first=0, lr_change=None):
    for step in range(first, first + steps):
        if step == lr_change:
            optimizer.param_groups[0]["lr"] = 0.05
        for p, g in zip(params, grads_for(step, params), strict=True):
            p.grad = g
        optimizer.step()


def reference_adamw(values, steps, groups, decoupled=True):
    """Loshchilov & Hutter's AdamW, bias-corrected as in torch, one scalar at a time; with
    `decoupled=False`, torch.optim.Adam: the decay is added to the gradient instead."""
    out = []
    for k, x0 in enumerate(values):
        lr, (b1, b2), eps, wd = groups[0 if k < 2 else 1]
        flat = list(x0.ravel())
        for i in range(len(flat)):
            x, m, v, t = flat[i], 0.0, 0.0, 0
            for step in range(steps):
                this_lr = 0.05 if (k < 2 and step >= 3) else lr  # lr changed before step 3
                g = grads_for(step, values)[k]
                if g is None:
                    continue
                g, t = g.ravel()[i], t + 1
                if decoupled:
                    x = x - this_lr * wd * x
                else:
                    g = g + wd * x
                m = b1 * m + (1 - b1) * g
                v = b2 * v + (1 - b2) * g * g
                m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
                x = x - this_lr * m_hat / (math.sqrt(v_hat) + eps)
            flat[i] = x
        out.append(np.array(flat).reshape(x0.shape))
    return out


def two_groups(params, cls, **second):
    return cls([{"params": params[:2]}, {"params": params[2:], **second}], **DEFAULTS[cls])


DEFAULTS = {
    AdamW: {"lr": 0.1, "weight_decay": 0.1},
    Adam: {"lr": 0.1, "weight_decay": 0.1},
    SGD: {"lr": 0.1, "momentum": 0.9},
}


def test_adamw_matches_the_published_rule():
    params = parameters()
    start = [p.data.copy() for p in params]
    opt = two_groups(params, AdamW, betas=(0.8, 0.9), weight_decay=0.0, eps=1e-3)
    run(opt, params, 6, lr_change=3)
    groups = [(0.1, (0.9, 0.999), 1e-8, 0.1), (0.1, (0.8, 0.9), 1e-3, 0.0)]
    for p, ref in zip(params, reference_adamw(start, 6, groups), strict=True):
        np.testing.assert_allclose(p.data, ref, rtol=1e-12, atol=1e-14)
    assert opt.state[params[1]]["step"] == 5  # skipped once


def test_adam_matches_torchs_rule_with_l2_decay_in_the_gradient():
    params = parameters()
    start = [p.data.copy() for p in params]
    opt = two_groups(params, Adam, betas=(0.8, 0.9), weight_decay=0.0, eps=1e-3)
    run(opt, params, 6, lr_change=3)
    groups = [(0.1, (0.9, 0.999), 1e-8, 0.1), (0.1, (0.8, 0.9), 1e-3, 0.0)]
    for p, ref in zip(params, reference_adamw(start, 6, groups, decoupled=False), strict=True):
        np.testing.assert_allclose(p.data, ref, rtol=1e-12, atol=1e-14)
    defaults = Adam(parameters()).defaults  # torch.optim.Adam's
    assert defaults == {"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0}


def reference_sgd(start, k, steps, lr, momentum, decay, dampening=0.0, nesterov=False):
    """torch.optim.SGD's rule for parameter k of `start`, one scalar update at a time, over
    grads_for's gradients; lr(step) is the step's learning rate."""
    x, buf = start[k].ravel().copy(), None
    for step in range(steps):
        g = grads_for(step, start)[k]
        if g is None:
            continue
        d = g.ravel() + decay * x  # L2 decay, added to the gradient
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        x = x - lr(step) * d
    return x


def halved_at_step_3(step):
    """The lr `run(..., lr_change=3)` gives the first group: 0.1, then 0.05 from step 3."""
    return 0.05 if step >= 3 else 0.1


def test_sgd_matches_the_published_rule():
    params = parameters()
    start = [p.data.copy() for p in params]
    opt = two_groups(params, SGD, momentum=0.0, weight_decay=0.2)
    run(opt, params, 5, lr_change=3)
    for k in range(len(params)):
        if k < 2:  # the first group: momentum 0.9, no decay, lr halved at step 3
            x = reference_sgd(start, k, 5, halved_at_step_3, 0.9, 0.0)
        else:  # no momentum, L2 decay 0.2
            x = reference_sgd(start, k, 5, lambda step: 0.1, 0.0, 0.2)
        np.testing.assert_allclose(params[k].data.ravel(), x, rtol=1e-12)


@pytest.mark.parametrize(("dampening", "nesterov"), [(0.3, False), (0.0, True)])
def test_sgd_with_dampening_or_nesterov_matches_torchs_rule(dampening, nesterov):
    params = parameters()
    start = [p.data.copy() for p in params]
    opt = SGD(params, lr=0.1, momentum=0.9, dampening=dampening, weight_decay=0.2,
              nesterov=nesterov)  # fmt: skip
    run(opt, params, 5, lr_change=3)
    for k in range(len(params)):
        x = reference_sgd(start, k, 5, halved_at_step_3, 0.9, 0.2, dampening, nesterov)
        np.testing.assert_allclose(params[k].data.ravel(), x, rtol=1e-12)


def test_sgd_refuses_nesterov_without_momentum_or_with_dampening():
    (p,) = parameters(shapes=((3,),))
    with pytest.raises(ValueError, match="needs momentum > 0 and dampening 0, got momentum 0.0"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="got momentum 0.9 and dampening 0.1"):
        SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(TypeError, match="nesterov must be True or False, got 'yes'"):
        SGD([p], lr=0.1, momentum=0.9, nesterov="yes")
    with pytest.raises(ValueError, match="dampening must be a finite number >= 0, got nan"):
        SGD([p], lr=0.1, momentum=0.9, dampening=math.nan)


def test_sgd_takes_torchs_default_learning_rate():
    (p,) = parameters(shapes=((3,),))
    start, g = p.data.copy(), np.array([1.0, -2.0, 0.5])
    opt = SGD([p])  # torch.optim.SGD's lr defaults to 1e-3 (PyTorch 2.2 on)
    assert opt.defaults == {
        "lr": 1e-3, "momentum": 0.0, "dampening": 0.0, "weight_decay": 0.0, "nesterov": False
    }  # fmt: skip
    p.grad = g
    opt.step()
    np.testing.assert_allclose(p.data, start - 1e-3 * g, rtol=1e-15)


@pytest.mark.parametrize("cls", [AdamW, Adam, SGD])
def test_state_dict_round_trip_continues_bit_for_bit(cls, tmp_path):
    params = parameters()
    opt = two_groups(params, cls)
    run(opt, params, 3)
    sd = opt.state_dict()
    # What a checkpoint stores: arrays in safetensors, the groups as JSON (no pickle).
    path = str(tmp_path / "optimizer.safetensors")
    safetensors.numpy.save_file(sd["state"], path, {"groups": json.dumps(sd["param_groups"])})
    with safetensors.safe_open(path, "np") as f:
        restored = {"state": {k: f.get_tensor(k) for k in f.keys()}}  # noqa: SIM118
        restored["param_groups"] = json.loads(f.metadata()["groups"])
    resumed_params = [nn.Parameter(p.data.copy()) for p in params]
    resumed = two_groups(resumed_params, cls, lr=123.0)  # hyperparameters come from the file
    resumed.load_state_dict(restored)
    assert resumed.param_groups[1]["lr"] == 0.1
    run(opt, params, 3, first=3)
    run(resumed, resumed_params, 3, first=3)
    for p, q in zip(params, resumed_params, strict=True):
        np.testing.assert_array_equal(p.data, q.data)
    if cls is AdamW:
        assert sd["state"]["0.step"].dtype == np.int64 and sd["param_groups"][0]["params"] == [0, 1]


def test_load_state_dict_reports_mismatches():
    params = parameters()
    opt = AdamW(params)
    run(opt, params, 1)
    sd = opt.state_dict()
    sd["state"]["0.exp_avg"] = np.zeros((2, 3))
    sd["state"]["7.exp_avg"] = np.zeros(2)
    with pytest.raises(ValueError) as err:
        opt.load_state_dict(sd)
    assert "0.exp_avg: shape (2, 3)" in str(err.value) and "'7.exp_avg'" in str(err.value)
    with pytest.raises(ValueError, match=r"\[3\] parameters"):
        AdamW(params[:2]).load_state_dict(opt.state_dict())


def test_updates_are_in_place_and_float32_stays_float32():
    p = nn.Parameter(np.ones(3, np.float32))
    data = p.data
    opt = AdamW([p], lr=np.float64(0.1))  # even an np.float64 lr must not promote
    p.grad = np.ones(3, np.float32)
    opt.step()
    assert p.data is data and p.data.dtype == np.float32
    assert opt.state[p]["exp_avg"].dtype == np.float32
    opt.zero_grad()
    assert p.grad is None


def test_constructor_errors():
    p = parameters()
    with pytest.raises(ValueError, match="empty parameter list"):
        AdamW([])
    with pytest.raises(ValueError, match="more than one parameter group"):
        AdamW([{"params": p[:2]}, {"params": p[1:]}])
    with pytest.raises(ValueError, match="betas"):
        AdamW(p, betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="learning rate"):
        SGD(p, lr=-1.0)
    with pytest.raises(ValueError, match="unknown group options"):
        SGD([{"params": p, "maximize": True}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        AdamW([p[0] * 2])
    with pytest.raises(TypeError, match="floating-point tensors"):
        AdamW([np.ones(2)])
    with pytest.raises(ValueError, match="Adam betas"):
        Adam(p, betas=(1.0, 0.9))


def test_add_param_group_and_zero_grad():
    p = parameters()
    opt = AdamW(p[:1], lr=0.1, weight_decay=0.2)
    opt.add_param_group({"params": p[1:], "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01]
    assert opt.param_groups[1]["weight_decay"] == 0.2  # a default fills what the group omits
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p[0]]})
    for q in p:
        q.grad = np.ones(q.shape)
    opt.step()
    assert all(opt.state[q]["step"] == 1 for q in p)
    grad = p[2].grad
    opt.zero_grad(set_to_none=False)
    assert p[2].grad is grad and np.all(grad == 0)
    opt.zero_grad(set_to_none=True)
    assert all(q.grad is None for q in p)


def test_frozen_parameters_may_be_given_and_are_left_alone():
    p = parameters()
    p[1].requires_grad_(False)  # frozen: backward gives it no gradient
    frozen = p[1].data.copy()
    opt = AdamW(p, lr=0.1, weight_decay=0.5)  # torch.optim takes frozen parameters too
    for _ in range(2):
        ((p[0] * p[0]).sum() + p[1].sum() * p[2].sum()).backward()
        assert p[1].grad is None and p[2].grad is not None
        opt.step()
        opt.zero_grad()
    np.testing.assert_array_equal(p[1].data, frozen)  # no update, no decay
    assert p[1] not in opt.state and opt.state[p[2]]["step"] == 2


# ---- clipping --------------------------------------------------------------------------------


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_norm_before():
    params = [nn.Parameter(np.zeros(p.shape, np.float32)) for p in parameters()]
    rng = np.random.default_rng(0)
    for p in params[:2]:
        p.grad = rng.standard_normal(p.shape).astype(np.float32)
    before = [p.grad.copy() for p in params[:2]]
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in before))
    total = clip_grad_norm_(params, max_norm=1.0)
    assert isinstance(total, float) and total == pytest.approx(norm, rel=1e-6)
    after = np.sqrt(sum((p.grad.astype(np.float64) ** 2).sum() for p in params[:2]))
    assert after == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(params[0].grad, before[0] / norm, rtol=1e-5)  # same direction
    assert params[0].grad.dtype == np.float32 and params[2].grad is None
    assert clip_grad_norm_(params, max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(params[0].grad, before[0] / norm, rtol=1e-5)  # untouched
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(params, 0.0)


def test_state_dict_is_plain_arrays_and_json():
    params = parameters()
    opt = AdamW(params)
    run(opt, params, 1)
    sd = opt.state_dict()
    assert all(isinstance(v, np.ndarray) for v in sd["state"].values())
    json.dumps(sd["param_groups"])  # raises if anything is not JSON-able
    sd["state"]["0.exp_avg"][...] = 7  # a copy
    assert not (opt.state[params[0]]["exp_avg"] == 7).any()


# ---- finite hyperparameters and strict state ---------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "options", "name"),
    [(AdamW, {"lr": math.nan}, "lr"), (AdamW, {"lr": math.inf}, "lr"),
     (AdamW, {"weight_decay": math.inf}, "weight_decay"), (AdamW, {"eps": math.nan}, "eps"),
     (AdamW, {"betas": (math.nan, 0.9)}, "betas"), (SGD, {"lr": math.nan}, "lr"),
     (SGD, {"momentum": math.inf}, "momentum"), (SGD, {"weight_decay": math.nan}, "weight_decay")],
)  # fmt: skip
def test_hyperparameters_that_are_nan_or_inf_are_refused(cls, options, name):
    with pytest.raises(ValueError, match=name) as error:
        cls(parameters(), **{"lr": 0.1, **options})
    assert "nan" in str(error.value) or "inf" in str(error.value)  # the value, named


def test_clip_grad_norm_of_float16_gradients_does_not_overflow():
    p = nn.Parameter(np.zeros(1000, np.float16))
    p.grad = np.full(1000, 100.0, np.float16)  # squares add up past float16's 65504
    assert clip_grad_norm_([p], 1.0) == pytest.approx(math.sqrt(1000) * 100)
    assert p.grad.dtype == np.float16 and np.allclose(p.grad, 1 / math.sqrt(1000), rtol=1e-2)


def test_clip_grad_norm_refuses_a_nan_max_norm():
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_(parameters(), math.nan)


def stepped_state():
    params = parameters()
    opt = AdamW(params)
    run(opt, params, 1)
    return params, opt.state_dict()


def test_load_state_dict_takes_a_parameter_with_no_state_but_never_half_a_state():
    params = parameters()
    opt = AdamW(params)
    for step in range(2):  # parameter 1 never gets a gradient (frozen, say): no state
        for p, g in zip(params, grads_for(step, params), strict=True):
            p.grad = None if p is params[1] else g
        opt.step()
    sd = opt.state_dict()
    assert not any(k.startswith("1.") for k in sd["state"])
    resumed = AdamW(params)
    resumed.load_state_dict(sd)  # as PyTorch takes it
    assert params[1] not in resumed.state and resumed.state[params[0]]["step"] == 2
    partial = {**sd, "state": {k: v for k, v in sd["state"].items() if k != "0.exp_avg_sq"}}
    with pytest.raises(ValueError, match="missing state '0.exp_avg_sq'"):
        AdamW(params).load_state_dict(partial)
    fresh = AdamW(params)
    fresh.load_state_dict(AdamW(params).state_dict())  # no step yet: nothing to restore
    assert fresh.state == {}


@pytest.mark.parametrize(
    ("damage", "message"),
    [(lambda sd: sd["state"]["1.exp_avg"].fill(np.nan), "1.exp_avg holds NaN or Inf"),
     (lambda sd: sd["state"].update({"0.step": np.array(1.5)}), "0.step"),
     (lambda sd: sd["param_groups"][0].update(lr=math.inf), "lr"),
     (lambda sd: sd["param_groups"][0].update(lr="fast"), "lr"),
     (lambda sd: sd["param_groups"][0].pop("betas"), "options"),
     (lambda sd: sd.update(param_groups=[7]), "parameters"),
     (lambda sd: sd.pop("state"), "'state'")],
)  # fmt: skip
def test_load_state_dict_refuses_damaged_state_and_changes_nothing(damage, message):
    params, sd = stepped_state()
    damage(sd)
    opt = AdamW(params, lr=0.5)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    assert opt.state == {} and opt.param_groups[0]["lr"] == 0.5
