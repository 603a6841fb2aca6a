"""The stories corpus: deterministic, unambiguous, with an exact entropy."""

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.corpora.stories import (
    STORY_GRAMMAR,
    STORY_RULES,
    entropy_rate_nats_per_char,
    generate_stories,
    parse_stories,
)


def independent_log_prob(choices):
    """log P of the choices, from the raw weights in STORY_RULES (not from the Grammar)."""
    total = 0.0
    for symbol, index in choices:
        weights = [weight for weight, _ in STORY_RULES[symbol]]
        total += math.log(weights[index] / sum(weights))
    return total


def test_same_seed_same_text_and_different_seeds_differ():
    a, info_a = generate_stories(n_stories=20, seed=3)
    b, info_b = generate_stories(n_stories=20, seed=3)
    c, _ = generate_stories(n_stories=20, seed=4)
    assert a == b and info_a == info_b
    assert a != c


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_parse_recovers_the_choices(seed):
    text, info = generate_stories(n_stories=10, seed=seed)
    assert parse_stories(text) == info.choices


def test_many_stories_each_have_exactly_one_parse():
    text, info = generate_stories(n_stories=1000, seed=11)
    assert parse_stories(text) == info.choices  # raises if any story had 0 or 2+ parses


def test_log_prob_is_the_sum_over_choices():
    text, info = generate_stories(n_stories=30, seed=5)
    expected = sum(independent_log_prob(story) for story in info.choices)
    assert info.log_prob == pytest.approx(expected, rel=1e-12)
    assert info.n_chars == len(text)
    assert info.nats_per_char == pytest.approx(-expected / len(text), rel=1e-12)
    assert info.bits_per_char == pytest.approx(info.nats_per_char / math.log(2), rel=1e-12)


def test_exact_rate_matches_a_long_sample():
    # Monte Carlo estimate, independent of the exact formulas: mean entropy over mean length.
    text, info = generate_stories(n_stories=4000, seed=7)
    per_story = np.array([-independent_log_prob(story) for story in info.choices])
    lengths = np.array([len(story) + 2 for story in text[:-1].split("\n\n")])
    estimate = per_story.mean() / lengths.mean()
    tolerance = 4 * (per_story / lengths.mean()).std() / math.sqrt(len(per_story))
    assert abs(entropy_rate_nats_per_char() - estimate) < tolerance
    assert info.rate_nats_per_char == entropy_rate_nats_per_char()
    assert 0.0 < entropy_rate_nats_per_char() < 0.5


def test_n_chars_gives_whole_stories_and_at_least_that_many_characters():
    text, info = generate_stories(n_chars=5000, seed=0)
    stories = text[:-1].split("\n\n")
    assert len(text) >= 5000
    assert len(text) - len(stories[-1]) - 2 < 5000  # one story fewer would be too short
    assert len(stories) == len(info.choices)
    assert text.endswith(".\n") and not text.endswith("\n\n")


def test_text_uses_a_small_alphabet_and_no_blank_line_inside_a_story():
    text, _ = generate_stories(n_stories=300, seed=2)
    assert re.fullmatch(r"[A-Za-z .,!?'\"\n]+", text)
    assert len(set(text)) < 70
    for story in text[:-1].split("\n\n"):
        assert story and not story.startswith("\n") and not story.endswith("\n")
        assert story.count("\n") >= 4  # opening, friend, plot lines, ending


def test_every_rule_appears_in_a_large_sample():
    _, info = generate_stories(n_stories=1000, seed=1)
    used = {choice for story in info.choices for choice in story}
    expected = {(symbol, i) for symbol, alts in STORY_RULES.items() for i in range(len(alts))}
    assert used == expected


def test_a_story_whose_hero_changes_name_has_no_parse():
    text, info = generate_stories(n_stories=1, seed=0)
    index = next(i for symbol, i in info.choices[0] if symbol == "hero")
    name = STORY_RULES["hero"][index][1]
    other = STORY_RULES["hero"][(index + 1) % len(STORY_RULES["hero"])][1]
    last = text.rindex(name)
    broken = text[:last] + other + text[last + len(name) :]
    with pytest.raises(ValueError, match="story 0 .* has 0 parses, not 1"):
        parse_stories(broken)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="exactly one"):
        generate_stories()
    with pytest.raises(ValueError, match="exactly one"):
        generate_stories(n_chars=10, n_stories=2)
    with pytest.raises(ValueError, match="n_stories must be a positive int, got 0"):
        generate_stories(n_stories=0)
    with pytest.raises(ValueError, match="n_chars must be a positive int, got 2.5"):
        generate_stories(n_chars=2.5)
    with pytest.raises(ValueError, match="end with a newline"):
        parse_stories("Pip was a little fox.")


def test_grammar_bound_symbols_are_used_by_every_story():
    assert STORY_GRAMMAR.expected_entropy() > 0  # raises if a bound symbol could be skipped
