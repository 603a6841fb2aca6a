"""CharTokenizer: one id per character."""

import numpy as np
import pytest

import tokenizer
from tokenizer import CharTokenizer


def test_from_text_sorts_the_characters():
    tok = CharTokenizer.from_text("hello\n")
    assert tok.chars == ["\n", "e", "h", "l", "o"]
    assert tok.vocab_size == 5
    assert tok.encode("hole") == [2, 4, 3, 1]
    assert tok.decode([2, 1, 3, 3, 4, 0]) == "hello\n"


def test_unknown_character_names_it_and_its_position():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="character 'z' at position 2"):
        tok.encode("abzc")


def test_unknown_id():
    tok = CharTokenizer.from_text("abc")
    with pytest.raises(ValueError, match="unknown token id 3"):
        tok.decode([0, 3])
    with pytest.raises(ValueError, match="unknown token id -1"):
        tok.decode([-1])
    with pytest.raises(ValueError, match="unknown token id 1.5"):  # as BPETokenizer says it
        tok.decode([1.5])
    assert tok.decode(np.array([2, 0])) == "ca"  # NumPy's integers are ids


def test_bad_text():
    with pytest.raises(ValueError, match="empty"):
        CharTokenizer.from_text("")
    with pytest.raises(TypeError, match="bytes"):
        CharTokenizer.from_text(b"abc")
    with pytest.raises(ValueError, match="distinct"):
        CharTokenizer(["a", "a"])


def test_save_load_round_trip(tmp_path):
    text = 'a "quoted" line\nwith tabs\t, emoji 😀, and \\ backslash\r\n'
    tok = CharTokenizer.from_text(text)
    tok.save(tmp_path / "chars.txt")
    for loaded in (
        CharTokenizer.load(tmp_path / "chars.txt"),
        tokenizer.load(tmp_path / "chars.txt"),
    ):
        assert isinstance(loaded, CharTokenizer)
        assert loaded.chars == tok.chars
        assert loaded.decode(loaded.encode(text)) == text


def test_corrupt_char_file(tmp_path):
    path = tmp_path / "chars.txt"
    CharTokenizer.from_text("abc").save(path)
    lines = path.read_text().split("\n")
    path.write_text("\n".join(lines[:-2]) + "\n")  # drop the last character
    with pytest.raises(ValueError, match="truncated, expected a character at line 5"):
        CharTokenizer.load(path)
    path.write_text("\n".join(lines).replace('"b"', '"bb"'))
    with pytest.raises(ValueError, match=f"{path}, line 4: expected one new character"):
        CharTokenizer.load(path)


def test_lone_surrogate_and_wrong_types():
    with pytest.raises(ValueError, match="surrogate"):
        CharTokenizer.from_text("a\udc80")
    with pytest.raises(TypeError, match="bytes"):
        CharTokenizer.from_text("abc").encode(b"abc")
