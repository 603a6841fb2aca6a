"""What byte-pair encoding does to a text, merge by merge (`plot_merges`).

A BPE tokenizer starts from bytes and learns merges in order (tokenizer/train.py). Replaying
only its first k merges shows how the text is cut at that point of training: at k = 0 every
byte is a token; as k grows, frequent pieces ("the", " a", "ed") fuse into single tokens, and
the text takes fewer and fewer of them.
"""

import numpy as np

from tokenizer.base import apply_merges
from tokenizer.bpe import BPETokenizer
from tokenizer.patterns import splitter
from viz.plots import InlineFigure, save_figure

COLOURS = ("#dceaf7", "#fde3c8")  # neighbouring tokens alternate, so every boundary shows


def merge_stages(tokenizer, text, counts):
    """For each k in `counts`: `text` as a BPETokenizer with only its first k merges would cut
    it, a list of token byte strings (split by the tokenizer's pattern, as `encode` does).

    >>> from tokenizer import BPETokenizer
    >>> tok = BPETokenizer(pattern=None).train("aaabdaaabac", vocab_size=259)
    >>> merge_stages(tok, "aaabdaaabac", [0, 1, 3])[1]
    [b'aa', b'a', b'b', b'd', b'aa', b'a', b'b', b'a', b'c']
    """
    merges = list(_merges(tokenizer).items())  # in the order they were learned: their rank
    split = splitter(tokenizer.pattern)
    stages = []
    for k in counts:
        if not 0 <= k <= len(merges):
            raise ValueError(f"the tokenizer has {len(merges)} merges; cannot replay {k}")
        ranks = {pair: (rank, idx) for rank, (pair, idx) in enumerate(merges[:k])}
        tokens = []
        for chunk in split(text):
            ids = apply_merges([tokenizer.byte_ids[b] for b in chunk.encode("utf-8")], ranks)
            tokens += [tokenizer.vocab[i] for i in ids]
        stages.append(tokens)
    return stages


def plot_merges(tokenizer, text, counts=None, path=None):
    """`text` cut into tokens after the first k merges, one row per k in `counts` (by default
    0, a few, and all of them): each token a box, neighbours in alternating colours, spaces
    shown as ␣. Meant for a line or two of text."""
    counts = _default_counts(len(_merges(tokenizer))) if counts is None else list(counts)
    if not counts:
        raise ValueError("plot_merges needs at least one count of merges, got none")
    stages = merge_stages(tokenizer, text, counts)
    rows = [[t.decode("utf-8", errors="replace").replace(" ", "␣") for t in s] for s in stages]
    width = max(sum(len(t) for t in row) for row in rows)
    fig = InlineFigure(figsize=(0.105 * width + 2.2, 0.42 * len(rows) + 0.6))
    ax = fig.add_subplot()
    for r, (k, row) in enumerate(zip(counts, rows, strict=True)):
        y, x = -r, 0
        for i, token in enumerate(row):
            box = dict(facecolor=COLOURS[i % 2], edgecolor="#8a9bb5", linewidth=0.6)
            ax.add_patch(_rounded(x + 0.06, y - 0.32, len(token) - 0.12, 0.64, **box))
            for j, char in enumerate(token):
                ax.text(x + j + 0.5, y, char, ha="center", va="center", family="monospace",
                        fontsize=9)  # fmt: skip
            x += len(token)
        label = f"{k} merge{'' if k == 1 else 's'}: {len(row)} tokens"
        ax.text(-0.8, y, label, ha="right", va="center", fontsize=9)
    ax.set_xlim(-0.5, width + 0.5)
    ax.set_ylim(-len(rows) + 0.4, 0.6)
    ax.set_axis_off()
    ax.set_title("the same text after the first k merges", fontsize=10)
    if path is not None:
        save_figure(fig, path)
    return fig


def _merges(tokenizer):
    """The tokenizer's merges, in the order learned; TypeError for a tokenizer without any."""
    if not isinstance(tokenizer, BPETokenizer):  # a CharTokenizer has no merges to replay
        raise TypeError(f"tokenizer must be a BPETokenizer, got {type(tokenizer).__name__}")
    return tokenizer.merges


def _default_counts(n):
    """0, then a few counts spread over 1..n on a log scale, then n."""
    return sorted({0, n, *np.unique(np.geomspace(1, max(n, 1), 5).astype(int)).tolist()})


def _rounded(x, y, w, h, **style):
    from matplotlib.patches import FancyBboxPatch

    return FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0,rounding_size=0.15", **style)
