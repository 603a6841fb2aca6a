"""BPE training: hand-checked examples, and the fast trainer against the reference trainer."""

import random
from collections import Counter
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenizer import BPETokenizer, train
from tokenizer.base import get_stats, merge
from tokenizer.patterns import GPT2_PATTERN, GPT4_PATTERN, split
from tokenizer.train import train_fast, train_reference

TRAINERS = [train_reference, train_fast]


def test_get_stats_counts_overlapping_pairs():
    assert get_stats(list(b"aaa")) == {(97, 97): 2}
    assert get_stats([1, 2, 1, 2], {(1, 2): 5}, weight=3) == {(1, 2): 11, (2, 1): 3}


def test_merge_is_left_to_right():
    assert merge(list(b"aaaa"), (97, 97), 256) == [256, 256]
    assert merge(list(b"aaa"), (97, 97), 256) == [256, 97]
    assert merge([1, 2, 3], (2, 1), 9) == [1, 2, 3]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_wikipedia_example(trainer):
    # aaabdaaabac: aa (4x) -> Z, then Za and ab tie at 2 and the smaller pair ab -> Y, then ZY -> X
    assert trainer([b"aaabdaaabac"], 3) == [(97, 97), (97, 98), (256, 257)]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_ties_go_to_the_smallest_pair(trainer):
    # every pair of "abcd" occurs once: ab first, then (99, 100) = cd beats (256, 99) = (ab)c
    assert trainer([b"abcd"], 3) == [(97, 98), (99, 100), (256, 257)]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_overlapping_pairs_count_twice(trainer):
    # "aaabcbc": aa counts 2 (overlapping) and ties with bc (2); (97, 97) is smaller
    assert trainer([b"aaabcbc"], 1) == [(97, 97)]
    # counted without overlap aa would be 1 and lose to bc
    assert trainer([b"aaab", b"bcbc"], 1) == [(97, 97)]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_pairs_never_cross_chunks(trainer):
    # "ab" is adjacent only across the chunk boundary, so (97, 98) never appears
    assert trainer([b"xa", b"by", b"xa", b"by"], 2) == [(98, 121), (120, 97)]


@pytest.mark.parametrize("trainer", TRAINERS)
def test_stops_when_nothing_is_left_to_merge(trainer):
    assert trainer([b"ab", b"ab"], 10) == [(97, 98)]
    assert trainer([b"a"], 5) == []


def test_a_vocabulary_far_past_what_the_text_can_merge_stops_early():
    tok = BPETokenizer().train("abcabc abc", 10**20)  # pair ids would overflow int64
    assert tok.merges == BPETokenizer().train("abcabc abc", 300).merges  # all 4 there are
    assert len(tok.merges) == 4 and tok.encode("abcabc abc") == [259, 258]


corpora = st.lists(st.binary(max_size=40).map(lambda b: bytes(x % 4 for x in b)), max_size=8)


@settings(max_examples=200)
@given(corpora, st.integers(0, 30))
def test_fast_trainer_matches_reference(chunks, num_merges):
    # a 4-byte alphabet makes long runs, overlaps and ties common
    assert train_fast(chunks, num_merges) == train_reference(chunks, num_merges)


@settings(max_examples=200)
@given(corpora, st.integers(0, 30))
def test_fast_trainer_merging_in_bulk_matches_reference(chunks, num_merges):
    # BULK = 1: every merge of two different tokens takes the NumPy path (merge_bulk), and
    # those whose occurrences touch (abab) go back to merge_each
    with mock.patch.object(train, "BULK", 1):
        assert train_fast(chunks, num_merges) == train_reference(chunks, num_merges)


@settings(max_examples=100)
@given(st.text(alphabet="ab c\n'1é😀", max_size=200), st.sampled_from([GPT2_PATTERN, GPT4_PATTERN]))
def test_fast_trainer_matches_reference_on_split_text(text, pattern):
    chunks = [chunk.encode("utf-8") for chunk in split(text, pattern)]
    assert train_fast(chunks, 25) == train_reference(chunks, 25)


@pytest.mark.parametrize("trainer", TRAINERS)
def test_chunks_may_come_counted(trainer):
    chunks = [b"low", b"lower", b"low", b"newest", b"widest", b"newest", b"low"]
    assert trainer(Counter(chunks), 8) == trainer(chunks, 8) == train_reference(chunks, 8)
    assert trainer({b"ab": 3, b"bc": 2}, 1) == [(97, 98)]


def test_fast_trainer_matches_reference_on_a_corpus_that_merges_in_bulk():
    rng = random.Random(0)
    words = ["".join(rng.choices("abcdeh", k=rng.randint(2, 8))) for _ in range(600)]
    text = " ".join(rng.choices(words, k=4000))
    chunks = Counter(chunk.encode() for chunk in split(text, GPT4_PATTERN))
    bulk = mock.patch.object(
        train._Corpus, "merge_bulk", autospec=True, side_effect=train._Corpus.merge_bulk
    )
    with bulk as spy:
        fast = train_fast(chunks, 60)
    assert spy.call_count > 0  # the corpus is big enough for the NumPy path at the default BULK
    assert fast == train_reference(chunks, 60)


def test_tokenizer_train_ids_follow_merge_order():
    text = "the cat sat on the mat; the cat ate the rat. " * 20
    tok = BPETokenizer().train(text, 270)
    chunks = [c.encode() for c in split(text, GPT4_PATTERN)]
    assert list(tok.merges) == train_reference(chunks, 270 - 256)
    assert list(tok.merges.values()) == list(range(256, 270))
    assert tok.vocab_size == 270
    assert tok.vocab[256] == b"".join(tok.vocab[i] for i in list(tok.merges)[0])


def test_training_is_deterministic():
    text = "abracadabra " * 30 + "alakazam " * 20
    assert BPETokenizer().train(text, 280).merges == BPETokenizer().train(text, 280).merges


def test_train_verbose_prints_each_merge(capsys):
    BPETokenizer().train("aaabdaaabac", 258, verbose=True)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "(97, 97) -> 256" in lines[0] and "(97, 98) -> 257" in lines[1]


def test_train_rejects_bad_input():
    with pytest.raises(ValueError, match="vocab_size=255"):
        BPETokenizer().train("hello", 255)
    tok = BPETokenizer(special_tokens={"<a>": 1000, "<b>": 1001})
    with pytest.raises(ValueError, match="vocab_size=257.*2 \\(special tokens\\)"):
        tok.train("hello", 257)
    with pytest.raises(ValueError, match="empty"):
        BPETokenizer().train("", 300)
    with pytest.raises(TypeError, match="vocab_size"):
        BPETokenizer().train("hello", 300.0)
    with pytest.raises(ValueError, match="surrogate"):
        BPETokenizer().train("ab\ud800", 300)


def test_special_ids_must_sit_above_the_merges():
    tok = BPETokenizer(special_tokens={"<|endoftext|>": 260})
    with pytest.raises(ValueError, match="special token id 260"):
        tok.train("hello hello hello", 300)
    tok = BPETokenizer(special_tokens={"<|endoftext|>": 299}).train("hello hello " * 9, 300)
    assert tok.vocab_size == 300 and max(tok.vocab) <= 298


def test_special_token_text_is_never_merged():
    tok = BPETokenizer(special_tokens={"<|endoftext|>": 511})
    tok.train("hello<|endoftext|>world<|endoftext|>" * 50, 512)
    assert not any(b"|" in token for token in tok.vocab.values() if len(token) > 1)
    assert any(token == b"hello" for token in tok.vocab.values())
