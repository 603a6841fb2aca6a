"""Do Hugging Face's `tokenizers` / `transformers` and `tiktoken` give our ids? Checked for real.

Trains byte-level BPE tokenizers (patterns gpt4, gpt2, a custom one, none; with special tokens)
and a character tokenizer on tiny Shakespeare (or the generated corpus of bench/tokenizer.py),
writes each with `save_pretrained` and compares the ids, on the whole corpus and on hard strings
(digit runs, Unicode whitespace, CRLF, emoji, special tokens), with
  - `tokenizers.Tokenizer.from_file(dir / "tokenizer.json")`, and its decode;
  - `transformers.AutoTokenizer.from_pretrained(dir)`;
  - `tiktoken.Encoding(...)` on the file `export_tiktoken` writes;
  - `tokenizer.from_pretrained(dir)`, our own reader, which must give back the same tokenizer.
It also counts how far HF's GPT-2 tokenizer, built from `vocab.json` + `merges.txt` alone, is
off for each pattern: the mismatch `export_gpt2` warns about. Last, `tokenizers` trains its own
byte-level BPE (GPT-2's form, and GPT-4's split), and `tokenizer.from_pretrained` reads it.
None of these libraries is a dependency: those not installed are skipped, and named.

    python -m bench.tokenizer_hf [CORPUS.txt]
"""

import os
import sys
import tempfile
from pathlib import Path

import tokenizer
from bench.tokenizer import corpus
from tokenizer import BPETokenizer, CharTokenizer, hf
from tokenizer.patterns import GPT4_PATTERN

VOCAB_SIZE = 2048
SPECIALS = {"<|endoftext|>": VOCAB_SIZE, "<|im start|>": VOCAB_SIZE + 1}
PATTERNS = {"gpt4": "gpt4", "gpt2": "gpt2", "custom": r"\w+| ?[^\w\s]+|\s+", "none": None}
HARD = [
    "12345678901234 and 3.14159, 1000000 or 2024-01-01",
    "naïve café 漢字 😀 e\u0301 Σσς İ ǅ",
    "a\u00a0b\u3000c\u2028d\u0085e\u200bf",
    "tabs\tand\r\nCRLF\r\n\n\n  spaces   \n",
    "don't WE'LL they've I'M",
    "<|endoftext|>Once upon<|im start|> a<|endoftext|>",
    "$dollar ...!!! ??\n",
]


def optional(name):
    """The module `name`, or None (printed) when it is not installed."""
    try:
        return __import__(name)
    except ImportError:
        print(f"{name} is not installed: skipped")
        return None


def report(what, texts, ours, theirs):
    """Print one line: do the id lists `theirs(text)` equal `ours(text)` on every text?"""
    different = []
    for name, text in texts.items():
        a, b = ours(text), theirs(text)
        if a != b:
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), None)
            different.append(f"{name} ({len(a):,} ids vs {len(b):,}, first at {first})")
    count = len(ours(texts["corpus"]))
    if different:
        print(f"  {what}: DIFFERENT on " + "; ".join(different))
    else:
        print(
            f"  {what}: identical on the corpus ({count:,} ids) and {len(texts) - 1} hard strings"
        )
    return not different


def check_bpe(tok, directory, texts, libs):
    """Compare `tok` with what each library makes of the directory `save_pretrained` wrote."""
    back = tokenizer.from_pretrained(directory)
    ok = (back.pattern, back.merges, back.byte_ids, back.special_tokens) == (
        tok.pattern, tok.merges, tok.byte_ids, tok.special_tokens
    )  # fmt: skip
    print(f"  tokenizer.from_pretrained gives the same tokenizer back: {ok}")

    def ours(text):
        return tok.encode(text, allowed_special="all")

    ok &= report("our reread", texts, ours, lambda t: back.encode(t, allowed_special="all"))
    if libs["tokenizers"]:
        hf = libs["tokenizers"].Tokenizer.from_file(str(directory / "tokenizer.json"))
        ok &= report("tokenizers", texts, ours, lambda t: hf.encode(t).ids)
        decodes = all(hf.decode(ours(t), skip_special_tokens=False) == t for t in texts.values())
        print(f"  tokenizers' decode gives every text back: {decodes}")
        ok &= decodes
    if libs["transformers"]:
        auto = libs["transformers"].AutoTokenizer.from_pretrained(directory)
        theirs = lambda t: auto.encode(t, add_special_tokens=False)  # noqa: E731
        ok &= report("transformers AutoTokenizer", texts, ours, theirs)
    if libs["tiktoken"] and tok.pattern is not None:
        enc = tiktoken_encoding(tok, directory)
        ok &= report("tiktoken", texts, ours, lambda t: enc.encode(t, allowed_special="all"))
    return ok


def tiktoken_encoding(tok, directory):
    """A tiktoken Encoding of `tok`, from the ranks file export_tiktoken writes."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # tiktoken caches even local files, by path
    path = directory / "tok.tiktoken"
    tok.export_tiktoken(path)
    enc = tiktoken.Encoding(
        "tinyllm",
        pat_str=tok.pattern,
        mergeable_ranks=load_tiktoken_bpe(str(path)),
        special_tokens=tok.special_tokens,
    )
    return enc


def gpt2_files_mismatch(tok, directory, text, tokenizers):
    """Ids of HF's GPT-2 tokenizer made from vocab.json + merges.txt alone, against ours."""
    model = tokenizers.models.BPE.from_file(
        str(directory / "vocab.json"), str(directory / "merges.txt")
    )
    hf = tokenizers.Tokenizer(model)
    hf.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    ours, theirs = tok.encode(text), hf.encode(text).ids
    same = "the same ids" if ours == theirs else f"{len(theirs):,} ids where ours are {len(ours):,}"
    print(f"  vocab.json + merges.txt alone in HF's GPT-2 tokenizer: {same} on the corpus")


def check_hf_trained(text, texts, tokenizers, directory):
    """Train tokenizers' own byte-level BPE (GPT-2's form, then GPT-4's split) and read it."""
    ok = True
    pre = tokenizers.pre_tokenizers
    gpt4_split = pre.Split(tokenizers.Regex(hf.to_hf_pattern(GPT4_PATTERN)), "isolated")
    for label, pre_tokenizer in (
        ("ByteLevel(use_regex=true)", pre.ByteLevel(add_prefix_space=False)),
        (
            "Split(gpt4) + ByteLevel",
            pre.Sequence([gpt4_split, pre.ByteLevel(False, use_regex=False)]),
        ),
    ):
        theirs = tokenizers.Tokenizer(tokenizers.models.BPE())
        theirs.pre_tokenizer = pre_tokenizer
        theirs.decoder = tokenizers.decoders.ByteLevel()
        trainer = tokenizers.trainers.BpeTrainer(
            vocab_size=VOCAB_SIZE, special_tokens=["<|endoftext|>"], show_progress=False,
            initial_alphabet=pre.ByteLevel.alphabet(),
        )  # fmt: skip
        theirs.train_from_iterator([text], trainer)
        path = directory / f"hf-trained-{len(label)}.json"
        theirs.save(str(path))
        ours = tokenizer.from_pretrained(path)
        print(f"\ntrained by tokenizers, {label}, read by tokenizer.from_pretrained")
        ok &= report(
            "ours vs tokenizers", texts, lambda t, o=ours: o.encode(t, allowed_special="all"),
            lambda t, h=theirs: h.encode(t).ids,
        )  # fmt: skip
    return ok


def main():
    name, text = corpus() if len(sys.argv) < 2 else (sys.argv[1], Path(sys.argv[1]).read_text())
    print(f"corpus: {name}, {len(text):,} characters; BPE vocab {VOCAB_SIZE} + 2 specials\n")
    libs = {lib: optional(lib) for lib in ("tokenizers", "transformers", "tiktoken")}
    texts = {"corpus": text, **{f"hard string {i}": s for i, s in enumerate(HARD)}}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for label, pattern in PATTERNS.items():
            print(f"\nBPE, pattern {label}")
            tok = BPETokenizer(pattern, special_tokens=SPECIALS).train(text, VOCAB_SIZE + 2)
            directory = Path(tmp) / label
            tok.save_pretrained(directory)
            ok &= check_bpe(tok, directory, texts, libs)
            if libs["tokenizers"]:
                gpt2_files_mismatch(tok, directory, text, libs["tokenizers"])
        print("\ncharacter tokenizer")
        chars = CharTokenizer.from_text(text + "".join(HARD))
        directory = Path(tmp) / "char"
        chars.save_pretrained(directory)
        back = tokenizer.from_pretrained(directory)
        ok &= back.chars == chars.chars
        print(f"  tokenizer.from_pretrained: same characters: {back.chars == chars.chars}")
        if libs["tokenizers"]:
            hf = libs["tokenizers"].Tokenizer.from_file(str(directory / "tokenizer.json"))
            ok &= report("tokenizers", texts, chars.encode, lambda t: hf.encode(t).ids)
            decodes = all(hf.decode(chars.encode(t)) == t for t in texts.values())
            print(f"  tokenizers' decode gives every text back: {decodes}")
            ok &= decodes
            ok &= check_hf_trained(text, texts, libs["tokenizers"], Path(tmp))
    print("\nall checks passed" if ok else "\nSOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
