"""Training runs: exact resume, atomic checkpoints, and clear errors for damaged ones."""

import json
import os
import signal

import numpy as np
import pytest

from engine.files import write_atomic
from model import checkpoint
from model.data import TokenData
from model.run import MODEL, OPTIMIZER, STATE, Run
from model.sample import next_token_probs
from model.train import TrainConfig, train

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


def test_resume_is_bit_identical(tmp_path):
    straight = Run.create(tiny_config(tmp_path, "straight"))
    train(straight, progress=False)

    halves = Run.create(tiny_config(tmp_path, "halves", max_iters=4))
    train(halves, progress=False)
    resumed = Run.resume(tmp_path / "halves", max_iters=8)
    assert resumed.step == 4
    train(resumed, progress=False)

    a, b = straight.model.state_dict(), resumed.model.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)
    steps = [
        m["step"]
        for m in json.loads(
            "[" + ",".join((tmp_path / "halves" / "metrics.jsonl").read_text().splitlines()) + "]"
        )
    ]
    assert steps == sorted(steps) and steps[-1] == 8


def test_run_directory_contents(tmp_path):
    run = Run.create(tiny_config(tmp_path, max_iters=2, eval_interval=2))
    losses = train(run, progress=False)
    names = {p.name for p in run.dir.iterdir()}
    assert {MODEL, OPTIMIZER, STATE, "tokenizer.txt", "metrics.jsonl"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    state = json.loads((run.dir / STATE).read_text())
    assert state["step"] == 2 and state["best_val"] == pytest.approx(losses["val"])
    assert state["entropy_floor"] > 0
    metrics = [json.loads(line) for line in (run.dir / "metrics.jsonl").read_text().splitlines()]
    evals = [m for m in metrics if m["kind"] == "eval"]
    assert [m["step"] for m in evals] == [0, 2]
    assert all({"step", "train_loss", "val_loss", "lr"} <= m.keys() for m in metrics)


def test_new_run_refuses_to_overwrite_a_run(tmp_path):
    Run.create(tiny_config(tmp_path, max_iters=0)).save()
    with pytest.raises(FileExistsError, match="resume"):
        Run.create(tiny_config(tmp_path, max_iters=0))


@pytest.fixture
def saved_run(tmp_path):
    run = Run.create(tiny_config(tmp_path, max_iters=0))
    run.save()
    return run.dir


def test_missing_checkpoint_file_is_named(saved_run):
    (saved_run / MODEL).unlink()
    with pytest.raises(FileNotFoundError, match=MODEL):
        Run.resume(saved_run)


def test_truncated_checkpoint_is_named(saved_run):
    path = saved_run / MODEL
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(checkpoint.CheckpointError, match=MODEL):
        Run.load_for_sampling(saved_run)


def test_not_a_checkpoint_is_named(saved_run):
    (saved_run / OPTIMIZER).write_bytes(b"hello, this is not safetensors")
    with pytest.raises(checkpoint.CheckpointError, match=OPTIMIZER):
        Run.resume(saved_run)
    write_atomic(
        saved_run / MODEL,
        __import__("safetensors.numpy").numpy.save({"x": np.zeros(3, dtype=np.float32)}),
    )
    with pytest.raises(checkpoint.CheckpointError, match="not a tinyllm checkpoint"):
        Run.load_for_sampling(saved_run)


def test_checkpoint_of_another_config_is_refused(tmp_path, saved_run):
    other = Run.create(tiny_config(tmp_path, "other", max_iters=0, n_embd=32))
    other.save()
    (saved_run / MODEL).write_bytes((other.dir / MODEL).read_bytes())
    with pytest.raises(checkpoint.CheckpointError, match="another config"):
        Run.resume(saved_run)


def test_damaged_state_is_named(saved_run):
    (saved_run / STATE).write_text("{not json")
    with pytest.raises(checkpoint.CheckpointError, match=STATE):
        Run.resume(saved_run)


def test_batches_are_shifted_windows():
    ids = np.arange(1000) % 97
    data = TokenData(ids, block_size=8)
    x, y = data.get_batch("train", 5, np.random.default_rng(0))
    assert x.shape == y.shape == (5, 8) and x.dtype == np.int64
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])
    np.testing.assert_array_equal((x[:, :1] + 1) % 97, y[:, :1])
    assert data.train.dtype == np.uint16 and len(data.train) == 900
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


def test_learning_rate_reaches_min_lr_at_lr_decay_iters(tmp_path):
    config = tiny_config(tmp_path, max_iters=8, lr_decay_iters=6, warmup_iters=2, log_interval=1)
    run = Run.create(config)
    train(run, progress=False)
    lrs = {m["step"]: m["lr"] for m in run.metrics if m["kind"] == "train"}
    assert lrs[1] == pytest.approx(config.lr / 2)  # warmup: step 0 trains at lr * 1/2
    assert lrs[7] == pytest.approx(config.min_lr) and lrs[8] == pytest.approx(config.min_lr)
    assert config.min_lr < lrs[4] < config.lr


def test_ctrl_c_saves_and_resume_from_there_is_exact(tmp_path, monkeypatch, capsys):
    straight = Run.create(tiny_config(tmp_path, "straight"))
    train(straight, progress=False)

    run = Run.create(tiny_config(tmp_path, "interrupted"))
    get_batch, calls = run.data.get_batch, []

    def get_batch_then_ctrl_c(split, batch_size, rng):
        if rng is run.data_rng:  # a training batch, not an evaluation's
            calls.append(split)
            if len(calls) == 3:  # during step 2 (of 0..7): not at an evaluation step
                os.kill(os.getpid(), signal.SIGINT)
        return get_batch(split, batch_size, rng)

    monkeypatch.setattr(run.data, "get_batch", get_batch_then_ctrl_c)
    messages = []
    train(run, progress=False, log=messages.append)
    assert run.step == 3
    assert "--resume" in messages[-1] and str(run.dir) in messages[-1]
    assert json.loads((run.dir / STATE).read_text())["step"] == 3

    resumed = Run.resume(run.dir)
    train(resumed, progress=False)
    for name, value in straight.model.state_dict().items():
        np.testing.assert_array_equal(resumed.model.state_dict()[name], value, err_msg=name)
    eval_steps = [m["step"] for m in resumed.metrics if m["kind"] == "eval"]
    assert eval_steps == [0, 4, 8]  # no evaluation twice


def test_files_of_an_interrupted_save_are_refused(tmp_path):
    run = Run.create(tiny_config(tmp_path, max_iters=2, eval_interval=1))
    train(run, progress=False)
    old_model = (run.dir / MODEL).read_bytes()
    run.step += 1
    run.save()
    (run.dir / MODEL).write_bytes(old_model)  # as if the save had stopped after one file
    with pytest.raises(checkpoint.CheckpointError, match="different steps"):
        Run.resume(run.dir)


def test_grad_clip_zero_means_no_clipping(tmp_path):
    run = Run.create(tiny_config(tmp_path, max_iters=2, grad_clip=0.0))
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
        runs.append(Run.create(config))
        train(runs[-1], progress=False)
    big, accumulated = (run.model.state_dict() for run in runs)
    for name in big:
        np.testing.assert_allclose(accumulated[name], big[name], rtol=1e-4, atol=1e-6)
    logged = [[m["train_loss"] for m in run.metrics if m["kind"] == "train"] for run in runs]
    np.testing.assert_allclose(logged[1], logged[0], rtol=1e-5)  # the mean over micro-batches
