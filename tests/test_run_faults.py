"""Faults a run must survive: kill -9 at any moment of a save, a full disk, a second writer,
SIGTERM. Each is injected for real (a killed subprocess, a write that fails with ENOSPC),
on a tiny model, and after each the run must go on exactly where its last checkpoint left it.
"""

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import engine.files
import viz
from model.checkpoint import CheckpointError
from model.cli import main
from model.run import Run
from model.train import train
from model.train_config import TrainConfig

FLAGS = dict(
    corpus="stories", corpus_chars=20_000, block_size=16, n_layer=1, n_head=2, n_embd=16,
    batch_size=4, dropout=0.1, max_iters=3, lr_decay_iters=3, warmup_iters=1, eval_interval=1,
    eval_batches=1, log_interval=1,
)  # fmt: skip

# A training run in a subprocess, whose every call that makes a save durable (fsync, rename,
# replace, mkdir, unlink, rmdir) is counted; the KILL_AT-th one is replaced by a SIGKILL of
# the process itself, so each kill point is exact and the same in every run. KILL_AT 0 kills
# nothing and writes the list of calls to TRACE.
CHILD = r"""
import json, os, signal, sys

flags, kill_at, trace = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
calls = []

def counted(name):
    real = getattr(os, name)
    def call(*args, **kwargs):
        calls.append(f"{name} {args[0] if args else ''}")
        if len(calls) == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args, **kwargs)
    setattr(os, name, call)

for name in ("fsync", "rename", "replace", "mkdir", "unlink", "rmdir"):
    counted(name)

from model.run import Run
from model.train import train
from model.train_config import TrainConfig

with Run.create(TrainConfig.from_flags(**flags), log=lambda message: None) as run:
    train(run, progress=False, log=lambda message: None)
with open(trace, "w", encoding="utf-8") as f:
    f.write("\n".join(calls))
"""


def start_child(run_dir, kill_at, trace):
    flags = json.dumps({**FLAGS, "out_dir": str(run_dir)})
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, flags, str(kill_at), str(trace)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip


def weights(model):
    return {name: a.copy() for name, a in model.state_dict().items()}


def names(directory):
    return [p.name for p in directory.iterdir()] if directory.is_dir() else []


def debris(run_dir):
    hidden = [name for name in names(run_dir / "checkpoints") if name.startswith(".")]
    return hidden + [name for name in names(run_dir) if name.endswith(".tmp")]


def test_kill_9_at_any_point_of_a_save_loses_nothing(tmp_path):
    reference, trace = tmp_path / "reference", tmp_path / "trace.txt"
    child = start_child(reference, 0, trace)
    assert child.wait(timeout=120) == 0, child.communicate()[1]
    child.communicate()
    calls = trace.read_text(encoding="utf-8").splitlines()
    expected = weights(Run.load_for_sampling(reference)[0])
    # The calls that change what is on disk; a kill just before each leaves a distinct state.
    changes = [i for i, call in enumerate(calls, 1) if call.split()[0] != "fsync"]
    first_commit = next(i for i in changes if calls[i - 1].startswith("rename"))
    # Every one of the second save (a checkpoint is there before it, and deleted after it),
    # and a spread over the rest: the first save, the metrics, the later saves.
    start = next(i for i in changes if ".step-000001" in calls[i - 1])
    end = next(i for i in changes if calls[i - 1].startswith("rmdir"))
    second_save = [i for i in changes if start <= i <= end and "unlink" not in calls[i - 1]]
    kill_points = sorted({*second_save, end - 3, end + 1, *changes[::12]})
    assert len(second_save) >= 9 and len(kill_points) <= 24
    runs = {k: tmp_path / f"killed-at-{k}" for k in kill_points}

    running = []
    for k, run_dir in runs.items():
        running.append((k, start_child(run_dir, k, tmp_path / "unused")))
        if len(running) == 4 or k == kill_points[-1]:
            for k, child in running:
                _, err = child.communicate(timeout=120)
                assert child.returncode == -signal.SIGKILL, (k, err.decode())
            running = []

    for k, run_dir in runs.items():
        incomplete = any(name.endswith(".tmp") for name in names(run_dir / "checkpoints"))
        messages = []
        try:
            run = Run.resume(run_dir, log=messages.append)
        except (CheckpointError, FileNotFoundError):  # no complete checkpoint, or no directory
            assert k <= first_commit, f"killed at call {k} ({calls[k - 1]}): nothing resumes"
            run = Run.create(TrainConfig.from_flags(**FLAGS, out_dir=str(run_dir)))
        else:
            assert not incomplete or "cut short" in messages[0], (k, messages)
        assert not debris(run_dir), (k, debris(run_dir))
        with run:
            train(run, progress=False, log=lambda message: None)
        for name, value in expected.items():
            np.testing.assert_array_equal(run.model.state_dict()[name], value, err_msg=f"{k}")


class FullDisk:
    """A file that takes half of what is written to it, then fails as a full disk does."""

    def __init__(self, file):
        self.file = file

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()

    def write(self, data):
        self.file.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __getattr__(self, name):
        return getattr(self.file, name)


def fill_disk_on(monkeypatch, fragment):
    """Make every atomic write whose temporary file's path holds `fragment` fail halfway."""

    def open_on_a_full_disk(path, mode="r", *args, **kwargs):
        file = open(path, mode, *args, **kwargs)  # noqa: SIM115 (closed by its with block)
        return FullDisk(file) if fragment in str(path) else file

    monkeypatch.setattr(engine.files, "open", open_on_a_full_disk, raising=False)


def test_a_full_disk_during_a_save_names_the_file_and_keeps_the_last_checkpoint(
    tmp_path, monkeypatch, capsys
):
    run_dir = tmp_path / "run"
    with Run.create(TrainConfig.from_flags(**FLAGS, out_dir=str(run_dir))) as run:
        train(run, progress=False)
    before = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    fill_disk_on(monkeypatch, "model.safetensors")
    argv = ["train", "--resume", str(run_dir), "--max-iters", "5", "--no-progress"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "No space left on device" in err
    assert "model.safetensors" in err and "step 3 is kept" in err
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == before
    assert not debris(run_dir)

    monkeypatch.undo()
    with Run.resume(run_dir, max_iters=5) as run:
        assert run.step == 3
        train(run, progress=False)


def refuse_files_in(monkeypatch, where):
    """Path.touch raises EACCES in the directory `where`, as when it is read-only: chmod alone
    cannot show it to a test run by root, whom permissions do not stop."""
    touch = Path.touch

    def read_only(path, *args, **kwargs):
        if path.parent == where:
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return touch(path, *args, **kwargs)

    monkeypatch.setattr(Path, "touch", read_only)


def test_a_run_that_could_not_save_is_refused_before_it_trains(tmp_path, monkeypatch, capsys):
    run_dir = tmp_path / "run"
    with Run.create(TrainConfig.from_flags(**FLAGS, out_dir=str(run_dir))) as run:
        train(run, progress=False)
    before = sorted(p.name for p in (run_dir / "checkpoints").iterdir())
    capsys.readouterr()
    refuse_files_in(monkeypatch, run_dir / "checkpoints")
    argv = ["train", "--resume", str(run_dir), "--max-iters", "5", "--no-progress"]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert err == (
        f"tinyllm train: error: {run_dir / 'checkpoints'} is not writable (Permission denied), "
        "so no checkpoint could be saved\n"
    )
    assert "step" not in out  # refused before a step was trained, and lost
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == before
    monkeypatch.undo()
    refuse_files_in(monkeypatch, run_dir)  # where metrics.jsonl goes
    assert main(argv) == 2
    assert f"error: {run_dir} is not writable" in capsys.readouterr().err
    monkeypatch.undo()
    new = tmp_path / "new"
    refuse_files_in(monkeypatch, new)  # a new run's first save makes its checkpoints/
    assert main(["train", "--out-dir", str(new), "--max-iters", "5", "--no-progress"]) == 2
    assert f"error: {new} is not writable" in capsys.readouterr().err
    assert not new.exists()


def test_a_full_disk_leaves_the_old_corpus_file(tmp_path, monkeypatch, capsys):
    out = tmp_path / "stories.txt"
    out.write_text("the old text")
    fill_disk_on(monkeypatch, "stories.txt")
    assert main(["corpus", "stories", "--out", str(out), "--chars", "3000"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "stories.txt" in err and "No space" in err
    assert out.read_text() == "the old text" and os.listdir(tmp_path) == ["stories.txt"]


def test_a_full_disk_while_drawing_leaves_the_old_pictures(tmp_path, monkeypatch, capsys):
    out = tmp_path / "graph.svg"
    out.write_text("the old picture")
    fill_disk_on(monkeypatch, "graph.svg")
    assert main(["graph", "--depth", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "graph.svg" in err and "No space" in err
    assert out.read_text() == "the old picture" and os.listdir(tmp_path) == ["graph.svg"]
    loss = tmp_path / "loss.png"
    loss.write_text("the old curve")
    fill_disk_on(monkeypatch, "loss.png")
    with pytest.raises(OSError, match="loss.png"):
        viz.plot_losses([{"step": 0, "train_loss": 1.0}, {"step": 1, "train_loss": 0.5}], path=loss)
    assert loss.read_text() == "the old curve" and len(os.listdir(tmp_path)) == 2


def test_a_read_only_disk_is_named_by_the_file_written_not_its_temporary(tmp_path, monkeypatch):
    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(engine.files, "open", read_only, raising=False)
    monkeypatch.setattr(engine.files.Path, "unlink", read_only)  # removing the temporary fails too
    with pytest.raises(OSError) as caught:
        engine.files.write_atomic(tmp_path / "g.svg", "a picture")
    assert caught.value.errno == errno.EROFS and caught.value.filename == str(tmp_path / "g.svg")


def test_a_failed_write_into_a_directory_written_atomically_names_the_file_it_was_for(tmp_path):
    out = tmp_path / "hf"
    with pytest.raises(PermissionError) as caught, engine.files.atomic_directory(out) as directory:
        (directory / "config.json").write_text("{}")
        raise PermissionError(errno.EACCES, "Permission denied", str(directory / "config.json"))
    assert caught.value.filename == str(out / "config.json")  # not the hidden temporary's
    assert os.listdir(tmp_path) == []
    with pytest.raises(FileNotFoundError) as caught, engine.files.atomic_directory(out / "a/b"):
        pass  # its temporary cannot be made beside it: no directory out/a
    assert caught.value.filename == str(out / "a/b")


def test_a_device_a_fifo_or_an_open_file_is_written_into_never_replaced(tmp_path):
    engine.files.write_atomic("/dev/null", "nothing")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)  # still the device, not a regular file
    fifo, received = tmp_path / "fifo", []
    os.mkfifo(fifo)
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()), daemon=True)
    reader.start()
    engine.files.write_atomic(fifo, "through the pipe")
    reader.join(timeout=10)
    assert received == [b"through the pipe"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    read_end, write_end = os.pipe()  # /dev/stdout, when it is a pipe, is /proc/self/fd/1
    with os.fdopen(read_end, "rb") as pipe:
        engine.files.write_atomic(f"/proc/self/fd/{write_end}", b"to the reader")
        os.close(write_end)
        assert pipe.read() == b"to the reader"
    log = tmp_path / "log.txt"  # `>> log.txt`: the open file is appended to, not replaced
    log.write_text("kept\n")
    with open(log, "ab") as f:
        engine.files.write_atomic(f"/proc/self/fd/{f.fileno()}", "added\n")
    assert log.read_text() == "kept\nadded\n"
    shell = os.open(tmp_path / "out.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # `> out.txt`
    os.write(shell, b"before\n")
    engine.files.write_atomic(f"/proc/self/fd/{shell}", "written\n")  # through that descriptor
    os.write(shell, b"after\n")  # where it left off, not over what was written
    os.close(shell)
    assert (tmp_path / "out.txt").read_text() == "before\nwritten\nafter\n"


def test_corpus_to_dev_stdout_redirected_to_a_file_gives_the_corpus_alone(tmp_path):
    with open(tmp_path / "stories.txt", "wb") as out:  # tinyllm corpus ... > stories.txt
        done = subprocess.run(
            [sys.executable, "-m", "model", "corpus", "stories", "--out", "/dev/stdout"],
            stdout=out, stderr=subprocess.PIPE, text=True, check=True,
        )  # fmt: skip
    text = (tmp_path / "stories.txt").read_text()
    assert text.startswith("Once upon a time") and "wrote" not in text
    assert (
        done.stderr.startswith("wrote /dev/stdout: ") and f"{len(text):,} characters" in done.stderr
    )


def test_a_symlink_stays_a_link_to_the_file_written_atomically(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    link = tmp_path / "link.txt"
    link.symlink_to("real.txt")
    assert engine.files.write_atomic(link, "new") == link
    assert link.is_symlink() and (tmp_path / "real.txt").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["link.txt", "real.txt"]  # no temporary left


@pytest.mark.parametrize("name", ["", "new/", "new/."])
def test_a_directory_is_refused_by_name_and_no_file_is_made(tmp_path, name):
    path = f"{tmp_path}/{name}"
    with pytest.raises(IsADirectoryError) as caught:
        engine.files.write_atomic(path, "text")
    assert caught.value.filename == path and "Is a directory" in str(caught.value)
    assert os.listdir(tmp_path) == []


def test_a_directory_written_atomically_is_whole_or_not_there(tmp_path):
    out = tmp_path / "hf"
    with pytest.raises(OSError, match="No space"), engine.files.atomic_directory(out) as directory:
        (directory / "config.json").write_text("{}")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert os.listdir(tmp_path) == []  # neither `hf` nor its hidden temporary
    out.mkdir()  # an empty directory is kept and filled (a shell may be in it); a full one refused
    inode = out.stat().st_ino
    with engine.files.atomic_directory(out) as directory:
        (directory / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["hf"] and os.listdir(out) == ["config.json"]
    assert out.stat().st_ino == inode
    with pytest.raises(FileExistsError), engine.files.atomic_directory(out) as directory:
        (directory / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["hf"]


def test_a_directory_written_atomically_as_dot_fills_the_current_one(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with engine.files.atomic_directory(".") as directory:
        (directory / "config.json").write_text("{}")
    assert os.listdir(tmp_path) == ["config.json"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_second_writer_is_refused_and_a_signal_saves_and_exits_128_plus_it(
    tmp_path, capsys, signum
):
    run_dir = tmp_path / "run"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in FLAGS.items()]
    flags += ["--max-iters=100000", "--eval-interval=100000", "--no-progress"]
    child = subprocess.Popen(
        [sys.executable, "-m", "model", "train", "--out-dir", str(run_dir), *flags],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a group of its own, as a terminal's or `timeout`'s job is
    )
    try:
        first, metrics = run_dir / "checkpoints" / "step-000000", run_dir / "metrics.jsonl"

        def trained_a_step():  # saved step 0, then trained on (where signals are handled)
            return first.exists() and '"kind": "train"' in metrics.read_text()

        deadline = time.monotonic() + 60
        while not trained_a_step() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        if not trained_a_step():
            child.kill()
            pytest.fail(f"the run did not get past step 0: {child.communicate()}")

        for argv in (["train", "--resume", str(run_dir)], ["train", "--out-dir", str(run_dir)]):
            assert main([*argv, "--no-progress"]) == 2
            err = capsys.readouterr().err
            assert len(err.strip().splitlines()) == 1
            assert f"{run_dir} is in use by another writer (pid {child.pid})" in err

        os.killpg(child.pid, signum)  # to the whole group: the step's worker process too
        out, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate()
    assert child.returncode == 128 + signum, err
    assert f"Stopped by {signal.Signals(signum).name}" in out
    assert f"tinyllm train --resume {run_dir}" in out
    with Run.resume(run_dir) as run:  # the lock went with the process
        assert f"at step {run.step};" in out and run.step > 0


def test_a_closed_stdout_saves_the_step_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in FLAGS.items()]
    flags += ["--max-iters=100000", "--eval-interval=2", "--no-progress"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as in a shell
    child = subprocess.Popen(  # as `tinyllm train | head -1`
        [sys.executable, "-m", "model", "train", "--out-dir", str(run_dir), *flags],
        env={**env, "OPENBLAS_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert "parameters" in child.stdout.readline()
        child.stdout.close()  # the reader has gone: the next line the run prints finds no one
        err = child.stderr.read()
        child.wait(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert child.returncode == 128 + signal.SIGPIPE, err
    assert "Stopped by SIGPIPE at step" in err and f"tinyllm train --resume {run_dir}" in err
    assert "Error" not in err and "Traceback" not in err
    with Run.resume(run_dir) as run:  # the step it stopped at is the one saved
        assert f"at step {run.step};" in err


def test_a_run_started_with_stdout_closed_trains_and_saves(tmp_path):
    run_dir = tmp_path / "run"
    flags = [f"--{k.replace('_', '-')}={v}" for k, v in FLAGS.items()]
    done = subprocess.run(  # as `tinyllm train >&-`: Python's sys.stdout is None
        [sys.executable, "-m", "model", "train", "--out-dir", str(run_dir), *flags],
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    with Run.resume(run_dir) as run:
        assert run.step == FLAGS["max_iters"]
