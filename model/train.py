"""The training loop: sample a batch, forward, backward, clip, AdamW step; evaluate; save.

    for step in range(start, max_iters):
        lr = warmup-then-cosine(step)
        every eval_interval: mean train/val loss over eval_batches, save a checkpoint
        train_step: grad_accum micro-batches forward and backward, clip, AdamW step, zero grads
        a loss or gradient norm that is NaN or Inf: stop, with nothing saved over the last
        checkpoint, and say how to resume it with a smaller lr

Everything random (init, dropout, batches) flows from `seed`, and a checkpoint saves every
generator's state, so a run resumed from a checkpoint continues bit for bit. Ctrl-C or SIGTERM
stops at the end of the step and saves first. Every float knob must be finite and in range.
"""

import math
import os
import shlex
import signal
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np

import engine
import nn
from model.config import GPTConfig, flag
from model.pretrained import fine_tune_config, pretrained_config


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
    corpus_chars: int = flag(500_000, "characters of generated corpus")
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
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
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
        (model/pretrained.py), which the model's fields given must agree with."""
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
        return cls(model=model, **{k: v for k, v in flags.items() if k not in model_fields})

    def to_dict(self):
        """The config as plain JSON-able data (saved in state.json)."""
        return asdict(self)

    def with_vocab_size(self, vocab_size):
        """This config with the model sized for a tokenizer of `vocab_size` tokens."""
        return replace(self, model=replace(self.model, vocab_size=vocab_size))


def make_optimizer(model, config):
    """AdamW with weight decay on matrices and embeddings (ndim >= 2) only: decaying biases and
    norm gains toward zero has no regularising use."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return nn.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


def train_step(model, optimizer, batches, grad_clip=1.0):
    """One optimizer step on `batches`, a list of (x, y) micro-batches, each (B, T) int.

    Each micro-batch's loss is scaled by 1 / len(batches) before its backward, so the
    gradients add up to the gradient of the mean loss (as one big batch would give). Then the
    gradient's global norm is clipped to `grad_clip` (0: not clipped), AdamW steps and the
    gradients are zeroed. Returns (mean loss, gradient norm before clipping), Python floats.
    """
    total = 0.0
    for x, y in batches:
        loss = model(x, y)[1]
        total += loss.item()
        (loss * (1.0 / len(batches))).backward()
        del loss  # its graph holds the micro-batch's activations: gone before the next forward
    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    optimizer.step()
    optimizer.zero_grad()
    return total / len(batches), norm


@engine.no_grad()
def estimate_loss(model, data, config):
    """Mean loss over `eval_batches` batches of each split, in eval mode (no dropout). The
    batches come from their own fixed generator, so every evaluation sees the same windows."""
    model.eval()
    rng = np.random.default_rng(config.seed + 1)
    losses = {}
    for split in ("train", "val"):
        total = 0.0
        for _ in range(config.eval_batches):
            x, y = data.get_batch(split, config.batch_size, rng)
            total += model(x, y)[1].item()
        losses[split] = total / config.eval_batches
    model.train()
    return losses


class TrainingDiverged(FloatingPointError):
    """The loss or the gradient norm stopped being a finite number: training stops unsaved."""


def _check_finite(run, step, what, value):
    """Raise TrainingDiverged if `value` is NaN or Inf, saying how to go on from the last
    checkpoint (which nothing after this step has overwritten)."""
    if math.isfinite(value):
        return
    config = run.config
    if run.saved_step is None:
        advice = f"no checkpoint was saved: start again with a smaller --lr than {config.lr:g}"
    else:
        advice = (
            f"nothing was saved after step {run.saved_step}; resume from there with a smaller "
            f"learning rate: tinyllm train --resume {shlex.quote(str(run.dir))} "
            f"--lr {config.lr / 10:.3g} --min-lr {config.min_lr / 10:.3g}"
        )
    raise TrainingDiverged(f"at step {step} the {what} is {value}; {advice}")


class _StopRequest:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM into a request to stop at the end of the
    current step, so the checkpoint then saved is consistent. A second one acts at once:
    Ctrl-C raises KeyboardInterrupt, SIGTERM ends the process."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal = None  # the number of the signal that asked to stop

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        self.signal = signum
        self._restore()

    def _restore(self):
        for s, previous in self._previous.items():
            signal.signal(s, previous)

    def __exit__(self, *exc):
        self._restore()


def progress_bar(total, initial, progress):
    """(bar, plain): tqdm.auto's bar (a widget in Jupyter, text on a terminal), and whether to
    print plain `step N: loss ...` lines instead, as when stderr is a file or a pipe, where a
    bar's carriage-return frames would fill the log. `progress=False` (--no-progress) or
    TQDM_DISABLE (any non-empty value, as tqdm reads it) turns both off; the bar is then a
    silent stand-in."""
    from tqdm.auto import tqdm  # imported here: without ipywidgets, Jupyter warns at import
    from tqdm.notebook import tqdm as widget

    quiet = not progress or bool(os.environ.get("TQDM_DISABLE"))
    interactive = issubclass(tqdm, widget) or sys.stderr.isatty()  # Jupyter's widget, a terminal
    bar = tqdm(
        total=total,
        initial=initial,
        disable=quiet or not interactive,
        unit="it",
        dynamic_ncols=True,
    )
    return bar, not quiet and not interactive


def train(run, progress=True, log=print):
    """Train `run` (a `model.run.Run`: model, optimizer, data, state) up to its max_iters.

    Returns the final losses. Writes metrics.jsonl and checkpoints into `run.dir`. Ctrl-C or
    SIGTERM stops at the end of the step, saves, and sets `run.interrupted_by` to the signal's
    number. A loss or gradient norm that is NaN or Inf raises TrainingDiverged, with nothing
    saved over the last checkpoint.
    """
    config, model, optimizer, data = run.config, run.model, run.optimizer, run.data
    engine.keep_freed_memory()  # reuse each step's arrays instead of re-faulting them
    tokens_per_step = config.batch_size * config.model.block_size * config.grad_accum
    model.train()
    bar, plain = progress_bar(config.max_iters, run.step, progress)
    last_time, last_step, losses = time.perf_counter(), run.step, None
    with _StopRequest() as stop:
        while True:
            step = run.step
            lr = nn.optim.cosine_with_warmup(
                step,
                config.lr,
                config.min_lr,
                config.warmup_iters,
                config.lr_decay_iters - config.warmup_iters,
            )
            due = step % config.eval_interval == 0 or step == config.max_iters
            if due and step > run.last_eval_step():  # a resumed run evaluated this step before
                losses = estimate_loss(model, data, config)
                for split in ("train", "val"):
                    _check_finite(run, step, f"{split} loss of the evaluation", losses[split])
                if losses["val"] < run.best_val:
                    run.best_val, run.best_step = losses["val"], step
                run.log_metrics(
                    step=step,
                    train_loss=losses["train"],
                    val_loss=losses["val"],
                    lr=lr,
                    kind="eval",
                )
                bar.write(
                    f"step {step}: train loss {losses['train']:.4f}, val loss "
                    f"{losses['val']:.4f}{run.floor_note()}"
                )
                run.save()
            if stop.signal is not None and run.saved_step != step:
                run.save()
            if step >= config.max_iters or stop.signal is not None:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr
            batches = [
                data.get_batch("train", config.batch_size, run.data_rng)
                for _ in range(config.grad_accum)
            ]
            train_loss, grad_norm = train_step(model, optimizer, batches, config.grad_clip)
            _check_finite(run, step, "training loss", train_loss)
            _check_finite(run, step, "gradient norm", grad_norm)
            run.step = step + 1
            bar.update(1)
            if run.step % config.log_interval == 0:
                now = time.perf_counter()
                tokens_per_s = tokens_per_step * (run.step - last_step) / (now - last_time)
                last_time, last_step = now, run.step
                bar.set_postfix(
                    loss=f"{train_loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{tokens_per_s:,.0f}"
                )
                if plain:
                    line = f"step {run.step}: loss {train_loss:.4f}, lr {lr:.2e}"
                    print(f"{line}, {tokens_per_s:,.0f} tokens/s", flush=True)
                run.log_metrics(
                    step=run.step,
                    train_loss=train_loss,
                    val_loss=None,
                    lr=lr,
                    tokens_per_s=tokens_per_s,
                    kind="train",
                )
    bar.close()
    run.interrupted_by = stop.signal
    if stop.signal is not None:
        log(
            f"Stopped by {signal.Signals(stop.signal).name} at step {run.step}; checkpoint "
            f"saved in {run.dir}. Resume with: tinyllm train --resume {shlex.quote(str(run.dir))}"
        )
    return losses
