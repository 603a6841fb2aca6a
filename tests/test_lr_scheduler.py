"""Learning-rate schedules: the warmup-then-cosine curve, and the schedulers that set it."""

import json

import pytest
from conftest import parameters

from nn.optim import AdamW, lr_scheduler  # nn.lr_scheduler, by PyTorch's name


def test_cosine_with_warmup_shape():
    def lr(step):
        return lr_scheduler.cosine_with_warmup(step, 1.0, 0.1, warmup_steps=10, decay_steps=100)

    assert lr(0) == pytest.approx(0.1) and lr(9) == pytest.approx(1.0)
    assert lr(10) == pytest.approx(1.0)
    assert lr(60) == pytest.approx(0.55)  # halfway down the cosine: the midpoint of max and min
    assert lr(110) == lr(10_000) == 0.1
    values = [lr(s) for s in range(10, 111)]
    assert all(a >= b for a, b in zip(values, values[1:], strict=False))
    assert isinstance(lr(5), float)
    assert lr_scheduler.cosine_with_warmup(3, 1.0, 0.0, 0, 0) == 0.0


def test_lambda_lr_steps_as_torchs():
    params = parameters()
    opt = AdamW(params, lr=0.1)
    scheduler = lr_scheduler.LambdaLR(opt, lambda step: 0.5**step)
    assert scheduler.get_last_lr() == [0.1]  # made: the lr of step 0, base · λ(0)
    seen = []
    for _ in range(3):
        opt.step()
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
    assert seen == pytest.approx([0.05, 0.025, 0.0125])
    assert opt.param_groups[0]["lr"] == seen[-1] and scheduler.last_epoch == 3
    two = AdamW([{"params": params[:2]}, {"params": params[2:], "lr": 1.0}], lr=0.1)
    per_group = lr_scheduler.LambdaLR(two, [lambda s: 1.0, lambda s: 0.1 / (s + 1)])
    assert per_group.get_last_lr() == pytest.approx([0.1, 0.1])
    per_group.step()
    assert per_group.get_last_lr() == pytest.approx([0.1, 0.05])
    with pytest.raises(ValueError, match="2 groups"):
        lr_scheduler.LambdaLR(two, [lambda s: 1.0])


def test_cosine_with_warmup_scheduler_gives_the_schedule_and_resumes():
    def made():
        return lr_scheduler.CosineWithWarmup(
            AdamW(parameters(), lr=2e-3), warmup_steps=3, decay_steps=5, min_lr=2e-4
        )

    scheduler = made()
    seen = [scheduler.get_last_lr()[0]]
    for _ in range(9):
        scheduler.step()
        seen.append(scheduler.get_last_lr()[0])
    assert seen == [lr_scheduler.cosine_with_warmup(s, 2e-3, 2e-4, 3, 5) for s in range(10)]
    state = json.loads(json.dumps(scheduler.state_dict()))  # plain JSON
    resumed = made()
    resumed.optimizer.param_groups[0]["lr"] = 123.0  # what the optimizer holds is overwritten
    resumed.load_state_dict(state)
    assert resumed.get_last_lr() == scheduler.get_last_lr() and resumed.last_epoch == 9
    scheduler.step()
    resumed.step()
    assert resumed.get_last_lr() == scheduler.get_last_lr() == [2e-4]


@pytest.mark.parametrize(
    ("args", "message"),
    [((-1, 1.0, 0.1, 1, 1), "step"), ((0, 0.1, 1.0, 1, 1), "min_lr <= max_lr"),
     ((0, 1.0, 0.1, 1.5, 1), "warmup_steps")],
)  # fmt: skip
def test_cosine_with_warmup_errors(args, message):
    with pytest.raises(ValueError, match=message):
        lr_scheduler.cosine_with_warmup(*args)


def test_a_scheduler_made_again_starts_from_the_lr_the_first_one_found():
    """The base lr is kept in the group as "initial_lr", as in PyTorch: a notebook cell run
    twice, or a scheduler made after loading the optimizer, does not shrink the lr again."""
    optimizer = AdamW(parameters(), lr=1.0)
    lr_scheduler.LambdaLR(optimizer, lambda step: 0.1)
    again = lr_scheduler.LambdaLR(optimizer, lambda step: 0.1)
    assert again.base_lrs == [1.0] and again.get_last_lr() == [0.1]
    saved = optimizer.state_dict()
    assert json.loads(json.dumps(saved["param_groups"]))[0]["initial_lr"] == 1.0
    resumed = AdamW(parameters(), lr=1.0)
    resumed.param_groups[0]["lr"] = 0.1  # as the saved one had it
    resumed.load_state_dict(saved)
    assert lr_scheduler.LambdaLR(resumed, lambda step: 0.5).get_last_lr() == [0.5]
    optimizer.param_groups[0]["lr"] = 7.0  # by hand: get_last_lr says what the scheduler set
    assert again.get_last_lr() == [0.1]
