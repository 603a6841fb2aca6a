"""The fast chunk encoders (tokenizer/encode.py) against the definition, `base.apply_merges`."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import BPETokenizer
from tokenizer.base import apply_merges, merge
from tokenizer.bpe import MANY_CHUNKS
from tokenizer.encode import LONG_CHUNK, ChunkEncoder, apply_merges_fast

# Few letters make long runs, overlaps ("aaaa") and touching pairs ("abab") common.
rng = random.Random(0)
WORDS = ["".join(rng.choices("abc", k=rng.randint(1, 9))) for _ in range(400)]
CORPUS = " ".join(rng.choices(WORDS, k=3000))


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer().train(CORPUS, 256 + 120)


def permuted(tok, seed):
    """`tok` with every id renamed by a random permutation, bytes included: (tokenizer, rename)."""
    ids = list(range(tok.vocab_size))
    random.Random(seed).shuffle(ids)
    merges = {(ids[left], ids[right]): ids[idx] for (left, right), idx in tok.merges.items()}
    return BPETokenizer.from_parts(tok.pattern, ids[:256], merges, {}), ids


chunk_lists = st.lists(
    st.binary(max_size=LONG_CHUNK + 20).map(lambda b: bytes(b"abc "[x % 4] for x in b)),
    max_size=30,
)


@settings(max_examples=200)
@given(chunk_lists)
def test_encoders_match_apply_merges(tok, chunks):
    encoder = tok._encoder
    expected = [apply_merges(list(data), encoder.ranks) for data in chunks]
    assert encoder.encode_many(chunks) == expected
    assert [encoder.encode(data) for data in chunks] == expected
    assert [apply_merges_fast(list(data), encoder.ranks) for data in chunks] == expected


@settings(max_examples=50)
@given(chunk_lists, st.integers(0, 2**32))
def test_encoders_follow_byte_ids_anywhere(tok, chunks, seed):
    renamed, ids = permuted(tok, seed)
    expected = [[ids[i] for i in tok._encoder.encode(data)] for data in chunks]
    assert renamed._encoder.encode_many(chunks) == expected
    assert [renamed._encoder.encode(data) for data in chunks] == expected


def test_encode_many_of_nothing_and_of_no_merges(tok):
    assert tok._encoder.encode_many([]) == []
    assert tok._encoder.encode_many([b"", b"a", b""]) == [[], [97], []]
    assert ChunkEncoder(range(256), {}).encode_many([b"ab", b""]) == [[97, 98], []]


def test_long_text_encodes_many_chunks_at_once_as_the_definition(tok):
    text = " ".join(rng.choices(WORDS, k=2000)) + " " + "ab" * 40  # and one long chunk
    chunks = tok._split(text)
    assert len(set(chunks)) >= MANY_CHUNKS  # so encode takes encode_many
    expected = [
        i for chunk in chunks for i in apply_merges(list(chunk.encode()), tok._encoder.ranks)
    ]
    assert tok.encode(text) == expected
    renamed, ids = permuted(tok, 1)
    assert renamed.encode(text) == [ids[i] for i in expected]


def test_replaying_every_merge_agrees(tok):
    # the definition itself, checked once against the plainest encoder of all
    for word in WORDS[:50]:
        ids = list(word.encode())
        for pair, idx in tok.merges.items():
            ids = merge(ids, pair, idx)
        assert apply_merges(list(word.encode()), tok._encoder.ranks) == ids
