"""Our own tokenizer file format: one UTF-8 text file, readable and diffable by a human.

A BPE tokenizer (`merges` lines are `left right new_id`, in the order the merges apply):

    tinyllm bpe tokenizer v1
    pattern: "'(?i:[sdmt]|ll|ve|re)|[^\\r\\n\\p{L}\\p{N}]?+\\p{L}++|..."
    bytes: 0 1 2 3 ... 255
    merges: 2
    97 97 256
    256 97 257
    special_tokens: 1
    258 "<|endoftext|>"

A character tokenizer (the character of id i on line i + 3):

    tinyllm char tokenizer v1
    chars: 3
    "\\n"
    " "
    "a"

Strings are JSON strings, so a pattern or special token holding spaces, quotes or newlines
survives (a `null` pattern means no split). `bytes` gives the id of each byte value 0..255.
A file that is corrupt or cut short raises ValueError naming the file and the line.
"""

import json

from engine.files import write_atomic
from tokenizer.base import check_special_token
from tokenizer.patterns import resolve_pattern

BPE_HEADER = "tinyllm bpe tokenizer v1"
CHAR_HEADER = "tinyllm char tokenizer v1"


def _write(path, lines):
    """Write the lines whole or not at all (a crash leaves the old file or the new one)."""
    write_atomic(path, "\n".join(lines) + "\n")


def _string(text):
    return json.dumps(text, ensure_ascii=False)


def save_bpe(tok, path):
    """Write a BPETokenizer's pattern, byte ids, merges and special tokens to `path`."""
    lines = [BPE_HEADER, f"pattern: {_string(tok.pattern)}"]
    lines.append("bytes: " + " ".join(map(str, tok.byte_ids)))
    lines.append(f"merges: {len(tok.merges)}")
    lines += [f"{left} {right} {idx}" for (left, right), idx in tok.merges.items()]
    lines.append(f"special_tokens: {len(tok.special_tokens)}")
    lines += [f"{idx} {_string(name)}" for name, idx in tok.special_tokens.items()]
    _write(path, lines)


def save_char(chars, path):
    """Write a character tokenizer's characters, in id order, to `path`."""
    _write(path, [CHAR_HEADER, f"chars: {len(chars)}", *map(_string, chars)])


def read_header(path):
    """The first line of a tokenizer file, which says what kind of tokenizer it holds."""
    return LineReader(path).next("the header line")


def read_bpe(path):
    """Read a BPE file -> (pattern, byte_ids, merges, special_tokens), each checked."""
    reader = LineReader(path)
    reader.expect_header(BPE_HEADER)
    pattern = reader.string(reader.field("pattern"), allow_null=True)
    try:
        resolve_pattern(pattern)
    except (TypeError, ValueError) as error:
        raise reader.error(str(error)) from None
    byte_ids = reader.ints(reader.field("bytes"), 256)
    if len(set(byte_ids)) != 256:
        raise reader.error("the 256 byte ids must all be different")
    known = set(byte_ids)
    merges = {}
    for _ in range(reader.count("merges")):
        left, right, idx = reader.ints(reader.next("a merge `left right new_id`"), 3)
        if left not in known or right not in known:
            raise reader.error(
                f"merge {left} {right}: unknown id {right if left in known else left}"
            )
        if idx in known or (left, right) in merges:
            raise reader.error(f"merge {left} {right} -> {idx} repeats an id or a pair")
        merges[left, right] = idx
        known.add(idx)
    specials = {}
    for _ in range(reader.count("special_tokens")):
        idx, _, name = reader.next('a special token `id "text"`').partition(" ")
        [idx] = reader.ints(idx, 1)
        name = reader.string(name)
        try:
            check_special_token(name)
        except ValueError as error:
            raise reader.error(str(error)) from None
        if idx in known or name in specials:
            raise reader.error(f"special token {name!r}: id {idx} or its text is already used")
        specials[name] = idx
        known.add(idx)
    reader.expect_end()
    return pattern, byte_ids, merges, specials


def read_char(path):
    """Read a character-tokenizer file -> its list of characters, in id order."""
    reader = LineReader(path)
    reader.expect_header(CHAR_HEADER)
    chars = []
    for _ in range(reader.count("chars")):
        char = reader.string(reader.next("a character"))
        if len(char) != 1 or char in chars:
            raise reader.error(f"expected one new character, got {char!r}")
        chars.append(char)
    reader.expect_end()
    return chars


class LineReader:
    """Hands out a file's lines one by one; every error it raises names the file and line."""

    def __init__(self, path):
        self.path = str(path)
        with open(path, "rb") as f:
            data = f.read()
        try:
            self.lines = data.decode("utf-8").split("\n")
        except UnicodeDecodeError as error:
            raise ValueError(f"{self.path}: not a UTF-8 text file ({error})") from None
        if self.lines[-1] != "":
            raise ValueError(f"{self.path}: truncated, line {len(self.lines)} has no newline")
        self.lines.pop()
        self.line_no = 0

    def error(self, message):
        return ValueError(f"{self.path}, line {self.line_no}: {message}")

    def next(self, what):
        if self.line_no >= len(self.lines):
            raise ValueError(f"{self.path}: truncated, expected {what} at line {self.line_no + 1}")
        self.line_no += 1
        return self.lines[self.line_no - 1]

    def expect_header(self, header):
        line = self.next("the header line")
        if line != header:
            raise self.error(f"expected the header {header!r}, got {line[:80]!r}")

    def field(self, name):
        line = self.next(f"`{name}: ...`")
        if not line.startswith(f"{name}: "):
            raise self.error(f"expected `{name}: ...`, got {line[:80]!r}")
        return line[len(name) + 2 :]

    def count(self, name):
        [n] = self.ints(self.field(name), 1)
        return n

    def ints(self, text, n):
        words = text.split(" ")
        if len(words) != n or not all(w.isdigit() and w.isascii() for w in words):
            raise self.error(f"expected {n} non-negative integer(s), got {text[:80]!r}")
        return [int(w) for w in words]

    def string(self, text, allow_null=False):
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = 0
        if not isinstance(value, str) and not (allow_null and value is None):
            raise self.error(f"expected a JSON string, got {text[:80]!r}")
        return value

    def expect_end(self):
        if self.line_no < len(self.lines):
            self.line_no += 1
            raise self.error("expected the end of the file")
