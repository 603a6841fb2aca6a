"""The pictures of a model and of a training run, as the `tinyllm graph` and `tinyllm plot`
commands (and `make train`) make them: one call each, files in, paths out."""

from pathlib import Path

import numpy as np

from model.run_dir import EMBEDDINGS_PLOT, LOSS_PLOT, attention_plot
from viz.embeddings import plot_embeddings
from viz.graph import draw_graph, save_graph
from viz.plots import plot_attention, plot_losses


def render_model_graph(model, out_path, idx=None, targets=None, depth=2, rules=False):
    """Run `model(idx, targets)` and save the graph of its loss to `out_path` (.svg, .png or
    .pdf), top to bottom; returns the path. `depth` and `rules` are `draw_graph`'s `depth` and
    `show_rules`.

    Without `idx`, one sequence of `block_size` token ids 0, 1, 2, ... (wrapping at the
    vocabulary size) is used; without `targets`, the same ids shifted by one. Both are drawn as
    the graph's inputs where an op kept them (the reference cross-entropy reads a copy of the
    targets, so only idx shows there), and the causal masks inside attention, where made.
    """
    config = model.config
    if idx is None:
        idx = np.arange(config.block_size, dtype=np.int64)[None] % config.vocab_size
    idx = np.asarray(idx)
    if idx.ndim != 2:
        raise ValueError(f"idx must be (B, T) token ids, got shape {idx.shape}; one row: idx[None]")
    targets = np.roll(idx, -1, axis=1) if targets is None else np.asarray(targets)
    _, loss = model(idx, targets)
    inputs = {"idx": idx, "targets": targets}  # the rest (the causal masks) is made inside
    dot = draw_graph(loss, depth=depth, show_rules=rules, rankdir="TB", inputs=inputs)
    return save_graph(dot, out_path)


def plot_run(run_dir, model=None, tokenizer=None, text=None):
    """Write a run's pictures into `run_dir` and return their paths.

    Always `loss.png` (from metrics.jsonl). With a `model` and a `tokenizer`, also
    `embeddings.png` and `attention_layer{i}.png` for every layer: each head's attention over
    `text` (its first `block_size` tokens), or, without a text, over a sample the model writes
    itself after a newline (seeded, so the picture is the same every time).
    """
    run_dir = Path(run_dir)
    paths = [run_dir / LOSS_PLOT]
    plot_losses(run_dir, path=paths[0])
    if model is None or tokenizer is None:
        return paths
    paths.append(run_dir / EMBEDDINGS_PLOT)
    plot_embeddings(model, tokenizer, path=paths[-1])
    block_size = model.config.block_size
    if text is None:
        prompt = np.array([tokenizer.encode("\n")], dtype=np.int64)
        ids = model.generate(prompt, block_size - prompt.shape[1], temperature=0.8, seed=0)[0]
    else:
        ids = np.asarray(tokenizer.encode(text)[:block_size], dtype=np.int64)
    for layer in range(model.config.n_layer):
        paths.append(run_dir / attention_plot(layer))
        plot_attention(model, ids, layer, tokenizer=tokenizer, path=paths[-1])
    return paths
