"""Every way a user can get it wrong, on the command line: one line on stderr, exit status 2.

These are the probes of a hostile user (NaN options, damaged and mismatched files, sizes too
big for memory, names that are not UTF-8, a run that diverges); none may end in a traceback,
a silent wrong result or lost work.
"""

import json
import math
import os
import shlex
import shutil
import signal
import subprocess
import sys
import warnings

import numpy as np
import pytest
import safetensors.numpy
from tiny_runs import TINY, TINY_FLAGS, one_line_error, train_tiny

import model.cli
import model.pretrained
import model.train
import tokenizer
from model import GPT, GPTConfig, memory
from model.cli import main
from model.run import Run
from model.train import TrainingDiverged, train
from model.train_config import TrainConfig


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """A stories run (char tokenizer), an addition run (13 tokens) and a BPE run."""
    root = tmp_path_factory.mktemp("runs")
    return {
        "stories": train_tiny(root / "stories", max_iters=0),
        "addition": train_tiny(root / "addition", corpus="addition", max_iters=0),
        "bpe": train_tiny(root / "bpe", tokenizer="bpe", bpe_vocab_size=260, max_iters=0),
    }


@pytest.fixture
def run_dir(trained_runs, tmp_path):
    """A copy of the stories run, free to damage; its one checkpoint is run_dir.checkpoint."""
    return shutil.copytree(trained_runs["stories"], tmp_path / "run")


def newest(run_dir):
    return max((run_dir / "checkpoints").iterdir())


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--lr", "inf"), ("--lr", "1e30"), ("--lr", "nan"), ("--min-lr", "nan"),
     ("--min-lr", "-0.0001"), ("--weight-decay", "inf"), ("--weight-decay", "20000"),
     ("--grad-clip", "nan"),
     ("--beta1", "nan"), ("--beta2", "1"), ("--dropout", "nan")],
)  # fmt: skip
def test_train_options_must_be_finite_and_in_range(tmp_path, capsys, flag, value):
    err = one_line_error(capsys, ["train", "--out-dir", tmp_path / "run", flag, value])
    assert flag[2:].replace("-", "_") in err
    assert not (tmp_path / "run").exists()  # refused before anything was made


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--temperature", "nan"),
        ("--temperature", "inf"),
        ("--temperature", "-1"),
        ("--top-p", "nan"),
        ("--top-p", "2"),
        ("--top-k", "0"),
        ("--top-k", "1.5"),
        ("--max-new-tokens", "-1"),
        ("--num-samples", "0"),
        ("--seed", "-1"),
        ("--prompt", ""),  # no tokens to continue
        ("--prompt", os.fsdecode(b"caf\xe9")),  # Latin-1 from the shell, not UTF-8
    ],
)
def test_sample_options_must_be_finite_and_in_range(run_dir, capsys, flag, value):
    err = one_line_error(capsys, ["sample", "--run", run_dir, flag, value])
    assert flag in err and "_" not in err  # the flag's name, never the Python one (top_p)


def test_a_prompt_the_tokenizer_cannot_encode_names_the_flag_and_the_run(run_dir, capsys):
    err = one_line_error(capsys, ["sample", "--run", run_dir, "--prompt", "Once Ö"])
    assert err.endswith(
        f"error: --prompt: {run_dir}'s tokenizer: character 'Ö' at position 5 is not in the "
        "vocabulary\n"
    )


@pytest.mark.parametrize(
    "flags, why",
    [
        (["--bpe-vocab-size", "300"], "--bpe-vocab-size is read only with --tokenizer bpe, and "
         "this run's is 'char'"),
        (["--rope-theta", "500"], "--rope-theta is read only with --pos rope, and this run's is "
         "'learned'"),
        (["--llama", "--gelu", "none"], "--gelu is read only with --mlp gelu, and this run's is "
         "'swiglu'"),
        (["--corpus", "c.txt", "--corpus-chars", "9"], "--corpus-chars is read only with "
         "--corpus stories or addition, and this run's is 'c.txt'"),
    ],
)  # fmt: skip
def test_a_flag_the_run_would_not_read_is_refused(tmp_path, capsys, flags, why):
    err = one_line_error(capsys, ["train", "--out-dir", tmp_path / "run", *flags])
    assert err.endswith(f"error: {why}: drop it\n")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--n-embd", "100000"],
        ["--batch-size", "10000000"],
        ["--grad-accum", "1000000000"],  # the step's micro-batches alone: 1 TB
        ["--corpus-chars", str(10**15)],
    ],
)
def test_sizes_too_big_for_memory_say_how_much_they_need(tmp_path, capsys, flags):
    err = one_line_error(capsys, ["train", "--out-dir", tmp_path / "run", *TINY_FLAGS, *flags])
    assert "needs about" in err and "is available" in err
    assert not (tmp_path / "run").exists()  # the refused run leaves no directory behind


@pytest.mark.parametrize(
    "argv",
    [["sample", "--num-samples", str(10**20)], ["sample", "--max-new-tokens", str(10**20)],
     ["corpus", "stories", "--chars", str(10**15)]],
)  # fmt: skip
def test_sampling_or_a_corpus_too_big_for_memory_is_refused(run_dir, tmp_path, capsys, argv):
    where = ["--run", run_dir] if argv[0] == "sample" else ["--out", tmp_path / "c.txt"]
    assert "needs about" in one_line_error(capsys, [*argv, *where])


def test_a_file_system_error_names_the_path_not_the_errno(tmp_path, capsys):
    (tmp_path / "a-file").write_text("not a directory")
    err = one_line_error(capsys, ["train", *TINY_FLAGS, "--out-dir", tmp_path / "a-file"])
    assert err.endswith(f": error: {tmp_path / 'a-file'} is a file, not a run directory\n")
    err = one_line_error(capsys, ["corpus", "stories", "--out", tmp_path / "c.txt", "--seed=-1"])
    assert err == "tinyllm corpus: error: argument --seed: must be an int >= 0, got -1\n"
    err = one_line_error(capsys, ["graph", "--depth=-1"])
    assert err == "tinyllm graph: error: argument --depth: must be an int >= 0, got -1\n"
    for argv in (["sample", "--run", ""], ["graph", "--run", ""], ["train", "--corpus", ""],
                 ["train", "--out-dir", ""], ["corpus", "stories", "--out", ""]):  # fmt: skip
        flag = next(a for a in argv if a.startswith("--"))
        assert one_line_error(capsys, argv).endswith(f": error: {flag} needs a path, got ''\n")


OUT_FILE_COMMANDS = [
    ["corpus", "stories", "--chars", "3000"],
    ["tokenizer", "train", "--corpus", "stories", "--vocab-size", "257"],
    ["graph", "--depth", "1"],
]


@pytest.mark.parametrize("argv", OUT_FILE_COMMANDS, ids=lambda argv: argv[0])
def test_an_out_file_that_is_a_directory_or_in_a_missing_one_is_refused(tmp_path, capsys, argv):
    (tmp_path / "a-file").write_text("not a directory")
    for out, why in [
        (f"{tmp_path}/new/", f"--out names a directory: {tmp_path}/new/; give a file name"),
        (tmp_path, f"--out names a directory: {tmp_path}; give a file name"),
        (tmp_path / "no" / "c.txt", f"--out {tmp_path / 'no' / 'c.txt'}: its directory "
         f"{tmp_path / 'no'} does not exist"),  # no command makes a file's directory
        (tmp_path / "a-file" / "c.txt", f"its directory {tmp_path / 'a-file'} is not a "
         "directory"),
    ]:  # fmt: skip
        assert one_line_error(capsys, [*argv, "--out", out]).endswith(f" {why}\n")
    assert os.listdir(tmp_path) == ["a-file"] and not capsys.readouterr().out


@pytest.mark.parametrize("argv", OUT_FILE_COMMANDS, ids=lambda argv: argv[0])
def test_an_out_file_inside_a_run_is_refused(run_dir, capsys, argv):
    before = sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*"))
    for out in (newest(run_dir) / "kept.txt", run_dir / "metrics.jsonl", run_dir / "graph.svg"):
        err = one_line_error(capsys, [*argv, "--out", out])
        assert f"--out {out} is the run {run_dir}'s own, which its trainer rewrites" in err
    assert sorted(str(p.relative_to(run_dir)) for p in run_dir.rglob("*")) == before
    mine = run_dir / f"my-{argv[0]}.svg"  # a name of the user's own beside the run's: written
    assert main([*argv, "--out", str(mine)]) == 0 and mine.stat().st_size > 0
    mine.unlink()  # the run is shared by the tests of this file


def test_an_out_that_is_the_commands_own_input_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["corpus", "stories", "--out", "c.txt", "--chars", "3000"]) == 0
    text = (tmp_path / "c.txt").read_text()
    os.symlink("c.txt", tmp_path / "link.txt")
    for out in ("c.txt", "./c.txt", "link.txt"):  # the same file, by any name
        argv = ["tokenizer", "train", "--corpus", "c.txt", "--vocab-size", "260", "--out", out]
        err = one_line_error(capsys, argv)
        assert err.endswith(f"error: --out {out} is the --corpus file itself: writing it would "
                            "destroy what it is read from; give another --out\n")  # fmt: skip
    assert (tmp_path / "c.txt").read_text() == text


def test_a_checkpoint_deleted_while_it_is_read_is_read_again_from_the_new_newest(
    run_dir, monkeypatch, capsys
):
    shutil.copytree(newest(run_dir), run_dir / "checkpoints" / "step-000002")
    real, read = model.pretrained.load_checkpoint, []

    def deleted_once_listed(checkpoint):  # as a trainer's keep-only, between listing and reading
        read.append(checkpoint.name)
        if len(read) == 1:
            shutil.rmtree(checkpoint)
        return real(checkpoint)

    monkeypatch.setattr(model.pretrained, "load_checkpoint", deleted_once_listed)
    assert main(["sample", "--run", str(run_dir), "--max-new-tokens", "3", "--seed", "0"]) == 0
    assert read == ["step-000002", "step-000000"]

    def always_a_newer_one(checkpoint):  # a run saving faster than anything can be read
        step = int(checkpoint.name.split("-")[1])
        shutil.copytree(checkpoint, checkpoint.with_name(f"step-{step + 1:06d}"))
        shutil.rmtree(checkpoint)
        return real(checkpoint)

    monkeypatch.setattr(model.pretrained, "load_checkpoint", always_a_newer_one)
    err = one_line_error(capsys, ["sample", "--run", run_dir])
    assert "its newest checkpoint was deleted while it was read, 5 times in a row" in err
    monkeypatch.undo()
    damaged = newest(run_dir) / "tokenizer.txt"
    damaged.unlink()  # a file missing from a checkpoint that is still there: no retry
    for run in (run_dir, damaged.parent):
        err = one_line_error(capsys, ["sample", "--run", run])
        assert err.endswith(f"error: {damaged}: No such file or directory\n")


def test_subcommands_and_help_texts_say_what_the_user_reads(capsys):
    err = one_line_error(capsys, ["tokenizer"])
    assert err == "tinyllm tokenizer: error: the following arguments are required: {train}\n"
    assert "argument {train}: invalid choice: 'frobnicate'" in one_line_error(
        capsys, ["tokenizer", "frobnicate"]
    )
    helps = {}
    for command in ("train", "sample", "export", "tokenizer train", "corpus", "graph", "plot"):
        with pytest.raises(SystemExit) as caught:
            main([*command.split(), "--help"])
        assert caught.value.code == 0
        helps[command] = " ".join(capsys.readouterr().out.split())  # argparse wraps the lines
        # each says what it does, between its usage and its options
        said = helps[command].split(" options:")[0].split("] ")[-1]
        assert len(said.split()) >= 8, (command, said)
    for written in ("into its own directory", "loss.png", "embeddings.png", "attention_layerN"):
        assert written in helps["plot"]
    assert "size in characters, at least: whole stories" in helps["corpus"]
    assert "in a directory that exists" in helps["graph"]
    assert "not in a run's checkpoints/" in helps["export"]
    assert "with a KV cache" in helps["sample"] and "most frequent pair" in helps["tokenizer train"]
    assert "argument --chars: must be an int >= 1, got 0" in one_line_error(
        capsys, ["corpus", "stories", "--out", "x.txt", "--chars", "0"]
    )


def test_a_runs_checkpoints_directory_is_pointed_at_the_run_or_a_step(
    trained_runs, capsys, monkeypatch
):
    run = trained_runs["stories"]
    err = one_line_error(capsys, ["sample", "--run", run / "checkpoints"])
    assert err.endswith(
        f"{run / 'checkpoints'} is a run's checkpoints directory: name the run ({run}) for its "
        "newest checkpoint, or one of its checkpoints/step-N\n"
    )
    err = one_line_error(capsys, ["train", "--resume", run / "checkpoints"])
    assert err.endswith(
        f"{run / 'checkpoints'} is a run's checkpoints directory: resume the run itself ({run}), "
        "which continues its newest checkpoint\n"
    )
    assert not (run / "checkpoints" / ".lock").exists()  # refused before it is locked
    monkeypatch.chdir(run / "checkpoints")  # the same directory, spelled "." or "step-N/.."
    step = newest(run).name
    for spelling in (".", f"{step}/.."):
        for argv in (["sample", "--run", spelling], ["train", "--resume", spelling]):
            assert "is a run's checkpoints directory" in one_line_error(capsys, argv)
    assert not (run / "checkpoints" / ".lock").exists()


@pytest.mark.parametrize("argv", [["sample", "--run"], ["plot", "--run"], ["train", "--resume"]])
def test_a_run_that_is_missing_or_a_file_is_named(tmp_path, capsys, argv):
    missing, a_file = tmp_path / "missing", tmp_path / "a-file"
    a_file.write_text("not a run")
    assert one_line_error(capsys, [*argv, missing]).endswith(
        f"run directory not found: {missing}\n"
    )
    assert one_line_error(capsys, [*argv, a_file]).endswith(
        f"{a_file} is a file, not a run directory\n"
    )


def test_a_corpus_the_inherited_tokenizer_cannot_encode_is_named(tmp_path, capsys):
    (tmp_path / "abc.txt").write_text("abc abd\n" * 200)  # the stories have other characters
    start = train_tiny(tmp_path / "abc", corpus=str(tmp_path / "abc.txt"), max_iters=0)
    err = one_line_error(capsys, ["train", *TINY_FLAGS, "--init-from", start])
    assert f"corpus stories does not fit the tokenizer of --init-from {start}: character" in err


def test_a_new_run_is_refused_a_directory_of_other_files(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "loss.png").write_text("my own picture")  # a name a run writes, among others'
    (mine / "notes.txt").write_text("keep me")
    argv = ["train", *TINY_FLAGS, "--out-dir"]
    err = one_line_error(capsys, [*argv, mine])
    assert f"{mine} holds 'notes.txt', which is no run's: choose a new or empty --out-dir" in err
    assert sorted(p.name for p in mine.iterdir()) == ["loss.png", "notes.txt"]  # no lock left
    assert (mine / "loss.png").read_text() == "my own picture"
    (mine / "notes.txt").rename(mine / "draft.tmp")  # not what a cut-short write leaves
    assert "holds 'draft.tmp', which is no run's" in one_line_error(capsys, [*argv, mine])
    (mine / "draft.tmp").rename(mine / "samples.txt")  # only a run's names, but no run's lock
    err = one_line_error(capsys, [*argv, mine])
    assert "holds 'loss.png' but no .lock: no run made it, so it is not a run's to write" in err
    assert (mine / "samples.txt").read_text() == "keep me"


def test_a_new_run_is_refused_a_directory_inside_a_run(tmp_path, capsys):
    run_dir = train_tiny(tmp_path / "run")
    for inside in ("checkpoints", "checkpoints/step-000004", "checkpoints/step-000004/new"):
        err = one_line_error(capsys, ["train", *TINY_FLAGS, "--out-dir", run_dir / inside])
        assert f"is inside the run {run_dir}: choose a --out-dir outside it (or continue" in err
    assert not (run_dir / "checkpoints" / "step-000004" / "new").exists()


def test_a_plotted_run_is_a_run_and_its_pictures_are_no_foreign_files(tmp_path, capsys):
    run_dir = train_tiny(tmp_path / "run")
    assert main(["plot", "--run", str(run_dir)]) == 0  # embeddings.png, attention_layer0.png
    checkpoint = newest(run_dir)
    files = sorted(p.name for p in checkpoint.iterdir())
    err = one_line_error(capsys, ["plot", "--run", checkpoint])
    assert "is a checkpoint: plot its run" in err
    assert sorted(p.name for p in checkpoint.iterdir()) == files  # nothing written into it
    assert "already holds a run: continue it with --resume" in one_line_error(
        capsys, ["train", *TINY_FLAGS, "--out-dir", run_dir]
    )
    shutil.rmtree(run_dir / "checkpoints")  # the user starts the run again, in its place
    assert main(["train", *TINY_FLAGS, "--out-dir", str(run_dir)]) == 0


def test_a_warning_is_one_line_on_stderr(monkeypatch, tmp_path, capsys):
    def warns(args):  # as DataParallel does when its worker dies
        warnings.warn("the worker process 7 died", RuntimeWarning, stacklevel=2)
        return 0

    monkeypatch.setitem(model.cli.COMMANDS, "corpus", warns)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # shown, not raised as everywhere else in the suite
        before = warnings.showwarning
        assert main(["corpus", "stories", "--out", str(tmp_path / "c.txt")]) == 0
        assert warnings.showwarning is before  # put back
    assert capsys.readouterr().err == "tinyllm corpus: warning: the worker process 7 died\n"


def test_the_memory_estimate_of_a_tiny_run_worked_out_by_hand():
    parts = memory.training_bytes(TrainConfig.from_flags(**TINY).with_vocab_size(50))
    # V·C + T·C + L·(12·C² + 13·C) + 2·C, with V 50, T 16, L 1, C 16: 800 + 256 + 3280 + 32
    params = 4368
    assert parts["parameters"] == parts["gradients"] == 4 * params  # float32
    assert parts["AdamW state"] == parts["the worker's gradients"] == 8 * params
    assert parts["a step's batches"] == 2 * 8 * 4 * 16  # x and y, int64, of 4 x 16 tokens


def test_the_memory_estimate_of_sampling_worked_out_by_hand():
    config = GPTConfig(vocab_size=50, block_size=16, n_layer=1, n_head=2, n_embd=16)
    parts = memory.sampling_bytes(config, rows=3, length=20)  # contexts of 16 at the most
    assert parts == {
        "tokens": 8 * 3 * 20,  # int64
        "the KV cache": 4 * 2 * 1 * 3 * 16 * 2 * 8,  # k and v, 1 layer, 3 x 16, 2 heads of 8
        "a forward of 3 x 16 tokens": 4 * 3 * 16 * (50 + 8 * 16 + 2 * 16),
        "probabilities": 48 * 3 * 50,
    }


def test_the_memory_estimate(monkeypatch):
    for bias in (True, False):
        config = GPTConfig(vocab_size=50, block_size=8, n_layer=2, n_head=2, n_embd=12, bias=bias)
        assert memory.parameter_count(config) == GPT(config).num_params()
    config = TrainConfig.from_flags(**TINY).with_vocab_size(10**12)  # a special id 999999999999
    parts = memory.training_bytes(config)
    assert parts["parameters"] == 4 * memory.parameter_count(config.model) > 4 * 16 * 10**12
    assert parts["AdamW state"] == 2 * parts["gradients"] == 2 * parts["parameters"]
    monkeypatch.setattr(memory, "available_bytes", lambda: 10 * 2**30)
    message = r"this run needs about [\d.]+ PiB of memory \(parameters .*, but only 10\.0 GiB is"
    with pytest.raises(MemoryError, match=message):
        memory.check_fits(parts, "this run")
    memory.check_fits({"parameters": 9 * 2**30}, "a model that fits")


def test_a_second_ctrl_c_says_which_checkpoint_is_the_newest(tmp_path, monkeypatch, capsys):
    real_train_step, calls = model.train.train_step, []

    def train_step_interrupted_on_the_third_call(*args):  # the step from 2 to 3
        calls.append(args)
        if len(calls) == 3:
            raise KeyboardInterrupt  # as the second Ctrl-C raises it, mid-step
        return real_train_step(*args)

    monkeypatch.setattr(model.train, "train_step", train_step_interrupted_on_the_third_call)
    run_dir = tmp_path / "run"
    err = one_line_error(capsys, ["train", *TINY_FLAGS, "--out-dir", run_dir], status=130)
    assert err == (
        "tinyllm train: interrupted; the newest checkpoint is step 2; resume with: "
        f"tinyllm train --resume {run_dir}\n"
    )
    with Run.resume(run_dir) as run:  # the lock went with the interrupted run
        assert run.step == 2


def test_a_diverging_run_stops_unsaved_and_says_how_to_resume(tmp_path, monkeypatch, capsys):
    real_train_step, calls = model.train.train_step, []

    def train_step_whose_sixth_step_diverges(gpt, optimizer, batches, grad_clip, parallel):
        calls.append(1)
        if len(calls) == 6:  # step 5: after the checkpoint of step 4
            gpt.lm_head.weight.data[0, 0] = np.nan  # in place: a data-parallel worker sees it
        return real_train_step(gpt, optimizer, batches, grad_clip, parallel)

    monkeypatch.setattr(model.train, "train_step", train_step_whose_sixth_step_diverges)
    run_dir = tmp_path / "run"
    flags = [*TINY_FLAGS, "--max-iters", "8", "--lr-decay-iters", "8"]
    err = one_line_error(capsys, ["train", "--out-dir", run_dir, *flags])
    assert "at step 5 the training loss is nan" in err and "after step 4" in err
    assert newest(run_dir).name == "step-000004" and not list(run_dir.glob("checkpoints/.*"))
    metrics = (run_dir / "metrics.jsonl").read_text()
    assert "NaN" not in metrics and json.loads(metrics.splitlines()[-1])["step"] == 5

    monkeypatch.undo()
    command = shlex.split(err.split("learning rate: ")[1])
    assert command[:3] == ["tinyllm", "train", "--resume"] and "--lr" in command
    assert main([*command[1:], "--no-progress"]) == 0
    resumed_lr = json.loads((newest(run_dir) / "state.json").read_text())["config"]["lr"]
    assert resumed_lr == pytest.approx(TrainConfig().lr / 10)  # the run's lr is the default


def test_an_infinite_gradient_norm_stops_training_too(tmp_path, monkeypatch):
    real_train_step = model.train.train_step
    monkeypatch.setattr(model.train, "train_step", lambda *a: (real_train_step(*a)[0], math.inf))
    run = Run.create(TrainConfig.from_flags(**TINY, out_dir=str(tmp_path / "run")))
    with run, pytest.raises(TrainingDiverged, match="at step 0 the gradient norm is inf"):
        train(run, progress=False)
    assert run.saved_step == 0 and [p.name for p in run.dir.glob("checkpoints/*")] == [
        "step-000000"
    ]


def poison(arrays, name):
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = np.nan


def set_in_safetensors(path, name, change):
    """Rewrite the safetensors file `path` with `change` applied to its array `name`."""
    arrays = dict(safetensors.numpy.load_file(path))
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    change(arrays, name)
    safetensors.numpy.save_file(arrays, path, metadata=header["__metadata__"])


@pytest.mark.parametrize(
    ("command", "file", "tensor"),
    [("sample", "model.safetensors", "transformer.h.0.mlp.c_fc.weight"),
     ("resume", "model.safetensors", "transformer.wte.weight"),
     ("resume", "optimizer.safetensors", "0.exp_avg")],
)  # fmt: skip
def test_weights_or_optimizer_state_with_nan_are_refused_naming_the_tensor(
    trained_runs, tmp_path, capsys, command, file, tensor
):
    run_dir = shutil.copytree(trained_runs["stories"], tmp_path / "run")
    with Run.resume(run_dir, max_iters=1) as run:  # one step, so the optimizer has moments
        train(run, progress=False, log=lambda message: None)
    set_in_safetensors(newest(run_dir) / file, tensor, poison)
    argv = ["sample", "--run", run_dir] if command == "sample" else ["train", "--resume", run_dir]
    err = one_line_error(capsys, [*argv, "--max-iters", "3"] if command == "resume" else argv)
    assert file in err and tensor in err and "NaN or Inf" in err


def test_an_optimizer_file_with_missing_entries_is_refused(run_dir, capsys):
    with Run.resume(run_dir, max_iters=1) as run:
        train(run, progress=False, log=lambda message: None)
    set_in_safetensors(newest(run_dir) / "optimizer.safetensors", "3.exp_avg", dict.pop)
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--max-iters", "3"])
    assert "optimizer.safetensors" in err and "missing state '3.exp_avg'" in err


def test_a_model_and_a_tokenizer_not_trained_together_are_refused(trained_runs, tmp_path, capsys):
    addition = shutil.copytree(trained_runs["addition"], tmp_path / "addition")
    stories_tokenizer = newest(trained_runs["stories"]) / "tokenizer.txt"
    shutil.copy(stories_tokenizer, newest(addition) / "tokenizer.txt")
    sizes = [tokenizer.load(stories_tokenizer).vocab_size, 13]
    for argv in (["sample", "--run", addition], ["train", "--resume", addition, "--max-iters", 3],
                 ["graph", "--run", addition, "--out", tmp_path / "g.svg"]):  # fmt: skip
        err = one_line_error(capsys, argv)
        assert str(newest(addition) / "tokenizer.txt") in err and "model.safetensors" in err
        assert f"({sizes[0]} tokens" in err and f"({sizes[1]} tokens" in err
    # The same size, other content: two characters swapped.
    lines = (newest(trained_runs["addition"]) / "tokenizer.txt").read_text().splitlines()
    lines[3], lines[4] = lines[4], lines[3]
    (newest(addition) / "tokenizer.txt").write_text("\n".join(lines) + "\n")
    assert "SHA-256" in one_line_error(capsys, ["sample", "--run", addition])


def test_a_special_token_id_of_999999999999_gives_one_line(trained_runs, tmp_path, capsys):
    bpe = shutil.copytree(trained_runs["bpe"], tmp_path / "bpe")
    path = newest(bpe) / "tokenizer.txt"
    text = path.read_text().replace(
        "special_tokens: 0\n", 'special_tokens: 1\n999999999999 "<|x|>"\n'
    )
    path.write_text(text)
    for argv in (["sample", "--run", bpe], ["train", "--resume", bpe, "--max-iters", 3]):
        assert "1000000000000 tokens" in one_line_error(capsys, argv)


@pytest.mark.parametrize(
    "damage",
    [lambda s: "[1, 2]", lambda s: s.replace('"step": 0', '"step": "zero"'),
     lambda s: s.replace(f'"lr": {TrainConfig().lr}', '"lr": "fast"'),
     lambda s: s.replace('"config": {', '"config": {"surprise": 1, '),
     lambda s: s.replace('"batch_size": 4', '"batch_size": 4.5'), lambda s: s[:-20]],
)  # fmt: skip
def test_a_malformed_state_json_gives_one_line_naming_it(run_dir, capsys, damage):
    state = newest(run_dir) / "state.json"
    changed = damage(state.read_text())
    assert changed != state.read_text()
    state.write_text(changed)
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--max-iters", 3])
    assert "state.json" in err


@pytest.mark.parametrize(
    "param_groups", ['"not a list"', "[]", '[{"params": [0]}, 7]', '[{"lr": "x"}, {}]']
)
def test_malformed_optimizer_metadata_gives_one_line(run_dir, capsys, param_groups):
    path = newest(run_dir) / "optimizer.safetensors"
    arrays = safetensors.numpy.load_file(path)
    metadata = {"format": "tinyllm", "param_groups": param_groups, "step": "0"}
    safetensors.numpy.save_file(arrays, path, metadata=metadata)
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--max-iters", 3])
    assert "optimizer.safetensors" in err


@pytest.mark.parametrize("line", ["[1, 2]", '{"step": "one", "kind": "eval"}', '{"kind": 1}'])
def test_malformed_metrics_give_one_line_naming_them(run_dir, capsys, line):
    (run_dir / "metrics.jsonl").write_text(line + "\n")
    assert "metrics.jsonl, line 1" in one_line_error(capsys, ["plot", "--run", run_dir])
    (newest(run_dir) / "metrics.jsonl").write_text(line + "\n")
    assert "metrics.jsonl, line 1" in one_line_error(
        capsys, ["train", "--resume", run_dir, "--max-iters", 3]
    )


def test_a_metrics_file_cut_short_names_the_line_cut(run_dir, capsys):
    row = '{"step": 0, "train_loss": 1.0, "val_loss": null, "lr": 0.1, "kind": "train"}\n'
    (run_dir / "metrics.jsonl").write_text(row + row + row[:20])
    err = one_line_error(capsys, ["plot", "--run", run_dir])
    assert "metrics.jsonl, line 3: not JSON (" in err and row[:20] in err


@pytest.mark.parametrize("command", ["train", "sample", "plot"])
def test_a_run_directory_name_that_is_not_utf8_gives_one_line(tmp_path, capsys, command):
    name = os.fsdecode(bytes(tmp_path) + b"/run-\xff")
    argv = {"train": ["train", "--out-dir", name], "sample": ["sample", "--run", name],
            "plot": ["plot", "--run", name]}[command]  # fmt: skip
    err = one_line_error(capsys, argv)
    assert "run-\\xff" in err and "not a UTF-8 name" in err


def test_resume_without_a_directory_or_with_nothing_left_to_train(run_dir, capsys):
    assert "--resume" in one_line_error(capsys, ["train", "--resume", ""])
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--no-progress"])
    assert "at step 0 and --max-iters is 0: nothing to train" in err


def test_resume_takes_the_runs_own_flags_again_but_refuses_a_change_to_its_shape(run_dir, capsys):
    cut_short = run_dir / "checkpoints" / ".step-000009.0badc0de.tmp"
    cut_short.mkdir()
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--n-embd", 32, "--no-bias"])
    assert "--no-bias (the run's: --bias), --n-embd 32 (the run's: --n-embd 16); only" in err
    err = one_line_error(capsys, ["train", "--resume", run_dir, "--llama"])
    assert "--norm 'rmsnorm' (the run's: --norm 'layernorm')" in err
    assert cut_short.is_dir() and not capsys.readouterr().out  # refused before anything is done
    again = ["--out-dir", run_dir / ".." / run_dir.name, *TINY_FLAGS]  # the run's whole command
    assert main(["train", "--resume", str(run_dir), *map(str, again)]) == 0
    assert newest(run_dir).name == "step-000004" and not cut_short.exists()
    with pytest.raises(TypeError, match="unknown flags: n_embed"):
        TrainConfig().resumed_with(n_embed=32)


def test_resume_takes_a_llama_runs_and_a_tokenizer_files_flags_again(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["tokenizer", "train", "--corpus", "stories", "--vocab-size", "260",
                 "--out", "my.tok"]) == 0  # fmt: skip
    train_tiny(tmp_path / "run", llama=True, tokenizer="my.tok", max_iters=2)
    flags = ["--llama", "--tokenizer", "my.tok", *TINY_FLAGS]
    assert main(["train", "--resume", "run", *flags]) == 0
    assert newest(tmp_path / "run").name == "step-000004"


def test_ctrl_c_in_sample_stops_cleanly(run_dir, monkeypatch, capsys):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(GPT, "generate", interrupted)
    assert "interrupted" in one_line_error(capsys, ["sample", "--run", run_dir], status=130)


def test_resume_finds_its_corpus_from_anywhere_and_a_moved_one_by_its_content(
    tmp_path, monkeypatch, capsys
):
    (tmp_path / "a").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    assert main(["corpus", "stories", "--out", "corpus.txt", "--chars", "20000"]) == 0
    train_tiny(tmp_path / "run", corpus="corpus.txt", max_iters=2)
    state = json.loads((newest(tmp_path / "run") / "state.json").read_text())
    assert state["config"]["corpus"] == str(tmp_path / "a" / "corpus.txt")

    monkeypatch.chdir(tmp_path)  # a resume from another directory
    with Run.resume("run", max_iters=3) as run:
        assert run.step == 2
    os.rename("a/corpus.txt", "moved.txt")
    err = one_line_error(capsys, ["train", "--resume", "run", "--max-iters", 3])
    assert "corpus.txt" in err and "--corpus" in err
    other = (tmp_path / "moved.txt").read_text(encoding="utf-8").replace("Luna", "Lena")
    (tmp_path / "other.txt").write_text(other, encoding="utf-8")
    err = one_line_error(capsys, ["train", "--resume", "run", "--corpus", "other.txt"])
    assert "differs" in err and "other.txt" in err
    with Run.resume("run", max_iters=3, corpus="moved.txt") as run:
        train(run, progress=False, log=lambda message: None)
    state = json.loads((newest(tmp_path / "run") / "state.json").read_text())
    assert state["config"]["corpus"] == str(tmp_path / "moved.txt") and state["step"] == 3


def test_a_model_file_whose_config_is_too_big_for_memory_is_refused_before_building_it(
    run_dir, capsys
):
    path = newest(run_dir) / "model.safetensors"
    arrays = safetensors.numpy.load_file(path)
    with open(path, "rb") as f:
        metadata = json.loads(f.read(int.from_bytes(f.read(8), "little")))["__metadata__"]
    config = {**json.loads(metadata["config"]), "n_embd": 10**6}
    safetensors.numpy.save_file(arrays, path, metadata={**metadata, "config": json.dumps(config)})
    err = one_line_error(capsys, ["sample", "--run", run_dir])
    assert "the model in" in err and "model.safetensors needs about" in err


def test_without_graphviz_the_graph_command_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere on it
    err = one_line_error(capsys, ["graph", "--out", tmp_path / "g.svg"])
    assert "dot" in err and "apt-get install graphviz" in err
    assert not (tmp_path / "g.svg").exists()


def test_without_graphviz_a_run_ends_well_and_says_why_its_graph_is_missing(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["train", *TINY_FLAGS, "--out-dir", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "graph.svg not drawn" in out and "apt-get install graphviz" in out
    assert (tmp_path / "run" / "loss.png").is_file()
    assert not (tmp_path / "run" / "graph.svg").exists()


def test_a_reader_that_has_gone_ends_the_command_quietly(tmp_path):
    run_dir = train_tiny(tmp_path / "run")
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    child = subprocess.Popen(  # as `tinyllm sample | head -c0`: no one reads what it prints
        [sys.executable, "-m", "model", "sample", "--run", str(run_dir), "--seed=0"],
        env=buffered,  # what is printed waits in Python's buffer until the exit
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    child.stdout.close()
    with child.stderr:
        err = child.stderr.read()
    assert child.wait(timeout=60) == 128 + signal.SIGPIPE and err == ""
