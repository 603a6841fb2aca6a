"""The simplest tokenizer: one token per character seen in the training text.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars, tok.encode("hell"), tok.decode([3, 2])
    (['e', 'h', 'l', 'o'], [1, 0, 2, 2], 'ol')

The vocabulary is tiny and the code obvious, but every character is a step the model must
predict, and a character it never saw cannot be encoded at all (BPE on bytes fixes both).
"""

import numbers

from tokenizer import files, hf
from tokenizer.base import to_utf8


class CharTokenizer:
    """Characters <-> ids; id i is `chars[i]`, the characters sorted by code point."""

    def __init__(self, chars):
        self.chars = list(chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        if len(self.stoi) != len(self.chars) or not all(len(c) == 1 for c in self.chars):
            raise ValueError("chars must be distinct single characters")

    @classmethod
    def from_text(cls, text):
        """The tokenizer whose vocabulary is every distinct character of `text`."""
        to_utf8(text)  # a str, and valid Unicode
        if not text:
            raise ValueError("cannot build a CharTokenizer from empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self):
        return len(self.chars)

    def encode(self, text):
        """str -> list of ids. A character not in the vocabulary raises ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        try:
            return [self.stoi[c] for c in text]
        except KeyError as error:
            char = error.args[0]
            raise ValueError(
                f"character {char!r} at position {text.index(char)} is not in the vocabulary"
            ) from None

    def decode(self, ids):
        """list of ids -> str. An id that is not an int in 0..vocab_size-1 raises ValueError."""
        out = []
        for i in ids:
            if not isinstance(i, numbers.Integral) or not 0 <= i < len(self.chars):
                raise ValueError(f"unknown token id {i!r} (vocab_size is {self.vocab_size})")
            out.append(self.chars[i])
        return "".join(out)

    def save(self, path):
        """Write the characters to one UTF-8 text file (see `tokenizer/files.py`)."""
        files.save_char(self.chars, path)

    @classmethod
    def load(cls, path):
        """Read a file written by `save`."""
        return cls(files.read_char(path))

    def save_pretrained(self, directory):
        """Write `tokenizer.json` (a WordLevel model, one token per character) and
        `tokenizer_config.json`, which Hugging Face loads with the same ids; returns the paths."""
        return hf.save_char(self.chars, directory)
