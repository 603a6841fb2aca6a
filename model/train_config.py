"""Every knob of a training run, as `TrainConfig`: what `tinyllm train --flag` sets, what a
checkpoint's state.json saves, and the checks that refuse a value out of range before any
work starts.
"""

import math
import time
from dataclasses import asdict, dataclass, field, fields, replace

from model.config import GPTConfig, flag
from model.corpus import CORPORA
from model.pretrained import fine_tune_config, pretrained_config

CHANGEABLE_ON_RESUME = ("max_iters", "lr", "min_lr", "lr_decay_iters", "corpus")
USED_ONLY_WITH = {  # a flag that only some values of another flag read: alone, it does nothing
    "bpe_vocab_size": ("tokenizer", ("bpe",)),
    "corpus_chars": ("corpus", CORPORA),
    "rope_theta": ("pos", ("rope",)),
    "gelu": ("mlp", ("gelu",)),
}


@dataclass
class TrainConfig:
    """Every knob of a run. Each field, and each of `model`'s (but vocab_size, which the
    tokenizer decides), is a `tinyllm train --flag` of the same name."""

    model: GPTConfig = field(default_factory=GPTConfig)
    out_dir: str = flag(
        "",
        "run directory for checkpoints, metrics and samples (default: a new runs/YYYYMMDD-HHMMSS)",
    )
    corpus: str = flag(
        "stories", "'stories' or 'addition' (generated), or the path of a UTF-8 text file"
    )
    corpus_chars: int = flag(
        500_000, "characters of generated corpus, at least (it ends where a story or line does)"
    )
    tokenizer: str = flag(
        "char",
        "'char' (one token per character), 'bpe' (byte-level BPE trained on the corpus), or the "
        "path of a tokenizer: a tinyllm tokenizer file, a tokenizer.json or an HF directory",
    )
    bpe_vocab_size: int = flag(512, "vocabulary size of the BPE tokenizer (with --tokenizer bpe)")
    batch_size: int = flag(4, "sequences per micro-batch")
    grad_accum: int = flag(1, "micro-batches whose gradients add up to one optimizer step")
    max_iters: int = flag(2000, "optimizer steps in all")
    lr: float = flag(3e-3, "peak learning rate, reached after warmup")
    min_lr: float = flag(3e-4, "learning rate at the end of the cosine decay")
    warmup_iters: int = flag(100, "steps of linear learning-rate warmup")
    lr_decay_iters: int = flag(2000, "step at which the cosine decay reaches --min-lr")
    weight_decay: float = flag(0.1, "AdamW weight decay for matrices and embeddings")
    beta1: float = flag(0.9, "AdamW beta1")
    beta2: float = flag(0.99, "AdamW beta2")
    grad_clip: float = flag(1.0, "clip the gradient's global L2 norm to this (0: no clipping)")
    eval_interval: int = flag(500, "steps between evaluations and checkpoints")
    eval_batches: int = flag(20, "batches per split in each evaluation")
    log_interval: int = flag(10, "steps between lines in metrics.jsonl")
    seed: int = flag(1337, "seed of every random draw in the run")
    init_from: str = flag(
        "",
        "fine-tune: start from the model of a tinyllm run or checkpoint, or of a Hugging Face "
        "GPT-2 or Llama directory, with its shape and its tokenizer (shape flags must agree; "
        "--block-size may be shorter)",
    )

    def __post_init__(self):
        if isinstance(self.model, dict):  # as read back from a checkpoint's state.json
            self.model = GPTConfig(**self.model)
        if not isinstance(self.model, GPTConfig):
            raise TypeError(f"model must be a GPTConfig, got {self.model!r}")
        for f in fields(self)[1:]:
            value, kind = getattr(self, f.name), type(f.default)
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
                setattr(self, f.name, value)
            if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
                raise TypeError(f"{f.name} must be {kind.__name__}, got {value!r}")
            if kind is float and not math.isfinite(value):
                raise ValueError(f"{f.name} must be a finite number, got {value!r}")
        if not self.out_dir:
            self.out_dir = time.strftime("runs/%Y%m%d-%H%M%S")
        positive = (
            "corpus_chars",
            "batch_size",
            "grad_accum",
            "eval_interval",
            "eval_batches",
            "log_interval",
            "lr_decay_iters",
        )
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("max_iters", "warmup_iters", "weight_decay", "grad_clip", "seed"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.lr_decay_iters <= self.warmup_iters:
            raise ValueError(
                f"lr_decay_iters ({self.lr_decay_iters}) must be greater than warmup_iters "
                f"({self.warmup_iters})"
            )
        # AdamW moves every weight by about lr each step: beyond 1, it only throws them away.
        if not 0 < self.lr <= 1:
            raise ValueError(f"lr must be in (0, 1], got {self.lr!r}")
        if not 0 <= self.min_lr <= self.lr:
            raise ValueError(f"need 0 <= min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if self.lr * self.weight_decay >= 1:  # each step multiplies weights by 1 - lr · decay
            raise ValueError(
                f"lr x weight_decay must be below 1, got {self.lr} x {self.weight_decay}"
            )
        for name in ("beta1", "beta2"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), got {getattr(self, name)!r}")
        if not self.tokenizer:
            raise ValueError("tokenizer must be 'char', 'bpe' or a path, got ''")

    @classmethod
    def from_flags(cls, llama=False, **flags):
        """A config from flat flags, as the command line gives them: the model's fields
        (`n_layer=2`) go to `model`, the rest to the run. `llama` starts the model from
        `GPTConfig.llama_like` instead of GPT-2's defaults; `init_from` from that model's config
        (model/pretrained.py), which the model's fields given must agree with. A flag the run
        would not read (--rope-theta without --pos rope, say) is refused, not ignored."""
        model_fields = {f.name for f in fields(GPTConfig)}
        model_flags = {k: v for k, v in flags.items() if k in model_fields}
        if flags.get("init_from"):  # the shape and the tokenizer are the model's
            for flag, given in (("--llama", llama), ("--tokenizer", "tokenizer" in flags)):
                if given:
                    raise ValueError(
                        f"--init-from keeps its model's shape and tokenizer: drop {flag}"
                    )
            model = fine_tune_config(pretrained_config(flags["init_from"]), **model_flags)
        else:
            model = GPTConfig.llama_like(**model_flags) if llama else GPTConfig(**model_flags)
        config = cls(model=model, **{k: v for k, v in flags.items() if k not in model_fields})
        for name, (switch, values) in USED_ONLY_WITH.items():
            value = getattr(config.model if switch in model_fields else config, switch)
            if name in flags and value not in values:
                runs = f"this run's is {value!r}"
                if switch == "tokenizer" and config.init_from:
                    runs = "this run takes the --init-from model's"
                raise ValueError(
                    f"{_flag(name)} is read only with {_flag(switch)} "
                    f"{' or '.join(values)}, and {runs}: drop it"
                )
        return config

    def resumed_with(self, llama=False, **flags):
        """This run's config with the flat flags (as `from_flags` takes them) of its resumption.

        Only max_iters, lr, min_lr, lr_decay_iters and corpus may change (a smaller lr after a
        run diverged, say, or the cosine stretched to a new --max-iters); any other flag must
        give the run's own value, and `llama` the run's Llama pieces, so a run's whole command
        line can be given again with `--resume`."""
        own = {**asdict(self.model), **asdict(self)}
        unknown = sorted(set(flags) - set(own) - {"model"})
        if unknown:
            raise TypeError(f"TrainConfig.resumed_with() got unknown flags: {', '.join(unknown)}")
        if llama:
            flags = {**GPTConfig.llama_preset(flags.get("n_head", self.model.n_head)), **flags}
        fixed = [
            f"{_as_flag(name, value)} (the run's: {_as_flag(name, own[name])})"
            for name, value in sorted(flags.items())
            if name not in CHANGEABLE_ON_RESUME and value != own[name]
        ]
        if fixed:
            raise ValueError(
                f"--resume continues a run as configured, so it cannot take {', '.join(fixed)}; "
                "only --max-iters, --lr, --min-lr, --lr-decay-iters and --corpus may differ "
                "from the run's"
            )
        return replace(self, **{k: v for k, v in flags.items() if k in CHANGEABLE_ON_RESUME})

    def to_dict(self):
        """The config as plain JSON-able data (saved in state.json)."""
        return asdict(self)

    def with_vocab_size(self, vocab_size):
        """This config with the model sized for a tokenizer of `vocab_size` tokens."""
        return replace(self, model=replace(self.model, vocab_size=vocab_size))


def _flag(name):
    """A field's flag: `--n-embd`."""
    return "--" + name.replace("_", "-")


def _as_flag(name, value):
    """A field's value as the flag that gives it: `--n-embd 32`, `--no-bias`."""
    if isinstance(value, bool):
        return _flag(name) if value else f"--no-{name.replace('_', '-')}"
    return f"{_flag(name)} {value!r}"
