"""How fast is the BPE tokenizer? Training, encoding and decoding on tiny Shakespeare.

Reads `shared/data/tinyshakespeare.txt` beside the checkout (about 1.1 MB) when it is there,
else a generated corpus of the same size, and prints one table:
  - training time for vocab_size 512 and 4096 (target: 4096 in under 10 s);
  - encode throughput over the whole file, cold (empty chunk cache) and warm (target: >= 2 MB/s
    cold);
  - decode throughput.
When tiktoken is installed (optional, never a dependency), our exported ranks are loaded into
`tiktoken.Encoding`, the ids are checked identical, and our encode time is printed as a multiple
of tiktoken's.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.tokenizer
"""

import os
import random
import tempfile
import time
from pathlib import Path

from tokenizer import BPETokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"


def corpus():
    """(name, text): tiny Shakespeare if present, else ~1 MB of generated pseudo-English."""
    if DATA.exists():
        return DATA.name, DATA.read_text(encoding="utf-8")
    rng = random.Random(0)
    words = [
        "".join(rng.choice("etaoinshrdlucmfwypvbgkjqxz"[: rng.randint(5, 26)]) for _ in range(n))
        for n in rng.choices(range(1, 11), k=3000)
    ]
    lines = []
    while sum(map(len, lines)) < 1_100_000:
        sentence = " ".join(rng.choices(words, k=rng.randint(3, 14)))
        lines.append(sentence.capitalize() + rng.choice([".", ",", "!", "?", ";"]) + "\n")
    return "generated corpus", "".join(lines)


def timed(fn):
    """(result, seconds) of one call of fn."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def compare_with_tiktoken(tok, text, ours_seconds):
    """Load our ranks into tiktoken, check the ids agree, and time tiktoken's encode."""
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
    except ImportError:
        print("tiktoken is not installed: skipping the comparison")
        return
    os.environ["TIKTOKEN_CACHE_DIR"] = ""  # read our file as it is, never a cached copy
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ours.tiktoken")
        tok.export_tiktoken(path)
        enc = tiktoken.Encoding(
            "tinyllm",
            pat_str=tok.pattern,
            mergeable_ranks=load_tiktoken_bpe(path),
            special_tokens={},
        )
    theirs, seconds = timed(lambda: enc.encode_ordinary(text))
    same = theirs == tok.encode_ordinary(text)
    print(f"tiktoken {tiktoken.__version__}: ids identical to ours: {same}")
    ratio = ours_seconds / seconds
    print(f"encode: tiktoken {seconds:.3f} s, ours {ours_seconds:.3f} s ({ratio:.1f}x tiktoken's)")
    if not same:
        raise SystemExit("tiktoken disagrees with our encoding")


def main():
    name, text = corpus()
    megabytes = len(text.encode("utf-8")) / 1e6
    print(f"corpus: {name}, {megabytes:.2f} MB, pattern gpt4\n")
    rows = []
    for vocab_size in (512, 4096):
        _, seconds = timed(lambda v=vocab_size: BPETokenizer().train(text, v))
        target = "< 10 s" if vocab_size == 4096 else ""
        rows.append((f"train vocab {vocab_size}", f"{seconds:.2f} s", target))
    tok = BPETokenizer().train(text, 4096)
    ids, cold = timed(lambda: tok.encode(text))
    _, warm = timed(lambda: tok.encode(text))
    decoded, decode_seconds = timed(lambda: tok.decode(ids))
    assert decoded == text, "round trip failed"
    rows.append(("encode, cold cache", f"{megabytes / cold:.2f} MB/s", ">= 2 MB/s"))
    rows.append(("encode, warm cache", f"{megabytes / warm:.2f} MB/s", ""))
    rows.append(("decode", f"{megabytes / decode_seconds:.2f} MB/s", ""))
    rows.append(("tokens (vocab 4096)", f"{len(ids):,}", f"{len(text) / len(ids):.2f} chars/token"))
    print(f"{'what':<22}{'measured':>14}   target")
    for what, value, target in rows:
        print(f"{what:<22}{value:>14}   {target}")
    print()
    compare_with_tiktoken(tok, text, cold)


if __name__ == "__main__":
    main()
