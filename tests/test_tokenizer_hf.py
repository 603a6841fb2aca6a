"""Hugging Face's tokenizer.json and `save_pretrained` directories, tested from the format.

The files here are written by hand from HF's schema (added_tokens, normalizer, pre_tokenizer,
model, decoder, post_processor), and the expected ids are worked out from those files by hand.
`bench/tokenizer_hf.py` checks the files we write in the `tokenizers` library itself.
"""

import copy
import json
import os
import re

import pytest

import tokenizer
from tokenizer import BPETokenizer, CharTokenizer
from tokenizer.formats import bytes_to_unicode
from tokenizer.patterns import GPT2_PATTERN, GPT4_PATTERN

# GPT-4's split as Oniguruma must read it: `\p{N}{1,3}`, not the possessive `\p{N}{1,3}+`
CL100K_FOR_ONIGURUMA = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
TEXTS = [
    "Hello world! It's 2024, and 1234567890 is a long number.\n",
    "naïve café 漢字 😀 e\u0301 a\u00a0b\u3000c\r\n\n  x  ",
    "<|endoftext|>Once upon a time<|im start|>\tthe end<|endoftext|>",
    "",
]
SPECIALS = {"<|endoftext|>": 330, "<|im start|>": 331}  # the second holds a space
PATTERNS = ["gpt4", "gpt2", r"\w+| ?[^\w\s]+|\s+", None]


def trained(pattern):
    corpus = "".join(TEXTS[:2]) * 10 + "the theme of the thesis 123 456 " * 20
    return BPETokenizer(pattern, special_tokens=SPECIALS).train(corpus, 332)


def same_tokenizer(a, b):
    assert a.pattern == b.pattern and a.byte_ids == b.byte_ids
    assert list(a.merges.items()) == list(b.merges.items())  # the same merges, in rank order
    assert a.special_tokens == b.special_tokens
    for text in TEXTS:
        assert a.encode(text, allowed_special="all") == b.encode(text, allowed_special="all")
    return True


@pytest.mark.parametrize("pattern", PATTERNS)
def test_save_pretrained_round_trip(pattern, tmp_path):
    tok = trained(pattern)
    directory = tmp_path / "hf"
    paths = tok.save_pretrained(directory)
    names = ["merges.txt", "tokenizer.json", "tokenizer_config.json", "vocab.json"]
    assert sorted(p.name for p in paths) == sorted(os.listdir(directory)) == names
    for path in (directory, directory / "tokenizer.json"):
        assert same_tokenizer(tokenizer.from_pretrained(path), tok)
        assert same_tokenizer(tokenizer.load(path), tok)


@pytest.mark.parametrize("pattern", PATTERNS)
def test_save_pretrained_vocab_json_and_merges_txt_alone(pattern, tmp_path):
    tok = trained(pattern)
    tok.save_pretrained(tmp_path)
    (tmp_path / "tokenizer.json").unlink()
    back = tokenizer.from_pretrained(tmp_path)  # what HF's GPT-2 tokenizer makes of the two files
    assert back.pattern == GPT2_PATTERN
    assert list(back.merges.items()) == list(tok.merges.items())
    assert back.special_tokens == SPECIALS
    if pattern == "gpt2":
        assert same_tokenizer(back, tok)


def test_tokenizer_json_follows_hfs_schema(tmp_path):
    tok = trained("gpt4")
    tok.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert data["normalizer"] is None and data["post_processor"] is None
    assert data["pre_tokenizer"]["type"] == "Sequence"
    split, byte_level = data["pre_tokenizer"]["pretokenizers"]
    regex = {"Regex": CL100K_FOR_ONIGURUMA}
    assert split == {"type": "Split", "pattern": regex, "behavior": "Isolated", "invert": False}
    assert byte_level["type"] == "ByteLevel" and byte_level["use_regex"] is False
    assert byte_level["add_prefix_space"] is False and data["decoder"]["type"] == "ByteLevel"
    model = data["model"]
    assert model["type"] == "BPE" and model["ignore_merges"] is False
    vocab, merges = model["vocab"], model["merges"]
    assert vocab["Ġ"] == 32 and vocab["Ċ"] == 10 and vocab["a"] == 97  # bytes_to_unicode names
    assert vocab["<|endoftext|>"] == 330 and vocab["<|im start|>"] == 331  # specials by text
    assert len(merges) == len(tok.merges) == 332 - 256 - 2
    table = bytes_to_unicode()
    for rank in (0, -1):
        (left, right), idx = list(tok.merges.items())[rank]
        names = ["".join(table[b] for b in tok.vocab[i]) for i in (left, right)]
        assert merges[rank] == " ".join(names) and vocab["".join(names)] == idx
    flags = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}
    assert data["added_tokens"] == [
        {"id": 330, "content": "<|endoftext|>", **flags, "special": True},
        {"id": 331, "content": "<|im start|>", **flags, "special": True},
    ]
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "PreTrainedTokenizerFast"  # not GPT-2's: keeps the split
    assert config["eos_token"] == "<|endoftext|>"


# ----- files written by hand from HF's schema ------------------------------------------------

MERGES = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("1", "2"), ("12", "3"), ("3", "4")]
GPT2_FORM = {
    "type": "ByteLevel",
    "add_prefix_space": False,
    "trim_offsets": True,
    "use_regex": True,
}
GPT4_FORM = {
    "type": "Sequence",
    "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": CL100K_FOR_ONIGURUMA}, "behavior": "Isolated",
         "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
    ],
}  # fmt: skip
ADDED = {"single_word": False, "lstrip": False, "rstrip": False, "normalized": False}


def gpt2_layout_vocab():
    """Bytes at GPT-2's own ids (the order of bytes_to_unicode: "!" is 0, "Ġ" is 220), then one
    token per merge of MERGES (256..261) and "<|endoftext|>" (262)."""
    vocab = {name: idx for idx, name in enumerate(bytes_to_unicode().values())}
    for left, right in MERGES:
        vocab[left + right] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab


def hand_written(pre_tokenizer):
    """A whole tokenizer.json (a fresh copy each time), with the vocabulary above."""
    vocab = gpt2_layout_vocab()
    return copy.deepcopy({
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {"id": 262, "content": "<|endoftext|>", **ADDED, "special": True},
            {"id": 263, "content": "<|pad|>", **ADDED, "special": True},  # not in the vocab
        ],
        "normalizer": None,
        "pre_tokenizer": pre_tokenizer,
        "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False,
                           "use_regex": True},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                    "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": False,
                  "byte_fallback": False, "ignore_merges": False, "vocab": vocab,
                  "merges": [[left, right] for left, right in MERGES]},
    })  # fmt: skip


def write_json(path, data):
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


TEXT = "the the 12341234<|endoftext|><|pad|>"


def test_hand_written_gpt2_tokenizer_json(tmp_path):
    v = gpt2_layout_vocab()
    assert v["!"] == 0 and v["Ġ"] == 220  # as in GPT-2's own vocabulary
    tok = tokenizer.from_pretrained(
        write_json(tmp_path / "tokenizer.json", hand_written(GPT2_FORM))
    )
    assert tok.pattern == GPT2_PATTERN and tok.byte_ids[32] == 220 and tok.byte_ids[ord("t")] == 83
    assert tok.special_tokens == {"<|endoftext|>": 262, "<|pad|>": 263}
    # GPT-2 splits "the" | " the" | " 12341234"; the digits merge 1 2, then 12 3, twice
    expected = [v["t"], v["he"], v["Ġthe"], v["Ġ"], v["123"], v["4"], v["123"], v["4"], 262, 263]
    assert tok.encode(TEXT, allowed_special="all") == expected
    assert tok.decode(expected) == TEXT


def test_hand_written_gpt4_tokenizer_json(tmp_path):
    v = gpt2_layout_vocab()
    tok = tokenizer.from_pretrained(
        write_json(tmp_path / "tokenizer.json", hand_written(GPT4_FORM))
    )
    assert tok.pattern == GPT4_PATTERN  # the possessive `{1,3}+` again
    # GPT-4 splits "the" | " the" | " " | "123" | "412" | "34"
    expected = [v["t"], v["he"], v["Ġthe"], v["Ġ"], v["123"], v["4"], v["12"], v["34"], 262, 263]
    assert tok.encode(TEXT, allowed_special="all") == expected
    assert tok.decode(expected) == TEXT


def test_hand_written_vocab_json_and_merges_txt(tmp_path):
    v = gpt2_layout_vocab()
    write_json(tmp_path / "vocab.json", v)
    lines = ["#version: 0.2", *(f"{left} {right}" for left, right in MERGES)]
    (tmp_path / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    tok = tokenizer.load(tmp_path)
    assert tok.pattern == GPT2_PATTERN and tok.special_tokens == {"<|endoftext|>": 262}
    expected = [v["t"], v["he"], v["Ġthe"], v["Ġ"], v["123"], v["4"], v["123"], v["4"], 262]
    assert tok.encode(TEXT.removesuffix("<|pad|>"), allowed_special="all") == expected


# ----- character tokenizers ------------------------------------------------------------------


def test_char_tokenizer_round_trip(tmp_path):
    tok = CharTokenizer(["b", "a", "\n", " ", "é", "😀", "\r"])  # any order: ids are kept
    paths = tok.save_pretrained(tmp_path)
    assert sorted(p.name for p in paths) == sorted(os.listdir(tmp_path))
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    assert data["model"]["type"] == "WordLevel" and data["decoder"] == {"type": "Fuse"}
    assert data["model"]["vocab"] == {"b": 0, "a": 1, "\n": 2, " ": 3, "é": 4, "😀": 5, "\r": 6}
    assert data["pre_tokenizer"]["pattern"] == {"Regex": r"[\s\S]"}  # every character a chunk
    for back in (tokenizer.from_pretrained(tmp_path), tokenizer.load(tmp_path / "tokenizer.json")):
        assert isinstance(back, CharTokenizer) and back.chars == tok.chars
        assert back.encode("ab\r\n 😀é") == tok.encode("ab\r\n 😀é") == [1, 0, 6, 2, 3, 5, 4]


@pytest.mark.parametrize("kind", ["bpe", "char"])
def test_a_template_that_adds_no_tokens_is_read(kind, tmp_path):
    """transformers 5's `save_pretrained` writes this post_processor: $A's ids, no more."""
    tok = trained("gpt4") if kind == "bpe" else CharTokenizer(list("abc "))
    tok.save_pretrained(tmp_path)
    data = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))
    data["post_processor"] = {
        "type": "TemplateProcessing",
        "single": [{"Sequence": {"id": "A", "type_id": 0}}],
        "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
        "special_tokens": {},
    }
    write_json(tmp_path / "tokenizer.json", data)
    assert tokenizer.from_pretrained(tmp_path).encode("abc ab") == tok.encode("abc ab")


# ----- what cannot be written, and bad input -------------------------------------------------


def test_save_pretrained_refuses_what_hf_would_read_otherwise(tmp_path):
    tok = BPETokenizer(r"\p{N}{1,3}+|\D+").train("12345 abc", 258)
    with pytest.raises(ValueError, match=r"possessive `\{m,n\}\+`"):
        tok.save_pretrained(tmp_path / "a")
    same_bytes = {(97, 97): 256, (256, 97): 257, (97, 256): 258}  # (aa)a and a(aa): both "aaa"
    with pytest.raises(ValueError, match="ids 257 and 258 are the same token"):
        BPETokenizer.from_parts("gpt4", range(256), same_bytes, {}).save_pretrained(tmp_path / "b")


def change(data, name, value):
    """Set the field `name` ("a.b.0.c") of `data` to `value`, or delete it (value DELETE)."""
    *parents, last = name.split(".")
    for key in parents:
        data = data[int(key)] if isinstance(data, list) else data[key]
    key = int(last) if isinstance(data, list) else last
    if value is DELETE:
        del data[key]
    else:
        data[key] = value


BOS_TEMPLATE = [{"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}}]  # fmt: skip
DELETE = object()
STEPS = "pre_tokenizer.pretokenizers"
BAD = [  # (field, its new value or DELETE, the field the error names, the rest of the error)
    ("model", DELETE, "model", "missing"),
    ("model.type", "WordPiece", "model.type", "is 'WordPiece': tinyllm reads byte-level BPE"),
    ("model.type", "Unigram", "model.type", "is 'Unigram': tinyllm reads byte-level BPE"),
    ("model.type", "WordLevel", "pre_tokenizer", "is .*only as the character tokenizer"),
    ("pre_tokenizer", {"type": "Whitespace"}, "pre_tokenizer.type", 'is "Whitespace"; tinyllm'),
    ("pre_tokenizer", None, "pre_tokenizer", "expected an object, got None"),
    (f"{STEPS}.0.pattern.Regex", "(a", f"{STEPS}.0.pattern.Regex", ".*'\\(a' is not a valid"),
    (f"{STEPS}.0.behavior", "Removed", f"{STEPS}.0.behavior", 'is "Removed"; tinyllm reads'),
    (f"{STEPS}.1.add_prefix_space", True, f"{STEPS}.1.add_prefix_space", "is true; tinyllm"),
    (f"{STEPS}.1", DELETE, STEPS, "tinyllm reads \\[Split, ByteLevel\\(use_regex=false\\)\\]"),
    ("normalizer", {"type": "NFC"}, "normalizer", 'is {"type": "NFC"}; tinyllm reads only null'),
    ("decoder", {"type": "WordPiece"}, "decoder.type", 'is "WordPiece"; tinyllm reads'),
    ("post_processor", {"type": "BertProcessing"}, "post_processor.type", "is .*Bert"),
    (
        "post_processor",
        {"type": "TemplateProcessing", "single": BOS_TEMPLATE},
        "post_processor.single",
        "is .*SpecialToken.*adds tokens",
    ),
    ("model.ignore_merges", True, "model.ignore_merges", "is true; tinyllm reads only false"),
    ("model.vocab.Ġ", DELETE, "model.vocab", "no token for the byte 32"),
    ("model.vocab.Ġ", "x", "model.vocab", "expected an object mapping tokens to ids"),
    ("model.merges", DELETE, "model.merges", "missing"),
    ("model.merges.1", "h zz", "model.merges.1", "not a merge of two tokens: 'h zz'"),
    ("model.merges.1", 7, "model.merges.1", "not a merge of two tokens: '7'"),
    ("model.merges.2", ["Ġt", "h"], "model.merges.2", "merge 'Ġt h' needs .* new token"),
    ("added_tokens.0.lstrip", True, "added_tokens.0.lstrip", "is true; tinyllm reads only"),
    ("added_tokens.0.id", DELETE, "added_tokens.0.id", "missing"),
    ("added_tokens.1.id", 256, "added_tokens.1", "'<\\|pad\\|>' \\(id 256\\) must be"),
    ("added_tokens.1.id", 262, "added_tokens.1", "'<\\|pad\\|>' \\(id 262\\) must be"),
    ("added_tokens.1.id", 300, "added_tokens.1", "'<\\|pad\\|>' has id 300, but .* gives it 263"),
    ("added_tokens.1.content", "<|endoftext|>", "added_tokens.1", ".* must be a new text"),
    ("added_tokens", [], "model.vocab", "'<\\|endoftext\\|>' \\(id 262\\) is neither a byte"),
    (f"{STEPS}.0.pattern.Regex", GPT4_PATTERN, f"{STEPS}.0.pattern.Regex", ".*`\\{m,n\\}\\+`"),
]


@pytest.mark.parametrize(("field", "value", "where", "message"), BAD)
def test_bad_tokenizer_json_names_file_and_field(field, value, where, message, tmp_path):
    data = hand_written(GPT4_FORM)
    change(data, field, value)
    path = write_json(tmp_path / "tokenizer.json", data)
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}, {re.escape(where)}: {message}"):
        tokenizer.from_pretrained(tmp_path)


def test_bad_files_and_directories(tmp_path):
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(hand_written(GPT2_FORM))[:-20], encoding="utf-8")
    with pytest.raises(ValueError, match=f"{re.escape(str(path))}: not a JSON file"):
        tokenizer.load(path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ValueError, match="tokenizer.json: expected a JSON object, got list"):
        tokenizer.from_pretrained(path)
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "vocab.json").write_text("{}", encoding="utf-8")  # merges.txt is missing
    for read in (tokenizer.from_pretrained, tokenizer.load):
        with pytest.raises(FileNotFoundError, match=f"{re.escape(str(empty))}: no tokenizer.json"):
            read(empty)
        with pytest.raises(FileNotFoundError, match="nothing-here"):
            read(tmp_path / "nothing-here")
