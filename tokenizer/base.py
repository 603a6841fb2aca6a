"""The helpers every byte-pair-encoding (BPE) step is made of.

Why bytes: any text is a sequence of UTF-8 bytes, and there are only 256 byte values. Starting
from bytes, a tokenizer can encode every string ever written (emoji, CJK, code) with no
"unknown" token, and decoding just concatenates bytes.

What a merge is: the rule "wherever token `a` is followed by token `b`, write the new token `c`".
Training finds the most frequent adjacent pair and turns it into a merge, again and again; the
vocabulary is the 256 bytes plus one token per merge. Encoding replays the merges:

    >>> ids = list(b"aaabdaaabac")             # 97 = 'a', 98 = 'b', 99 = 'c', 100 = 'd'
    >>> get_stats(ids)[(97, 97)]               # 'aa' occurs 4 times (overlapping)
    4
    >>> merge(ids, (97, 97), 256)              # Z = 'aa'
    [256, 97, 98, 100, 256, 97, 98, 97, 99]
"""

from itertools import pairwise


def get_stats(ids, counts=None, weight=1):
    """Count each adjacent pair of `ids`, overlapping, into the dict `counts` (made if None).

    `weight` is added per occurrence, so a chunk seen 5 times in a corpus is counted once with
    weight 5.

    >>> get_stats([1, 2, 3, 1, 2])
    {(1, 2): 2, (2, 3): 1, (3, 1): 1}
    >>> get_stats([7, 7, 7])                   # "aaa" holds the pair (a, a) twice
    {(7, 7): 2}
    """
    counts = {} if counts is None else counts
    for pair in pairwise(ids):
        counts[pair] = counts.get(pair, 0) + weight
    return counts


def merge(ids, pair, idx):
    """Replace each occurrence of `pair` in `ids` by `idx`, scanning left to right.

    >>> merge([1, 2, 3, 1, 2], (1, 2), 4)
    [4, 3, 4]
    >>> merge([7, 7, 7], (7, 7), 8)            # overlapping: the leftmost pair wins
    [8, 7]
    """
    out = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(idx)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def apply_merges(ids, ranks):
    """Encode one chunk: repeatedly merge the adjacent pair with the lowest rank.

    `ranks` maps a pair to `(rank, new_id)`; a lower rank was learned earlier and is applied
    first, exactly as during training. Stops when no adjacent pair has a rank. This is the
    definition; `tokenizer/encode.py` has the fast ways to get the same result.

    >>> ranks = {(97, 97): (0, 256), (256, 97): (1, 257)}
    >>> apply_merges(list(b"aaaa"), ranks), apply_merges(list(b"aaa"), ranks)
    ([256, 256], [257])
    """
    while len(ids) >= 2:
        pair = min(pairwise(ids), key=lambda p: ranks.get(p, (float("inf"),)))
        if pair not in ranks:
            break
        ids = merge(ids, pair, ranks[pair][1])
    return ids


def to_utf8(text):
    """`text` as UTF-8 bytes, with a clear error for a string that is not valid Unicode.

    Python strings may hold lone surrogates (half of a UTF-16 pair, e.g. "\\ud800"), which have
    no UTF-8 encoding, so no byte-level tokenizer can represent them.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as error:
        bad = text[error.start]
        raise ValueError(
            f"text holds the lone surrogate {bad!r} at position {error.start}; it is not valid "
            "Unicode and has no UTF-8 bytes to encode"
        ) from None


def check_special_token(name):
    """Raise ValueError unless `name` can be a special token's text: a non-empty str of valid
    Unicode (it is matched in text, and encoded as UTF-8 where formats store it)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"a special token must be a non-empty str, got {name!r}")
    to_utf8(name)
