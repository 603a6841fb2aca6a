"""The regex split patterns on strings whose split is known (tiktoken splits them the same way)."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import BPETokenizer
from tokenizer.patterns import (
    ASCII_TWINS,
    GPT2_PATTERN,
    GPT4_PATTERN,
    resolve_pattern,
    split,
    splitter,
)

# The strings tiktoken uses for r50k_base (GPT-2) and cl100k_base (GPT-4), as given in the issue.
R50K = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
CL100K = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

CASES = [
    # (text, GPT-2 split, GPT-4 split)
    ("I'm here", ["I", "'m", " here"], ["I", "'m", " here"]),
    ("WE'LL GO", ["WE", "'", "LL", " GO"], ["WE", "'LL", " GO"]),  # GPT-4 ignores case
    ("they've", ["they", "'ve"], ["they", "'ve"]),
    ("1234567", ["1234567"], ["123", "456", "7"]),  # GPT-4: digits in groups of 3
    ("x 42", ["x", " 42"], ["x", " ", "42"]),  # GPT-4: no space glued to numbers
    ("hi  ", ["hi", "  "], ["hi", "  "]),  # trailing whitespace stays whole
    ("a   b", ["a", "  ", " b"], ["a", "  ", " b"]),  # the last space goes to the word
    ("a\n\nb", ["a", "\n", "\n", "b"], ["a", "\n\n", "b"]),  # GPT-4 keeps newline runs
    ("a\r\nb", ["a", "\r", "\n", "b"], ["a", "\r\n", "b"]),
    ("a\n  b", ["a", "\n ", " b"], ["a", "\n", " ", " b"]),  # GPT-4 ends a newline run
    ("ok!!!\n", ["ok", "!!!", "\n"], ["ok", "!!!\n"]),
    ("$dollar", ["$", "dollar"], ["$dollar"]),  # GPT-4: one symbol may lead a word
    ("naïve 漢字", ["naïve", " 漢字"], ["naïve", " 漢字"]),
]


@pytest.mark.parametrize(("text", "gpt2", "gpt4"), CASES)
def test_named_pattern_splits(text, gpt2, gpt4):
    assert split(text, GPT2_PATTERN) == splitter(GPT2_PATTERN)(text) == gpt2
    assert split(text, GPT4_PATTERN) == splitter(GPT4_PATTERN)(text) == gpt4
    assert "".join(gpt2) == "".join(gpt4) == text


# Every ASCII character, with the ones the patterns treat specially drawn more often: the six
# spaces, \x1c-\x1f (spaces to Python's `re`, not to `regex`), quotes, contractions, digits.
ascii_text = st.lists(
    st.one_of(
        st.characters(max_codepoint=127),
        st.sampled_from(["\t", "\n", "\x0b", "\x0c", "\r", " ", "\x1c", "\x1f", "'", "1"]),
        st.sampled_from(["'s", "'LL", "'Ve", " a", "Ab", "  \n", "\r\n", "!!", "123456"]),
    ),
    max_size=40,
).map("".join)


@settings(max_examples=300)
@given(ascii_text, st.sampled_from([GPT2_PATTERN, GPT4_PATTERN]))
def test_ascii_twins_split_ascii_text_exactly_as_the_originals(text, pattern):
    assert text.isascii()
    twin = re.findall(ASCII_TWINS[pattern], text)
    assert twin == split(text, pattern)
    assert splitter(pattern)(text) == split(text, pattern)


@given(st.text(max_size=40), st.sampled_from([GPT2_PATTERN, GPT4_PATTERN, r"\w+|\W"]))
def test_splitter_splits_any_text_as_split_does(text, pattern):
    assert splitter(pattern)(text) == split(text, pattern)


def test_splitter_of_no_pattern_keeps_the_text_whole():
    assert splitter(None)("a b") == ["a b"] and splitter(None)("") == []


def test_named_patterns_are_tiktokens():
    assert GPT2_PATTERN == R50K and GPT4_PATTERN == CL100K
    assert BPETokenizer().pattern == CL100K  # the default is GPT-4's
    assert BPETokenizer(pattern="gpt2").pattern == R50K


def test_custom_and_no_pattern():
    tok = BPETokenizer(pattern=r"\w+|\s+|[^\w\s]+")
    assert tok.pattern == r"\w+|\s+|[^\w\s]+"
    assert split("don't stop", tok.pattern) == ["don", "'", "t", " ", "stop"]
    assert BPETokenizer(pattern=None).pattern is None
    assert split("a b", None) == ["a b"] and split("", None) == []


def test_bad_patterns():
    with pytest.raises(ValueError, match="not a valid regex"):
        resolve_pattern("(unclosed")
    with pytest.raises(
        ValueError, match=r"empty: for no split give None \(`--pattern none` on the command line\)"
    ):
        resolve_pattern("")
    with pytest.raises(TypeError, match="pattern must be a str or None, got int"):
        BPETokenizer(pattern=4)
    for grouped in (r"'(s|t)|\w+|\s+|[^\w\s]+", r"(\w)(\w*)|[\s\S]"):  # encode lost the rest
        with pytest.raises(ValueError, match=r"capturing group: .* write each group \(...\) as"):
            BPETokenizer(pattern=grouped)
    tok = BPETokenizer(r"'(?:s|t)|\w+|\s+|[^\w\s]+")  # the same split, without the group
    assert tok.decode(tok.encode("it's a test")) == "it's a test"
