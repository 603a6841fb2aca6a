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
run that diverged) ends with one line on stderr and exit status 2; a traceback means a bug.
Training stopped by Ctrl-C or SIGTERM saves, prints how to resume, and exits with 130 or 143.
"""

import argparse
import importlib.metadata
import json
import os
import signal
import sys
from dataclasses import fields
from pathlib import Path

import numpy as np

from engine.files import write_atomic
from model import corpus, memory
from model.gpt import GPTConfig
from model.train_config import TrainConfig


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The argument parser of every `tinyllm` command, with their help texts."""
    parser = ArgumentParser(prog="tinyllm", description="Train and sample a tiny GPT.")
    parser.add_argument("--version", action="version", version=f"tinyllm {version()}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=ArgumentParser)

    train = commands.add_parser(
        "train",
        help="train a GPT (no arguments: the default run)",
        description="Train a GPT. Every flag defaults to the default run.",
    )
    model_fields = [f for f in fields(GPTConfig) if f.name != "vocab_size"]  # the tokenizer's
    run_fields = [f for f in fields(TrainConfig) if f.name != "model"]
    for f in model_fields + run_fields:
        default = f.default
        flag = "--" + f.name.replace("_", "-")
        shown = default not in (None, "")  # else the help says the rule
        help_text = f.metadata["help"] + (f" (default: {default})" if shown else "")
        if isinstance(default, bool):
            action = argparse.BooleanOptionalAction
            train.add_argument(flag, action=action, default=argparse.SUPPRESS, help=help_text)
        else:
            train.add_argument(
                flag,
                type=f.metadata.get("type", type(default)),
                default=argparse.SUPPRESS,
                metavar=f.name.upper(),
                help=help_text,
            )
    train.add_argument(
        "--llama",
        action="store_true",
        help="Llama's pieces: --norm rmsnorm --pos rope --mlp swiglu, n_kv_head = n_head / 2, "
        "--no-tie-weights --no-bias (flags given as well override it)",
    )
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run saved in DIR from its newest checkpoint (only --max-iters, --lr, "
        "--min-lr and --corpus, the corpus file's new place, may be given)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    model_help = (
        "a run directory (its newest checkpoint), one of its checkpoints/step-N, or a Hugging "
        "Face GPT-2 or Llama directory (config.json, model.safetensors, tokenizer files)"
    )
    sample = commands.add_parser("sample", help="sample text from a trained run or an HF model")
    sample.add_argument("--run", required=True, metavar="DIR", help=model_help)
    sample.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    sample.add_argument("--max-new-tokens", type=int, default=300, help="default: 300")
    sample.add_argument(
        "--temperature",
        type=float,
        default=0.8,
        help="0 is greedy; higher is more random (default: 0.8)",
    )
    sample.add_argument("--top-k", type=int, help="sample among the k likeliest tokens only")
    sample.add_argument("--top-p", type=float, help="nucleus sampling: smallest set of mass p")
    sample.add_argument("--seed", type=int, help="seed for a reproducible sample")
    sample.add_argument("--num-samples", type=int, default=1, help="default: 1")

    export = commands.add_parser(
        "export",
        help="write a run's model and tokenizer as a Hugging Face directory",
        description="Write a Hugging Face directory that transformers loads unchanged: "
        "GPT2LMHeadModel for a GPT-2-shaped model, LlamaForCausalLM for a Llama-like one "
        "(config.json, model.safetensors, tokenizer.json and the other tokenizer files).",
    )
    export.add_argument("--run", required=True, metavar="DIR", help=model_help)
    export.add_argument("--out", required=True, metavar="DIR", help="a new or empty directory")

    tokenizer = commands.add_parser("tokenizer", help="tokenizer tools")
    tok_commands = tokenizer.add_subparsers(
        dest="tok_command", required=True, parser_class=ArgumentParser
    )
    tok_train = tok_commands.add_parser("train", help="train a byte-level BPE tokenizer")
    tok_train.add_argument("--corpus", required=True, help="'stories', 'addition' or a path")
    tok_train.add_argument("--vocab-size", type=int, required=True, help="256 + merges")
    tok_train.add_argument("--out", required=True, help="tokenizer file to write")
    tok_train.add_argument(
        "--pattern",
        default="gpt4",
        help="split pattern: gpt4, gpt2, none, or a regex (default: gpt4)",
    )

    corpus_cmd = commands.add_parser("corpus", help="write a generated corpus to a file")
    corpus_cmd.add_argument("name", choices=sorted(corpus.CORPORA))
    corpus_cmd.add_argument("--out", required=True, help="text file to write")
    corpus_cmd.add_argument(
        "--chars",
        type=int,
        default=TrainConfig.corpus_chars,
        help=f"size in characters (default: {TrainConfig.corpus_chars:,})",
    )
    corpus_cmd.add_argument("--seed", type=int, default=0, help="default: 0")

    graph = commands.add_parser("graph", help="draw the computation graph of a model's loss")
    graph.add_argument(
        "--run", metavar="DIR", help="a trained run or an HF model (default: the default model)"
    )
    graph.add_argument("--depth", type=int, default=2, help="module nesting shown (default: 2)")
    graph.add_argument("--rules", action="store_true", help="write backward rules on edges")
    graph.add_argument(
        "--fused",
        action="store_true",
        help="draw the fused kernels that training runs (default: the reference math, every "
        "matmul, mask and softmax shown)",
    )
    graph.add_argument("--out", default="graph.svg", help=".svg, .png or .pdf (default: graph.svg)")

    plot = commands.add_parser("plot", help="loss curve, attention and embeddings of a run")
    plot.add_argument("--run", required=True, metavar="DIR", help="the run directory")
    return parser


def version():
    """The installed package's version (from its metadata, so setup.cfg is its one source)."""
    try:
        return importlib.metadata.version("tinyllm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: run `make test` or `pip install -e .`)"


PATH_ARGUMENTS = ("out_dir", "resume", "run", "corpus", "out", "init_from", "tokenizer")


def main(argv=None):
    """Run the command in `argv` (default: sys.argv); returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        _check_utf8_paths(args)
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"tinyllm {args.command}: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT
    except (ValueError, OSError, MemoryError, FloatingPointError) as e:
        # CheckpointError is a ValueError, TrainingDiverged a FloatingPointError.
        message = "; ".join(line.strip() for line in str(e).splitlines() if line.strip())
        print(f"tinyllm {args.command}: error: {message or type(e).__name__}", file=sys.stderr)
        return 2


def _check_utf8_paths(args):
    """Refuse a path that is not UTF-8 (it could be neither stored in JSON nor printed)."""
    for name in PATH_ARGUMENTS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                flag = "--" + name.replace("_", "-")
                raise ValueError(
                    f"{flag} {os.fsencode(value)!r} is not a UTF-8 name; use one that is"
                ) from None


def cmd_train(args):
    """`tinyllm train`: a new run from the flags, or `--resume DIR`."""
    from model.report import final_report
    from model.run import CHANGEABLE_ON_RESUME, Run
    from model.train import train

    names = [f.name for f in fields(GPTConfig) + fields(TrainConfig)]
    overrides = {name: getattr(args, name) for name in names if name in args}
    if args.resume is not None:
        if not args.resume:
            raise ValueError("--resume needs the directory of a run, got ''")
        changed = sorted(set(overrides) - set(CHANGEABLE_ON_RESUME))
        if changed:
            flags = ", ".join("--" + name.replace("_", "-") for name in changed)
            raise ValueError(
                f"--resume continues a run as configured; it cannot change {flags} (only "
                "--max-iters, --lr, --min-lr and --corpus)"
            )
        run = Run.resume(args.resume, **overrides)
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
        print(
            f"{run.model.num_params():,} parameters; {len(run.data.train):,} training tokens; "
            f"vocabulary {run.tokenizer.vocab_size}; run directory {run.dir}"
        )
        train(run, progress=not args.no_progress)
        if run.interrupted_by is not None:
            return 128 + run.interrupted_by
        final_report(run)
    return 0


def cmd_sample(args):
    """`tinyllm sample`: continue a prompt with a trained run's model."""
    from model.run import Run

    if args.num_samples < 1:
        raise ValueError(f"--num-samples must be >= 1, got {args.num_samples}")
    model, tokenizer = Run.load_for_sampling(args.run)
    ids = tokenizer.encode(args.prompt)
    length = len(ids) + max(args.max_new_tokens, 0)
    what = f"sampling {args.num_samples:,} x {length:,} tokens"
    memory.check_fits({"tokens": 8 * args.num_samples * length}, what)
    prompt = np.array([ids] * args.num_samples)
    out = model.generate(
        prompt,
        args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
    )
    for row in out:
        print(tokenizer.decode(row.tolist()))
        print("-" * 40)
    return 0


def cmd_export(args):
    """`tinyllm export`: a run's model and tokenizer as a Hugging Face directory."""
    from model.run import Run

    out = Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise FileExistsError(f"--out {out} already exists and is not an empty directory")
    model, tokenizer = Run.load_for_sampling(args.run)
    paths = model.save_pretrained(out, tokenizer=tokenizer)
    architecture = json.loads(paths[0].read_text(encoding="utf-8"))["architectures"][0]
    print(f"wrote {out} ({architecture}): {', '.join(p.name for p in paths)}")
    return 0


def cmd_tokenizer(args):
    """`tinyllm tokenizer train`: train a BPE tokenizer on a corpus and save it."""
    import tokenizer as tok

    text = (
        corpus.get_corpus(args.corpus)[0]
        if args.corpus in corpus.CORPORA
        else corpus.load_text_corpus(args.corpus)
    )
    bpe = tok.BPETokenizer(pattern=None if args.pattern == "none" else args.pattern)
    bpe.train(text, args.vocab_size)
    bpe.save(args.out)
    print(f"wrote {args.out}: {bpe.vocab_size} tokens")
    return 0


def cmd_corpus(args):
    """`tinyllm corpus`: write a generated corpus to a text file."""
    memory.check_corpus(args.chars)
    text, _ = corpus.get_corpus(args.name, seed=args.seed, n_chars=args.chars)
    write_atomic(args.out, text)
    print(f"wrote {args.out}: {len(text):,} characters")
    return 0


def cmd_graph(args):
    """`tinyllm graph`: render a model's loss graph."""
    from model.report import draw_model_graph

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
