"""Plots of a training run and of what a model attends to (matplotlib, no display needed).

Every function builds a matplotlib figure directly (not through `pyplot`), so nothing needs a
screen or a global figure list: it works the same in a script, a test or a notebook. Each
returns the figure (an `InlineFigure`, which Jupyter shows as a picture) and, given `path`,
saves it as PNG or SVG by the file's extension.
"""

import io
import math
import numbers
import os
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from engine.files import write_atomic
from model.run import read_metrics

FORMATS = (".png", ".svg")


class InlineFigure(Figure):
    """A matplotlib Figure that Jupyter shows as a PNG in a fresh kernel, no `%matplotlib`
    line needed: IPython shows an object through its `_repr_png_`, and a plain Figure made
    without pyplot has none (it printed as `<Figure size 700x420 with 1 Axes>`)."""

    def _repr_png_(self):
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


def save_figure(fig, path):
    """Save `fig` to `path` (.png or .svg, by extension), atomically; returns the path."""
    if not isinstance(fig, Figure):  # a graphviz picture has a save method of another kind
        hint = ": save a graph with viz.save_graph" if hasattr(fig, "pipe") else ""
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}{hint}")
    if os.fspath(path).endswith(("/", os.sep)):  # Path() would drop it, and write a file
        raise IsADirectoryError(f"figure file {os.fspath(path)!r} ends in '/': give a file name")
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ValueError(f"figure file must end in .png or .svg, got {str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lower()[1:], dpi=150, bbox_inches="tight")
    return write_atomic(path, buffer.getvalue())


def plot_losses(run, floor=None, path=None, title="train and validation loss"):
    """The loss against step: what training saw, what evaluation measured, and the floor.

    `run` is a run directory (holding metrics.jsonl) or a list of metric dicts with `step`,
    `train_loss` and/or `val_loss`, and `kind`, as training writes them. The two kinds are
    different measurements, drawn apart:
    - "train" rows hold the loss of the one batch trained on at that step (logged every
      `log_interval` steps): a noisy line, with its running mean over the logged batches;
    - "eval" rows hold means over `eval_batches` batches of each split, in eval mode: markers.
    A row without a kind counts as an evaluation when it has a `val_loss`. `floor` (nats per
    token) is the best loss any model can reach on the corpus; by default it is read from the
    run (`model.run.read_metrics`) or the metrics ("entropy_floor").
    """
    if isinstance(run, str | Path):
        rows, run_floor = read_metrics(run)
        floor = run_floor if floor is None else floor
    elif isinstance(run, list | tuple):
        rows = list(run)
    else:
        raise TypeError(f"run must be a run directory or a list of metric dicts, got {run!r:.80}")
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or "step" not in row:
            raise ValueError(f"run[{i}] must be a metric dict with a 'step', got {row!r:.80}")
    if floor is None:
        floor = next((r["entropy_floor"] for r in rows if r.get("entropy_floor") is not None), None)
    if floor is not None and not isinstance(floor, numbers.Real):
        raise TypeError(f"floor must be a number (nats per token), got {floor!r}")
    batches = _points(rows, "train", "train_loss")
    means = {"train": _points(rows, "eval", "train_loss"), "val": _points(rows, "eval", "val_loss")}
    if not batches and not means["train"] and not means["val"]:
        raise ValueError("no train_loss or val_loss in the metrics: nothing to plot")

    fig = InlineFigure(figsize=(7, 4.2))
    ax = fig.add_subplot()
    if batches:
        steps, losses = np.array(batches, dtype=np.float64).T
        label = "one training batch, at each logged step"
        marker = "o" if len(losses) < 20 else None  # a few points show as points, not a line
        ax.plot(steps, losses, color="#4c72b0", alpha=0.3, linewidth=1, marker=marker, label=label)
        if len(losses) >= 20:  # a running mean shows the trend through the batch noise
            k = max(len(losses) // 20, 2)
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            label = f"running mean of {k} logged batches"
            ax.plot(steps[k - 1 :], smooth, color="#4c72b0", linewidth=2, label=label)
    styles = {"train": ("s--", "#4c72b0", "train split"), "val": ("o-", "#dd8452", "validation")}
    for split, (style, colour, name) in styles.items():
        if means[split]:
            steps, losses = np.array(means[split], dtype=np.float64).T
            label = f"{name}, mean over the eval batches"
            ax.plot(steps, losses, style, color=colour, linewidth=1.5, markersize=4, label=label)
    if floor is not None:
        ax.axhline(floor, color="#555555", linestyle="--", linewidth=1.2)
        ax.annotate(
            f"entropy floor {floor:.3f}",
            xy=(0, floor),
            xycoords=("axes fraction", "data"),
            xytext=(4, 3),
            textcoords="offset points",
            color="#555555",
            fontsize=9,
        )
    ax.set(xlabel="step", ylabel="loss (nats per token)", title=title)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))  # steps are whole
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig


def _points(rows, kind, key):
    """(step, loss) for the rows of `kind` that hold the loss `key`. A row's kind is "train"
    (one batch) or "eval" (means over the eval batches); without one, a row with a val_loss
    is an evaluation."""
    return [
        (r["step"], r[key])
        for r in rows
        if r.get("kind", "eval" if r.get("val_loss") is not None else "train") == kind
        and r.get(key) is not None
    ]


def token_label(tokenizer, i):
    """How token `i` is printed on a plot: its text, with space, newline and tab made visible
    and other control characters escaped (`\\x04`)."""
    if tokenizer is None:
        return str(i)
    text = tokenizer.decode([int(i)]).replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def attention_maps(model, ids):
    """The attention weights of every layer for the token ids (T,): a list of (n_head, T, T).

    Row t of a head's map is how query position t spreads its attention over positions 0..t
    (each row sums to 1; the future is masked to 0). Uses `model.attention_maps(idx)`.
    """
    ids = np.asarray(ids)
    if ids.ndim != 1 or ids.dtype.kind not in "iu" or ids.size == 0:
        raise ValueError(f"ids must be a 1-D sequence of token ids, got {ids.dtype} {ids.shape}")
    return [np.asarray(m)[0] for m in model.attention_maps(ids[None])]


def check_index(name, value, count):
    """Raise unless `value` is an int in 0..count-1: TypeError for another type (a float, a
    bool, a string), ValueError out of range."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int in 0..{count - 1}, got {value!r}")
    if not 0 <= value < count:
        raise ValueError(f"{name} must be in 0..{count - 1}, got {value}")


def plot_attention(model, ids, layer=0, head=None, tokenizer=None, path=None):
    """Attention weights of one layer as heatmaps, query positions down, keys across.

    `head=None` draws every head of the layer in a grid. With a `tokenizer`, both axes are
    labelled with the tokens (else with their ids).
    """
    maps = attention_maps(model, ids)
    check_index("layer", layer, len(maps))
    weights = maps[layer]  # (n_head, T, T)
    n_head = weights.shape[0]
    if head is not None:
        check_index("head", head, n_head)
    heads = range(n_head) if head is None else [head]
    cols = math.ceil(math.sqrt(len(heads)))  # a square-ish grid: 4 heads in 2 x 2
    rows = math.ceil(len(heads) / cols)
    T = weights.shape[-1]
    size = min(max(2.5, 0.12 * T), 5)  # inches per heatmap
    fig = InlineFigure(figsize=(size * cols + 1, size * rows + 0.4), layout="constrained")
    tokens = [token_label(tokenizer, i) for i in ids]
    step = max(1, math.ceil(T / 32))  # at most 32 tick labels per axis
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax in axes.flat[len(heads) :]:
        ax.set_axis_off()
    for ax, h in zip(axes.flat, heads, strict=False):
        image = ax.imshow(weights[h], cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"layer {layer}, head {h}", fontsize=10)
        ticks = np.arange(0, T, step)
        ax.set_xticks(ticks, [tokens[t] for t in ticks], rotation=90, fontsize=7)
        ax.set_yticks(ticks, [tokens[t] for t in ticks], fontsize=7)
        ax.set_xlabel("key (attended to)", fontsize=8)
        ax.set_ylabel("query", fontsize=8)
    fig.colorbar(image, ax=axes, shrink=0.6, label="attention weight")
    if path is not None:
        save_figure(fig, path)
    return fig
