"""Hugging Face's `tokenizer.json`, and the directories `save_pretrained` writes.

A tokenizer.json describes a tokenizer as a pipeline, one JSON object per stage. Ours reads:

    added_tokens   [{"id": 4096, "content": "<|endoftext|>", ...}]  matched first, never merged
    normalizer     null                                  (the text is not changed)
    pre_tokenizer  Sequence[Split(our regex), ByteLevel(use_regex=false)]
                   cut the text into chunks, then spell each chunk's bytes in GPT-2's printable
                   characters (`formats.bytes_to_unicode`: the space is "Ġ")
    model          BPE: "vocab" {name: id}, "merges" ["left right", ...] in rank order
    decoder        ByteLevel                             (printable characters -> bytes -> text)

GPT-2's own file has the single pre_tokenizer ByteLevel(use_regex=true), which splits with
GPT-2's pattern built in; it is read as pattern "gpt2". HF matches every added token wherever
it occurs, so its ids are those of `encode(text, allowed_special="all")`. What we learned by
loading files into `tokenizers` itself:
- On load, HF gives each added token the id `model.vocab` has for its text, and the next free
  id if it has none, whatever the token's "id" says. So special tokens go into the vocab too,
  under their text, as GPT-2's "<|endoftext|>" does.
- HF's regex engine (Oniguruma) reads `{1,3}+` as "one or more runs of one to three", not as a
  possessive `{1,3}`. GPT-4's `\\p{N}{1,3}+` is written `\\p{N}{1,3}` (the same split, since
  nothing follows it in its alternative) and read back as GPT-4's own pattern. Other patterns
  holding a `{m,n}+` are refused. The rest of the usual syntax (`\\p{L}`, `(?i:...)`, `?+`,
  `++`, Unicode `\\s`) reads alike in both engines (bench/tokenizer_hf.py checks the ids).
- A Split keeps the text between two matches as a chunk too, where our split (and tiktoken's)
  drops it. The named patterns match every character, so this only matters for a custom
  pattern that skips some.

A CharTokenizer is written as a WordLevel model, every character its own chunk and token, with
the Fuse decoder (join the characters, no spaces between). Anything else (WordPiece, Unigram,
a normalizer, ...) is refused: one ValueError naming the file, the field and what it holds.
"""

import json
from pathlib import Path

import regex

from engine.files import write_atomic
from tokenizer import formats
from tokenizer.jsonfile import JsonFile
from tokenizer.patterns import GPT2_PATTERN, GPT4_PATTERN, resolve_pattern

HF_SPELLING = {GPT4_PATTERN: GPT4_PATTERN.replace(r"\p{N}{1,3}+", r"\p{N}{1,3}")}
"""Our pattern -> how it is written for Oniguruma (patterns not listed are written as they are)."""

POSSESSIVE_INTERVAL = regex.compile(r"(?<!\\)\{\d*,?\d*\}\+")
"""`{m,n}+` (not after a backslash): possessive to us, a repeated repetition to Oniguruma."""

CHAR_SPLIT = r"[\s\S]"
"""The split of a character tokenizer: every character (newlines too) is a chunk of its own."""

NO_TEMPLATE = [{"Sequence": {"id": "A", "type_id": 0}}]
"""The `single` template of a TemplateProcessing that adds no tokens: the text's own ids."""

CONFIG = {"tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
"""tokenizer_config.json: the class that runs tokenizer.json as written (a GPT-2 class would
rebuild the tokenizer with GPT-2's split), and decoding that gives back the exact text."""


def split_step(pattern):
    """A Split pre-tokenizer: each match of the regex `pattern` becomes a chunk of its own."""
    return {"type": "Split", "pattern": {"Regex": pattern}, "behavior": "Isolated", "invert": False}


def byte_level_step(use_regex, add_prefix_space=False):
    """A ByteLevel pre-tokenizer or decoder (`use_regex`: split with GPT-2's pattern first)."""
    return {
        "type": "ByteLevel",
        "add_prefix_space": add_prefix_space,
        "trim_offsets": True,
        "use_regex": use_regex,
    }


def to_hf_pattern(pattern):
    """Our split regex as tokenizer.json's Split pre-tokenizer must spell it for Oniguruma.

    >>> r"|\\p{N}{1,3}|" in to_hf_pattern(GPT4_PATTERN)
    True
    >>> from_hf_pattern(to_hf_pattern(GPT4_PATTERN)) == GPT4_PATTERN
    True
    """
    hf = HF_SPELLING.get(pattern, pattern)
    if POSSESSIVE_INTERVAL.search(hf):
        raise ValueError(
            f"the split pattern {pattern!r} holds a possessive `{{m,n}}+`, which Hugging Face's "
            "regex engine reads as a repeated repetition and splits differently: write it as "
            "an atomic group `(?>...{m,n})` or drop the `+`"
        )
    return hf


def from_hf_pattern(hf):
    """A Split regex from tokenizer.json as our pattern (`to_hf_pattern` undone). A `{m,n}+`
    is refused: we would read as possessive what Hugging Face reads as a repeated repetition."""
    ours = {spelling: pattern for pattern, spelling in HF_SPELLING.items()}
    if hf not in ours and POSSESSIVE_INTERVAL.search(hf):
        raise ValueError(
            f"the split pattern {hf!r} holds a `{{m,n}}+`, which Hugging Face's regex engine "
            "reads as a repeated repetition and tinyllm's as possessive: they would split "
            "differently"
        )
    return ours.get(hf, hf)


# ----- writing -------------------------------------------------------------------------------


def save_bpe(tok, directory):
    """Write tokenizer.json, vocab.json, merges.txt and tokenizer_config.json; returns the paths.

    vocab.json + merges.txt are for tools that read only GPT-2's two files; they cannot carry
    a split pattern other than GPT-2's (see `formats.export_gpt2`), tokenizer.json can.
    """
    config = dict(CONFIG)
    if "<|endoftext|>" in tok.special_tokens:  # GPT-2's convention
        config.update(bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = _write_json(directory, _bpe_pipeline(tok), config)
    return (*paths, *formats.write_gpt2(tok, directory))


def save_tokenizer_json(tok, path):
    """Write a BPETokenizer as one tokenizer.json file, under any name: what
    `tokenizers.Tokenizer.from_file` and `tokenizer.load` read. Returns the path."""
    return write_atomic(path, _json_text(_bpe_pipeline(tok)))


def _bpe_pipeline(tok):
    """A BPETokenizer's tokenizer.json object: its split, its merges, its special tokens."""
    pre_tokenizer = byte_level_step(use_regex=False)
    if tok.pattern is not None:
        steps = [split_step(to_hf_pattern(tok.pattern)), pre_tokenizer]
        pre_tokenizer = {"type": "Sequence", "pretokenizers": steps}
    model = {
        "type": "BPE",
        "dropout": None,
        "unk_token": None,
        "continuing_subword_prefix": None,
        "end_of_word_suffix": None,
        "fuse_unk": False,
        "byte_fallback": False,
        "ignore_merges": False,
        "vocab": formats.gpt2_vocab(tok, specials_as_text=True),
        "merges": [f"{left} {right}" for left, right in formats.merge_names(tok)],
    }
    decoder = byte_level_step(use_regex=True, add_prefix_space=True)  # as GPT-2's own file
    added = sorted((idx, name) for name, idx in tok.special_tokens.items())
    return _pipeline(added, pre_tokenizer, model, decoder)


def save_char(chars, directory):
    """Write a character tokenizer's tokenizer.json and tokenizer_config.json; returns the paths.

    HF's WordLevel has no unknown token here, so a character outside the vocabulary is an error
    there as it is in CharTokenizer.encode.
    """
    model = {"type": "WordLevel", "vocab": {c: i for i, c in enumerate(chars)}, "unk_token": ""}
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pipeline = _pipeline([], split_step(CHAR_SPLIT), model, {"type": "Fuse"})
    return _write_json(directory, pipeline, dict(CONFIG))


def _pipeline(added, pre_tokenizer, model, decoder):
    """The whole tokenizer.json object; `added` is [(id, text)] of the special tokens."""
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": idx, "content": name, **flags, "special": True} for idx, name in added
        ],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": None,
        "decoder": decoder,
        "model": model,
    }


def _write_json(directory, pipeline, config):
    """Write tokenizer.json and tokenizer_config.json into `directory`; returns their paths."""
    paths = directory / "tokenizer.json", directory / "tokenizer_config.json"
    for path, data in zip(paths, (pipeline, config), strict=True):
        write_atomic(path, _json_text(data))
    return paths


def _json_text(data):
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


# ----- reading -------------------------------------------------------------------------------


def read_pretrained(path):
    """Read a tokenizer.json file, or a directory holding one (or vocab.json + merges.txt).

    Returns ("bpe", (pattern, byte_ids, merges, special_tokens)) or ("char", chars).
    """
    path = Path(path)
    if path.is_dir():
        if (path / "tokenizer.json").is_file():
            path = path / "tokenizer.json"
        elif (path / "vocab.json").is_file() and (path / "merges.txt").is_file():
            parts = formats.read_gpt2(path / "vocab.json", path / "merges.txt")
            return "bpe", (GPT2_PATTERN, *parts)  # HF splits these with GPT-2's pattern
        else:
            raise FileNotFoundError(
                f"{path}: no tokenizer.json, and no vocab.json + merges.txt: no tokenizer to read"
            )
    elif not path.is_file():
        raise FileNotFoundError(f"{path}: no such file or directory")
    file = JsonFile.read(path)
    kind = file.get("model.type", (str,))
    if kind == "WordLevel":
        return "char", _read_char(file)
    if kind != "BPE":
        why = "tinyllm reads byte-level BPE (and its own WordLevel character tokenizers)"
        raise file.error("model.type", f"is {kind!r}: {why}")
    return "bpe", _read_bpe(file)


def _read_bpe(file):
    """(pattern, byte_ids, merges, special_tokens) of a byte-level BPE tokenizer.json."""
    file.expect("normalizer", (None,), None, ": a normalizer changes the text before the split")
    pattern = _read_pre_tokenizer(file)
    file.expect("decoder.type", ("ByteLevel",), why=": the decoder of byte-level BPE")
    _check_post_processor(file, ("ByteLevel",))
    file.expect("model.dropout", (None, 0), None, ": dropout makes the ids random")
    for name in ("continuing_subword_prefix", "end_of_word_suffix"):
        file.expect(f"model.{name}", (None, ""), None, ": byte-level BPE marks no word parts")
    file.expect("model.byte_fallback", (False,), False)
    whole = ": with it HF takes a chunk found whole in the vocabulary as one token, unmerged"
    file.expect("model.ignore_merges", (False,), False, whole)
    vocab = file.get("model.vocab", (dict,))
    pairs = [
        (f"{file.path}, model.merges.{i}", _merge_parts(merge))
        for i, merge in enumerate(file.get("model.merges", (list,)))
    ]
    byte_ids, merges, unmade = formats.parse_gpt2_vocab(vocab, pairs, f"{file.path}, model.vocab")
    ordinary, added, next_free = {*byte_ids, *merges.values()}, {}, len(vocab)
    for i in range(len(file.get("added_tokens", (list,), []))):
        where = f"added_tokens.{i}"
        content, idx = file.get(f"{where}.content", (str,)), file.get(f"{where}.id", (int,))
        for flag in ("single_word", "lstrip", "rstrip"):
            file.expect(f"{where}.{flag}", (False,), False, ": tinyllm matches specials as written")
        taken = idx in ordinary or idx in added or content in added.values()
        if taken or vocab.get(content, idx) != idx or not content:
            message = f"{content!r} (id {idx}) must be a new text with an id of its own"
            raise file.error(where, message + " (tinyllm keeps special tokens apart)")
        if content not in vocab:  # HF gives it the next free id, whatever the file says
            if idx != next_free:
                message = f"{content!r} has id {idx}, but Hugging Face gives it {next_free}"
                raise file.error(where, message + ", the next free id")
            next_free += 1
        added[idx] = content
    for name, idx in unmade.items():
        if idx not in added:
            message = f"{name!r} (id {idx}) is neither a byte, made by a merge nor an added token"
            raise file.error("model.vocab", message + ": tinyllm's BPE has no place for it")
    return pattern, byte_ids, merges, {name: idx for idx, name in added.items()}


def _merge_parts(merge):
    """A merge as tokenizer.json writes it ("a b", or ["a", "b"] since tokenizers 0.20)."""
    if isinstance(merge, str):
        return merge.split(" ")
    if isinstance(merge, list) and all(isinstance(part, str) for part in merge):
        return merge
    return [merge]  # not a merge: parse_gpt2_vocab says so


def _read_pre_tokenizer(file):
    """The split pattern of a byte-level pre_tokenizer (GPT-2's ByteLevel, or Split + ByteLevel)."""
    kind = file.expect("pre_tokenizer.type", ("ByteLevel", "Sequence"), why=" (byte-level BPE)")
    if kind == "ByteLevel":
        file.expect("pre_tokenizer.add_prefix_space", (False,), why=": tinyllm adds no space")
        return GPT2_PATTERN if file.get("pre_tokenizer.use_regex", (bool,), True) else None
    steps = "pre_tokenizer.pretokenizers"
    if len(file.get(steps, (list,))) != 2:
        raise file.error(steps, "tinyllm reads [Split, ByteLevel(use_regex=false)] here")
    file.expect(f"{steps}.0.type", ("Split",))
    name = f"{steps}.0.pattern.Regex"
    hf = file.get(name, (str,))
    file.expect(f"{steps}.0.behavior", ("Isolated",), why=": each match becomes a chunk")
    file.expect(f"{steps}.0.invert", (False,), False)
    file.expect(f"{steps}.1.type", ("ByteLevel",))
    file.expect(f"{steps}.1.add_prefix_space", (False,), why=": tinyllm adds no space")
    file.expect(f"{steps}.1.use_regex", (False,), True, ": a second split is no single pattern")
    try:
        return resolve_pattern(from_hf_pattern(hf))
    except ValueError as error:
        raise file.error(name, str(error)) from None


def _check_post_processor(file, allowed):
    """Refuse a post_processor that adds tokens; a template adding none (transformers 5 writes
    one) or one of the `allowed` types is fine."""
    if file.get("post_processor", (dict, None), None) is None:
        return
    types = (*allowed, "TemplateProcessing")
    kind = file.expect("post_processor.type", types, why=" (others add tokens to the ids)")
    if kind == "TemplateProcessing":
        file.expect("post_processor.single", (NO_TEMPLATE,), why=": it adds tokens to the ids")


def _read_char(file):
    """The characters, in id order, of a character tokenizer written by `save_char`."""
    why = ": tinyllm reads WordLevel only as the character tokenizer it writes"
    file.expect("pre_tokenizer", (split_step(CHAR_SPLIT),), why=why)
    file.expect("normalizer", (None,), None, why)
    _check_post_processor(file, ())
    file.expect("decoder", ({"type": "Fuse"},), why=why)
    file.expect("added_tokens", ([],), [], why)
    vocab = file.get("model.vocab", (dict,))
    ids = sorted(i for i in vocab.values() if isinstance(i, int) and not isinstance(i, bool))
    if ids != list(range(len(vocab))) or not all(len(c) == 1 for c in vocab):
        raise file.error("model.vocab", f"expected single characters with the ids 0..n-1{why}")
    return sorted(vocab, key=vocab.get)
