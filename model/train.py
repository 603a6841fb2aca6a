"""The training loop: sample a batch, forward, backward, clip, AdamW step; evaluate; save.

    for step in range(start, max_iters):
        lr = warmup-then-cosine(step)
        every eval_interval: mean train/val loss over eval_batches, save a checkpoint
        train_step: grad_accum micro-batches forward and backward (each one's rows shared by
            two processes where there are two cores: model/data_parallel.py), clip, AdamW
            step, zero grads
        a loss or gradient norm that is NaN or Inf: stop, with nothing saved over the last
        checkpoint, and say how to resume it with a smaller lr

Everything random (init, dropout, batches) flows from `seed`, and a checkpoint saves every
generator's state, so a run resumed from a checkpoint continues bit for bit where the step
takes the same path (one process, or two: their sums differ by rounding). Ctrl-C or SIGTERM
stops at the end of the step (or of an evaluation's batch, but for the last evaluation's) and
saves first, as does a reader of the output that has gone (`tinyllm train | head`). Every
float knob must be finite and in range.
"""

import contextlib
import functools
import math
import os
import shlex
import signal
import sys
import time

import numpy as np

import engine
import nn
from model.data_parallel import data_parallel


def make_optimizer(model, config):
    """AdamW with weight decay on matrices and embeddings (ndim >= 2) only: decaying biases and
    norm gains toward zero has no regularising use."""
    params = list(model.parameters())
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return nn.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


def loss_backward(model, x, y, scale):
    """The mean loss of the rows (x, y), a Python float, after adding scale × its gradient to
    the parameters' `.grad` (scale None: no gradient, as in an evaluation)."""
    loss = model(x, y)[1]
    if scale is not None:
        (loss * scale).backward()
    return loss.item()  # the graph, and the activations it holds, go with `loss`


def train_step(model, optimizer, batches, grad_clip=1.0, parallel=None):
    """One optimizer step on `batches`, a list of (x, y) micro-batches, each (B, T) int.

    Each micro-batch's loss is scaled by 1 / len(batches) before its backward, so the
    gradients add up to the gradient of the mean loss (as one big batch would give). Then the
    gradient's global norm is clipped to `grad_clip` (0: not clipped), AdamW steps and the
    gradients are zeroed. `parallel` (a `model.data_parallel.DataParallel` on `model`, or
    None) shares each micro-batch's rows between two processes. Returns (mean loss, gradient
    norm before clipping), Python floats.
    """
    backward = parallel or functools.partial(loss_backward, model)
    total = sum(backward(x, y, 1.0 / len(batches)) for x, y in batches)
    norm = nn.utils.clip_grad_norm_(model.parameters(), grad_clip if grad_clip > 0 else math.inf)
    optimizer.step()
    optimizer.zero_grad()
    return total / len(batches), norm


@engine.no_grad()
def estimate_loss(model, data, config, parallel=None, stopped=None):
    """Mean loss over `eval_batches` batches of each split, in eval mode (no dropout). The
    batches come from their own fixed generator, so every evaluation sees the same windows.
    `parallel` (a DataParallel, or None) shares each batch's rows, as in `train_step`. Where
    `stopped()` turns true between two batches (a Ctrl-C or SIGTERM), returns None: the
    evaluation is left off, and a resumed run makes it again."""
    loss = parallel or functools.partial(loss_backward, model)
    model.eval()
    rng = np.random.default_rng(config.seed + 1)
    losses = {}
    try:
        for split in ("train", "val"):
            total = 0.0
            for _ in range(config.eval_batches):
                if stopped is not None and stopped():
                    return None
                x, y = data.get_batch(split, config.batch_size, rng)
                total += loss(x, y, None)
            losses[split] = total / config.eval_batches
    finally:
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


STOPPING = "stopping at the end of this step, to save it (send it again to stop at once)"


class _StopRequest:
    """Turns the first Ctrl-C (SIGINT) or SIGTERM, or a write to a stdout whose reader has gone,
    into a request to stop at the end of the current step (an evaluation asks `requested()`
    between its batches), so the checkpoint then saved is consistent. A second signal acts at
    once: Ctrl-C raises KeyboardInterrupt, SIGTERM ends the process."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.signal = None  # the number of the signal that asked to stop

    def __enter__(self):
        self._previous = {s: signal.signal(s, self._handle) for s in self.SIGNALS}
        return self

    def _handle(self, signum, frame):
        self.signal = signum
        self._restore()
        # Straight to the file descriptor: a print could land inside one the bar was making.
        with contextlib.suppress(OSError):  # no stderr to say it on: stop all the same
            os.write(2, f"\n{signal.Signals(signum).name}: {STOPPING}\n".encode())

    def requested(self):
        """Whether a signal (or a gone reader) has asked to stop."""
        return self.signal is not None

    def say(self, text, write=print):
        """`write(text)` (print, or the bar's write, both to stdout). If stdout is a pipe whose
        reader has gone (`tinyllm train | head`), ask to stop as a signal does, so the step is
        saved, not lost; what is left to print goes nowhere. Python ignores SIGPIPE itself, so
        the write fails with EPIPE instead; the run then stops as if by SIGPIPE."""
        try:
            write(text)
            if sys.stdout is not None:  # None: started with stdout closed (`>&-`)
                sys.stdout.flush()  # each line as it comes, to a pipe or a file too
        except BrokenPipeError:
            discard_stdout()
            if self.signal is None:  # a Ctrl-C or SIGTERM already pending says why it stopped
                self.signal = signal.SIGPIPE

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
    with _StopRequest() as stop, data_parallel(model, loss_backward) as parallel:
        while True:
            step = run.step
            lr = nn.optim.lr_scheduler.cosine_with_warmup(
                step,
                config.lr,
                config.min_lr,
                config.warmup_iters,
                config.lr_decay_iters - config.warmup_iters,
            )
            due = step % config.eval_interval == 0 or step == config.max_iters
            evaluated = None
            if due and step > run.last_eval_step():  # a resumed run evaluated this step before
                # A signal cuts an evaluation short (a resumed run makes it again), but not the
                # last one: a run at max_iters has no step left to resume for.
                last = step >= config.max_iters
                evaluated = estimate_loss(
                    model, data, config, parallel, stopped=None if last else stop.requested
                )
            if evaluated is not None:
                losses = evaluated
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
                stop.say(
                    f"step {step}: train loss {losses['train']:.4f}, val loss "
                    f"{losses['val']:.4f}{run.floor_note()}",
                    bar.write,
                )
                if run.saved_step != step:  # else an evaluation a signal cut short, made again
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
            train_loss, grad_norm = train_step(
                model, optimizer, batches, config.grad_clip, parallel
            )
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
                    stop.say(f"{line}, {tokens_per_s:,.0f} tokens/s")
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
        message = (
            f"Stopped by {signal.Signals(stop.signal).name} at step {run.step}; checkpoint "
            f"saved in {run.dir}. Resume with: tinyllm train --resume {shlex.quote(str(run.dir))}"
        )
        if stop.signal == signal.SIGPIPE:  # stdout's reader has gone: say it where it is read
            print(message, file=sys.stderr)
        else:
            log(message)
    return losses


def discard_stdout():
    """Send what is left to print to /dev/null: stdout is a pipe whose reader has gone, and
    what Python still holds for it would fail again when the process exits."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
