"""viz.merge_stages and viz.plot_merges: a text cut by the first k merges of a BPE tokenizer."""

import doctest

import pytest

import viz
import viz.tokens
from tokenizer import BPETokenizer, CharTokenizer

TEXT = "the cat sat on the mat. the cat ate the hat; that cat, then the rat."


@pytest.fixture(scope="module")
def tok():
    return BPETokenizer().train(TEXT * 3, vocab_size=256 + 20)


def test_stages_run_from_bytes_to_the_full_encoding(tok):
    line = "the cat, then the hat"
    none, some, every = viz.merge_stages(tok, line, [0, 5, len(tok.merges)])
    assert none == [bytes([b]) for b in line.encode()]  # no merges: one token per byte
    assert every == [tok.vocab[i] for i in tok.encode(line)]  # all of them: encode's tokens
    assert b"".join(some) == line.encode() and len(every) < len(some) < len(none)
    with pytest.raises(ValueError, match="has 20 merges; cannot replay 21"):
        viz.merge_stages(tok, line, [21])


def test_plot_one_row_per_count(tok, tmp_path):
    fig = viz.plot_merges(tok, "the cat sat", counts=[0, 1, 20], path=tmp_path / "m.png")
    labels = [t.get_text() for t in fig.axes[0].texts if "merge" in t.get_text()]
    assert labels[0] == "0 merges: 11 tokens" and labels[1].startswith("1 merge: ")
    assert (tmp_path / "m.png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="at least one count of merges"):
        viz.plot_merges(tok, "the cat sat", counts=[])
    default = viz.plot_merges(tok, "the cat sat")  # 0, a few on a log scale, then all 20
    rows = [t.get_text() for t in default.axes[0].texts if "merge" in t.get_text()]
    assert rows[0].startswith("0 merges") and rows[-1].startswith("20 merges") and len(rows) > 3


def test_docstring_example():
    result = doctest.testmod(viz.tokens)
    assert result.failed == 0 and result.attempted == 3


def test_a_tokenizer_without_merges_is_refused_with_a_type_error():
    chars = CharTokenizer.from_text("the cat")
    with pytest.raises(TypeError, match="must be a BPETokenizer, got CharTokenizer"):
        viz.plot_merges(chars, "the cat")
    with pytest.raises(TypeError, match="must be a BPETokenizer, got CharTokenizer"):
        viz.merge_stages(chars, "the cat", [0])
