"""Tiny training runs, and the check that the command line failed in one line: shared by the
command-line tests (test_cli_errors.py, test_hf_cli.py)."""

from model.cli import main
from model.corpus import CORPORA
from model.run import Run
from model.train import train
from model.train_config import TrainConfig

TINY = dict(
    corpus="stories", corpus_chars=20_000, block_size=16, n_layer=1, n_head=2, n_embd=16,
    batch_size=4, max_iters=4, lr_decay_iters=4, warmup_iters=1, eval_interval=2,
    eval_batches=1, log_interval=1,
)  # fmt: skip
TINY_FLAGS = [f"--{k.replace('_', '-')}={v}" for k, v in TINY.items()] + ["--no-progress"]


def train_tiny(run_dir, **overrides):
    """Train a TINY run (with `overrides`) into `run_dir`, quietly; returns run_dir."""
    flags = {**TINY, "out_dir": str(run_dir), **overrides}
    if flags["corpus"] not in CORPORA:  # a file: all of it, not corpus_chars of a generated one
        del flags["corpus_chars"]
    config = TrainConfig.from_flags(**flags)
    with Run.create(config) as run:
        train(run, progress=False, log=lambda message: None)
    return run_dir


def one_line_error(capsys, argv, status=2):
    """Run the CLI; check it ended with `status` and one line on stderr; return that line."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    assert code == status, err
    assert len(err.strip().splitlines()) == 1, err
    return err
