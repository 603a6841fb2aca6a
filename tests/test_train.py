"""Training runs: exact resume, checkpoints saved whole, and clear errors for damaged ones."""

import json
import os
import signal

import numpy as np
import pytest

from engine.files import write_atomic
from model import checkpoint
from model.data import TokenData
from model.run import METRICS, MODEL, OPTIMIZER, STATE, TOKENIZER, Run
from model.sample import next_token_probs
from model.train import train
from model.train_config import TrainConfig

TINY_RUN = dict(
    corpus="stories",
    corpus_chars=20_000,
    block_size=16,
    n_layer=1,
    n_head=2,
    n_embd=16,
    batch_size=4,
    dropout=0.1,  # dropout draws from the engine's generator: resume must restore it
    max_iters=8,
    lr_decay_iters=8,
    warmup_iters=2,
    eval_interval=4,
    eval_batches=2,
    log_interval=2,
)


def tiny_config(tmp_path, name="run", **overrides):
    return TrainConfig.from_flags(**{**TINY_RUN, "out_dir": str(tmp_path / name), **overrides})


def trained(tmp_path, name="run", **overrides):
    """The directory of a tiny run trained to its end (its lock released)."""
    with Run.create(tiny_config(tmp_path, name, **overrides)) as run:
        train(run, progress=False)
    return run.dir


def checkpoint_steps(run_dir):
    return sorted(int(p.name[5:]) for p in (run_dir / "checkpoints").iterdir())


def latest(run_dir):
    return run_dir / "checkpoints" / f"step-{checkpoint_steps(run_dir)[-1]:06d}"


def assert_same_weights(a, b):
    a, b = a.state_dict(), b.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def test_resume_is_bit_identical(tmp_path):
    with Run.create(tiny_config(tmp_path, "straight")) as straight:
        train(straight, progress=False)
    halves = trained(tmp_path, "halves", max_iters=4)
    with Run.resume(halves, max_iters=8) as resumed:
        assert resumed.step == 4
        train(resumed, progress=False)
    assert_same_weights(straight.model, resumed.model)
    lines = (halves / METRICS).read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == sorted(steps) and steps[-1] == 8


def test_resume_may_stretch_the_cosine_to_a_new_max_iters(tmp_path):
    """Past lr_decay_iters the lr stays at min_lr: a run resumed to train longer may move the
    decay's end with it, and is refused other changes to its schedule."""
    run_dir = trained(tmp_path)  # 8 steps, the cosine ending at step 8
    with pytest.raises(ValueError, match="--warmup-iters 3 .*only --max-iters, --lr, --min-lr, "):
        Run.resume(run_dir, max_iters=16, warmup_iters=3)
    with Run.resume(run_dir, max_iters=16, lr_decay_iters=16) as run:
        train(run, progress=False)
    lrs = [m["lr"] for m in run.metrics if m["kind"] == "train" and m["step"] > 8]
    assert run.config.lr_decay_iters == 16 and all(lr > run.config.min_lr for lr in lrs[:-1])
    assert lrs == sorted(lrs, reverse=True)  # still decaying, towards min_lr at step 16


def test_run_directory_holds_the_newest_checkpoint_whole(tmp_path):
    with Run.create(tiny_config(tmp_path, max_iters=2, eval_interval=2)) as run:
        losses = train(run, progress=False)
    names = {p.name for p in run.dir.iterdir()}
    assert names == {"checkpoints", METRICS, ".lock"}
    newest = latest(run.dir)
    assert {p.name for p in newest.iterdir()} == {MODEL, OPTIMIZER, STATE, TOKENIZER, METRICS}
    state = json.loads((newest / STATE).read_text())
    assert state["step"] == 2 and state["best_val"] == pytest.approx(losses["val"])
    assert state["entropy_floor"] > 0
    assert checkpoint_steps(run.dir) == sorted({state["best_step"], 2})  # newest and best
    metrics = [json.loads(line) for line in (run.dir / METRICS).read_text().splitlines()]
    assert [m["step"] for m in metrics if m["kind"] == "eval"] == [0, 2]
    assert all({"step", "train_loss", "val_loss", "lr"} <= m.keys() for m in metrics)
    assert (newest / METRICS).read_text() == (run.dir / METRICS).read_text()


def test_the_best_checkpoint_is_kept_beside_the_newest(tmp_path, monkeypatch):
    val_losses = iter([3.0, 1.0, 2.0, 4.0, 5.0])  # evaluations at steps 0, 2, 4, 6, 8

    def estimate_loss(model, data, config, parallel, stopped):
        val = next(val_losses)
        return {"train": val, "val": val}

    monkeypatch.setattr("model.train.estimate_loss", estimate_loss)
    run_dir = trained(tmp_path, eval_interval=2)
    assert checkpoint_steps(run_dir) == [2, 8]
    with Run.resume(run_dir) as run:  # the newest, not the best
        assert run.step == 8 and run.best_step == 2 and run.best_val == 1.0
    model, _ = Run.load_for_sampling(run_dir / "checkpoints" / "step-000002")
    assert model.config.n_embd == 16
    with pytest.raises(ValueError, match="is a checkpoint: resume its run directory"):
        Run.resume(run_dir / "checkpoints" / "step-000002")


def test_new_run_refuses_to_overwrite_a_run(tmp_path):
    trained(tmp_path, max_iters=0)
    with pytest.raises(FileExistsError, match="resume"):
        Run.create(tiny_config(tmp_path, max_iters=0))


def test_a_run_whose_first_save_was_cut_short_starts_again(tmp_path):
    run_dir = tmp_path / "run"
    cut = run_dir / "checkpoints" / ".step-000000.0badc0de.tmp"
    cut.mkdir(parents=True)
    (cut / MODEL).write_bytes(b"half a file")
    (run_dir / f".{METRICS}.0badc0de.tmp").write_text("{")
    with pytest.raises(checkpoint.CheckpointError, match="no complete checkpoint"):
        Run.resume(run_dir)
    messages = []
    with Run.create(tiny_config(tmp_path, max_iters=0), log=messages.append) as run:
        train(run, progress=False)
    assert "Removed 2 temporary file(s)" in messages[0]
    assert sorted(p.name for p in run_dir.iterdir()) == [".lock", "checkpoints", METRICS]
    assert checkpoint_steps(run_dir) == [0]


def test_only_what_saves_leave_is_removed_from_checkpoints(tmp_path):
    run_dir = trained(tmp_path, max_iters=2)
    checkpoints = run_dir / "checkpoints"
    (checkpoints / ".gitkeep").write_text("")
    (checkpoints / ".mine.tmp").mkdir()
    (checkpoints / ".step-000002.0badc0de.old").mkdir()  # a deletion cut short
    (checkpoints / ".step-000004.0badc0de.tmp").mkdir()  # a save cut short
    messages = []
    with Run.resume(run_dir, log=messages.append):
        pass
    assert messages == ["Skipping .step-000004.0badc0de.tmp: its save was cut short. "
                        "Resuming from step-000002."]  # fmt: skip
    assert sorted(p.name for p in checkpoints.iterdir()) == [".gitkeep", ".mine.tmp", "step-000002"]


def test_resume_skips_a_checkpoint_cut_short_and_says_so(tmp_path):
    run_dir = trained(tmp_path, max_iters=4)
    cut = run_dir / "checkpoints" / ".step-000006.0badc0de.tmp"
    cut.mkdir()
    (cut / MODEL).write_bytes(b"half a file")
    messages = []
    with Run.resume(run_dir, log=messages.append) as run:
        assert run.step == 4
    assert ".step-000006" in messages[0] and "cut short" in messages[0]
    assert not cut.exists()


def test_a_run_of_the_old_layout_is_refused_clearly(tmp_path):
    old = tmp_path / "old"
    old.mkdir()
    (old / MODEL).write_bytes(b"")
    (old / STATE).write_text("{}")
    for attempt in (lambda: Run.resume(old), lambda: Run.load_for_sampling(old)):
        with pytest.raises(checkpoint.CheckpointError, match="older tinyllm"):
            attempt()
    with pytest.raises(checkpoint.CheckpointError, match="older tinyllm"):
        Run.create(tiny_config(tmp_path, "old"))


@pytest.fixture
def saved_run(tmp_path):
    """A run saved at step 0; returns its checkpoint directory."""
    return latest(trained(tmp_path, max_iters=0))


def test_missing_checkpoint_file_is_named(saved_run):
    (saved_run / MODEL).unlink()
    with pytest.raises(FileNotFoundError, match=MODEL):
        Run.resume(saved_run.parent.parent)


def test_truncated_checkpoint_is_named(saved_run):
    path = saved_run / MODEL
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(checkpoint.CheckpointError, match=MODEL):
        Run.load_for_sampling(saved_run.parent.parent)


def test_not_a_checkpoint_is_named(saved_run):
    (saved_run / OPTIMIZER).write_bytes(b"hello, this is not safetensors")
    with pytest.raises(checkpoint.CheckpointError, match=OPTIMIZER):
        Run.resume(saved_run.parent.parent)
    write_atomic(
        saved_run / MODEL,
        __import__("safetensors.numpy").numpy.save({"x": np.zeros(3, dtype=np.float32)}),
    )
    with pytest.raises(checkpoint.CheckpointError, match="not a tinyllm checkpoint"):
        Run.load_for_sampling(saved_run.parent.parent)


def test_checkpoint_of_another_config_is_refused(tmp_path, saved_run):
    other = latest(trained(tmp_path, "other", max_iters=0, n_embd=32))
    (saved_run / MODEL).write_bytes((other / MODEL).read_bytes())
    with pytest.raises(checkpoint.CheckpointError, match=r"another config .*n_embd 32 vs 16"):
        Run.resume(saved_run.parent.parent)


def test_damaged_state_is_named(saved_run):
    (saved_run / STATE).write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match=STATE):
        Run.resume(saved_run.parent.parent)


@pytest.mark.parametrize(
    "damage",
    [
        lambda state: [state],
        lambda state: {k: v for k, v in state.items() if k != "step"},
        lambda state: {**state, "step": "four"},
        lambda state: {**state, "config": {**state["config"], "lr": "fast"}},
        lambda state: {**state, "config": {**state["config"], "batch_size": 4.5}},
        lambda state: {**state, "config": {**state["config"], "surprise": 1}},
        lambda state: {**state, "data_rng": {"state": 7}},
    ],
)
def test_malformed_state_is_named(saved_run, damage):
    state = json.loads((saved_run / STATE).read_text())
    (saved_run / STATE).write_text(json.dumps(damage(state)))
    with pytest.raises(checkpoint.CheckpointError, match=STATE):
        Run.resume(saved_run.parent.parent)


def test_files_mixed_from_two_checkpoints_are_refused(tmp_path, monkeypatch):
    monkeypatch.setattr("model.train.estimate_loss", lambda *a, **k: {"train": 1.0, "val": 1.0})
    run_dir = trained(tmp_path, max_iters=4, eval_interval=2)  # keeps steps 0 (best) and 4
    first, newest = (run_dir / "checkpoints" / f"step-{s:06d}" for s in (0, 4))
    (newest / MODEL).write_bytes((first / MODEL).read_bytes())
    with pytest.raises(checkpoint.CheckpointError, match="different steps"):
        Run.resume(run_dir)


def test_batches_are_shifted_windows():
    ids = np.arange(1000) % 97
    data = TokenData(ids, block_size=8)
    x, y = data.get_batch("train", 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal((x[:, :1] + 1) % 97, y[:, :1])
    assert data.train.dtype == np.uint16 and len(data.train) == 900
    assert TokenData(np.arange(1000) + 2**40, block_size=8).train[-1] == 2**40 + 899
    with pytest.raises(ValueError, match="too short"):
        TokenData(np.arange(50), block_size=8)


def test_top_k_and_top_p_keep_the_right_tokens():
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    np.testing.assert_allclose(next_token_probs(logits, top_p=0.7), [[0.5 / 0.8, 0.3 / 0.8, 0, 0]])
    np.testing.assert_allclose(next_token_probs(logits, top_p=0.5), [[1, 0, 0, 0]])
    kept = 0.5 + 0.3 + 0.15
    np.testing.assert_allclose(
        next_token_probs(logits, top_k=3), [[0.5 / kept, 0.3 / kept, 0.15 / kept, 0]]
    )
    np.testing.assert_allclose(next_token_probs(logits, temperature=1.0), np.exp(logits))


@pytest.mark.parametrize("min_lr", [3e-4, 0.0])  # 0: decays to nothing, as eta_min=0 in PyTorch
def test_learning_rate_reaches_min_lr_at_lr_decay_iters(tmp_path, min_lr):
    config = tiny_config(
        tmp_path, max_iters=8, lr_decay_iters=6, warmup_iters=2, log_interval=1, min_lr=min_lr
    )
    with Run.create(config) as run:
        train(run, progress=False)
    lrs = {m["step"]: m["lr"] for m in run.metrics if m["kind"] == "train"}
    assert lrs[1] == pytest.approx(config.lr / 2)  # warmup: step 0 trains at lr * 1/2
    assert lrs[7] == pytest.approx(config.min_lr) and lrs[8] == pytest.approx(config.min_lr)
    assert config.min_lr < lrs[4] < config.lr


def signal_during_step_2(run, monkeypatch, signum):
    """Make the process receive `signum` while it trains step 2 (of 0..7), not at an eval."""
    get_batch, calls = run.data.get_batch, []

    def get_batch_then_signal(split, batch_size, rng):
        if rng is run.data_rng:  # a training batch, not an evaluation's
            calls.append(split)
            if len(calls) == 3:
                os.kill(os.getpid(), signum)
        return get_batch(split, batch_size, rng)

    monkeypatch.setattr(run.data, "get_batch", get_batch_then_signal)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_saves_and_resume_from_there_is_exact(
    tmp_path, monkeypatch, capfd, signum
):
    with Run.create(tiny_config(tmp_path, "straight")) as straight:
        train(straight, progress=False)

    messages, handler = [], signal.getsignal(signum)
    with Run.create(tiny_config(tmp_path, "interrupted")) as run:
        signal_during_step_2(run, monkeypatch, signum)
        train(run, progress=False, log=messages.append)
    assert run.step == 3 and run.interrupted_by == signum
    name = signal.Signals(signum).name
    said = f"\n{name}: stopping at the end of this step, to save it (send it again to stop at once)"
    assert capfd.readouterr().err == said + "\n"
    assert name in messages[-1]
    assert f"tinyllm train --resume {run.dir}" in messages[-1]
    assert json.loads((latest(run.dir) / STATE).read_text())["step"] == 3
    assert signal.getsignal(signum) is handler

    with Run.resume(run.dir) as resumed:
        train(resumed, progress=False)
    assert_same_weights(straight.model, resumed.model)
    eval_steps = [m["step"] for m in resumed.metrics if m["kind"] == "eval"]
    assert eval_steps == [0, 4, 8]  # no evaluation twice


def test_a_signal_during_an_evaluation_stops_it_and_resume_makes_it_again(tmp_path, monkeypatch):
    """A long evaluation is no step to wait for: a job scheduler sends one SIGTERM only."""
    with Run.create(tiny_config(tmp_path, "straight")) as straight:
        train(straight, progress=False)
    with Run.create(tiny_config(tmp_path, "interrupted")) as run:
        get_batch, sent = run.data.get_batch, []

        def get_batch_then_signal(split, batch_size, rng):
            if rng is not run.data_rng and run.step == 4 and not sent:  # step 4's evaluation
                sent.append(os.kill(os.getpid(), signal.SIGTERM))
            return get_batch(split, batch_size, rng)

        monkeypatch.setattr(run.data, "get_batch", get_batch_then_signal)
        train(run, progress=False, log=lambda message: None)
    assert run.step == 4 and run.interrupted_by == signal.SIGTERM
    assert [m["step"] for m in run.metrics if m["kind"] == "eval"] == [0]  # step 4's left off
    assert json.loads((latest(run.dir) / STATE).read_text())["step"] == 4
    with Run.resume(run.dir) as resumed:
        train(resumed, progress=False)
    assert_same_weights(straight.model, resumed.model)
    assert [m["step"] for m in resumed.metrics if m["kind"] == "eval"] == [0, 4, 8]


def test_a_signal_during_the_last_evaluation_lets_it_finish(tmp_path, monkeypatch):
    """At max_iters no step is left to resume for, so its evaluation is made and saved."""
    with Run.create(tiny_config(tmp_path)) as run:
        get_batch, sent = run.data.get_batch, []

        def get_batch_then_signal(split, batch_size, rng):
            if rng is not run.data_rng and run.step == 8 and not sent:  # the last evaluation
                sent.append(os.kill(os.getpid(), signal.SIGTERM))
            return get_batch(split, batch_size, rng)

        monkeypatch.setattr(run.data, "get_batch", get_batch_then_signal)
        losses = train(run, progress=False, log=lambda message: None)
    assert sent and run.step == 8 and run.interrupted_by == signal.SIGTERM
    assert losses is not None and [m["step"] for m in run.metrics if m["kind"] == "eval"] == [
        0, 4, 8
    ]  # fmt: skip
    saved = json.loads((latest(run.dir) / STATE).read_text())
    assert saved["step"] == 8 and saved["best_step"] == run.best_step


def test_grad_clip_zero_means_no_clipping(tmp_path):
    with Run.create(tiny_config(tmp_path, max_iters=2, grad_clip=0.0)) as run:
        losses = train(run, progress=False)
    assert np.isfinite(losses["val"])


def test_impossible_model_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="n_embd"):
        tiny_config(tmp_path, n_embd=10, n_head=4, corpus="no/such/file.txt")


def test_gradient_accumulation_matches_one_big_batch(tmp_path):
    runs = []
    for name, batch_size, grad_accum in (("big", 8, 1), ("accumulated", 4, 2)):
        config = tiny_config(tmp_path, name, batch_size=batch_size, grad_accum=grad_accum,
                             dropout=0.0, max_iters=3)  # fmt: skip
        with Run.create(config) as run:
            train(run, progress=False)
        runs.append(run)
    big, accumulated = (run.model.state_dict() for run in runs)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=1e-4, atol=1e-6)
    logged = [[m["train_loss"] for m in run.metrics if m["kind"] == "train"] for run in runs]
    np.testing.assert_allclose(logged[1], logged[0], rtol=1e-5)  # the mean over micro-batches
