"""What a run starts from, and what the commands read: models and tokenizers made elsewhere.

A model to read (`tinyllm sample`, `graph`, `plot`, `export`) or to start a new run from
(`tinyllm train --init-from`) is any of:
- a tinyllm run directory (its newest checkpoint), or one of its `checkpoints/step-N`;
- a Hugging Face model directory, GPT-2 or Llama (model/hf.py), with its tokenizer files.

Fine-tuning keeps the model's shape: the new run's config is the model's, and a flag that
contradicts it is an error. Only `dropout` and a shorter `block_size` may be given (with learned
positions, the rows of the position table past it are dropped, as nanoGPT's `crop_block_size`
does; rotary positions need no table). The run trains with the model's own tokenizer.

A Hugging Face model with more token rows than its tokenizer has tokens (nanoGPT pads GPT-2's
50257 to 50304, a multiple of 64) is read without the extra rows: no text gives their ids, and
sampled, they would be ids no token decodes to. Its softmax then runs over the real tokens only.
A warning says so, naming the rows: a tokenizer cut short by mistake is not silently obeyed.

A new run's tokenizer is 'char', 'bpe' (trained on the corpus), or the path of an existing one:
a tinyllm tokenizer file, a tokenizer.json or a Hugging Face directory (`tokenizer.load`).
"""

import warnings
from dataclasses import fields, replace
from pathlib import Path

import tokenizer as tok
from model import hf
from model.checkpoint import MODEL, load_checkpoint, read_model_config
from model.gpt import GPT
from model.run_dir import read_checkpoint

TOKENIZERS = ("char", "bpe")  # the tokenizers a run trains itself; anything else is a path
FINE_TUNABLE = ("block_size", "dropout")  # what fine-tuning may change in a model's config


def load_pretrained(path):
    """(model, tokenizer) of the run, checkpoint or Hugging Face directory `path`, the model
    in eval mode."""
    if hf.is_model_directory(path):
        model, tokenizer = hf.load(path), tok.from_pretrained(path)
        if tokenizer.vocab_size > model.config.vocab_size:
            raise ValueError(
                f"{path}: the tokenizer has {tokenizer.vocab_size} tokens, more than the "
                f"model's vocab_size {model.config.vocab_size}"
            )
        if tokenizer.vocab_size < model.config.vocab_size:  # rows of padding: cut, and said
            n, rows = tokenizer.vocab_size, model.config.vocab_size
            warnings.warn(
                f"{path}: the model has {rows} token rows and its tokenizer {n} tokens; rows "
                f"{n} to {rows - 1} are read as padding (as nanoGPT pads GPT-2's 50257 to "
                "50304) and left out, so they are never sampled",
                UserWarning,
                stacklevel=2,
            )
            model = _token_rows_cut(model, n)
    else:
        model, _, tokenizer = read_checkpoint(path, load_checkpoint)
    model.eval()
    return model, tokenizer


def pretrained_config(path):
    """The GPTConfig of the model `load_pretrained(path)` reads, without reading its weights."""
    if hf.is_model_directory(path):
        config = hf.read_config(path)[1]
        tokens = tok.from_pretrained(path).vocab_size
        return replace(config, vocab_size=min(config.vocab_size, tokens))  # as load_pretrained
    return read_checkpoint(path, lambda checkpoint: read_model_config(checkpoint / MODEL))


def _token_rows_cut(model, vocab_size):
    """`model` with only its first `vocab_size` token embeddings and output rows."""
    rows = ("transformer.wte.weight", "lm_head.weight")
    state = {k: a[:vocab_size] if k in rows else a for k, a in model.state_dict().items()}
    cut = GPT(replace(model.config, vocab_size=vocab_size))
    cut.load_state_dict(state)
    return cut


def fine_tune_config(base, **flags):
    """The config of a model fine-tuned from one of config `base` (a GPTConfig): `base`, with
    `flags` (model fields, as `tinyllm train` flags give them) checked against it."""
    for name, value in flags.items():
        if name not in FINE_TUNABLE and value != getattr(base, name):
            flag = "--" + name.replace("_", "-")
            raise ValueError(
                f"{flag} {value} contradicts the model trained from, whose {name} is "
                f"{getattr(base, name)!r}: its shape is kept (only --block-size, at most "
                f"{base.block_size}, and --dropout may be given)"
            )
    config = replace(base, **{k: v for k, v in flags.items() if k in FINE_TUNABLE})
    if config.block_size > base.block_size:
        raise ValueError(
            f"--block-size {config.block_size} is longer than the model trained from was "
            f"trained for ({base.block_size})"
        )
    return config


def fine_tune_weights(model, config):
    """The weights of `model` for a model of `config` (from `fine_tune_config`): the same, the
    position table cut to `config.block_size` rows."""
    fine_tune_config(model.config, **{f.name: getattr(config, f.name) for f in fields(config)})
    state = model.state_dict()
    if "transformer.wpe.weight" in state:
        state["transformer.wpe.weight"] = state["transformer.wpe.weight"][: config.block_size]
    return state


def new_tokenizer(name, text, bpe_vocab_size):
    """The tokenizer of a new run: 'char' or 'bpe' made from `text`, or read from the path
    `name`."""
    if name == "char":
        return tok.CharTokenizer.from_text(text)
    if name == "bpe":
        return tok.BPETokenizer().train(text, bpe_vocab_size)
    if not Path(name).exists():
        raise FileNotFoundError(
            f"--tokenizer {name}: neither 'char', 'bpe' nor an existing tokenizer file or directory"
        )
    return tok.load(name)
