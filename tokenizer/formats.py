"""Other libraries' file formats, so our vocabularies travel (and GPT-2's or GPT-4's come in).

GPT-2 / Hugging Face: `vocab.json` maps each token, written as text, to its id; `merges.txt`
lists the merges in rank order, one `left right` pair per line after `#version: 0.2`. Tokens
are bytes, but JSON and a space-separated file need printable text, so GPT-2 maps every byte to
a visible character with `bytes_to_unicode` (the space byte becomes "Ġ", newline "Ċ"):

    >>> "".join(bytes_to_unicode()[b] for b in " hello\\n".encode())
    'ĠhelloĊ'

tiktoken: one line per token, `base64(token bytes) rank`, where the rank is also the token's
id; there are no explicit merges: tiktoken merges, at each step, the adjacent pair whose joined
bytes have the lowest rank. We rebuild the merge list by asking which two earlier tokens each
token is made of. Special tokens are not in the file; they are passed separately.

The readers return the pieces a BPETokenizer is built from (`BPETokenizer.from_parts`); every
error names the file and, where there is one, the line.
"""

import base64
import json
import warnings
from itertools import pairwise
from pathlib import Path

from engine.files import write_atomic
from tokenizer.base import apply_merges
from tokenizer.patterns import GPT2_PATTERN, NAMED_PATTERNS


def bytes_to_unicode():
    """GPT-2's table {byte: printable character}: printable Latin-1 bytes map to themselves,
    the other 68 (control bytes, space, ...) to the characters from U+0100 (Ā) on."""
    visible = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    visible += range(ord("®"), ord("ÿ") + 1)
    others = [b for b in range(256) if b not in visible]
    table = {b: chr(b) for b in visible}
    table.update((b, chr(256 + n)) for n, b in enumerate(others))
    return table


def _to_text(data):
    table = bytes_to_unicode()
    return "".join(table[b] for b in data)


class SplitPatternWarning(UserWarning):
    """vocab.json + merges.txt were written for a tokenizer whose split pattern is not GPT-2's."""


def gpt2_vocab(tok, specials_as_text=False):
    """{token name: id} for every token of `tok`, as vocab.json and tokenizer.json spell them.

    Ordinary tokens are named by `bytes_to_unicode`. Special tokens are too in vocab.json (GPT-2's
    own "<|endoftext|>" reads the same either way); tokenizer.json names them by their text
    (`specials_as_text`), which is how its `added_tokens` find them. Two ids with one name are
    refused: the format could not tell them apart.
    """
    names = {idx: _to_text(data) for idx, data in tok.vocab.items()}
    for name, idx in tok.special_tokens.items():
        names[idx] = name if specials_as_text else _to_text(name.encode("utf-8"))
    vocab = {}
    for idx in sorted(names):
        if names[idx] in vocab:
            raise ValueError(f"ids {vocab[names[idx]]} and {idx} are the same token {names[idx]!r}")
        vocab[names[idx]] = idx
    return vocab


def merge_names(tok):
    """The merges in rank order as `(left name, right name)` pairs, named as in `gpt2_vocab`."""
    return [(_to_text(tok.vocab[a]), _to_text(tok.vocab[b])) for a, b in tok.merges]


def export_gpt2(tok, directory):
    """Write `vocab.json` and `merges.txt` into `directory`; returns their two paths.

    The two files cannot carry a split pattern: Hugging Face's GPT-2 tokenizer, reading them,
    always splits text with GPT-2's. For any other pattern (GPT-4's, the default) it would give
    other ids, so this warns (SplitPatternWarning); `save_pretrained` writes `tokenizer.json`
    too, which carries the pattern.
    """
    paths = write_gpt2(tok, directory)
    if tok.pattern != GPT2_PATTERN:
        warnings.warn(
            f"{paths[0]} and {paths[1]} cannot carry this tokenizer's split pattern "
            f"{_pattern_name(tok.pattern)}: Hugging Face's GPT-2 tokenizer will split text with "
            "GPT-2's pattern instead and give different ids. Use save_pretrained(directory), "
            "whose tokenizer.json carries the pattern.",
            SplitPatternWarning,
            stacklevel=3,
        )
    return paths


def _pattern_name(pattern):
    """'gpt4' for GPT-4's regex, the regex itself for a custom one."""
    if pattern is None:
        return "None (no split)"
    named = {regex: name for name, regex in NAMED_PATTERNS.items()}
    return repr(named.get(pattern, pattern))


def write_gpt2(tok, directory):
    """`export_gpt2` without the warning, for writers that also write `tokenizer.json`."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    vocab = gpt2_vocab(tok)
    lines = ["#version: 0.2"] + [f"{left} {right}" for left, right in merge_names(tok)]
    vocab_path, merges_path = directory / "vocab.json", directory / "merges.txt"
    write_atomic(vocab_path, json.dumps(vocab, ensure_ascii=False, indent=0))
    write_atomic(merges_path, "\n".join(lines) + "\n")
    return vocab_path, merges_path


def read_gpt2(vocab_json, merges_txt):
    """Read GPT-2 files -> (byte_ids, merges, special_tokens).

    Entries of vocab.json that are neither a byte nor made by a merge (GPT-2's "<|endoftext|>")
    become special tokens.
    """
    try:
        vocab = json.loads(Path(vocab_json).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{vocab_json}: not a JSON vocabulary ({error})") from None
    pairs = []
    lines = _text(merges_txt).split("\n")
    for line_no, line in enumerate(lines, start=1):
        if line == "" or (line_no == 1 and line.startswith("#version")):
            continue
        pairs.append((f"{merges_txt}, line {line_no}", line.split(" ")))
    return parse_gpt2_vocab(vocab, pairs, str(vocab_json))


def parse_gpt2_vocab(vocab, pairs, where):
    """A byte-level vocabulary and its merges -> (byte_ids, merges, special_tokens), checked.

    `vocab` is {token name: id}; `pairs` is a list of `(place, [left name, right name])` in rank
    order, `place` saying where an error points (a file and line). `where` names the vocabulary.
    Entries that are neither a byte nor made by a merge become special tokens.
    """
    if not isinstance(vocab, dict) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in vocab.values()
    ):
        raise ValueError(f"{where}: expected an object mapping tokens to ids >= 0")
    if len(set(vocab.values())) != len(vocab):
        raise ValueError(f"{where}: two tokens share an id")
    table = bytes_to_unicode()
    missing = [b for b in range(256) if table[b] not in vocab]
    if missing:
        raise ValueError(f"{where}: no token for the byte {missing[0]} ({table[missing[0]]!r})")
    byte_ids = [vocab[table[b]] for b in range(256)]
    known = set(byte_ids)
    merges = {}
    for place, parts in pairs:
        text = " ".join(map(str, parts))
        if len(parts) != 2 or parts[0] not in vocab or parts[1] not in vocab:
            raise ValueError(f"{place}: not a merge of two tokens: {text!r}")
        left, right, joined = vocab[parts[0]], vocab[parts[1]], vocab.get(parts[0] + parts[1])
        if left not in known or right not in known or joined is None or joined in known:
            raise ValueError(
                f"{place}: merge {text!r} needs two earlier tokens and a new token in {where} "
                "for their concatenation"
            )
        merges[left, right] = joined
        known.add(joined)
    text_of = {v: k for k, v in table.items()}
    specials = {}
    for name, idx in vocab.items():
        if idx not in known:
            if all(c in text_of for c in name):
                spelled = bytes(text_of[c] for c in name)
                try:
                    name = spelled.decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(
                        f"{where}: {name!r} (id {idx}) is neither a byte nor made by a merge, "
                        f"and its bytes {spelled!r} are no text a special token could be"
                    ) from None
            if name in specials:
                raise ValueError(f"{where}: ids {specials[name]} and {idx} are both {name!r}")
            specials[name] = idx
    return byte_ids, merges, specials


def export_tiktoken(tok, path):
    """Write tiktoken's ranks file for `tok` (special tokens are not part of it).

    tiktoken keeps no merge list: it uses each token's id as its rank and builds every token
    from whichever two parts it meets first. So the ids must grow in merge order, and each
    token must be rebuilt from the very pair that made it. Both hold for vocabularies learned
    by BPE training (ours, GPT-2's); a ValueError says which token breaks them otherwise.

    The file holds neither the split pattern nor the special tokens, so tiktoken is handed both
    (bench/tokenizer_hf.py checks that the ids are ours):

        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
        enc = tiktoken.Encoding(
            "tinyllm",
            pat_str=tok.pattern,
            mergeable_ranks=load_tiktoken_bpe("tok.tiktoken"),
            special_tokens=tok.special_tokens,
        )
        assert enc.encode(text, allowed_special="all") == tok.encode(text, allowed_special="all")

    `load_tiktoken_bpe` caches what it reads under the file's path, local files too: set the
    environment variable TIKTOKEN_CACHE_DIR to "" to read a rewritten file afresh.
    """
    ids = list(tok.merges.values())
    if any(a >= b for a, b in pairwise(ids)):
        raise ValueError("tiktoken needs merge ids that grow in merge order; these do not")
    tokens = {}
    for idx, data in sorted(tok.vocab.items()):
        if data in tokens:
            raise ValueError(f"ids {tokens[data]} and {idx} are the same token {data!r}")
        tokens[data] = idx
    for (pair, idx), rebuilt in zip(tok.merges.items(), _recover_merges(tokens, path), strict=True):
        if pair != rebuilt:
            raise ValueError(
                f"token {idx} ({tok.vocab[idx]!r}) is made by the merge {pair}, but tiktoken "
                f"would build it from {rebuilt}: this vocabulary has no tiktoken equivalent"
            )
    lines = [f"{base64.b64encode(data).decode('ascii')} {idx}" for data, idx in tokens.items()]
    write_atomic(path, "\n".join(lines) + "\n")


def read_tiktoken(path):
    """Read a tiktoken ranks file -> (byte_ids, merges)."""
    tokens, ranks_seen = {}, set()
    lines = _text(path).split("\n")
    for line_no, line in enumerate(lines, start=1):
        if line == "":
            continue
        encoded, _, rank = line.partition(" ")
        try:
            data = base64.b64decode(encoded, validate=True)
        except ValueError:
            data = b""
        if not data or not (rank.isascii() and rank.isdigit()):
            raise ValueError(f"{path}, line {line_no}: expected `base64 rank`, got {line[:80]!r}")
        if data in tokens or int(rank) in ranks_seen:
            raise ValueError(f"{path}, line {line_no}: token or rank {rank} appears twice")
        tokens[data] = int(rank)
        ranks_seen.add(int(rank))
    merges = _recover_merges(tokens, path)
    return [tokens[bytes([b])] for b in range(256)], merges


def _recover_merges(tokens, path):
    """{token bytes: rank} -> the merges {(left_id, right_id): id}, in rank order.

    Each multi-byte token, taken in rank order, is encoded with the merges found so far; the
    two parts that come out are the pair it was made from.
    """
    missing = [b for b in range(256) if bytes([b]) not in tokens]
    if missing:
        raise ValueError(f"{path}: no token for the byte {missing[0]}")
    byte_ids = [tokens[bytes([b])] for b in range(256)]
    merges, ranks = {}, {}
    for data, idx in sorted(tokens.items(), key=lambda item: item[1]):
        if len(data) == 1:
            continue
        parts = apply_merges([byte_ids[b] for b in data], ranks)
        if len(parts) != 2:
            raise ValueError(f"{path}: token {idx} ({data!r}) is not a merge of two lower ranks")
        merges[parts[0], parts[1]] = idx
        ranks[parts[0], parts[1]] = (idx, idx)
    return merges


def _text(path):
    """The UTF-8 text of the file `path`; a ValueError naming it if it is not UTF-8."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text (byte {error.start})") from None
