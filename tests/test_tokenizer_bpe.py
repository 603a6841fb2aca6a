"""BPETokenizer encoding and decoding: worked examples, round trips, special tokens, errors."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import BPETokenizer
from tokenizer.base import apply_merges, merge
from tokenizer.encode import _apply_merges_heap, apply_merges_fast
from tokenizer.patterns import split

CORPUS = (
    "The quick brown fox jumps over the lazy dog. It's 2024, isn't it?\n"
    "Ünïcödé: naïve café, 漢字かな交じり文, שלום עולם, مرحبا بالعالم, 👩‍👩‍👧‍👦 e\u0301\r\n"
    "    indented   code(x) -> [1, 22, 333, 4444];\t\ttabs\n\n\n"
) * 8


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer().train(CORPUS, 400)


def replay_merges(tok, text):
    """An independent encoder: apply every merge, in order, to each chunk's bytes."""
    ids = []
    for chunk in split(text, tok.pattern):
        chunk_ids = list(chunk.encode("utf-8"))
        for pair, idx in tok.merges.items():
            chunk_ids = merge(chunk_ids, pair, idx)
        ids += chunk_ids
    return ids


def test_wikipedia_example_encodes_by_hand():
    tok = BPETokenizer().train("aaabdaaabac", 259)
    assert tok.merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert tok.encode("aaabdaaabac") == [258, 100, 258, 97, 99]  # XdXac
    assert tok.encode("aaaa") == [256, 256]
    # the split gives "ab" | " aab"; in " aab" the earlier merge aa wins over ab
    assert tok.encode("ab aab") == [257, 32, 256, 98]
    assert tok.vocab[258] == b"aaab"


def test_untrained_tokenizer_is_utf8_bytes():
    tok = BPETokenizer()
    assert tok.vocab_size == 256
    assert tok.encode("hé") == [104, 0xC3, 0xA9]
    assert tok.decode([104, 0xC3, 0xA9]) == "hé"


@given(st.text(st.characters(codec="utf-8"), max_size=300))
def test_encode_matches_replaying_the_merges(tok, text):
    assert tok.encode(text) == replay_merges(tok, text)


@settings(max_examples=100)
@given(st.integers(0, len(CORPUS.encode())), st.integers(0, 200))
def test_chunk_encoders_match_replaying_the_merges(tok, start, length):
    ids = list(CORPUS.encode()[start : start + length])  # unsplit bytes, so chunks run long
    expected = ids
    for pair, idx in tok.merges.items():
        expected = merge(expected, pair, idx)
    assert (
        apply_merges(ids, tok._encoder.ranks) == expected
    )  # the textbook: lowest rank, all at once
    assert (
        apply_merges_fast(ids, tok._encoder.ranks) == expected
    )  # one at a time, or the heap if long
    assert _apply_merges_heap(ids, tok._encoder.ranks) == expected
    assert ids == list(CORPUS.encode()[start : start + length])  # the input is left alone


mixed_text = st.lists(
    st.one_of(
        st.text(st.characters(codec="utf-8"), max_size=20),
        st.sampled_from(
            [
                "👩‍👩‍👧‍👦",
                "🏳️‍🌈",
                "e\u0301\u0302",
                "漢字",
                "שלום",
                "مرحبا",
                "\r\n",
                "   \t\n  \n",
                "don't",
                "12345",
                "\u200d",
                "\ufeff",
            ]
        ),
    ),
    max_size=12,
).map("".join)


@given(mixed_text)
def test_round_trip(tok, text):
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode_bytes(tok.encode(text)) == text.encode("utf-8")


@pytest.mark.parametrize("text", ["a" * 100_000, " " * 100_000, "😀" * 100_000, "ab" * 50_000])
def test_round_trip_of_long_runs(tok, text):
    assert tok.decode(tok.encode(text)) == text


def test_long_chunk_encodes_like_short_ones(tok):
    word = "quick brown fox ".replace(" ", "")  # one chunk of the gpt4 split
    long_word = word * 40  # > LONG_CHUNK bytes: takes the heap path
    assert tok.encode(long_word) == replay_merges(tok, long_word)


def test_pattern_none_merges_across_spaces():
    tok = BPETokenizer(pattern=None).train("a b a b a c", 257)
    assert tok.merges == {(97, 32): 256}  # "a " occurs 3 times, " b" and "b " twice
    assert tok.encode("a b") == [256, 98]


def test_a_pattern_that_skips_text_is_refused_in_training():
    text = "Tom saw a big dog. xx yes!"  # [a-z]+ leaves out 'T', six spaces, '.' and '!'
    with pytest.raises(ValueError, match=r"pattern '\[a-z\]\+' skips 9 of the text's 26 char"):
        BPETokenizer(pattern="[a-z]+").train(text, 260)
    with pytest.raises(ValueError, match="skips 25 of the text.s 25 "):
        BPETokenizer(pattern="x*").train("Tom saw a big dog. yes!!!", 260)  # only empty matches
    special = BPETokenizer(pattern=r"\w+|\s+|[.!]", special_tokens={"<|end|>": 300})
    special.train(text + "<|end|>" + text, 270)  # covered once the special token is cut out
    with pytest.raises(ValueError, match="skips 4 of the text's 59"):  # '<', '|', '|', '>'
        BPETokenizer(pattern=r"\w+|\s+|[.!]").train(text + "<|end|>" + text, 270)
    assert special.decode(special.encode(text)) == text


def test_a_pattern_that_skips_text_is_refused_in_encoding_as_read_from_a_file(tmp_path):
    tok = BPETokenizer(pattern=r"[A-Za-z]+|[ .]").train("Tom saw a big dog. " * 20, 270)
    assert tok.decode(tok.encode("Tom saw a dog.")) == "Tom saw a dog."  # what it covers
    tok.save(tmp_path / "tok.txt")
    for found in (tok, BPETokenizer.load(tmp_path / "tok.txt")):
        with pytest.raises(ValueError, match=r"skips the character ':' of the text: encoding"):
            found.encode("Tom said: 42 cats")  # ':' and the digits have no chunk
        with pytest.raises(ValueError, match=r"skips the character '\\n'"):
            found.encode_ordinary("\n")


def test_lone_surrogates_raise():
    tok = BPETokenizer()
    for method in (tok.encode, tok.encode_ordinary):
        with pytest.raises(ValueError, match="surrogate '\\\\ud800' at position 2"):
            method("ab\ud800cd")


def test_decode_partial_character():
    tok = BPETokenizer()
    assert tok.decode_bytes([0xC3]) == b"\xc3"
    assert tok.decode([0xC3]) == "\ufffd"
    with pytest.raises(UnicodeDecodeError):
        tok.decode([0xC3], errors="strict")


def test_decode_accepts_numpy_ids(tok):
    ids = tok.encode("naïve café")
    assert tok.decode(np.array(ids, dtype=np.int64)) == "naïve café"


def test_decode_unknown_id_raises(tok):
    with pytest.raises(ValueError, match="unknown token id 400"):
        tok.decode([1, 2, 400])
    with pytest.raises(ValueError, match="unknown token id -1"):
        tok.decode_bytes([-1])


def special_tok():
    tok = BPETokenizer().train("hello world " * 10, 270)
    tok.register_special_tokens({"<|endoftext|>": 270, "<s>": 271, "<s><s>": 272})
    return tok


def test_special_token_modes():
    tok = special_tok()
    text = "hello<|endoftext|> world"
    hello, world = tok.encode_ordinary("hello"), tok.encode_ordinary(" world")
    assert tok.vocab_size == 273
    assert tok.encode(text, allowed_special="all") == hello + [270] + world
    assert tok.encode(text, allowed_special={"<|endoftext|>"}) == hello + [270] + world
    assert tok.encode(text, allowed_special="none") == tok.encode_ordinary(text)
    assert 270 not in tok.encode(text, allowed_special="none")
    with pytest.raises(ValueError, match="'<\\|endoftext\\|>' at position 5"):
        tok.encode(text)
    assert tok.encode("hello world") == hello + world  # no special text: the default is fine
    assert tok.decode(hello + [270] + world) == text


def test_special_token_set_allows_those_and_refuses_the_others_as_tiktoken():
    tok = special_tok()
    assert tok.encode("<s>hello", allowed_special={"<s>"}) == [271] + tok.encode_ordinary("hello")
    with pytest.raises(ValueError, match=re.escape("special token '<|endoftext|>' at position 8")):
        tok.encode("<s>hello<|endoftext|>", allowed_special={"<s>"})
    with pytest.raises(ValueError, match="special token '<s>' at position 0"):
        tok.encode("<s>hello", allowed_special=set())  # tiktoken's default: none allowed
    assert tok.encode("<|endoftext|>", allowed_special=tok.special_tokens.keys()) == [270]
    with pytest.raises(ValueError, match="'<unk>'"):
        tok.encode("x", allowed_special={"<unk>"})
    with pytest.raises(ValueError, match="allowed_special"):
        tok.encode("x", allowed_special="some")


def test_longest_special_token_wins():
    tok = special_tok()
    assert tok.encode("<s><s><s>", allowed_special="all") == [272, 271]
    assert tok.encode("<s>x<s>", allowed_special={"<s>"}) == [271, *tok.encode("x"), 271]
    with pytest.raises(ValueError, match="'<s><s>'"):  # in the text, and not allowed
        tok.encode("<s><s><s>", allowed_special={"<s>"})


def test_register_special_tokens_rejects_bad_ids():
    tok = special_tok()
    with pytest.raises(ValueError, match="id 300 is already '<a>'"):
        tok.register_special_tokens({"<a>": 300, "<b>": 300})
    with pytest.raises(ValueError, match="id 65 is already an ordinary token"):
        tok.register_special_tokens({"<c>": 65})
    with pytest.raises(ValueError, match="id 270 is already '<\\|endoftext\\|>'"):
        tok.register_special_tokens({"<d>": 270})
    with pytest.raises(ValueError, match="already registered"):
        tok.register_special_tokens({"<s>": 301})
    with pytest.raises(ValueError, match="int id"):
        tok.register_special_tokens({"<e>": -3})
    with pytest.raises(ValueError, match="non-empty"):
        tok.register_special_tokens({"": 302})
    assert "<a>" not in tok.special_tokens and tok.vocab_size == 273  # nothing half-registered
