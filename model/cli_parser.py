"""The `tinyllm` command line's flags and help texts: what `tinyllm COMMAND --help` prints.

`tinyllm train`'s flags are made from the fields of `GPTConfig` and `TrainConfig`, with their
defaults and help, so a knob added to a config is a flag at once. The commands themselves are
in model/cli.py.
"""

import argparse
import importlib.metadata
import math
from dataclasses import fields

from model import corpus
from model.gpt import GPTConfig
from model.train_config import TrainConfig


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (and exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def checked(kind, rule, holds):
    """An argparse `type`: the text as a `kind` (int or float) for which `holds(value)`;
    anything else is the usage error "argument --FLAG: must be RULE, got TEXT", one line that
    names the flag (argparse's own would name this function)."""

    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not holds(value):  # a NaN holds no comparison, so it is refused
            raise argparse.ArgumentTypeError(f"must be {rule}, got {text}")
        return value

    return parse


natural = checked(int, "an int >= 0", lambda v: v >= 0)  # --seed, --depth, --max-new-tokens
positive = checked(int, "an int >= 1", lambda v: v >= 1)  # --top-k, --num-samples
temperature = checked(float, "a finite number >= 0", lambda v: 0 <= v < math.inf)
probability_mass = checked(float, "a number in (0, 1]", lambda v: 0 < v <= 1)  # --top-p


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
        "--min-lr, --lr-decay-iters and --corpus, the corpus file's new place, may differ from "
        "the run's flags)",
    )
    train.add_argument("--no-progress", action="store_true", help="no progress bar")

    model_help = (
        "a run directory (its newest checkpoint), one of its checkpoints/step-N, or a Hugging "
        "Face GPT-2 or Llama directory (config.json, model.safetensors, tokenizer files)"
    )
    sample = commands.add_parser(
        "sample",
        help="sample text from a trained run or an HF model",
        description="Continue a prompt with a trained model: a run's newest checkpoint, one of "
        "its checkpoints, or a Hugging Face GPT-2 or Llama directory. The samples are written "
        "with a KV cache, then printed one after another.",
    )
    sample.add_argument("--run", required=True, metavar="DIR", help=model_help)
    sample.add_argument("--prompt", default="\n", help="text to continue (default: a newline)")
    sample.add_argument("--max-new-tokens", type=natural, default=300, help="default: 300")
    sample.add_argument(
        "--temperature",
        type=temperature,
        default=0.8,
        help="0 is greedy; higher is more random (default: 0.8)",
    )
    sample.add_argument("--top-k", type=positive, help="sample among the k likeliest tokens only")
    sample.add_argument(
        "--top-p", type=probability_mass, help="nucleus sampling: smallest set of mass p"
    )
    sample.add_argument(
        "--seed", type=natural, help="seed for a reproducible sample (default: a new one each time)"
    )
    sample.add_argument("--num-samples", type=positive, default=1, help="default: 1")

    export = commands.add_parser(
        "export",
        help="write a run's model and tokenizer as a Hugging Face directory",
        description="Write a Hugging Face directory that transformers loads unchanged: "
        "GPT2LMHeadModel for a GPT-2-shaped model, LlamaForCausalLM for a Llama-like one "
        "(config.json, model.safetensors, tokenizer.json and the other tokenizer files).",
    )
    export.add_argument("--run", required=True, metavar="DIR", help=model_help)
    export.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="a new or empty directory, not in a run's checkpoints/ (made whole or not at all)",
    )

    tokenizer = commands.add_parser("tokenizer", help="tokenizer tools")
    tok_commands = tokenizer.add_subparsers(  # no dest: argparse names it by its choices
        required=True, parser_class=ArgumentParser
    )
    tok_train = tok_commands.add_parser(
        "train",
        help="train a byte-level BPE tokenizer",
        description="Train a byte-level BPE tokenizer on a corpus: 256 byte tokens, then the "
        "most frequent pair of tokens merged into a new one, again and again, until "
        "--vocab-size tokens (fewer if the corpus runs out of pairs).",
    )
    tok_train.add_argument("--corpus", required=True, help="'stories', 'addition' or a path")
    tok_train.add_argument("--vocab-size", type=int, required=True, help="256 + merges")
    tok_train.add_argument(
        "--out",
        required=True,
        help="tokenizer file to write: tinyllm's own text format, or Hugging Face's "
        "tokenizer.json if the name ends in .json",
    )
    tok_train.add_argument(
        "--pattern",
        default="gpt4",
        help="split pattern: gpt4, gpt2, none, or a regex (default: gpt4)",
    )

    corpus_cmd = commands.add_parser(
        "corpus",
        help="write a generated corpus to a file",
        description="Write one of the toy corpora the project generates itself (the same text "
        "for the same --seed and --chars) to a text file, to read or to train on with "
        "`tinyllm train --corpus FILE`.",
    )
    corpus_cmd.add_argument("name", choices=sorted(corpus.CORPORA))
    corpus_cmd.add_argument("--out", required=True, help="text file to write")
    corpus_cmd.add_argument(
        "--chars",
        type=positive,
        default=TrainConfig.corpus_chars,
        help="size in characters, at least: whole stories (or lines) are added until the text "
        f"is this long, so it ends where one does (default: {TrainConfig.corpus_chars:,})",
    )
    corpus_cmd.add_argument("--seed", type=natural, default=0, help="default: 0")

    graph = commands.add_parser(
        "graph",
        help="draw the computation graph of a model's loss",
        description="Draw the computation graph of a model's loss with Graphviz: every tensor "
        "and op that backpropagation goes through, grouped by the module that made it.",
    )
    graph.add_argument(
        "--run", metavar="DIR", help="a trained run or an HF model (default: the default model)"
    )
    graph.add_argument("--depth", type=natural, default=2, help="module nesting shown (default: 2)")
    graph.add_argument("--rules", action="store_true", help="write backward rules on edges")
    graph.add_argument(
        "--fused",
        action="store_true",
        help="draw the fused kernels that training runs (default: the reference math, every "
        "matmul, mask and softmax shown)",
    )
    graph.add_argument(
        "--out",
        default="graph.svg",
        help=".svg, .png or .pdf, in a directory that exists (default: graph.svg)",
    )

    plot = commands.add_parser(
        "plot",
        help="loss curve, attention and embeddings of a run",
        description="Draw a run's pictures into its own directory, over the ones there: "
        "loss.png (the training and validation loss, from metrics.jsonl), embeddings.png (the "
        "token embeddings of its newest checkpoint, in 2-D) and attention_layerN.png for each "
        "layer (every head's attention over a sample the model writes itself).",
    )
    plot.add_argument("--run", required=True, metavar="DIR", help="the run directory")
    return parser


def version():
    """The installed package's version (from its metadata, so setup.cfg is its one source)."""
    try:
        return importlib.metadata.version("tinyllm")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed: run `make test` or `pip install -e .`)"
