"""The training loop: sample a batch, forward, backward, clip, AdamW step; evaluate; save.

    for step in range(start, max_iters):
        lr = warmup-then-cosine(step)
        every eval_interval: mean train/val loss over eval_batches, save a checkpoint
        grad_accum times: x, y = random windows;  loss(model(x), y).backward()
        clip the gradient's global norm; AdamW step; zero the gradients

Everything random (init, dropout, batches) flows from `seed`, and a checkpoint saves every
generator's state, so a run resumed from a checkpoint continues bit for bit.
"""

import signal
import time
from dataclasses import dataclass, fields

import numpy as np
from tqdm import tqdm

import engine
import nn
from model.gpt import GPTConfig


@dataclass
class TrainConfig:
    """Every knob of a run; each is a `tinyllm train --flag` of the same name."""

    out_dir: str = ""  # empty: a new folder runs/YYYYMMDD-HHMMSS
    corpus: str = "stories"  # 'stories', 'addition', or a path to a UTF-8 text file
    corpus_chars: int = 500_000  # size of a generated corpus
    tokenizer: str = "char"  # 'char' or 'bpe'
    vocab_size: int = 512  # for 'bpe' only
    # The model's shape: GPTConfig's fields (but vocab_size, which the tokenizer decides),
    # with GPTConfig's defaults.
    block_size: int = GPTConfig.block_size
    n_layer: int = GPTConfig.n_layer
    n_head: int = GPTConfig.n_head
    n_embd: int = GPTConfig.n_embd
    dropout: float = GPTConfig.dropout
    bias: bool = GPTConfig.bias
    gelu: str = GPTConfig.gelu
    batch_size: int = 16
    grad_accum: int = 1
    max_iters: int = 3000
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_iters: int = 100
    lr_decay_iters: int = 3000
    weight_decay: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.99
    grad_clip: float = 1.0
    eval_interval: int = 500
    eval_batches: int = 20
    log_interval: int = 10
    seed: int = 1337

    def __post_init__(self):
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
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"need 0 < min_lr <= lr, got min_lr={self.min_lr}, lr={self.lr}")
        if self.tokenizer not in ("char", "bpe"):
            raise ValueError(f"tokenizer must be 'char' or 'bpe', got {self.tokenizer!r}")
        self.model_config(vocab_size=1)  # an impossible model fails now, not after the corpus

    def model_config(self, vocab_size):
        """The GPTConfig of this run's model, for a tokenizer of `vocab_size` tokens."""
        names = {f.name for f in fields(GPTConfig)} - {"vocab_size"}
        return GPTConfig(vocab_size=vocab_size, **{n: getattr(self, n) for n in names})


def make_optimizer(model, config):
    """AdamW with weight decay on matrices and embeddings (ndim >= 2) only: decaying biases and
    norm gains toward zero has no regularising use."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return nn.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


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


class _StopRequest:
    """Turns the first Ctrl-C into a request to stop at the end of the current step (so the
    checkpoint is consistent); a second Ctrl-C interrupts at once."""

    def __init__(self):
        self.requested = False

    def __enter__(self):
        self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = True
        signal.signal(signal.SIGINT, self._previous)

    def __exit__(self, *exc):
        signal.signal(signal.SIGINT, self._previous)


def train(run, progress=True, log=print):
    """Train `run` (a `model.run.Run`: model, optimizer, data, state) up to its max_iters.

    Returns the final losses. Writes metrics.jsonl and checkpoints into `run.dir`.
    """
    config, model, optimizer, data = run.config, run.model, run.optimizer, run.data
    engine.keep_freed_memory()  # reuse each step's arrays instead of re-faulting them
    params = list(model.parameters())
    tokens_per_step = config.batch_size * config.block_size * config.grad_accum
    model.train()
    bar = tqdm(
        total=config.max_iters,
        initial=run.step,
        disable=not progress,
        unit="it",
        dynamic_ncols=True,
    )
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
                run.best_val = min(run.best_val, losses["val"])
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
            if stop.requested:
                run.save()
            if step >= config.max_iters or stop.requested:
                break
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss_sum = 0.0
            for _ in range(config.grad_accum):
                x, y = data.get_batch("train", config.batch_size, run.data_rng)
                _, loss = model(x, y)
                loss_sum += loss.item()
                (loss if config.grad_accum == 1 else loss * (1.0 / config.grad_accum)).backward()
            if config.grad_clip > 0:
                nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimizer.step()
            optimizer.zero_grad()
            run.step = step + 1
            bar.update(1)
            if run.step % config.log_interval == 0:
                now = time.perf_counter()
                tokens_per_s = tokens_per_step * (run.step - last_step) / (now - last_time)
                last_time, last_step = now, run.step
                train_loss = loss_sum / config.grad_accum
                bar.set_postfix(
                    loss=f"{train_loss:.3f}", lr=f"{lr:.2e}", tok_s=f"{tokens_per_s:,.0f}"
                )
                run.log_metrics(
                    step=run.step,
                    train_loss=train_loss,
                    val_loss=None,
                    lr=lr,
                    tokens_per_s=tokens_per_s,
                    kind="train",
                )
    bar.close()
    if stop.requested:
        log(
            f"Interrupted at step {run.step}; checkpoint saved in {run.dir}. "
            f"Resume with: tinyllm train --resume {run.dir}"
        )
    return losses
