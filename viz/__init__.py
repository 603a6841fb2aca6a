"""Pictures of what the engine and the model do.

- `draw_architecture(config)`: a GPT's modules as a diagram, from its config.
- `draw_graph(root, depth, show_data, show_rules, inputs)`: the computation graph behind a
  tensor, from `a * b + c` to a whole GPT, with module clusters (or a box per module call) and
  the backward rule on every arrow.
- `backward_steps(root, out_dir)`: backpropagation as numbered frames, one per visited node;
  `backward_side_by_side(root)` puts them all in one picture.
- `check_graph(root)`: every op's backward re-checked in float64 against finite differences,
  the graph coloured by the error (a broken op shows red).
- `plot_losses`, `plot_attention`, `plot_embeddings`: matplotlib figures of a run and a model;
  `plot_merges`: a text cut into tokens after more and more of a BPE tokenizer's merges;
  `plot_next_token`: what sampling draws from, under temperature, top-k and top-p.

Every picture shows inline in a Jupyter notebook, with no `%matplotlib` line, and graphs can be
drawn after a plain `loss.backward()`.
- `render_model_graph`, `plot_run`: what the `tinyllm graph` and `tinyllm plot` commands call.

    >>> import engine, viz
    >>> a = engine.Tensor(2.0, requires_grad=True, name="a")
    >>> loss = a * a + a
    >>> dot = viz.draw_graph(loss)           # a graphviz.Digraph: shows inline in Jupyter
    >>> viz.save_graph(dot, "graph.svg")     # doctest: +SKIP
"""

from viz.architecture import draw_architecture
from viz.backward_steps import backward_frames, backward_side_by_side, backward_steps
from viz.check import NodeCheck, check_graph
from viz.embeddings import pca, plot_embeddings
from viz.graph import draw_graph, save_graph
from viz.plots import attention_maps, plot_attention, plot_losses, save_figure
from viz.run import plot_run, render_model_graph
from viz.sampling import plot_next_token
from viz.tokens import merge_stages, plot_merges

__all__ = [
    "NodeCheck",
    "attention_maps",
    "backward_frames",
    "backward_side_by_side",
    "backward_steps",
    "check_graph",
    "draw_architecture",
    "draw_graph",
    "merge_stages",
    "pca",
    "plot_attention",
    "plot_embeddings",
    "plot_losses",
    "plot_merges",
    "plot_next_token",
    "plot_run",
    "render_model_graph",
    "save_figure",
    "save_graph",
]
