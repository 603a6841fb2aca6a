"""Tokenizer files: our own format, GPT-2's vocab.json + merges.txt, tiktoken's ranks file."""

import base64
import json

import pytest

import tokenizer
from tokenizer import BPETokenizer
from tokenizer.formats import SplitPatternWarning, bytes_to_unicode

TEXTS = ["Hello world! It's 2024.\n", "naïve café 漢字 😀\r\n  x", '<|my token|> and say "hi"\n']


@pytest.fixture(scope="module")
def tok():
    corpus = "".join(TEXTS) * 20 + "the theme of the thesis " * 30
    tok = BPETokenizer(pattern=r"\w+| ?[^\w\s]+|\s+")  # custom pattern holding spaces
    tok.train(corpus, 330)
    tok.register_special_tokens({"<|my token|>": 400, 'say "hi"\n': 401})
    return tok


def same_tokenizer(a, b):
    assert a.pattern == b.pattern
    assert a.byte_ids == b.byte_ids and a.merges == b.merges and a.vocab == b.vocab
    assert a.special_tokens == b.special_tokens
    for text in TEXTS:
        assert a.encode(text, allowed_special="all") == b.encode(text, allowed_special="all")
    return True


def test_save_load_identity(tok, tmp_path):
    path = tmp_path / "tok.txt"
    tok.save(path)
    assert same_tokenizer(BPETokenizer.load(path), tok)
    assert same_tokenizer(tokenizer.load(path), tok)
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[0] == "tinyllm bpe tokenizer v1"
    assert lines[1] == 'pattern: "\\\\w+| ?[^\\\\w\\\\s]+|\\\\s+"'
    assert lines[-3:] == ['400 "<|my token|>"', '401 "say \\"hi\\"\\n"', ""]


def test_save_load_no_pattern(tmp_path):
    tok = BPETokenizer(pattern=None).train("ab ab ab", 258)
    tok.save(tmp_path / "tok.txt")
    assert same_tokenizer(BPETokenizer.load(tmp_path / "tok.txt"), tok)


def corrupt(lines):
    """Ways of breaking a saved file, each with the error it must give.

    `lines` are the file's lines: header, pattern, bytes, "merges: N", then the merges from
    line 5 (1-based), then "special_tokens: 2" and two special tokens.
    """
    yield "\n".join(lines[:6]) + "\n", "truncated, expected a merge `left right new_id` at line 7"
    yield "\n".join(lines)[:-5], "truncated, line .* has no newline"
    yield "\n".join(lines[:-2]) + "\n", "truncated, expected a special token"
    yield "\n".join(["tinyllm gpt tokenizer v1", *lines[1:]]), "line 1: expected the header"
    yield "\n".join([*lines[:4], "97 x 256", *lines[5:]]), "line 5: expected 3 non-negative"
    yield "\n".join([*lines[:4], "97 999 256", *lines[5:]]), "line 5: merge 97 999: unknown id 999"
    yield "\n".join([*lines[:4], "97 97 98", *lines[5:]]), "line 5: .* repeats an id"
    yield "\n".join([*lines[:1], "pattern: nope", *lines[2:]]), "line 2: expected a JSON string"
    yield "\n".join([*lines[:1], 'pattern: "(unclosed"', *lines[2:]]), "line 2: .*not a valid regex"
    yield "\n".join([*lines[:2], "bytes: 1 2 3", *lines[3:]]), "line 3: expected 256 non-negative"
    yield "\n".join([*lines[:-2], '400 "<|dup|>"', ""]), "line .*: special token '<\\|dup\\|>'"
    yield "\n".join([*lines[:-2], '400 ""', ""]), "line .*: a special token must be a non"
    yield "\n".join([*lines[:-2], '400 "\\ud800"', ""]), "line .*: text holds the lone surrogate"
    yield "\n".join([*lines[:-1], "extra", ""]), "expected the end of the file"


def test_corrupt_files_name_file_and_line(tok, tmp_path):
    good = tmp_path / "good.txt"
    tok.save(good)
    lines = good.read_text(encoding="utf-8").split("\n")
    for n, (text, message) in enumerate(corrupt(lines)):
        path = tmp_path / f"bad{n}.txt"
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ValueError, match=f"{path}.*{message}"):
            BPETokenizer.load(path)


def test_load_rejects_other_files(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"\xff\xfe not text\n")
    with pytest.raises(ValueError, match="not a UTF-8 text file"):
        tokenizer.load(path)
    path.write_text("hello\n")
    with pytest.raises(ValueError, match="line 1: not a tinyllm tokenizer file"):
        tokenizer.load(path)
    path.write_text("")
    with pytest.raises(ValueError, match="truncated"):
        tokenizer.load(path)


@pytest.mark.parametrize("pattern", ["gpt4", None, r"\w+|\W+"])
def test_gpt2_export_warns_for_any_split_but_gpt2s(pattern, tmp_path):
    tok = BPETokenizer(pattern).train("the theme of the thesis", 260)
    with pytest.warns(SplitPatternWarning, match="Hugging Face.s GPT-2 tokenizer will split"):
        tok.export_gpt2(tmp_path / "a")
    BPETokenizer("gpt2").train("the theme", 260).export_gpt2(tmp_path / "b")  # warnings: errors


def test_bytes_to_unicode_is_gpt2s_table():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256 and all(c.isprintable() for c in table.values())
    assert table[ord("a")] == "a" and table[ord("!")] == "!" and table[0xE9] == "é"
    assert table[0] == "Ā" and table[ord(" ")] == "Ġ" and table[ord("\n")] == "Ċ"
    assert table[127] == "ġ" and table[173] == "Ń"  # DEL and the soft hyphen


def test_gpt2_export_import_identity(tok, tmp_path):
    with pytest.warns(SplitPatternWarning, match="cannot carry this tokenizer's split pattern"):
        vocab_path, merges_path = tok.export_gpt2(tmp_path / "gpt2")
    vocab = json.loads(vocab_path.read_text(encoding="utf-8"))
    merges = merges_path.read_text(encoding="utf-8").split("\n")
    assert merges[0] == "#version: 0.2" and len(merges) == 1 + len(tok.merges) + 1
    assert vocab["Ġ"] == 32 and vocab["a"] == 97 and vocab["<|myĠtoken|>"] == 400
    left, right = (tok.vocab[i] for i in next(iter(tok.merges)))
    table = bytes_to_unicode()
    assert merges[1] == "".join(table[b] for b in left) + " " + "".join(table[b] for b in right)
    back = BPETokenizer.from_gpt2(vocab_path, merges_path, pattern=tok.pattern)
    assert same_tokenizer(back, tok)


def test_tiktoken_export_import_identity(tok, tmp_path):
    path = tmp_path / "tok.tiktoken"
    tok.export_tiktoken(path)
    lines = path.read_text(encoding="ascii").split("\n")
    assert lines[0] == "AA== 0" and lines[97] == "YQ== 97"  # base64 of b"\x00" and b"a"
    assert len(lines) == len(tok.vocab) + 1  # no special tokens in the file
    back = BPETokenizer.from_tiktoken(path, pattern=tok.pattern, special_tokens=tok.special_tokens)
    assert same_tokenizer(back, tok)


def write_gpt2(directory, vocab, merges):
    directory.mkdir()
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("\n".join(["#version: 0.2", *merges]) + "\n")
    return directory / "vocab.json", directory / "merges.txt"


def reversed_bytes_tokenizer(tmp_path):
    """A GPT-2 style vocabulary with byte b at id 255 - b, "aa" at 300 and "aab" at 301."""
    table = bytes_to_unicode()
    vocab = {table[b]: 255 - b for b in range(256)}
    vocab.update({"aa": 300, "aab": 301, "<|end|>": 302})
    paths = write_gpt2(tmp_path / "rev", vocab, ["a a", "aa b"])
    return BPETokenizer.from_gpt2(*paths)


def test_byte_tokens_at_any_ids_encode_to_that_vocabs_ids(tmp_path):
    tok = reversed_bytes_tokenizer(tmp_path)
    a, b, space = 255 - 97, 255 - 98, 255 - 32
    assert tok.special_tokens == {"<|end|>": 302}
    # gpt2 split: "aab" | " aaab"; then aa (rank 0) and aab (rank 1) merge
    assert tok.encode("aab aaab") == [301, space, 300, a, b]
    assert tok.encode("ba<|end|>", allowed_special="all") == [b, a, 302]
    assert tok.decode([301, space, 300, a, b, 302]) == "aab aaab<|end|>"
    for fmt in ("gpt2", "tiktoken", "own"):
        if fmt == "gpt2":
            back = BPETokenizer.from_gpt2(*tok.export_gpt2(tmp_path / "again"))
        elif fmt == "tiktoken":
            tok.export_tiktoken(tmp_path / "rev.tiktoken")
            back = BPETokenizer.from_tiktoken(
                tmp_path / "rev.tiktoken", pattern="gpt2", special_tokens=tok.special_tokens
            )
        else:
            tok.save(tmp_path / "rev.txt")
            back = BPETokenizer.load(tmp_path / "rev.txt")
        assert back.byte_ids == tok.byte_ids and same_tokenizer(back, tok)


def test_bad_gpt2_files(tmp_path):
    table = bytes_to_unicode()
    vocab = {table[b]: b for b in range(256)}
    paths = write_gpt2(tmp_path / "a", {**vocab, "ab": 256}, ["a b", "a c"])
    with pytest.raises(ValueError, match="merges.txt, line 3: merge 'a c' needs"):
        BPETokenizer.from_gpt2(*paths)
    paths = write_gpt2(tmp_path / "b", {**vocab, "ab": 256}, ["a b", "a"])
    with pytest.raises(ValueError, match="merges.txt, line 3: not a merge of two tokens"):
        BPETokenizer.from_gpt2(*paths)
    # entries no merge makes, read as special tokens: their bytes must be text, one each
    paths = write_gpt2(tmp_path / "d", {**vocab, "ÃÃ": 256, "ÄÄ": 257}, [])  # bytes c3 c3, c4 c4
    with pytest.raises(ValueError, match=r"vocab.json: 'ÃÃ' \(id 256\) is neither .* no text"):
        BPETokenizer.from_gpt2(*paths)
    paths = write_gpt2(tmp_path / "e", {**vocab, "Ġx": 256, " x": 257}, [])  # both " x"
    with pytest.raises(ValueError, match="vocab.json: ids 256 and 257 are both ' x'"):
        BPETokenizer.from_gpt2(*paths)
    paths[1].write_bytes(b"a b\n\xff\xfe\n")
    with pytest.raises(ValueError, match=r"merges.txt: not UTF-8 text \(byte 4\)"):
        BPETokenizer.from_gpt2(*paths)
    del vocab["Ġ"]
    paths = write_gpt2(tmp_path / "c", vocab, [])
    with pytest.raises(ValueError, match="vocab.json: no token for the byte 32"):
        BPETokenizer.from_gpt2(*paths)


def test_bad_tiktoken_files(tmp_path):
    lines = [f"{base64.b64encode(bytes([b])).decode()} {b}" for b in range(256)]
    path = tmp_path / "bad.tiktoken"
    path.write_text("\n".join([*lines[:2], "%%% 2", *lines[3:]]) + "\n")
    with pytest.raises(ValueError, match="bad.tiktoken, line 3: expected `base64 rank`"):
        BPETokenizer.from_tiktoken(path)
    path.write_text("\n".join(lines[1:]) + "\n")
    with pytest.raises(ValueError, match="no token for the byte 0"):
        BPETokenizer.from_tiktoken(path)
    path.write_text("\n".join([*lines, "YWJj 256"]) + "\n")  # "abc" with no "ab" or "bc"
    with pytest.raises(ValueError, match="token 256 \\(b'abc'\\) is not a merge"):
        BPETokenizer.from_tiktoken(path)
    path.write_bytes(b"\xff 0\n")
    with pytest.raises(ValueError, match=r"bad.tiktoken: not UTF-8 text \(byte 0\)"):
        BPETokenizer.from_tiktoken(path)
    path.write_text("\n".join([*lines, "YQ== 256"]) + "\n")  # "a" twice
    with pytest.raises(ValueError, match="line 257: token or rank 256 appears twice"):
        BPETokenizer.from_tiktoken(path)


def test_exports_refuse_what_the_format_cannot_hold(tmp_path):
    # 257 = (aa)a and 258 = a(aa) are the same bytes: neither vocab.json nor tiktoken can say so
    dup = BPETokenizer.from_parts(
        "gpt4", range(256), {(97, 97): 256, (256, 97): 257, (97, 256): 258}, {}
    )
    with pytest.raises(ValueError, match="ids 257 and 258 are the same token"):
        dup.export_gpt2(tmp_path)
    with pytest.raises(ValueError, match="ids 257 and 258 are the same token"):
        dup.export_tiktoken(tmp_path / "dup.tiktoken")
    # tiktoken's rank is the id, so ids must grow in merge order
    swapped = BPETokenizer.from_parts("gpt4", range(256), {(97, 97): 257, (98, 98): 256}, {})
    with pytest.raises(ValueError, match="grow in merge order"):
        swapped.export_tiktoken(tmp_path / "swapped.tiktoken")


def test_tiktoken_export_refuses_merges_tiktoken_would_not_replay(tmp_path):
    # " aa" is made as (" a", "a"), but once "aa" exists " aa" splits as (" ", "aa") first:
    # tiktoken, which has only ranks, would build token 258 from (32, 256) instead
    merges = {(97, 97): 256, (32, 97): 257, (257, 97): 258}
    tok = BPETokenizer.from_parts("gpt2", range(256), merges, {})
    with pytest.raises(ValueError, match="merge \\(257, 97\\), but tiktoken would build it from"):
        tok.export_tiktoken(tmp_path / "x.tiktoken")
