"""The command line with Hugging Face directories: `export`, `sample --run HF_DIR`,
`train --init-from`, `train --tokenizer PATH` and `graph --run HF_DIR`, on tiny runs."""

import errno
import json
import os
import warnings

import numpy as np
import pytest
import safetensors.numpy
from tiny_runs import one_line_error, train_tiny

import tokenizer
from model import GPT
from model.cli import main
from model.run import Run

RUN_FLAGS = ["--corpus-chars", "20000", "--batch-size", "4", "--max-iters", "2",
             "--lr-decay-iters", "4", "--warmup-iters", "1", "--eval-interval", "2",
             "--eval-batches", "1", "--no-progress"]  # fmt: skip
FILE_RUN_FLAGS = [f for f in RUN_FLAGS if f not in ("--corpus-chars", "20000")]  # read whole


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A GPT-2-shaped run with a BPE tokenizer, and a Llama-like one with characters."""
    root = tmp_path_factory.mktemp("runs")
    return {
        "gpt2": train_tiny(root / "gpt2", max_iters=2, tokenizer="bpe", bpe_vocab_size=280),
        "llama": train_tiny(root / "llama", max_iters=2, llama=True, n_head=4, n_kv_head=2),
    }


def run_main(capsys, argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def sample(capsys, run):
    argv = ["sample", "--run", run, "--prompt", "Once", "--max-new-tokens", "12", "--seed", "3"]
    return run_main(capsys, argv)


@pytest.mark.parametrize("kind", ["gpt2", "llama"])
def test_export_then_sample_the_hf_directory(runs, kind, tmp_path, capsys):
    out = run_main(capsys, ["export", "--run", runs[kind], "--out", tmp_path / "hf"])
    architecture = {"gpt2": "GPT2LMHeadModel", "llama": "LlamaForCausalLM"}[kind]
    assert f"({architecture})" in out and "tokenizer.json" in out
    config = json.loads((tmp_path / "hf" / "config.json").read_text())
    assert config["architectures"] == [architecture]
    assert sample(capsys, tmp_path / "hf") == sample(capsys, runs[kind])  # the same model
    ours, _ = Run.load_for_sampling(runs[kind])
    theirs = GPT.from_pretrained(tmp_path / "hf")
    pairs = zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True)
    assert all(np.array_equal(a, b) for a, b in pairs)
    text = "Once upon a time, Luna\n"
    _, tok = Run.load_for_sampling(runs[kind])
    assert tokenizer.from_pretrained(tmp_path / "hf").encode(text) == tok.encode(text)
    hf = tmp_path / "hf"
    for argv in (["--out-dir", hf], ["--resume", hf]):  # a model to start from, not a run
        err = one_line_error(capsys, ["train", *argv])
        assert f"{hf} is a Hugging Face model directory, not a run" in err


def test_export_refuses_a_used_directory_and_a_model_neither_format_has(runs, tmp_path, capsys):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "notes.txt").write_text("mine")
    err = one_line_error(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "used"])
    assert "already exists and is not an empty directory" in err
    (tmp_path / "a-file").write_text("mine")
    err = one_line_error(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "a-file"])
    assert err.endswith(
        f"error: --out {tmp_path / 'a-file'} is a file; name a new or empty directory\n"
    )
    err = one_line_error(
        capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "a-file" / "hf"]
    )
    assert err.endswith(
        f"error: --out {tmp_path / 'a-file' / 'hf'}: {tmp_path / 'a-file'} is not a directory\n"
    )
    mixed = train_tiny(tmp_path / "mixed", pos="rope", max_iters=0)
    err = one_line_error(capsys, ["export", "--run", mixed, "--out", tmp_path / "hf"])
    assert "neither Hugging Face format can express this model" in err and "pos='rope'" in err
    assert not (tmp_path / "hf").exists()
    err = one_line_error(
        capsys, ["export", "--run", mixed, "--out", tmp_path / "new" / "er" / "hf"]
    )
    assert "neither Hugging Face format" in err and not (tmp_path / "new").exists()  # nor parents


def test_an_export_cut_short_leaves_nothing_to_block_the_next(runs, tmp_path, monkeypatch, capsys):
    def full_disk(tok, directory):  # the model's files are written; the tokenizer's fail
        (directory / "tokenizer.json").write_text('{"version": "1.')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(directory / "tokenizer.json"))

    monkeypatch.setattr(tokenizer.BPETokenizer, "save_pretrained", full_disk)
    err = one_line_error(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "hf"])
    assert "tokenizer.json: No space left on device" in err
    assert os.listdir(tmp_path) == []  # neither a partial hf/ nor its hidden temporary
    monkeypatch.undo()
    (tmp_path / "hf").mkdir()  # an empty directory is filled, as before
    run_main(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "hf"])
    assert os.listdir(tmp_path) == ["hf"] and (tmp_path / "hf" / "tokenizer.json").is_file()
    assert GPT.from_pretrained(tmp_path / "hf").config.vocab_size == 280
    run_main(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "new" / ".." / "hf2"])
    assert (tmp_path / "hf2" / "config.json").is_file() and (tmp_path / "new").is_dir()
    run_main(capsys, ["export", "--run", runs["gpt2"], "--out", tmp_path / "a" / "b" / "hf"])
    assert (
        tmp_path / "a" / "b" / "hf" / "config.json"
    ).is_file()  # its parents made, as --out-dir's


@pytest.mark.parametrize("source", ["run", "hf"])
def test_init_from_fine_tunes_with_the_models_shape_and_tokenizer(runs, source, tmp_path, capsys):
    start = runs["gpt2"]
    if source == "hf":
        run_main(capsys, ["export", "--run", start, "--out", tmp_path / "hf"])
        start = tmp_path / "hf"
    corpus = tmp_path / "new.txt"
    corpus.write_text("The cat sat on the mat. " * 400)
    new = tmp_path / "new"
    argv = [
        "train",
        "--init-from",
        start,
        "--corpus",
        corpus,
        "--out-dir",
        new,
        "--block-size",
        "8",
    ]
    run_main(
        capsys, [*argv, "--n-layer", "1", *FILE_RUN_FLAGS, "--max-iters", "0"]
    )  # n_layer agrees
    tuned, _ = Run.load_for_sampling(new)
    base, base_tok = Run.load_for_sampling(runs["gpt2"])
    assert tuned.config.block_size == 8 and tuned.config.n_embd == base.config.n_embd
    assert tuned.config.vocab_size == base.config.vocab_size
    wpe = base.transformer.wpe.weight.data
    np.testing.assert_array_equal(tuned.transformer.wpe.weight.data, wpe[:8])  # the first rows
    np.testing.assert_array_equal(tuned.transformer.h[0].mlp.c_fc.weight.data,
                                  base.transformer.h[0].mlp.c_fc.weight.data)  # fmt: skip
    state = json.loads(next(new.glob("checkpoints/*/state.json")).read_text())
    assert state["config"]["init_from"] == str(start.resolve())
    tok = tokenizer.load(next(new.glob("checkpoints/*/tokenizer.txt")))
    assert tok.encode("The cat sat.") == base_tok.encode("The cat sat.")
    run_main(capsys, ["train", "--resume", new, "--max-iters", "2", "--no-progress"])
    assert (new / "checkpoints" / "step-000002").is_dir()


def test_a_model_padded_past_its_tokenizer_is_read_without_the_padding(runs, tmp_path, capsys):
    hf = tmp_path / "hf"
    run_main(capsys, ["export", "--run", runs["gpt2"], "--out", hf])
    model = GPT.from_pretrained(hf)
    n = model.config.vocab_size
    state = {
        k: np.asarray(a) for k, a in safetensors.numpy.load_file(hf / "model.safetensors").items()
    }
    wte = state["transformer.wte.weight"]
    padding = 50 * np.tile(wte.mean(0), (n % 64 + 7, 1))  # rows likelier than any real token's
    state["transformer.wte.weight"] = np.concatenate([wte, padding]).astype(wte.dtype)
    safetensors.numpy.save_file(state, hf / "model.safetensors", metadata={"format": "pt"})
    config = json.loads((hf / "config.json").read_text())
    (hf / "config.json").write_text(json.dumps({**config, "vocab_size": len(wte) + len(padding)}))
    assert GPT.from_pretrained(hf).config.vocab_size > n  # as the file has it
    said = f"rows {n} to {len(wte) + len(padding) - 1} are read as padding"
    with pytest.warns(UserWarning, match=said):
        cut, _ = Run.load_for_sampling(hf)
    assert cut.config.vocab_size == n
    ids = np.array([[1, 2, 3]])
    np.testing.assert_array_equal(cut(ids)[0].data, model(ids)[0].data)  # the real tokens' rows
    new = tmp_path / "new"
    corpus = tmp_path / "new.txt"
    corpus.write_text("The cat sat on the mat. " * 400)
    sampling = ["sample", "--run", hf, "--max-new-tokens", "20", "--temperature", "2"]
    fine_tuning = ["train", "--init-from", hf, "--corpus", corpus, "--out-dir", new]
    for argv in (sampling, [*fine_tuning, *FILE_RUN_FLAGS]):
        with warnings.catch_warnings():
            warnings.simplefilter("default")  # shown, not raised as everywhere else in the suite
            assert main([str(a) for a in argv]) == 0
        warned = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
        rows = len(wte) + len(padding)
        head = f"tinyllm {argv[0]}: warning: {hf}: the model has {rows} token rows and its "
        assert len(warned) == 1 and warned[0].startswith(f"{head}tokenizer {n} tokens; {said}")
    assert Run.load_for_sampling(new)[0].config.vocab_size == n
    sample(capsys, new)


@pytest.mark.parametrize(
    ("flags", "words"),
    [(["--n-layer", "3"], ["--n-layer 3 contradicts the model", "n_layer is 1"]),
     (["--llama"], ["drop --llama"]),
     (["--tokenizer", "char"], ["drop --tokenizer"]),
     (["--bpe-vocab-size", "300"], ["--bpe-vocab-size is read only with --tokenizer bpe, and "
                                    "this run takes the --init-from model's: drop it"]),
     (["--block-size", "32"], ["--block-size 32 is longer", "(16)"]),
     (["--no-tie-weights"], ["--tie-weights False contradicts"])],
)  # fmt: skip
def test_init_from_refuses_flags_that_contradict_the_model(runs, flags, words, tmp_path, capsys):
    argv = ["train", "--init-from", runs["gpt2"], "--out-dir", tmp_path / "x", *flags, *RUN_FLAGS]
    err = one_line_error(capsys, argv)
    assert all(word in err for word in words), err
    assert not (tmp_path / "x").exists()


def test_init_from_a_directory_with_no_model_or_a_pickle(tmp_path, capsys):
    (tmp_path / "nothing").mkdir()
    err = one_line_error(capsys, ["train", "--init-from", tmp_path / "nothing", *RUN_FLAGS])
    assert "holds no complete checkpoint" in err
    (tmp_path / "nothing" / "pytorch_model.bin").write_bytes(b"not to be read")
    err = one_line_error(capsys, ["train", "--init-from", tmp_path / "nothing", *RUN_FLAGS])
    assert "pytorch_model.bin is a pickle, which tinyllm never loads" in err


@pytest.mark.parametrize("kind", ["file", "hf-dir", "tokenizer.json"])
def test_train_with_an_existing_tokenizer(runs, kind, tmp_path, capsys):
    _, tok = Run.load_for_sampling(runs["gpt2"])
    path = {"file": tmp_path / "tok.txt", "hf-dir": tmp_path / "hf-tok"}.get(kind)
    if kind == "file":
        tok.save(path)
    else:
        tok.save_pretrained(tmp_path / "hf-tok")
        path = tmp_path / "hf-tok" / ("tokenizer.json" if kind == "tokenizer.json" else "")
    flags = ["--block-size", "16", "--n-layer", "1", "--n-head", "2", "--n-embd", "16"]
    run_main(
        capsys, ["train", "--tokenizer", path, "--out-dir", tmp_path / "r", *flags, *RUN_FLAGS]
    )
    _, used = Run.load_for_sampling(tmp_path / "r")
    assert used.vocab_size == tok.vocab_size and used.encode("Once upon") == tok.encode("Once upon")


def test_a_missing_tokenizer_path(tmp_path, capsys):
    err = one_line_error(capsys, ["train", "--tokenizer", tmp_path / "nope.txt", *RUN_FLAGS,
                                  "--out-dir", tmp_path / "r"])  # fmt: skip
    assert "nope.txt: neither 'char', 'bpe' nor an existing tokenizer" in err


def test_graph_of_an_hf_directory(runs, tmp_path, capsys):
    run_main(capsys, ["export", "--run", runs["llama"], "--out", tmp_path / "hf"])
    out = tmp_path / "g.svg"
    assert str(out) in run_main(
        capsys, ["graph", "--run", tmp_path / "hf", "--depth", "1", "--out", out]
    )
    assert "transformer.h.0" in out.read_text(encoding="utf-8")
