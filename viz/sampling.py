"""What sampling chooses from: the next-token distribution under temperature, top-k and top-p.

The model gives one score (logit) per token for the position after the prompt. Sampling turns
them into probabilities with `model.sample.next_token_probs`, the very function `generate`
uses, so the bars show what `generate` would draw from. Temperature 0 is greedy decoding, as
in `generate`: the likeliest token gets probability 1.
"""

import numpy as np

from model.sample import check_options, next_token_probs
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
    at temperature 1, in the same order in every panel (all of them, for a vocabulary of fewer
    than `n`). Options are checked as `generate` checks them (ValueError for a bad one), and a
    `top_k` above the vocabulary size keeps every token, as there."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be an int >= 1, got {n!r}")
    if not isinstance(settings, list | tuple) or not settings:
        raise ValueError(f"settings must be a non-empty list of option dicts, got {settings!r}")
    if not all(isinstance(options, dict) for options in settings):
        raise ValueError(f"settings must hold dicts of next_token_probs options, got {settings!r}")
    ids = tokenizer.encode(prompt)[-model.config.block_size :]
    if not ids:
        raise ValueError(f"prompt must encode to at least one token, got {prompt!r}")
    was_training = model.training
    model.eval()
    try:
        logits = model(np.asarray([ids], dtype=np.int64))[0].data[:, -1, :]  # (1, V): next
    finally:
        model.train(was_training)
    order = np.argsort(-next_token_probs(logits)[0], kind="stable")[:n]
    names = [token_label(tokenizer, i) for i in order]
    fig = InlineFigure(figsize=(2.6 * len(settings), 2.8), layout="constrained")
    axes = fig.subplots(1, len(settings), sharey=True, squeeze=False)[0]
    for ax, options in zip(axes, settings, strict=True):
        ax.bar(range(len(order)), _probs(model, logits, options)[order], color="#4c72b0")
        ax.set_xticks(range(len(order)), names, fontsize=8, family="monospace")
        title = ", ".join(f"{k}={v:g}" for k, v in options.items())
        ax.set_title(title + " (greedy)" * (options.get("temperature") == 0), fontsize=9)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("probability of the next token")
    fig.suptitle(f"after {prompt!r}", fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def _probs(model, logits, options):
    """The probabilities (V,) that `generate` draws from with `options`: one-hot on the
    likeliest token at temperature 0, else `next_token_probs` (top_k at most the vocabulary)."""
    temperature, top_p = options.get("temperature", 1.0), options.get("top_p")
    _, top_k = check_options(model, 0, temperature, options.get("top_k"), top_p)
    if temperature == 0:
        return np.eye(logits.shape[-1])[logits[0].argmax()]
    return next_token_probs(logits, **(options | {"top_k": top_k}))[0]
