"""The addition corpus: correct sums, a disjoint held-out set, and the accuracy evaluator."""

import math
import re

import pytest

from model.corpora.addition import (
    AdditionProblem,
    addition_accuracy,
    generate_addition,
    held_out_problems,
)

LINE = re.compile(r"(\d+)\+(\d+)=(\d+)")


def parse_lines(text):
    """(a, b, answer as written) for every line, checked to be well formed."""
    assert text.endswith("\n")
    rows = []
    for line in text[:-1].split("\n"):
        match = LINE.fullmatch(line)
        assert match, line
        rows.append(tuple(match.groups()))
    return rows


def test_every_line_is_a_correct_sum_written_backwards():
    text, info = generate_addition(n_chars=20_000, seed=0)
    rows = parse_lines(text)
    assert len(rows) == info.n_lines
    for a, b, answer in rows:
        assert int(answer[::-1]) == int(a) + int(b)
        assert answer[-1] != "0" or answer == "0"  # reversed, so no trailing zero
        assert int(a) < 1000 and int(b) < 1000
        assert str(int(a)) == a and str(int(b)) == b  # no leading zeros


def test_forward_answers_when_not_reversed():
    text, _ = generate_addition(n_chars=2_000, seed=0, n_digits=2, reverse=False)
    for a, b, answer in parse_lines(text):
        assert int(answer) == int(a) + int(b) and int(a) < 100 and int(b) < 100


def test_held_out_problems_never_appear_in_training_text():
    for seed in range(3):
        text, info = generate_addition(n_chars=200_000, seed=seed)
        seen = {(int(a), int(b)) for a, b, _ in parse_lines(text)}
        held = {(p.a, p.b) for p in info.held_out}
        assert len(held) == 500
        assert not seen & held
        assert len(seen) > 10_000  # the text covers many problems
    small_text, small = generate_addition(n_chars=5_000, seed=0, n_digits=1)
    assert len(small.held_out) == 10  # a tenth of the 100 one-digit problems
    small_seen = {(int(a), int(b)) for a, b, _ in parse_lines(small_text)}
    assert small_seen == {(a, b) for a in range(10) for b in range(10)} - {
        (p.a, p.b) for p in small.held_out
    }


def test_held_out_set_is_the_same_for_every_seed():
    _, one = generate_addition(n_chars=100, seed=1)
    _, two = generate_addition(n_chars=100, seed=2)
    assert one.held_out == two.held_out == held_out_problems()


def test_same_seed_same_text_and_different_seeds_differ():
    assert generate_addition(n_chars=5_000, seed=4) == generate_addition(n_chars=5_000, seed=4)
    assert (
        generate_addition(n_chars=5_000, seed=4)[0] != generate_addition(n_chars=5_000, seed=5)[0]
    )


def test_length_and_exact_entropy():
    text, info = generate_addition(n_chars=10_000, seed=0)
    last_line = text[:-1].rsplit("\n", 1)[-1]
    assert len(text) >= 10_000 > len(text) - len(last_line) - 1
    n_train = 1000 * 1000 - 500
    assert info.n_train == n_train
    assert info.n_chars == len(text)
    assert info.nats_per_char == pytest.approx(text.count("\n") * math.log(n_train) / len(text))


def test_problem_prompt_and_answer():
    problem = AdditionProblem(47, 385)
    assert (problem.prompt, problem.answer, problem.line()) == ("\n47+385=", "234", "47+385=234\n")
    assert AdditionProblem(47, 385, reverse=False).answer == "432"
    assert AdditionProblem(5, 5).answer == "01"


def oracle(prompt, max_new_tokens):
    """A perfect model, computed from the prompt alone."""
    a, b = prompt.strip().rstrip("=").split("+")
    return (str(int(a) + int(b))[::-1] + "\n123")[:max_new_tokens]


def forward_oracle(prompt, max_new_tokens):
    """Right sums, but written forwards."""
    return oracle(prompt, max_new_tokens).split("\n")[0][::-1] + "\n"


def test_perfect_oracle_scores_one_and_wrong_oracles_zero():
    assert addition_accuracy(oracle) == 1.0
    assert addition_accuracy(lambda prompt, n: "0" * n) == 0.0
    # Right digits but no newline: the model did not say where the answer ends.
    assert addition_accuracy(lambda prompt, n: oracle(prompt, n).split("\n")[0] + "7") == 0.0
    # Forward answers are wrong for reversed problems (except palindromes such as 4+7=11).
    problems = [AdditionProblem(12, 34), AdditionProblem(4, 7)]
    assert addition_accuracy(forward_oracle, problems) == 0.5


def test_max_new_tokens_is_the_same_for_every_problem():
    requested = set()

    def record(prompt, max_new_tokens):
        requested.add(max_new_tokens)
        return oracle(prompt, max_new_tokens)

    assert addition_accuracy(record, [AdditionProblem(1, 2), AdditionProblem(999, 999)]) == 1.0
    assert requested == {5}  # the longest answer (4 digits) plus the newline


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="at least one problem"):
        addition_accuracy(oracle, [])
    with pytest.raises(TypeError, match="must return a str, got list"):
        addition_accuracy(lambda prompt, n: [1], [AdditionProblem(1, 2)])
    with pytest.raises(ValueError, match="n_digits must be an int from 1 to 6, got 7"):
        generate_addition(n_chars=100, n_digits=7)
    with pytest.raises(ValueError, match="n_chars must be a positive int, got 0"):
        generate_addition(n_chars=0)
