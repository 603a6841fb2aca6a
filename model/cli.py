"""The `tinyllm` command line (also `python -m model`).

    tinyllm train                      the default run: a char-level GPT on generated stories
    tinyllm train --corpus my.txt --n-layer 6 --out-dir runs/mine
    tinyllm train --resume runs/NAME
    tinyllm train --resume runs/NAME --lr 2e-4 --min-lr 2e-5    after the run diverged
    tinyllm sample --run runs/NAME --prompt "Once upon a time"
    tinyllm sample --run runs/NAME/checkpoints/step-000500      a kept, older checkpoint
    tinyllm sample --run gpt2 --prompt "Hello"                  a Hugging Face model directory
    tinyllm export --run runs/NAME --out hf/NAME                as a Hugging Face directory
    tinyllm train --init-from gpt2 --corpus my.txt --block-size 256     fine-tune a model
    tinyllm train --tokenizer my.tok --corpus my.txt            a tokenizer made before
    tinyllm tokenizer train --corpus my.txt --vocab-size 1024 --out my.tok
    tinyllm corpus stories --out stories.txt
    tinyllm graph --depth 2 --out graph.svg
    tinyllm plot --run runs/NAME
    tinyllm --version

Every user error (a bad argument, a damaged or mismatched file, a size too big for memory, a
run that diverged) ends with one line on stderr and exit status 2, and a warning is one line
too; a traceback means a bug.
Training stopped by Ctrl-C or SIGTERM saves, prints how to resume, and exits with 130 or 143;
a second Ctrl-C stops at once, and says which checkpoint is the newest. A reader of the output
that has gone (`tinyllm train | head`) stops training the same way, with 141 (128 + SIGPIPE);
any other command then ends quietly, with 141 too.
Each command's flags and help texts are in model/cli_parser.py, the checks of the paths it is
given in model/cli_paths.py.
"""

import functools
import json
import os
import select
import shlex
import signal
import sys
import warnings
from dataclasses import fields
from pathlib import Path

import numpy as np

from engine.files import atomic_directory, write_atomic
from model import cli_paths, corpus, memory
from model.cli_parser import build_parser
from model.gpt import GPTConfig
from model.train_config import TrainConfig


def main(argv=None):
    """Run the command in `argv` (default: sys.argv); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():  # a warning as one line, as an error is
            warnings.showwarning = functools.partial(_show_warning, args.command)
            cli_paths.check_paths(args)
            status = COMMANDS[args.command](args)
            if sys.stdout is not None:
                sys.stdout.flush()  # here, where a reader that has gone is caught below
            return status
    except BrokenPipeError as e:
        if not _reader_gone(sys.stdout):
            return _error(args, e)
        from model.train import discard_stdout

        discard_stdout()  # `tinyllm sample | head`: the reader has all it wanted
        return 128 + signal.SIGPIPE
    except KeyboardInterrupt as e:
        where = f"; {e}" if str(e) else ""  # train says which checkpoint is the newest
        print(f"tinyllm {args.command}: interrupted{where}", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ValueError, OSError, MemoryError, FloatingPointError) as e:
        # CheckpointError is a ValueError, TrainingDiverged a FloatingPointError.
        return _error(args, e)


def _error(args, e):
    """Say the error `e` in one line on stderr; returns the exit status, 2."""
    text = str(e)
    if isinstance(e, OSError) and e.strerror and e.filename is not None:  # not "[Errno 2]"
        name = e.filename if isinstance(e.filename, int) else os.fsdecode(e.filename)
        text = f"{name}: {e.strerror}"
    print(f"tinyllm {args.command}: error: {_one_line(text) or type(e).__name__}", file=sys.stderr)
    return 2


def _reader_gone(stream):
    """Whether `stream` is a pipe whose reader has closed it (poll reports an error on it):
    what a broken pipe on stdout means, rather than one of another file's."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):  # None, or not a file (a test's capture)
        return False
    poll = select.poll()
    poll.register(fd, select.POLLOUT)
    return any(events & select.POLLERR for _, events in poll.poll(0))


def _show_warning(command, message, *category_and_where):
    print(f"tinyllm {command}: warning: {_one_line(str(message))}", file=sys.stderr)


def _one_line(text):
    """`text`'s lines joined with "; ": a message on the command line is one line."""
    return "; ".join(line.strip() for line in text.splitlines() if line.strip())


def cmd_train(args):
    """`tinyllm train`: a new run from the flags, or `--resume DIR`."""
    from model.report import final_report
    from model.run import Run
    from model.train import train

    names = [f.name for f in fields(GPTConfig) + fields(TrainConfig)]
    overrides = {name: getattr(args, name) for name in names if name in args}
    if args.resume is not None:
        run = Run.resume(args.resume, llama=args.llama, **overrides)
        if run.step >= run.config.max_iters:
            run.close()
            raise ValueError(
                f"{args.resume} is at step {run.step} and --max-iters is "
                f"{run.config.max_iters}: nothing to train; give a larger --max-iters to go on"
            )
        print(f"Resuming {args.resume} at step {run.step}")
    else:
        run = Run.create(TrainConfig.from_flags(llama=args.llama, **overrides))
    with run:
        vocabulary = f"{run.tokenizer.vocab_size:,}"
        if run.config.tokenizer == "bpe":
            vocabulary += _short_note(run.tokenizer.vocab_size, run.config.bpe_vocab_size)
        print(
            f"{run.model.num_params():,} parameters; {len(run.data.train):,} training tokens; "
            f"vocabulary {vocabulary}; run directory {run.dir}"
        )
        try:
            train(run, progress=not args.no_progress)
        except KeyboardInterrupt:  # a second Ctrl-C, which does not wait for the step to end
            if run.saved_step is None:
                raise KeyboardInterrupt("nothing was saved") from None
            raise KeyboardInterrupt(
                f"the newest checkpoint is step {run.saved_step}; resume with: tinyllm train "
                f"--resume {shlex.quote(str(run.dir))}"
            ) from None
        if run.interrupted_by is not None:
            return 128 + run.interrupted_by
        final_report(run)
    return 0


def cmd_sample(args):
    """`tinyllm sample`: continue a prompt with a trained run's model."""
    from model.run import Run

    cli_paths.check_utf8("--prompt", args.prompt, "not UTF-8 text")
    model, tokenizer = Run.load_for_sampling(args.run)
    try:
        ids = tokenizer.encode(args.prompt)
    except ValueError as e:  # a character a character tokenizer never saw, say
        raise ValueError(f"--prompt: {args.run}'s tokenizer: {e}") from e
    if not ids:
        raise ValueError(
            "--prompt '' has no tokens to continue; give some text (default: a newline)"
        )
    length = len(ids) + args.max_new_tokens
    parts = memory.sampling_bytes(model.config, args.num_samples, length)
    memory.check_fits(parts, f"sampling {args.num_samples:,} x {length:,} tokens")
    seed = args.seed
    if seed is None:  # a new sample each time, as PyTorch's generator starts from a random seed
        seed = np.random.SeedSequence().entropy
    prompt = np.array([ids] * args.num_samples)
    out = model.generate(
        prompt,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=seed,
    )
    for row in out:
        print(tokenizer.decode(row.tolist()))
        print("-" * 40)
    return 0


def cmd_export(args):
    """`tinyllm export`: a run's model and tokenizer as a Hugging Face directory."""
    from model.run import Run

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file; name a new or empty directory")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"--out {out} already exists and is not an empty directory")
    cli_paths.refuse_run_files(out)
    model, tokenizer = Run.load_for_sampling(args.run)
    made = cli_paths.make_parents(out)
    try:
        with atomic_directory(out) as directory:  # a failed export leaves no half directory
            paths = model.save_pretrained(directory, tokenizer=tokenizer)
            architecture = json.loads(paths[0].read_text(encoding="utf-8"))["architectures"][0]
    except BaseException:  # nor the directories made for it
        cli_paths.remove_made(made)
        raise
    print(f"wrote {out} ({architecture}): {', '.join(p.name for p in paths)}")
    return 0


def cmd_tokenizer(args):
    """`tinyllm tokenizer train`: train a BPE tokenizer on a corpus and save it."""
    import tokenizer as tok

    inputs = [] if args.corpus in corpus.CORPORA else [("--corpus", args.corpus)]
    cli_paths.check_out(args.out, inputs)
    text, _ = corpus.load(args.corpus, min_chars=1)  # no validation split here
    bpe = tok.BPETokenizer(pattern=None if args.pattern == "none" else args.pattern)
    bpe.train(text, args.vocab_size)
    if Path(args.out).suffix.lower() == ".json":  # the name asks for Hugging Face's format
        tok.hf.save_tokenizer_json(bpe, args.out)
    else:
        bpe.save(args.out)
    note = _short_note(bpe.vocab_size, args.vocab_size)
    said = cli_paths.report_stream(args.out)
    print(f"wrote {args.out}: {bpe.vocab_size:,} tokens{note}", file=said)
    return 0


def _short_note(made, asked):
    """What a BPE vocabulary smaller than the one asked for says: the corpus ran out of pairs."""
    return f" (of {asked:,} asked: the corpus has no more pairs to merge)" if made < asked else ""


def cmd_corpus(args):
    """`tinyllm corpus`: write a generated corpus to a text file."""
    cli_paths.check_out(args.out)
    memory.check_corpus(args.chars)
    text, _ = corpus.get_corpus(args.name, seed=args.seed, n_chars=args.chars)
    write_atomic(args.out, text)
    said = cli_paths.report_stream(args.out)
    print(f"wrote {args.out}: {len(text):,} characters", file=said)
    return 0


def cmd_graph(args):
    """`tinyllm graph`: render a model's loss graph."""
    from model.report import draw_model_graph

    cli_paths.check_out(args.out)
    print(draw_model_graph(args.run, args.out, args.depth, args.rules, args.fused))
    return 0


def cmd_plot(args):
    """`tinyllm plot`: loss curve, attention and embeddings of a run."""
    from model.report import plot_run

    for path in plot_run(args.run):
        print(path)
    return 0


COMMANDS = {
    "train": cmd_train,
    "sample": cmd_sample,
    "export": cmd_export,
    "tokenizer": cmd_tokenizer,
    "corpus": cmd_corpus,
    "graph": cmd_graph,
    "plot": cmd_plot,
}
