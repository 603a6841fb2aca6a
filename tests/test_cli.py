"""The `tinyllm` command line, run in a temporary directory."""

import contextlib
import fcntl
import importlib.metadata
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

from model.cli import main

TINY_FLAGS = [
    "--corpus-chars", "20000", "--block-size", "16", "--n-layer", "1", "--n-head", "2",
    "--n-embd", "16", "--batch-size", "4", "--max-iters", "4", "--lr-decay-iters", "4",
    "--warmup-iters", "1", "--eval-interval", "2", "--eval-batches", "1", "--no-progress",
]  # fmt: skip


def test_train_sample_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--out-dir", str(run), *TINY_FLAGS]) == 0
    out = capsys.readouterr().out
    assert "entropy floor" in out and "Samples:" in out
    assert (run / "samples.txt").read_text().strip()
    assert main(["sample", "--run", str(run), "--prompt", "Once", "--max-new-tokens", "20",
                 "--seed", "1"]) == 0  # fmt: skip
    first = capsys.readouterr().out
    assert first.startswith("Once")
    main(["sample", "--run", str(run), "--prompt", "Once", "--max-new-tokens", "20", "--seed", "1"])
    assert capsys.readouterr().out == first  # a seed makes it reproducible
    unseeded = []
    for _ in range(2):
        main(["sample", "--run", str(run), "--prompt", "Once", "--max-new-tokens", "20"])
        unseeded.append(capsys.readouterr().out)
    assert unseeded[0] != unseeded[1]  # without one, a new sample each time
    newest = run / "checkpoints" / "step-000004"  # --run may name a checkpoint directory
    main(
        [
            "sample",
            "--run",
            str(newest),
            "--prompt",
            "Once",
            "--max-new-tokens",
            "20",
            "--seed",
            "1",
        ]
    )
    assert capsys.readouterr().out == first
    assert main(["train", "--resume", str(run), "--max-iters", "6", "--no-progress"]) == 0
    assert json.loads((run / "checkpoints" / "step-000006" / "state.json").read_text())["step"] == 6
    assert main(["plot", "--run", str(run)]) == 0
    assert (run / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (run / "embeddings.png").is_file()


def test_the_runs_samples_are_what_sample_gives_by_default(tmp_path, capsys):
    # The run's own samples continue `tinyllm sample`'s default prompt, a newline, so that
    # they open where the corpus's lines do rather than inside a word.
    run = tmp_path / "run"
    assert main(["train", "--out-dir", str(run), *TINY_FLAGS, "--seed", "5"]) == 0
    capsys.readouterr()
    assert main(["sample", "--run", str(run), "--seed", "5", "--num-samples", "3"]) == 0
    printed = capsys.readouterr().out.split("\n" + "-" * 40 + "\n")[:3]
    saved = (run / "samples.txt").read_text().split("\n" + "-" * 60 + "\n")
    saved[-1] = saved[-1].removesuffix("\n")
    assert printed == ["\n" + sample for sample in saved]


def test_a_corpus_without_newlines_still_gets_its_samples_without_the_prompt(tmp_path):
    # No newline to start from: the samples continue the corpus's first token, and each holds
    # only the 300 tokens sampled (with the prompt it would be 301).
    text = tmp_path / "one_line.txt"
    text.write_text("abcab cba " * 300)
    run = tmp_path / "run"
    flags = [f for f in TINY_FLAGS if f not in ("--corpus-chars", "20000")]
    assert main(["train", "--out-dir", str(run), "--corpus", str(text), *flags]) == 0
    samples = (run / "samples.txt").read_text().split("\n" + "-" * 60 + "\n")
    assert len(samples) == 3 and all(len(sample) == 300 for sample in samples[:2])


def test_graph_command_renders_svg(tmp_path, capsys):
    out = tmp_path / "g.svg"
    assert main(["graph", "--depth", "1", "--out", str(out)]) == 0
    svg = out.read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "transformer.h.0" in svg and "lm_head" in svg


def test_graph_draws_the_reference_math_unless_asked_for_the_kernels(tmp_path, capsys):
    reference, fused = tmp_path / "reference.svg", tmp_path / "fused.svg"
    assert main(["graph", "--depth", "9", "--out", str(reference)]) == 0
    assert main(["graph", "--depth", "9", "--fused", "--out", str(fused)]) == 0
    reference_svg, fused_svg = reference.read_text("utf-8"), fused.read_text("utf-8")
    for math in ("softmax", "causal mask", "log_softmax", "sqrt"):
        assert math in reference_svg and math not in fused_svg
    assert "fused" not in reference_svg
    assert "fused_packed_attention" in fused_svg and "fused_cross_entropy" in fused_svg


def test_corpus_command_writes_the_generated_text(tmp_path, capsys):
    out = tmp_path / "stories.txt"
    assert main(["corpus", "stories", "--out", str(out), "--chars", "3000"]) == 0
    text = out.read_text(encoding="utf-8")
    assert len(text) >= 3000 and "\n" in text


def test_tokenizer_command(tmp_path, capsys):
    corpus = tmp_path / "c.txt"
    main(["corpus", "stories", "--out", str(corpus), "--chars", "20000"])
    out = tmp_path / "t.tok"
    assert main(["tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "300",
                 "--out", str(out)]) == 0  # fmt: skip
    import tokenizer

    tok = tokenizer.load(out)
    assert tok.vocab_size == 300
    assert tok.decode(tok.encode("Once upon a time")) == "Once upon a time"
    assert capsys.readouterr().out.endswith(f"wrote {out}: 300 tokens\n")
    small = tmp_path / "small.txt"
    small.write_text("abab " * 40)  # pairs for a few merges only
    assert main(["tokenizer", "train", "--corpus", str(small), "--vocab-size", "1000",
                 "--out", str(out), "--pattern", "none"]) == 0  # fmt: skip
    merges = len(tokenizer.load(out).merges)
    assert 0 < merges < 10
    asked = f"wrote {out}: {256 + merges} tokens (of 1,000 asked: the corpus has no more pairs"
    assert asked in capsys.readouterr().out
    flags = [f for f in TINY_FLAGS if f not in ("--corpus-chars", "20000")]
    hf = tmp_path / "t.json"  # a .json name: Hugging Face's tokenizer.json, not our format
    assert main(["tokenizer", "train", "--corpus", str(corpus), "--vocab-size", "300",
                 "--out", str(hf)]) == 0  # fmt: skip
    assert json.loads(hf.read_text(encoding="utf-8"))["model"]["type"] == "BPE"
    text = corpus.read_text(encoding="utf-8")[:2000]
    assert tokenizer.load(hf).encode(text) == tok.encode(text)  # the same tokenizer, read back
    small.write_text("abab " * 400)  # enough tokens for a run's two splits
    argv = ["train", "--corpus", str(small), "--tokenizer", "bpe", "--bpe-vocab-size", "1000"]
    assert main([*argv, *flags, "--max-iters", "0", "--out-dir", str(tmp_path / "run")]) == 0
    made = r"; vocabulary 2\d\d \(of 1,000 asked: the corpus has no more pairs to merge\);"
    assert re.search(made, capsys.readouterr().out)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["train", "--n-layer", "many"], "--n-layer"),
        (["train", "--n-embd", "10", "--n-head", "4", "--no-progress"], "n_embd"),
        (["train", "--corpus", "no/such/file.txt", "--no-progress"], "no/such/file.txt"),
        (["sample", "--run", "no/such/run"], "no/such/run"),
        (["train", "--resume", "no/such/run", "--n-layer", "2"], "no/such/run"),
        (["frobnicate"], "frobnicate"),
    ],
)
def test_bad_arguments_give_one_line_and_status_2(tmp_path, monkeypatch, capsys, argv, words):
    monkeypatch.chdir(tmp_path)
    try:
        status = main(argv)
    except SystemExit as e:
        status = e.code
    err = capsys.readouterr().err
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and words in err


def test_python_dash_m_model_has_help():
    result = subprocess.run([sys.executable, "-m", "model", "train", "--help"],
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert "--n-layer" in result.stdout and "--resume" in result.stdout


def test_version_comes_from_the_package_metadata(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"tinyllm {importlib.metadata.version('tinyllm')}\n"


def test_the_entry_point_imports_nothing_heavy_before_it_runs():
    code = (
        "import sys, model.cli_entry; print(sorted({'numpy', 'engine', 'nn'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "[]\n"
    [script] = [
        e for e in importlib.metadata.entry_points(group="console_scripts") if e.name == "tinyllm"
    ]
    assert script.value == "model.cli_entry:main"


def test_ctrl_c_while_the_command_loads_is_one_line_and_status_130(monkeypatch, capsys):
    from model import cli_entry

    class Interrupted:  # an import finder that is "pressed Ctrl-C" while model.cli loads
        def find_spec(self, name, path=None, target=None):
            if name == "model.cli":
                raise KeyboardInterrupt
            return None

    monkeypatch.delitem(sys.modules, "model.cli")
    monkeypatch.delattr("model.cli")  # the package's attribute, set when it was imported
    monkeypatch.setattr(sys, "meta_path", [Interrupted(), *sys.meta_path])
    try:
        status = cli_entry.main(["--version"])
    except KeyboardInterrupt:  # let through, it would stop the whole test run
        pytest.fail("Ctrl-C during the imports came out of the entry point")
    assert status == 130
    assert capsys.readouterr().err == "tinyllm: interrupted\n"


# ---- progress: a bar on a terminal, plain lines in a log, nothing with TQDM_DISABLE -----------

PROGRESS_FLAGS = [flag for flag in TINY_FLAGS if flag != "--no-progress"] + ["--log-interval", "1"]
STEP_LINE = re.compile(r"^step (\d+): loss \d+\.\d{4}, lr ", flags=re.M)


def train_command(tmp_path, **streams):
    """`python -m model train` on the tiny flags, its output to `streams`, TQDM_DISABLE unset."""
    env = {k: v for k, v in os.environ.items() if k != "TQDM_DISABLE"}
    argv = [sys.executable, "-m", "model", "train", "--out-dir", str(tmp_path / "run")]
    return subprocess.run([*argv, *PROGRESS_FLAGS], env=env, cwd=tmp_path, check=True, **streams)


def test_a_log_written_to_a_file_has_plain_step_lines_and_no_carriage_return(tmp_path):
    log = tmp_path / "train.log"
    with open(log, "wb") as f:
        train_command(tmp_path, stdout=f, stderr=subprocess.STDOUT)
    text = log.read_bytes().decode("utf-8")
    assert "\r" not in text
    assert [int(step) for step in STEP_LINE.findall(text)] == [1, 2, 3, 4]
    assert text.index("step 2: loss") < text.index("step 2: train loss")  # in order


def test_on_a_terminal_the_bar_is_drawn_instead_of_the_lines(tmp_path):
    terminal, stderr = pty.openpty()  # stderr is a terminal, as in an interactive shell
    fcntl.ioctl(stderr, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 100 columns
    try:
        printed = train_command(tmp_path, stdout=subprocess.PIPE, stderr=stderr).stdout
    finally:
        os.close(stderr)
    drawn = b""
    with contextlib.suppress(OSError):  # Linux says EIO once the terminal's other end is shut
        while chunk := os.read(terminal, 65536):
            drawn += chunk
    os.close(terminal)
    assert b"\r" in drawn and b"4/4" in drawn and b"loss=" in drawn
    assert b"step 2: train loss" in printed and not STEP_LINE.search(printed.decode("utf-8"))


def test_tqdm_disable_turns_off_the_bar_and_the_lines(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TQDM_DISABLE", "1")
    assert main(["train", "--out-dir", str(tmp_path / "run"), *PROGRESS_FLAGS]) == 0
    out, err = capsys.readouterr()
    assert "step 2: train loss" in out and not STEP_LINE.search(out) and "\r" not in err
