"""The pictures of a model and of a training run, as the `tinyllm graph` and `tinyllm plot`
commands (and `make train`) make them: one call each, files in, paths out."""

from pathlib import Path

import numpy as np

from viz.embeddings import plot_embeddings
from viz.graph import draw_graph, save_graph
from viz.plots import plot_attention, plot_losses


def render_model_graph(model, idx, targets, out_path, depth=2, rules=False, rankdir="TB"):
    """Run `model(idx, targets)` and save the graph of its loss to `out_path` (.svg, .png or
    .pdf); returns the path. `depth` and `rules` are `draw_graph`'s `depth` and `show_rules`."""
    _, loss = model(idx, targets)
    if loss is None:
        raise ValueError("the model returned no loss: pass targets to draw the loss graph")
    return save_graph(draw_graph(loss, depth=depth, show_rules=rules, rankdir=rankdir), out_path)


def plot_run(run_dir, model=None, tokenizer=None, text=None):
    """Write a run's pictures into `run_dir` and return their paths.

    Always `loss.png` (from metrics.jsonl). With a `model` and a `tokenizer`, also
    `embeddings.png`, and with a `text` as well, `attention_layer{i}.png` for every layer: the
    attention of each head over the text's first `block_size` tokens.
    """
    run_dir = Path(run_dir)
    paths = [run_dir / "loss.png"]
    plot_losses(run_dir, path=paths[0])
    if model is not None and tokenizer is not None:
        paths.append(run_dir / "embeddings.png")
        plot_embeddings(model, tokenizer, path=paths[-1])
        if text is not None:
            ids = np.asarray(tokenizer.encode(text)[: model.config.block_size], dtype=np.int64)
            for layer in range(model.config.n_layer):
                paths.append(run_dir / f"attention_layer{layer}.png")
                plot_attention(model, ids, layer, tokenizer=tokenizer, path=paths[-1])
    return paths
