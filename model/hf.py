"""Hugging Face model directories, read and written: `GPT.from_pretrained` / `save_pretrained`.

    gpt2-dir/
      config.json              the shape: model_type "gpt2" or "llama", and the format's sizes
      model.safetensors        the weights, under the format's own names
        or model.safetensors.index.json + model-00001-of-00002.safetensors, ...   (sharded)
      tokenizer.json, vocab.json, merges.txt, tokenizer_config.json   (tokenizer/hf.py)

Each format is a module, model/hf_gpt2.py and model/hf_llama.py, with its config.json fields
and its name table, one row per tensor of ours: (our name, [(HF name, HF shape), ...],
transposed): the HF tensors stacked on axis 0 make ours, transposed or not (our name is None
for a zero bias that HF's GPT-2 has and a bias-free model lacks). This file reads the
directory, takes each tensor of the table by name with its shape checked against config.json,
and writes the same table backwards.

Every error names the file and the field or tensor: a config.json that is damaged, of an
unknown `model_type` or of a variant tinyllm cannot run; a missing tensor, a tensor of the wrong
shape or dtype, one that the format does not have; a directory holding no weights. A
`pytorch_model.bin` is a pickle, and loading a pickle can run any code: it is refused, with the
command that converts it to safetensors. Weights in float16, bfloat16 or float64 become float32.
"""

import json
from pathlib import Path

import numpy as np
import safetensors.numpy

import nn
from engine.files import write_atomic
from model import hf_gpt2, hf_llama
from model.checkpoint import CheckpointError
from tokenizer.jsonfile import JsonFile

CONFIG, WEIGHTS, INDEX = "config.json", "model.safetensors", "model.safetensors.index.json"
PICKLES = ("pytorch_model.bin", "pytorch_model.bin.index.json")
FORMATS = {fmt.MODEL_TYPE: fmt for fmt in (hf_gpt2, hf_llama)}
DTYPES = {"F32": "<f4", "F16": "<f2", "F64": "<f8"}  # and BF16, widened by hand below


def is_model_directory(path):
    """Whether `path` is a directory that means to hold a Hugging Face model."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in (CONFIG, INDEX, *PICKLES))


def load(path):
    """The GPT of a Hugging Face GPT-2 or Llama directory (see the top of this file), in eval
    mode."""
    from model.gpt import GPT
    from model.memory import check_fits, parameter_count

    directory = Path(path)
    if not directory.is_dir():
        raise FileNotFoundError(f"Hugging Face model directory not found: {directory}")
    fmt, config = read_config(directory)
    size = 4 * parameter_count(config)
    check_fits({"weights read": size, "parameters": size}, f"the model in {directory}")
    tensors = Tensors.read(directory)
    tensors.skip(fmt.SKIPPED)
    tensors.add_prefix(fmt.PREFIX)
    state = {}
    for ours, parts, transposed in fmt.weights(config):
        arrays = [tensors.take(name, shape) for name, shape in parts]
        if ours is None:  # a bias the bias-free model lacks: written as zeros
            tensors.check_zero(parts[0][0], arrays[0])
            continue
        array = arrays[0] if len(arrays) == 1 else np.concatenate(arrays)
        state[ours] = array.T if transposed else array
    if config.tie_weights:
        state["lm_head.weight"] = state["transformer.wte.weight"]
        if "lm_head.weight" in tensors.entries:  # tied, yet written: it must be the embedding
            head = tensors.take("lm_head.weight", state["lm_head.weight"].shape)
            if not np.array_equal(head, state["lm_head.weight"]):
                raise tensors.error("lm_head.weight", "differs from the tied token embedding")
    tensors.check_all_taken(fmt.ARCHITECTURE)
    model = nn.utils.skip_init(GPT, config)  # every weight is loaded: no random draws
    model.load_state_dict(state)
    return model.eval()  # as transformers' from_pretrained: dropout off until model.train()


def read_config(directory):
    """(format module, GPTConfig) of a model directory's config.json."""
    _refuse_pickles(Path(directory))
    path = Path(directory) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"{directory}: no {CONFIG}, which says the model's shape")
    file = JsonFile.read(path)
    known = ", ".join(map(json.dumps, FORMATS))
    model_type = file.get("model_type", (str,))
    if model_type not in FORMATS:
        raise file.error("model_type", f"is {json.dumps(model_type)}; tinyllm reads {known}")

    def read_int(name, default=KeyError):  # KeyError: the field must be there
        value = file.get(name, (int,), default)
        if value < 1:
            raise file.error(name, f"must be a positive int, got {value}")
        return value

    try:
        return FORMATS[model_type], FORMATS[model_type].config_from_hf(file, read_int)
    except ValueError as error:
        if str(error).startswith(str(path)):
            raise
        raise ValueError(f"{path}: not a model tinyllm can build: {error}") from None


def save(model, path, tokenizer=None):
    """Write `model` as a Hugging Face directory: GPT-2's format for a GPT-2-shaped model,
    Llama's for a Llama-like one; with a `tokenizer`, its files too. Returns the paths written.

    A model that neither format can express (GPT-2 with rotary positions, say) raises
    ValueError naming what does not fit."""
    config = model.config
    fits = [fmt for fmt in FORMATS.values() if not fmt.misfits(config)]
    if not fits:
        why = "; ".join(
            f"{fmt.ARCHITECTURE} has no {', '.join(fmt.misfits(config))}"
            for fmt in FORMATS.values()
        )
        raise ValueError(f"neither Hugging Face format can express this model: {why}")
    fmt, state = fits[0], {name: p.data for name, p in model.named_parameters()}
    dtype = state["transformer.wte.weight"].dtype
    tensors = {}
    for ours, parts, transposed in fmt.weights(config):
        if ours is None:
            name, shape = parts[0]
            tensors[name] = np.zeros(shape, dtype)
            continue
        array = state[ours].T if transposed else state[ours]
        sizes = np.cumsum([shape[0] for _, shape in parts])[:-1]
        for (name, _), piece in zip(parts, np.split(array, sizes), strict=True):
            tensors[name] = np.ascontiguousarray(piece)
    specials = getattr(tokenizer, "special_tokens", {})
    end = specials.get("<|endoftext|>")  # GPT-2's one special token, both its bos and eos
    hf_config = {
        "architectures": [fmt.ARCHITECTURE],
        "model_type": fmt.MODEL_TYPE,
        **fmt.config_to_hf(config),
        "bos_token_id": end,
        "eos_token_id": end,
        "dtype": dtype.name,
    }
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    written = [
        write_atomic(directory / CONFIG, json.dumps(hf_config, indent=2) + "\n"),
        write_atomic(directory / WEIGHTS, safetensors.numpy.save(tensors, {"format": "pt"})),
    ]
    if tokenizer is not None:
        written += tokenizer.save_pretrained(directory)
    return written


def _refuse_pickles(directory):
    pickle = next((name for name in PICKLES if (directory / name).is_file()), None)
    if pickle and not (directory / WEIGHTS).is_file() and not (directory / INDEX).is_file():
        convert = (
            "python -c 'from transformers import AutoModelForCausalLM as M; "
            f'M.from_pretrained("{directory}").save_pretrained("{directory}")\''
        )
        raise CheckpointError(
            f"{directory / pickle} is a pickle, which tinyllm never loads (unpickling can run "
            f"any code): convert it to {WEIGHTS} once, where torch and transformers are "
            f"installed, with {convert}, or download the model's {WEIGHTS} instead"
        )


class Tensors:
    """The tensors of a model's safetensors file(s), by name: each is taken once, its shape
    checked; what is left at the end is a tensor the format does not have."""

    def __init__(self, source):
        self.source = source  # model.safetensors or the index: what a missing tensor names
        self.entries, self.files = {}, {}

    @classmethod
    def read(cls, directory):
        """The tensors of model.safetensors, or of the shards model.safetensors.index.json lists."""
        if (directory / WEIGHTS).is_file():
            tensors = cls(directory / WEIGHTS)
            tensors.add_file(directory / WEIGHTS)
            return tensors
        if not (directory / INDEX).is_file():
            raise FileNotFoundError(f"{directory}: no {WEIGHTS} (nor {INDEX}): no weights to load")
        index = JsonFile.read(directory / INDEX)
        tensors, shards = cls(directory / INDEX), {}
        for name, shard in index.get("weight_map", (dict,)).items():
            if not isinstance(shard, str) or Path(shard).name != shard or not shard:
                raise index.error(f"weight_map[{name!r}]", f"{shard!r} is not a file name")
            shards.setdefault(shard, []).append(name)
        for shard, names in shards.items():
            found = tensors.add_file(directory / shard)
            missing = [name for name in names if name not in found]
            if missing:
                raise CheckpointError(
                    f"{directory / shard}: no tensor {missing[0]!r}, which {INDEX} puts there"
                )
        return tensors

    def add_file(self, path):
        """Add the tensors of one safetensors file; returns their names."""
        if not Path(path).is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
        try:
            entries = safetensors.numpy.deserialize(Path(path).read_bytes())
        except Exception as e:  # safetensors raises its own error types for damaged files
            raise CheckpointError(f"{path} is not a readable safetensors file ({e})") from e
        for name, entry in entries:
            if name in self.entries:
                raise CheckpointError(f"{path}: tensor {name!r} is in {self.files[name]} too")
            self.entries[name], self.files[name] = entry, path
        return {name for name, _ in entries}

    def error(self, name, message):
        return CheckpointError(f"{self.files.get(name, self.source)}: tensor {name!r} {message}")

    def skip(self, suffixes):
        """Forget the tensors whose names end in one of `suffixes` (buffers HF keeps)."""
        for name in [n for n in self.entries if n.endswith(suffixes)]:
            del self.entries[name]

    def add_prefix(self, prefix):
        """Put `prefix` before every name but lm_head's, if no name has it (the hub's GPT-2)."""
        if not any(name.startswith(prefix) for name in self.entries):
            renamed = {(n if n.startswith("lm_head.") else prefix + n): n for n in self.entries}
            self.entries = {new: self.entries[old] for new, old in renamed.items()}
            self.files = {new: self.files[old] for new, old in renamed.items()}

    def take(self, name, shape):
        """The tensor `name` as a float array of `shape`, which config.json's sizes give."""
        if name not in self.entries:
            raise self.error(name, f"is missing (the model {CONFIG} describes has it)")
        entry = self.entries.pop(name)
        if entry["dtype"] == "BF16":  # the top half of a float32's bits: widened exactly
            bits = np.frombuffer(entry["data"], "<u2").astype("<u4") << 16
            array = bits.view("<f4")
        elif entry["dtype"] in DTYPES:
            array = np.frombuffer(entry["data"], DTYPES[entry["dtype"]])
        else:
            raise self.error(name, f"is {entry['dtype']}, not F32, F16, BF16 or F64")
        array = array.reshape(entry["shape"])
        if array.shape != tuple(shape):
            raise self.error(name, f"has shape {array.shape}; {CONFIG} makes it {tuple(shape)}")
        if not np.isfinite(array).all():
            raise self.error(name, "holds NaN or Inf")
        return array

    def check_zero(self, name, array):
        if array.any():
            raise self.error(name, f"is not zero, but {CONFIG} says the model has no biases")

    def check_all_taken(self, architecture):
        if self.entries:
            names = sorted(self.entries)
            more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
            raise self.error(names[0], f"is not part of a {architecture} of this {CONFIG}{more}")
