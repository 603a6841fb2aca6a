"""The probabilistic grammar: sampling, parsing back, and exact entropy checked by hand."""

import math

import numpy as np
import pytest

from model.corpora.grammar import Grammar

# s -> "a" (1/2) | "bb{x}" (1/2);  x -> "c" (1/4) | "dd" (3/4)
TINY = {"s": [(1, "a"), (1, "bb{x}")], "x": [(1, "c"), (3, "dd")]}
# s -> "{v}+{v}" with v bound: v -> "x" (1/3) | "yy" (2/3), chosen once, repeated
BOUND = {"s": [(1, "{v}+{v}")], "v": [(1, "x"), (2, "yy")]}


def fixed_uniforms(*values):
    values = iter(values)
    return lambda: next(values)


def test_tiny_grammar_entropy_and_length_by_hand():
    grammar = Grammar(TINY, start="s")
    h_x = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
    assert grammar.expected_entropy() == pytest.approx(math.log(2) + 0.5 * h_x, rel=1e-12)
    # E[len] = 1/2 * 1 + 1/2 * (2 + 1/4 * 1 + 3/4 * 2) = 2.375
    assert grammar.expected_length() == pytest.approx(2.375, rel=1e-12)


def test_bound_symbol_is_chosen_once_and_counted_once():
    grammar = Grammar(BOUND, start="s", bound=("v",))
    h_v = -(math.log(1 / 3) / 3 + 2 * math.log(2 / 3) / 3)
    assert grammar.expected_entropy() == pytest.approx(h_v, rel=1e-12)
    assert grammar.expected_length() == pytest.approx(1 + 2 * (1 / 3 + 2 * 2 / 3), rel=1e-12)
    text, choices, log_prob = grammar.sample(
        fixed_uniforms(0.0, 0.2)
    )  # s, then v = "x" (0.2 * 3 < 1)
    assert (text, choices) == ("x+x", [("s", 0), ("v", 0)])
    assert log_prob == pytest.approx(math.log(1 / 3))
    assert grammar.parse("yy+yy") == [[("s", 0), ("v", 1)]]
    assert grammar.parse("x+yy") == []  # the two uses of a bound symbol must agree


def test_sample_picks_alternatives_by_weight_slices():
    grammar = Grammar(TINY, start="s")
    # u = 0.6 -> second half of s: "bb{x}"; u = 0.2 -> first quarter of x: "c"
    text, choices, log_prob = grammar.sample(fixed_uniforms(0.6, 0.2))
    assert (text, choices) == ("bbc", [("s", 1), ("x", 0)])
    assert log_prob == pytest.approx(math.log(0.5 * 0.25))
    text, _, _ = grammar.sample(fixed_uniforms(0.6, 0.3))
    assert text == "bbdd"


def test_parse_inverts_sample():
    grammar = Grammar(TINY, start="s")
    rng = np.random.default_rng(0)
    for _ in range(50):
        text, choices, log_prob = grammar.sample(rng.random)
        assert grammar.parse(text) == [choices]
        assert grammar.log_prob(choices) == pytest.approx(log_prob)


def test_ambiguous_grammar_has_two_parses():
    grammar = Grammar(
        {"s": [(1, "{a}{b}")], "a": [(1, "x"), (1, "xy")], "b": [(1, "yz"), (1, "z")]}, "s"
    )
    assert len(grammar.parse("xyz")) == 2


def test_empirical_entropy_converges_to_exact_rate():
    # Independent of the exact formula: the average -log P and length of many samples.
    grammar = Grammar(TINY, start="s")
    rng = np.random.default_rng(1)
    samples = [grammar.sample(rng.random) for _ in range(20_000)]
    mean_entropy = np.mean([-log_prob for _, _, log_prob in samples])
    mean_length = np.mean([len(text) for text, _, _ in samples])
    assert mean_entropy == pytest.approx(grammar.expected_entropy(), rel=0.02)
    assert mean_length == pytest.approx(grammar.expected_length(), rel=0.02)


@pytest.mark.parametrize(
    ("rules", "bound", "message"),
    [
        ({"s": [(1, "{t}")]}, (), r"rule 's' uses \{t\}, which has no rule"),
        ({"s": [(1, "{s}x")]}, (), "refer to themselves: s -> s"),
        ({"s": [(0, "x")]}, (), "positive int"),
        ({"s": [(1.5, "x")]}, (), "positive int"),
        ({"s": []}, (), "no alternatives"),
        ({"s": [(1, "{x")]}, (), "stray brace"),
        ({"s": [(1, "x")]}, ("v",), "bound symbol 'v' has no rule"),
    ],
)
def test_bad_rules_raise(rules, bound, message):
    with pytest.raises(ValueError, match=message):
        Grammar(rules, start="s", bound=bound)


def test_bound_symbol_not_always_used_has_no_exact_entropy():
    grammar = Grammar({"s": [(1, "{v}"), (1, "y")], "v": [(1, "x")]}, "s", bound=("v",))
    with pytest.raises(ValueError, match="'v' is not used by every sample"):
        grammar.expected_entropy()


def test_unknown_start_raises():
    with pytest.raises(ValueError, match="start symbol 'story'"):
        Grammar(TINY, start="story")
