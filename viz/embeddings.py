"""Token embeddings seen in 2-D: principal component analysis (PCA) in a few lines of NumPy.

Each token's embedding is a row of `transformer.wte.weight`, a point in C dimensions. PCA finds
the two directions along which those points spread the most: centre the rows, take the singular
value decomposition X = U S Vᵀ, and the first two rows of Vᵀ are those directions. Projecting
on them keeps as much of the spread as any flat picture can, so tokens the model treats alike
(vowels, digits, punctuation) land near each other.
"""

import numpy as np

from viz.plots import InlineFigure, save_figure, token_label

KINDS = {  # kind of token -> colour
    "vowel": "#dd8452",
    "consonant": "#4c72b0",
    "digit": "#55a868",
    "space": "#8172b3",
    "punctuation": "#c44e52",
    "word piece": "#937860",
    "other": "#8c8c8c",
}


def pca(x, k=2):
    """Project the rows of x (N, C) on their k main directions: returns (N, k) and the share of
    the total variance each direction explains (k,)."""
    centred = x - x.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    explained = s**2 / np.sum(s**2)
    return centred @ vt[:k].T, explained[:k]


def kind(text):
    """A coarse kind of token, for colouring: a vowel, a digit, punctuation, a word piece..."""
    if text.isspace():
        return "space"
    if text.isdigit():
        return "digit"
    if text.isalpha():
        if len(text) > 1:
            return "word piece"
        return "vowel" if text.lower() in "aeiou" else "consonant"
    if all(not c.isalnum() and not c.isspace() for c in text):
        return "punctuation"
    return "other"


def _printable(text):
    """True for text a plot can show: no control characters but newline and tab, no U+FFFD."""
    visible = text.replace("\n", "").replace("\t", "")
    return bool(text) and visible.isprintable() and "\ufffd" not in text


def plot_embeddings(model, tokenizer, ids=None, path=None):
    """The token embeddings projected to 2-D by PCA, each point labelled with its token.

    `ids`: the token ids to show; by default every token whose text is printable (the byte
    tokens that are not text on their own are left out).
    """
    weight = np.asarray(model.transformer.wte.weight.data, dtype=np.float64)  # (V, C)
    if ids is None:
        texts = [tokenizer.decode([i]) for i in range(weight.shape[0])]
        ids = [i for i, text in enumerate(texts) if _printable(text)]
    ids = np.asarray(ids)
    if ids.size < 3:
        raise ValueError(f"plot_embeddings needs at least 3 tokens to project, got {ids.size}")
    if ids.ndim != 1 or ids.dtype.kind not in "iu":
        raise ValueError(f"ids must be a 1-D list of token ids, got {ids.dtype} {ids.shape}")
    outside = ids[(ids < 0) | (ids >= len(weight))]
    if outside.size:
        raise ValueError(f"ids must be in 0..{len(weight) - 1}, got {outside[:5].tolist()}")
    points, explained = pca(weight[ids])
    kinds = [kind(tokenizer.decode([int(i)])) for i in ids]

    fig = InlineFigure(figsize=(8, 7), layout="constrained")
    ax = fig.add_subplot()
    for name, colour in KINDS.items():
        chosen = [j for j, k in enumerate(kinds) if k == name]
        if chosen:
            ax.scatter(*points[chosen].T, s=18, color=colour, alpha=0.7, label=name)
    for (x, y), i, k in zip(points, ids, kinds, strict=True):
        ax.annotate(
            token_label(tokenizer, i),
            (x, y),
            xytext=(3, 2),
            textcoords="offset points",
            fontsize=8,
            color=KINDS[k],
        )
    ax.set(
        xlabel=f"principal component 1 ({explained[0]:.0%} of variance)",
        ylabel=f"principal component 2 ({explained[1]:.0%} of variance)",
        title=f"token embeddings (wte), {len(ids)} tokens",
    )
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    if path is not None:
        save_figure(fig, path)
    return fig
