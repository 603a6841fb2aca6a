"""Tokenizers: text <-> lists of integer ids, the only thing a language model reads.

- `CharTokenizer` (char.py): one id per character. Small and obvious.
- `BPETokenizer` (bpe.py): byte-level byte-pair encoding as in GPT-2 / GPT-4, trained by
  train.py from the helpers in base.py, after a regex split (patterns.py). It reads and writes
  our own text format (files.py) and GPT-2's and tiktoken's files (formats.py).
- `load(path)`: read any tokenizer file written by `save`, whichever class wrote it.
"""

from tokenizer import files
from tokenizer.bpe import BPETokenizer
from tokenizer.char import CharTokenizer

__all__ = ["BPETokenizer", "CharTokenizer", "load"]


def load(path):
    """The tokenizer saved at `path`, as a CharTokenizer or BPETokenizer."""
    header = files.read_header(path)
    if header == files.BPE_HEADER:
        return BPETokenizer.load(path)
    if header == files.CHAR_HEADER:
        return CharTokenizer.load(path)
    raise ValueError(f"{path}, line 1: not a tinyllm tokenizer file (header {header[:80]!r})")
