"""Pre-tokenization: cut text into chunks with a regex before any merging happens.

Byte-pair merges never cross a chunk boundary. Without a split, training on English would learn
tokens such as "dog." and "dog!" and "dog?" as separate entries, and spend vocabulary gluing
words to the spaces and punctuation around them. GPT-2 and GPT-4 split text into words (with
their leading space), numbers, runs of punctuation and runs of whitespace first:

    >>> split("Hello world, it's 2024!", GPT4_PATTERN)
    ['Hello', ' world', ',', ' it', "'s", ' ', '202', '4', '!']

The two named patterns are the exact strings tiktoken uses (`r50k_base` for GPT-2 and
`cl100k_base` for GPT-4). They use possessive quantifiers (`++`, which never give back what
they matched) and `\\p{L}` (any letter); Python's built-in `re` has the first (since Python
3.11) but not the second, so we use the `regex` package.

`splitter(pattern)` is the fast way to split the same way: on ASCII text it hands the named
patterns to Python's own `re`, rewritten without `\\p{..}` (see `ASCII_TWINS`).
"""

import re
from functools import partial

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

# What \s, \p{L} and \p{N} match in ASCII text, written as the inside of a character class.
# (Python's `re` also counts \x1c-\x1f as \s, `regex` does not: hence no \s below.)
_S, _L, _N = r"\t\n\x0b\x0c\r ", "A-Za-z", "0-9"

ASCII_TWINS = {
    GPT2_PATTERN: (
        rf"""'(?:[sdmt]|ll|ve|re)| ?[{_L}]++| ?[{_N}]++| ?[^{_S}{_L}{_N}]++"""
        rf"""|[{_S}]++$|[{_S}]+(?![^{_S}])|[{_S}]"""
    ),
    GPT4_PATTERN: (
        rf"""'(?i:[sdmt]|ll|ve|re)|[^\r\n{_L}{_N}]?+[{_L}]++|[{_N}]{{1,3}}+"""
        rf"""| ?[^{_S}{_L}{_N}]++[\r\n]*+|[{_S}]++$|[{_S}]*[\r\n]|[{_S}]+(?![^{_S}])|[{_S}]"""
    ),
}
"""The named patterns as Python's `re` can run them, exact on ASCII text only: each `\\p{L}`
becomes `[A-Za-z]`, each `\\p{N}` `[0-9]`, each `\\s` the six ASCII spaces (`\\S` their
complement). `re` finds these chunks about 2.5 times faster than `regex` finds the originals."""


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
        raise ValueError(
            "pattern must not be empty: for no split give None (`--pattern none` on the "
            "command line)"
        )
    try:
        compiled = regex.compile(pattern)
    except regex.error as error:
        raise ValueError(f"pattern {pattern!r} is not a valid regex: {error}") from None
    if compiled.groups:  # findall would give the groups, not the chunks
        raise ValueError(
            f"pattern {pattern!r} has a capturing group: a chunk is the whole match, so write "
            "each group (...) as (?:...)"
        )
    return pattern


def split(text, pattern):
    """Cut `text` into chunks with the regex string `pattern`; None keeps the text whole.

    The chunks of the named patterns always cover the whole text, so joining them gives the text
    back. A custom pattern that skips characters drops them, as GPT-2's and tiktoken's encoders
    do; `BPETokenizer` refuses such text instead (`first_skipped`), in training and encoding.

    >>> split("don't  stop\\n", GPT2_PATTERN)
    ['don', "'t", ' ', ' stop', '\\n']
    """
    if pattern is None:
        return [text] if text else []
    return regex.findall(pattern, text)


def first_skipped(pattern, text):
    """The first character of `text` that no chunk of `pattern` covers, or None."""
    end = 0
    for match in regex.finditer(pattern, text):
        if match.start() != end:
            break
        end = match.end()
    return text[end] if end < len(text) else None


def splitter(pattern):
    """A function `text -> chunks` giving `split(text, pattern)`, compiled once, and faster.

    For a named pattern, ASCII text (`str.isascii` reads a flag CPython keeps, so asking is
    free) goes to the pattern's twin in `re` (`ASCII_TWINS`); any other text, and any other
    pattern, to `regex`.

    >>> splitter(GPT4_PATTERN)("Hello world, it's 2024!")
    ['Hello', ' world', ',', ' it', "'s", ' ', '202', '4', '!']
    """
    if pattern is None:
        return partial(split, pattern=None)
    findall = regex.compile(pattern).findall
    twin = ASCII_TWINS.get(pattern)
    if twin is None:
        return findall
    findall_ascii = re.compile(twin).findall

    def split_fast(text):
        return findall_ascii(text) if text.isascii() else findall(text)

    return split_fast
