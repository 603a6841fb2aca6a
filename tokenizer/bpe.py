"""Byte-level BPE, as in GPT-2 and GPT-4: text -> regex chunks -> UTF-8 bytes -> merged tokens.

    >>> tok = BPETokenizer().train("aaabdaaabac", vocab_size=259)  # merges aa, ab, (aa)(ab)
    >>> tok.encode("aaabdaaabac")                                   # "XdXac", X = 258
    [258, 100, 258, 97, 99]
    >>> tok.decode([258, 97, 99])
    'aaabac'

Encoding replays the learned merges inside each chunk, lowest rank (earliest learned) first, so
a string is cut the way training would have cut it. Special tokens such as "<|endoftext|>" are
whole strings mapped straight to one id, matched before the split and never merged.
"""

import collections.abc
from collections import Counter
from itertools import chain

import regex

from tokenizer import files, formats, hf
from tokenizer.base import check_special_token, to_utf8
from tokenizer.encode import ChunkEncoder
from tokenizer.patterns import NAMED_PATTERNS, first_skipped, resolve_pattern, splitter
from tokenizer.train import train_fast

CACHE_SIZE = 100_000
"""Chunk encodings remembered (text repeats its words, so most chunks are found here); one text
with more distinct chunks than this keeps them all until the next call."""

MANY_CHUNKS = 100
"""From this many new chunks on, one encode call merges them all at once with NumPy
(`ChunkEncoder.encode_many`); fewer are quicker one by one (the two break even near 75)."""


class BPETokenizer:
    """A byte-level BPE tokenizer.

    Attributes:
      pattern         the regex string that splits text into chunks (None: no split);
      byte_ids        byte_ids[b] is the id of the single byte b (0..255 for trained ones; an
                      imported vocabulary such as GPT-2's may put them anywhere);
      merges          {(left_id, right_id): new_id}, in the order they apply (their rank);
      vocab           {id: bytes} for every ordinary token;
      special_tokens  {text: id}, e.g. {"<|endoftext|>": 50256}.
    """

    def __init__(self, pattern="gpt4", special_tokens=None):
        self.pattern = resolve_pattern(pattern)
        self._split = splitter(self.pattern)
        # The named patterns' chunks cover any text; any other's may skip some (a tokenizer
        # file may hold any regex), and encoding checks them.
        self._may_skip = self.pattern not in (None, *NAMED_PATTERNS.values())
        self.special_tokens = {}
        self._set_merges(range(256), {})
        if special_tokens:
            self.register_special_tokens(special_tokens)

    def _set_merges(self, byte_ids, merges):
        """Install a vocabulary: build `vocab` and the rank table encoding uses."""
        self.byte_ids = list(byte_ids)
        self.merges = dict(merges)
        self.vocab = {idx: bytes([b]) for b, idx in enumerate(self.byte_ids)}
        for (left, right), idx in self.merges.items():
            self.vocab[idx] = self.vocab[left] + self.vocab[right]
        self._encoder = ChunkEncoder(self.byte_ids, self.merges)
        self._cache = {}
        specials = {i: name.encode("utf-8") for name, i in self.special_tokens.items()}
        self._decoder = {**self.vocab, **specials}

    @property
    def vocab_size(self):
        """1 + the largest id, ordinary or special: the rows an embedding table needs."""
        return 1 + max([*self.vocab, *self.special_tokens.values()])

    # ----- training ---------------------------------------------------------------------------

    def train(self, text, vocab_size, verbose=False):
        """Learn `vocab_size - 256 - len(special_tokens)` merges from `text`; returns self.

        Merge i gets id 256 + i. Special tokens registered before training keep their ids, which
        must lie above the merged ones. Special-token text in `text` is cut out, never merged.
        A corpus with too few distinct pairs stops early, giving a smaller vocabulary. A split
        pattern whose chunks leave some of `text` out is refused: encoding would drop it.
        """
        to_utf8(text)
        if not text:
            raise ValueError("cannot train on empty text")
        if not isinstance(vocab_size, int) or isinstance(vocab_size, bool):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        num_merges = vocab_size - 256 - len(self.special_tokens)
        if num_merges < 0:
            raise ValueError(
                f"vocab_size={vocab_size} is too small: it must be at least 256 (the bytes) + "
                f"{len(self.special_tokens)} (special tokens)"
            )
        clash = sorted(i for i in self.special_tokens.values() if i < 256 + num_merges)
        if clash:
            raise ValueError(
                f"special token id {clash[0]} would collide with a merged token: special ids "
                f"must be >= {256 + num_merges} to train with vocab_size={vocab_size}"
            )
        segments = [text]
        if self.special_tokens:  # train on the text between special tokens, never on them
            segments = self._special_regex(self.special_tokens).split(text)[::2]
        counted = Counter()  # count the chunks as text, then encode each distinct one once
        for segment in segments:
            counted.update(self._split(segment))
        covered = sum(len(chunk) * count for chunk, count in counted.items())
        length = sum(map(len, segments))
        if covered != length:  # the text would not come back from its tokens
            raise ValueError(
                f"pattern {self.pattern!r} skips {length - covered:,} of the text's {length:,} "
                "characters, which encoding would drop; use a pattern whose chunks cover the "
                "text, such as gpt4 or gpt2"
            )
        chunks = {chunk.encode("utf-8"): count for chunk, count in counted.items()}
        possible = sum(len(chunk) - 1 for chunk in chunks)  # a chunk of n bytes merges n-1 times
        pairs = train_fast(chunks, min(num_merges, possible), verbose=verbose)
        self._set_merges(range(256), {pair: 256 + i for i, pair in enumerate(pairs)})
        return self

    # ----- encoding ---------------------------------------------------------------------------

    def encode(self, text, allowed_special="none_raise"):
        """`text` -> list of token ids.

        allowed_special says what a special token's text in `text` means:
          "all"         it becomes its special id;
          "none"        it is ordinary text, encoded like any other;
          "none_raise"  ValueError (the default: user text should not smuggle in control tokens);
          a set         those names become special ids, and any other raises, as in tiktoken.
        """
        to_utf8(text)
        specials = self._allowed_specials(allowed_special, text)
        if not specials:
            return self._encode_ordinary(text)
        ids = []
        for k, part in enumerate(self._special_regex(specials).split(text)):
            if k % 2:  # split() puts the matched separators at odd positions
                ids.append(specials[part])
            else:
                ids.extend(self._encode_ordinary(part))
        return ids

    def encode_ordinary(self, text):
        """`text` -> token ids, treating special-token text as ordinary text."""
        to_utf8(text)
        return self._encode_ordinary(text)

    def _encode_ordinary(self, text):
        # Text repeats its words: each distinct chunk is encoded once and remembered in the
        # cache, many new ones together (`encode_many`), then the whole is put together from the
        # cache inside C (`map`, `chain`).
        chunks = self._split(text)
        if self._may_skip and sum(map(len, chunks)) != len(text):
            raise ValueError(
                f"pattern {self.pattern!r} skips the character "
                f"{first_skipped(self.pattern, text)!r} of the text: encoding would drop it "
                "(the chunks of a tokenizer's pattern must cover the text)"
            )
        cache = self._cache
        unknown = set(chunks).difference(cache)
        if len(cache) + len(unknown) > CACHE_SIZE:  # full: start afresh with this text's chunks
            cache.clear()
            unknown = set(chunks)
        unknown = list(unknown)
        data = [chunk.encode("utf-8") for chunk in unknown]
        if len(data) >= MANY_CHUNKS:
            cache.update(zip(unknown, self._encoder.encode_many(data), strict=True))
        else:
            cache.update(zip(unknown, map(self._encoder.encode, data), strict=True))
        return list(chain.from_iterable(map(cache.__getitem__, chunks)))

    def _allowed_specials(self, allowed_special, text):
        """The {text: id} of the specials to match in `text`, per `encode`'s `allowed_special`."""
        if allowed_special == "all":
            return self.special_tokens
        if allowed_special == "none":
            return {}
        if allowed_special == "none_raise":
            allowed_special = set()
        if isinstance(allowed_special, collections.abc.Set):
            unknown = sorted(set(allowed_special) - self.special_tokens.keys())
            if unknown:
                raise ValueError(f"allowed_special names unregistered special token {unknown[0]!r}")
            for name in self.special_tokens.keys() - allowed_special:
                if name in text:
                    raise ValueError(
                        f"text holds the special token {name!r} at position {text.index(name)}; "
                        'pass allowed_special="all" to encode it as a special token, or "none" '
                        "to encode it as ordinary text"
                    )
            return {name: self.special_tokens[name] for name in allowed_special}
        raise ValueError(
            'allowed_special must be "all", "none", "none_raise" or a set of special token '
            f"names, got {allowed_special!r}"
        )

    @staticmethod
    def _special_regex(specials):
        """A regex matching any of `specials`, longest first so the longest match wins."""
        names = sorted(specials, key=len, reverse=True)
        return regex.compile("(" + "|".join(regex.escape(name) for name in names) + ")")

    # ----- decoding ---------------------------------------------------------------------------

    def decode_bytes(self, ids):
        """Token ids -> the exact bytes they stand for."""
        try:
            return b"".join([self._decoder[i] for i in ids])
        except KeyError as error:
            raise ValueError(
                f"unknown token id {error.args[0]!r} (vocab_size is {self.vocab_size})"
            ) from None

    def decode(self, ids, errors="replace"):
        """Token ids -> text. A cut through a multi-byte character becomes U+FFFD ("replace")."""
        return self.decode_bytes(ids).decode("utf-8", errors=errors)

    # ----- special tokens ---------------------------------------------------------------------

    def register_special_tokens(self, special_tokens):
        """Add special tokens, {text: id}. Their ids must be new: not an ordinary token's id, not
        another special's. They are matched as whole strings and never take part in merges."""
        taken = {i: repr(name) for name, i in self.special_tokens.items()}
        taken.update((i, "an ordinary token") for i in self.vocab)
        for name, idx in special_tokens.items():
            check_special_token(name)
            if not isinstance(idx, int) or isinstance(idx, bool) or idx < 0:
                raise ValueError(f"special token {name!r} needs an int id >= 0, got {idx!r}")
            if self.special_tokens.get(name) == idx:
                continue
            if idx in taken:
                raise ValueError(f"special token {name!r}: id {idx} is already {taken[idx]}")
            if name in self.special_tokens:
                raise ValueError(f"special token {name!r} is already registered")
            taken[idx] = repr(name)
        self.special_tokens.update(special_tokens)
        self._decoder.update((i, name.encode("utf-8")) for name, i in special_tokens.items())

    # ----- files ------------------------------------------------------------------------------

    def save(self, path):
        """Write the tokenizer to one human-readable UTF-8 file (see `tokenizer/files.py`)."""
        files.save_bpe(self, path)

    @classmethod
    def load(cls, path):
        """Read a file written by `save`."""
        return cls.from_parts(*files.read_bpe(path))

    def save_pretrained(self, directory):
        """Write a Hugging Face tokenizer directory; returns the paths of the files written.

        `tokenizer.json` carries the split pattern, the merges and the special tokens (at their
        ids), so `transformers.AutoTokenizer.from_pretrained(directory)` and
        `tokenizers.Tokenizer.from_file` give `self.encode(text, allowed_special="all")`'s ids;
        `vocab.json` + `merges.txt` and `tokenizer_config.json` come with it (`tokenizer/hf.py`).
        """
        return hf.save_bpe(self, directory)

    def export_gpt2(self, directory):
        """Write `vocab.json` and `merges.txt` as GPT-2 and Hugging Face use them.

        Only GPT-2's split pattern survives these two files: for any other this warns
        (`SplitPatternWarning`), and `save_pretrained` is the way to keep the ids.
        """
        return formats.export_gpt2(self, directory)

    @classmethod
    def from_gpt2(cls, vocab_json, merges_txt, pattern="gpt2"):
        """Read GPT-2 / Hugging Face `vocab.json` + `merges.txt` (e.g. GPT-2's own)."""
        return cls.from_parts(pattern, *formats.read_gpt2(vocab_json, merges_txt))

    def export_tiktoken(self, path):
        """Write tiktoken's ranks file: `base64(token bytes) id` per line, specials left out.

        `formats.export_tiktoken` gives the call that builds a `tiktoken.Encoding` from it.
        """
        formats.export_tiktoken(self, path)

    @classmethod
    def from_tiktoken(cls, path, pattern="gpt4", special_tokens=None):
        """Read a tiktoken ranks file (e.g. cl100k_base.tiktoken)."""
        byte_ids, merges = formats.read_tiktoken(path)
        return cls.from_parts(pattern, byte_ids, merges, special_tokens or {})

    @classmethod
    def from_parts(cls, pattern, byte_ids, merges, special_tokens):
        """A tokenizer from its pieces, as the file readers find them (they check them)."""
        tok = cls(pattern)
        tok._set_merges(byte_ids, merges)
        tok.register_special_tokens(special_tokens)
        return tok
