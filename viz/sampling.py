"""What sampling chooses from: the next-token distribution under temperature, top-k and top-p.

The model gives one score (logit) per token for the position after the prompt. Sampling turns
them into probabilities with `model.sample.next_token_probs`, the very function `generate`
uses, so the bars show what `generate` would draw from.
"""

import numpy as np

from model.sample import next_token_probs
from viz.plots import InlineFigure, save_figure, token_label

SETTINGS = (
    {"temperature": 1.0},
    {"temperature": 0.5},
    {"temperature": 1.0, "top_k": 3},
    {"temperature": 1.0, "top_p": 0.9},
)


def plot_next_token(model, tokenizer, prompt, settings=SETTINGS, n=12, path=None):
    """Bars of the probability of the `n` likeliest next tokens after `prompt` (text), one
    panel per dict of `next_token_probs` options in `settings`. The tokens are those likeliest
    at temperature 1, in the same order in every panel."""
    ids = np.asarray([tokenizer.encode(prompt)[-model.config.block_size :]], dtype=np.int64)
    was_training = model.training
    model.eval()
    try:
        logits = model(ids)[0].data[:, -1, :]  # (1, V): the scores for the next position
    finally:
        model.train(was_training)
    order = np.argsort(-next_token_probs(logits)[0], kind="stable")[:n]
    names = [token_label(tokenizer, i) for i in order]
    fig = InlineFigure(figsize=(2.6 * len(settings), 2.8), layout="constrained")
    axes = fig.subplots(1, len(settings), sharey=True, squeeze=False)[0]
    for ax, options in zip(axes, settings, strict=True):
        probs = next_token_probs(logits, **options)[0][order]
        ax.bar(range(n), probs, color="#4c72b0")
        ax.set_xticks(range(n), names, fontsize=8, family="monospace")
        ax.set_title(", ".join(f"{k}={v:g}" for k, v in options.items()), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability of the next token")
    fig.suptitle(f"after {prompt!r}", fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig
