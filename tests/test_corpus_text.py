"""model.corpus: the registry of generated corpora and the loader for a user's text file."""

import pytest

from model import corpus
from model.corpora.addition import generate_addition
from model.corpora.stories import generate_stories


def test_get_corpus_returns_text_and_its_floor():
    text, floor = corpus.get_corpus("stories", seed=2, n_chars=3000)
    expected_text, info = generate_stories(n_chars=3000, seed=2)
    assert (text, floor) == (expected_text, info.nats_per_char)
    text, floor = corpus.get_corpus("addition", seed=2, n_chars=3000)
    expected_text, info = generate_addition(n_chars=3000, seed=2)
    assert (text, floor) == (expected_text, info.nats_per_char)
    assert set(corpus.CORPORA) == {"stories", "addition"}


def test_load_takes_a_generated_corpus_by_name_or_a_file_and_checks_memory_first(
    tmp_path, monkeypatch
):
    assert corpus.load("addition", n_chars=3000, seed=2) == corpus.get_corpus(
        "addition", seed=2, n_chars=3000
    )
    path = tmp_path / "mine.txt"
    path.write_text("to be or not to be\n" * 3, encoding="utf-8")
    assert corpus.load(path, min_chars=1) == ("to be or not to be\n" * 3, None)
    monkeypatch.setattr(corpus, "get_corpus", lambda *a, **k: pytest.fail("generated"))
    with pytest.raises(MemoryError, match="a corpus of 1,000,000,000,000 characters"):
        corpus.load("stories", n_chars=10**12)


def test_unknown_corpus_names_the_valid_ones():
    with pytest.raises(ValueError, match="unknown corpus 'poems'.*stories, addition"):
        corpus.get_corpus("poems")


def test_load_text_corpus_returns_the_exact_text(tmp_path):
    path = tmp_path / "mine.txt"
    text = "Caf\u00e9 au lait.\r\nSecond line \u2014 with a dash.\n" * 40
    path.write_bytes(text.encode("utf-8"))
    assert corpus.load_text_corpus(path) == text
    assert corpus.load_text_corpus(str(path), min_chars=len(text)) == text


def test_missing_file(tmp_path):
    path = tmp_path / "nope.txt"
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        corpus.load_text_corpus(path)


def test_directory(tmp_path):
    with pytest.raises(ValueError, match="is not a file"):
        corpus.load_text_corpus(tmp_path)


def test_empty_file(tmp_path):
    path = tmp_path / "empty.txt"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.txt.* is empty"):
        corpus.load_text_corpus(path)


def test_not_utf8(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("na\u00efve ".encode("latin-1") * 500)
    with pytest.raises(ValueError, match=r"latin1.txt.* is not UTF-8 text: byte 2 is b'\\xef'"):
        corpus.load_text_corpus(path)


def test_too_short(tmp_path):
    path = tmp_path / "short.txt"
    path.write_text("hello world\n", encoding="utf-8")
    with pytest.raises(ValueError, match="short.txt.* has 12 characters; at least 1000"):
        corpus.load_text_corpus(path)
    assert corpus.load_text_corpus(path, min_chars=12) == "hello world\n"
    with pytest.raises(ValueError, match="at least 13"):
        corpus.load_text_corpus(path, min_chars=13)
