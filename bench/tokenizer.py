"""How fast is the BPE tokenizer? Training, encoding and decoding on tiny Shakespeare.

Reads `shared/data/tinyshakespeare.txt` beside the checkout (about 1.1 MB) when it is there,
else a generated corpus of the same size, and prints one table:
  - training time for vocab_size 512 and 4096 (target: 4096 in under 10 s);
  - encode throughput over the whole file, cold (empty chunk cache) and warm (target: >= 2 MB/s
    cold);
  - decode throughput.

Then the peers, each only when it is installed (optional, never a dependency):
  - tiktoken: our exported ranks are loaded into `tiktoken.Encoding`, the ids of the whole corpus
    are checked identical, and encoding the corpus is timed for both, ours with a cold cache.
    Target: ours takes at most 2x tiktoken's time (at least half its speed).
  - rustbpe (nanochat's trainer): both learn vocab_size 4096 from the corpus with our split
    pattern (rustbpe's default GPT-4 pattern is written without possessive quantifiers and ends
    in `\\s+`, so we pass it ours: the same chunks for both), the two vocabularies are checked
    identical token for token, and training is timed. Target: at most 2x rustbpe's time.
Both ratios are measured in this one process, rounds interleaved (ours, theirs, ours, ...), and
the medians are compared, so a busy machine slows both alike.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python -m bench.tokenizer
"""

import os
import random
import statistics
import tempfile
import time
from pathlib import Path

from tokenizer import BPETokenizer

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "tinyshakespeare.txt"
ROUNDS = 11
VOCAB_SIZE = 4096
TARGET_RATIO = 2.0


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


def interleaved(ours, theirs, rounds=ROUNDS):
    """Median seconds of `ours()` and of `theirs()`, timed in alternating rounds."""
    times = ([], [])
    for _ in range(rounds):
        for fn, seconds in zip((ours, theirs), times, strict=True):
            seconds.append(timed(fn)[1])
    return statistics.median(times[0]), statistics.median(times[1])


def report(what, peer, ours, theirs):
    """Print one ratio line and whether the target is met; returns whether it is."""
    ratio = ours / theirs
    met = ratio <= TARGET_RATIO
    print(
        f"{what}: ours {ours:.3f} s, {peer} {theirs:.3f} s (medians of {ROUNDS} interleaved "
        f"rounds): {ratio:.2f}x {peer}'s time; target <= {TARGET_RATIO:g}x: "
        f"{'met' if met else 'NOT met'}"
    )
    return met


def compare_with_tiktoken(tok, text):
    """Load our ranks into tiktoken, check the ids agree, and time both encoders."""
    try:
        import tiktoken
        from tiktoken.load import load_tiktoken_bpe
    except ImportError:
        print("tiktoken is not installed: skipping the encode comparison")
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
    same = enc.encode_ordinary(text) == tok.encode_ordinary(text)
    print(f"tiktoken {tiktoken.__version__}: ids of the whole corpus identical to ours: {same}")
    if not same:
        raise SystemExit("tiktoken disagrees with our encoding")

    def fresh():  # the same tokenizer with an empty chunk cache
        return BPETokenizer.from_parts(tok.pattern, tok.byte_ids, tok.merges, {})

    cold = [fresh() for _ in range(ROUNDS)]
    ours, theirs = interleaved(
        lambda: cold.pop().encode_ordinary(text), lambda: enc.encode_ordinary(text)
    )
    report("encode (cold cache)", "tiktoken", ours, theirs)


def compare_with_rustbpe(tok, text):
    """Train rustbpe with our pattern, check it learns our vocabulary, and time both trainers."""
    try:
        import rustbpe
    except ImportError:
        print("rustbpe is not installed: skipping the training comparison")
        return

    def train_rustbpe():
        trainer = rustbpe.Tokenizer()
        trainer.train_from_iterator([text], VOCAB_SIZE, pattern=tok.pattern)
        return trainer

    theirs = dict(train_rustbpe().get_mergeable_ranks())  # {token bytes: id}
    ours = {data: idx for idx, data in tok.vocab.items()}
    differ = sorted(idx for data, idx in theirs.items() if ours.get(data) != idx)
    print(
        f"rustbpe: {len(theirs)} tokens, {len(theirs) - len(differ)} identical to ours "
        "(same bytes at the same id)"
    )
    if differ or len(theirs) != len(ours):
        raise SystemExit(f"rustbpe learned a different vocabulary, first at id {differ[:1]}")
    ours, theirs = interleaved(lambda: BPETokenizer().train(text, VOCAB_SIZE), train_rustbpe)
    report(f"train vocab {VOCAB_SIZE}", "rustbpe", ours, theirs)


def main():
    name, text = corpus()
    megabytes = len(text.encode("utf-8")) / 1e6
    print(f"corpus: {name}, {megabytes:.2f} MB, pattern gpt4\n")
    rows = []
    for vocab_size in (512, VOCAB_SIZE):
        _, seconds = timed(lambda v=vocab_size: BPETokenizer().train(text, v))
        target = "< 10 s" if vocab_size == VOCAB_SIZE else ""
        rows.append((f"train vocab {vocab_size}", f"{seconds:.2f} s", target))
    tok = BPETokenizer().train(text, VOCAB_SIZE)
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
    compare_with_tiktoken(tok, text)
    compare_with_rustbpe(tok, text)


if __name__ == "__main__":
    main()
