"""Checkpoint files: safetensors for arrays, JSON for the rest, every write atomic.

A safetensors file is an 8-byte little-endian header length, a JSON header (each tensor's
dtype, shape and byte range, plus a `__metadata__` dict of strings) and the raw bytes. No
pickle anywhere: loading a checkpoint can never run code.

Every file is written atomically (`engine.files.write_atomic`): a crash leaves the old file
or the new one, never half of one. What is loaded is checked: a damaged file, an array
holding NaN or Inf, or a model too big for the memory of this machine is refused with an
error that names the file (and the tensor).

The model's own file (`save_model` / `load_model`) is GPT-2's parameter names with the
model's config and anything else the caller records (the training step, the tokenizer's
fingerprint) in its metadata: the one place a model is written and read. A tied output matrix
is the token embedding itself, so it is stored once, as `transformer.wte.weight`, and loading
ties it again (a file of an older tinyllm that holds both names is read if the two are equal).
`load_checkpoint` reads a checkpoint directory's model with its tokenizer, checked to be the one
it was trained with; `read_state` and `read_metrics_file` check the JSON a run keeps beside them.

Continuing in nanoGPT. Our names are nanoGPT's, so a GPT-2-shaped run (the default switches:
layernorm, learned positions, a gelu MLP of 4 n_embd, tied, n_kv_head = n_head) loads into
nanoGPT's model.py with `strict=True` (PyTorch >= 2.0, which has no `attn.bias` mask buffer).
nanoGPT's MLP is `nn.GELU()`, the exact form: train with `--gelu none` for the same function
(our default, GPT-2's tanh form, gives logits some 1e-5 apart). Our config's extra keys (gelu,
norm, pos, ...) are dropped, and the embedding, stored once, is also the tied lm_head:

    import json
    from safetensors import safe_open
    from safetensors.torch import load_file
    from model import GPT, GPTConfig                 # nanoGPT's model.py

    path = "runs/NAME/checkpoints/step-003000/model.safetensors"
    with safe_open(path, "pt") as f:
        ours = json.loads(f.metadata()["config"])
    keys = ("block_size", "vocab_size", "n_layer", "n_head", "n_embd", "dropout", "bias")
    model = GPT(GPTConfig(**{k: ours[k] for k in keys}))
    state = load_file(path)
    state["lm_head.weight"] = state["transformer.wte.weight"]
    model.load_state_dict(state, strict=True)
"""

import hashlib
import json
from pathlib import Path

import numpy as np
import safetensors
import safetensors.numpy

import nn
import tokenizer as tok
from engine.files import write_atomic
from model.config import GPTConfig

FORMAT = "tinyllm"

# The files of one checkpoint directory (model/run.py draws the whole run directory).
MODEL, OPTIMIZER, STATE, TOKENIZER, METRICS = (
    "model.safetensors",
    "optimizer.safetensors",
    "state.json",
    "tokenizer.txt",
    "metrics.jsonl",
)


class CheckpointError(ValueError):
    """A checkpoint file is missing, damaged, or does not belong where it was loaded."""


def save_arrays(path, arrays, metadata):
    """Save name -> ndarray and a dict of JSON-able metadata as one safetensors file."""
    arrays = {name: np.require(a, requirements="C") for name, a in arrays.items()}  # keeps 0-d
    header = {"format": FORMAT, **{k: json.dumps(v) for k, v in metadata.items()}}
    write_atomic(path, _sorted_header(safetensors.numpy.save(arrays, metadata=header)))


def _sorted_header(raw):
    """The safetensors file `raw` with its JSON header's keys sorted. safetensors writes the
    metadata in a hash map's order, which differs from process to process: two runs that
    save the same numbers would write different bytes. The header is padded with spaces to a
    multiple of 8 bytes, as safetensors pads it, so the arrays stay aligned."""
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    text = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + raw[8 + n :]


def load_arrays(path):
    """(name -> ndarray, metadata) from a file written by `save_arrays`; errors name the file,
    and the tensor when one holds NaN or Inf (a checkpoint never does: training stops first)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    raw = path.read_bytes()
    try:
        header_len = int.from_bytes(raw[:8], "little")
        header = json.loads(raw[8 : 8 + header_len])
        arrays = safetensors.numpy.load(raw)  # checks the header against the data
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path} is not a readable safetensors file ({e})") from e
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a tinyllm checkpoint")
    for name, a in arrays.items():
        if a.dtype.kind == "f" and not np.isfinite(a).all():
            raise CheckpointError(f"{path}: tensor {name!r} holds NaN or Inf")
    try:
        return arrays, {k: json.loads(v) for k, v in metadata.items() if k != "format"}
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} has damaged metadata ({e})") from e


def read_json(path):
    """A JSON file's content; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path} is not valid JSON ({e})") from e


def fingerprint(path):
    """The SHA-256 of a file's bytes, as hex: what says two files hold the same content."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


TIED, EMBEDDING = "lm_head.weight", "transformer.wte.weight"


def save_model(path, model, **metadata):
    """Weights under GPT-2's names (a tied output matrix once, as the embedding); the model's
    config and `metadata` (JSON-able) beside them."""
    state = model.state_dict()
    if model.config.tie_weights:
        del state[TIED]
    save_arrays(path, state, {"config": model.config.to_dict(), **metadata})


def load_model(path):
    """Rebuild a GPT from a file written by `save_model`; returns (model, metadata).

    The memory the weights need is checked before they are allocated."""
    from model.gpt import GPT
    from model.memory import check_fits, parameter_count

    arrays, metadata = load_arrays(path)
    config = _model_config(path, metadata)
    check_fits({"parameters": 4 * parameter_count(config)}, f"the model in {path}")
    if config.tie_weights and EMBEDDING in arrays:
        head = arrays.pop(TIED, arrays[EMBEDDING])
        if not np.array_equal(head, arrays[EMBEDDING]):
            raise CheckpointError(f"{path}: the tied {TIED!r} differs from {EMBEDDING!r}")
        arrays[TIED] = arrays[EMBEDDING]
    model = nn.utils.skip_init(GPT, config)  # every weight is loaded: no random draws
    try:
        model.load_state_dict(arrays)
    except ValueError as e:
        raise CheckpointError(f"{path} does not match its model config: {e}") from e
    return model, metadata


def read_model_config(path):
    """The GPTConfig of a file written by `save_model`, read from its header alone."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint file not found: {path}")
    try:
        with safetensors.safe_open(path, framework="np") as f:
            metadata = f.metadata() or {}
        config = json.loads(metadata.get("config", "null"))
    except Exception as e:  # safetensors raises its own error types for damaged files
        raise CheckpointError(f"{path} is not a readable tinyllm checkpoint ({e})") from e
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a safetensors file but not a tinyllm checkpoint")
    return _model_config(path, {"config": config})


def _model_config(path, metadata):
    if not isinstance(metadata.get("config"), dict):
        raise CheckpointError(f"{path} holds no model config")
    try:
        return GPTConfig(**metadata["config"])
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"{path} holds a bad model config: {e}") from e


def load_checkpoint(directory):
    """(model, its file's metadata, tokenizer) of a checkpoint directory, after checking that
    the tokenizer is the one the model was trained with (same size and SHA-256)."""
    model_path, tokenizer_path = Path(directory) / MODEL, Path(directory) / TOKENIZER
    model, metadata = load_model(model_path)
    tokenizer = tok.load(tokenizer_path)
    recorded = metadata.get("tokenizer")
    if not isinstance(recorded, dict):
        raise CheckpointError(f"{model_path} does not record the tokenizer it was trained with")
    found = (tokenizer.vocab_size, fingerprint(tokenizer_path))
    expected = (recorded.get("vocab_size"), recorded.get("sha256"))
    if found != expected:
        raise CheckpointError(
            f"{tokenizer_path} ({found[0]} tokens, SHA-256 {found[1][:12]}...) is not the "
            f"tokenizer {model_path} was trained with ({expected[0]} tokens, SHA-256 "
            f"{str(expected[1])[:12]}...)"
        )
    if model.config.vocab_size != tokenizer.vocab_size:
        raise CheckpointError(
            f"{model_path} has {model.config.vocab_size} token rows, but its tokenizer "
            f"{tokenizer_path} has {tokenizer.vocab_size} tokens"
        )
    return model, metadata, tokenizer


STATE_FIELDS = {
    "config": dict,
    "step": int,
    "best_val": float | int,
    "best_step": int | None,
    "entropy_floor": float | int | None,
    "text_sha256": str,
    "data_rng": dict,
    "engine_rng": dict,
}


def read_state(path):
    """A checkpoint's state.json, each field checked; errors name the file."""
    state = read_json(path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} is not a run state (not a JSON object)")
    for name, kind in STATE_FIELDS.items():
        if name not in state:
            raise CheckpointError(f"{path} is not a run state: it has no {name!r}")
        value = state[name]
        if not isinstance(value, kind) or isinstance(value, bool):
            kind = getattr(kind, "__name__", kind)
            raise CheckpointError(f"{path}: {name!r} is {value!r}, not of type {kind}")
    if state["step"] < 0:
        raise CheckpointError(f"{path}: 'step' is {state['step']}, below 0")
    return state


def read_metrics_file(path):
    """The rows of a metrics.jsonl, each checked: a JSON object with an int `step`, numbers
    (or null) as losses and lr, and a `kind` of 'train' or 'eval' (training writes one, for
    plots it may be missing). Errors name file and line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no {path.name} in {str(path.parent)!r}")
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as e:
        raise CheckpointError(f"{path} is not UTF-8 text ({e})") from e
    rows = []
    for number, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{path}, line {number}: not JSON ({e}): {line[:80]}") from e
        rows.append(row)
        numbers = isinstance(row, dict) and all(
            isinstance(row.get(k), int | float | None) for k in ("train_loss", "val_loss", "lr")
        )
        kind = row.get("kind", "train") if numbers else None
        if not (numbers and type(row.get("step")) is int and kind in ("train", "eval")):
            raise CheckpointError(
                f"{path}, line {number}: not a metrics row (a JSON object with an int step, a "
                f"kind 'train' or 'eval', numbers as losses): {line[:80]}"
            )
    return rows
