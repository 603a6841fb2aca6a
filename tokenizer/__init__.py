"""Tokenizers: text <-> lists of integer ids, the only thing a language model reads.

- `CharTokenizer` (char.py): one id per character. Small and obvious.
- `BPETokenizer` (bpe.py): byte-level byte-pair encoding as in GPT-2 / GPT-4, trained by
  train.py from the helpers in base.py, after a regex split (patterns.py); encode.py holds the
  fast ways to encode, each tested against base.py's definition. It reads and writes
  our own text format (files.py), GPT-2's and tiktoken's files (formats.py) and Hugging Face's
  tokenizer.json (hf.py).
- `load(path)`: read any tokenizer we can: a file written by `save`, whichever class wrote it,
  or what `from_pretrained` reads.
- `from_pretrained(path)`: read a Hugging Face tokenizer: a `tokenizer.json` file, or a
  directory holding one (or GPT-2's `vocab.json` + `merges.txt`), as `save_pretrained` writes.
"""

from pathlib import Path

from tokenizer import files, hf
from tokenizer.bpe import BPETokenizer
from tokenizer.char import CharTokenizer
from tokenizer.formats import SplitPatternWarning

__all__ = ["BPETokenizer", "CharTokenizer", "SplitPatternWarning", "from_pretrained", "load"]


def from_pretrained(path):
    """The tokenizer in a Hugging Face tokenizer directory or `tokenizer.json` file.

    A directory's tokenizer.json is read first; without one, vocab.json + merges.txt (split
    with GPT-2's pattern, as Hugging Face does). Byte-level BPE comes back as a BPETokenizer,
    the character tokenizer `CharTokenizer.save_pretrained` writes as a CharTokenizer; other
    tokenizer models (WordPiece, Unigram, ...) raise ValueError naming the file and the field.
    """
    kind, parts = hf.read_pretrained(path)
    return CharTokenizer(parts) if kind == "char" else BPETokenizer.from_parts(*parts)


def load(path):
    """The tokenizer at `path`: our own file (`save`), a tokenizer.json, or an HF directory."""
    path = Path(path)
    if path.is_dir():
        return from_pretrained(path)
    with open(path, "rb") as f:
        if f.read(64).lstrip().startswith(b"{"):  # JSON: a tokenizer.json
            return from_pretrained(path)
    header = files.read_header(path)
    if header == files.BPE_HEADER:
        return BPETokenizer.load(path)
    if header == files.CHAR_HEADER:
        return CharTokenizer.load(path)
    raise ValueError(
        f"{path}, line 1: not a tinyllm tokenizer file (header {header[:80]!r}) nor a "
        "tokenizer.json"
    )
