"""Pre-tokenization: cut text into chunks with a regex before any merging happens.

Byte-pair merges never cross a chunk boundary. Without a split, training on English would learn
tokens such as "dog." and "dog!" and "dog?" as separate entries, and spend vocabulary gluing
words to the spaces and punctuation around them. GPT-2 and GPT-4 split text into words (with
their leading space), numbers, runs of punctuation and runs of whitespace first:

    >>> split("Hello world, it's 2024!", GPT4_PATTERN)
    ['Hello', ' world', ',', ' it', "'s", ' ', '202', '4', '!']

The two named patterns are the exact strings tiktoken uses (`r50k_base` for GPT-2 and
`cl100k_base` for GPT-4). Python's built-in `re` has no `\\p{L}` (any letter) or possessive
quantifiers (`++`, which never give back what they matched), so we use the `regex` package.
"""

import regex

GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
"""GPT-2's split: contractions, words and numbers with one optional leading space, punctuation
runs, and whitespace runs that leave their last space to the next word."""

GPT4_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
"""GPT-4's split: like GPT-2's, but contractions in any case, numbers in groups of at most three
digits, and newlines kept apart from the spaces that follow them."""

NAMED_PATTERNS = {"gpt2": GPT2_PATTERN, "gpt4": GPT4_PATTERN}


def resolve_pattern(pattern):
    """The regex string for `pattern`: "gpt2", "gpt4", any regex string, or None (no split).

    >>> resolve_pattern("gpt2") == GPT2_PATTERN
    True
    """
    if pattern is None:
        return None
    if not isinstance(pattern, str):
        raise TypeError(f"pattern must be a str or None, got {type(pattern).__name__}")
    pattern = NAMED_PATTERNS.get(pattern, pattern)
    if pattern == "":
        raise ValueError("pattern must not be empty (use pattern=None for no split)")
    try:
        regex.compile(pattern)
    except regex.error as error:
        raise ValueError(f"pattern {pattern!r} is not a valid regex: {error}") from None
    return pattern


def split(text, pattern):
    """Cut `text` into chunks with the regex string `pattern`; None keeps the text whole.

    The chunks of the named patterns always cover the whole text, so joining them gives the text
    back. A custom pattern that skips characters drops them, as in GPT-2 and tiktoken.

    >>> split("don't  stop\\n", GPT2_PATTERN)
    ['don', "'t", ' ', ' stop', '\\n']
    """
    if pattern is None:
        return [text] if text else []
    return regex.findall(pattern, text)
