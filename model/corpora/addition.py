"""`addition`: lines of sums such as `47+385=234`, with a held-out test set and its accuracy.

Each line adds two random numbers below 10**n_digits, written without leading zeros. The answer
is written *backwards* (`47+385=432` appears as `47+385=234`), as in minGPT's adder: a model
writes text left to right, and in reverse the answer's first digit is the ones digit, which
needs only the two ones digits, and each later digit needs only its column and the carry
from the digit just written. Written forwards, the first digit depends on every column.

Held-out problems never appear in the training text. They are drawn with a fixed seed, so they
are the same for every corpus seed and accuracies of different runs compare. The test is exact
match: greedy decoding from the prompt `"\\n47+385="` must write the reversed answer and then a
newline. The prompt starts with the newline that ends the previous line, as in training, so the
model knows where the first number begins.

The entropy of the text is exact too: every line is a uniform choice among the training
problems and the answer is determined by them, so `-log P(text) = n_lines * log(n_train)`.
"""

import math
from dataclasses import dataclass

import numpy as np

HELD_OUT_SEED = 20240  # fixed, so the held-out problems do not depend on the corpus seed
MAX_HELD_OUT = 500  # held-out problems: this many, or a tenth of all problems if fewer


@dataclass(frozen=True)
class AdditionProblem:
    """`a + b`, with its prompt and the answer a model should write after it."""

    a: int
    b: int
    reverse: bool = True

    @property
    def prompt(self):
        return f"\n{self.a}+{self.b}="

    @property
    def answer(self):
        digits = str(self.a + self.b)
        return digits[::-1] if self.reverse else digits

    def line(self):
        """The problem as one line of training text, e.g. `'47+385=234\\n'`."""
        return f"{self.a}+{self.b}={self.answer}\n"


@dataclass(frozen=True)
class AdditionInfo:
    """What the generator knows about a text it made.

    held_out: the test problems (never in the text). n_train: how many problems may appear.
    log_prob: `log P(text)` in nats, `-n_lines * log(n_train)`.
    """

    held_out: tuple
    n_train: int
    n_lines: int
    log_prob: float
    n_chars: int

    @property
    def nats_per_char(self):
        """This text's entropy per character, `-log P(text) / len(text)`: the loss floor."""
        return -self.log_prob / self.n_chars


def _check_n_digits(n_digits):
    if not isinstance(n_digits, int) or isinstance(n_digits, bool) or not 1 <= n_digits <= 6:
        raise ValueError(f"n_digits must be an int from 1 to 6, got {n_digits!r}")


def _held_out_ids(n_digits):
    """Sorted ids `a * 10**n_digits + b` of the held-out problems."""
    n_problems = 10 ** (2 * n_digits)
    size = min(MAX_HELD_OUT, n_problems // 10)
    rng = np.random.default_rng(HELD_OUT_SEED)
    return np.sort(rng.choice(n_problems, size=size, replace=False))


def held_out_problems(n_digits=3, reverse=True):
    """The test problems for `n_digits`: the same for every seed, never in training text."""
    _check_n_digits(n_digits)
    base = 10**n_digits
    return tuple(
        AdditionProblem(int(i) // base, int(i) % base, reverse) for i in _held_out_ids(n_digits)
    )


def generate_addition(n_chars, seed=0, n_digits=3, reverse=True):
    """Lines `a+b=answer` with uniform random `a, b < 10**n_digits`: returns `(text, info)`.

    Lines are added until the text has at least `n_chars` characters; held-out problems are
    skipped. The same seed always gives the same text.
    """
    _check_n_digits(n_digits)
    if not isinstance(n_chars, int) or isinstance(n_chars, bool) or n_chars < 1:
        raise ValueError(f"n_chars must be a positive int, got {n_chars!r}")
    base = 10**n_digits
    held_out = _held_out_ids(n_digits)
    rng = np.random.default_rng(seed)
    lines, length = [], 0
    while length < n_chars:
        ids = rng.integers(0, base * base, size=4096)
        for i in ids[~np.isin(ids, held_out)].tolist():
            line = AdditionProblem(i // base, i % base, reverse).line()
            lines.append(line)
            length += len(line)
            if length >= n_chars:
                break
    n_train = base * base - len(held_out)
    text = "".join(lines)
    info = AdditionInfo(
        held_out=held_out_problems(n_digits, reverse),
        n_train=n_train,
        n_lines=len(lines),
        log_prob=-len(lines) * math.log(n_train),
        n_chars=len(text),
    )
    return text, info


def addition_accuracy(generate_fn, problems=None):
    """Exact-match accuracy of `generate_fn` on `problems` (default: the 3-digit held-out set).

    `generate_fn(prompt, max_new_tokens) -> str` returns the text the model writes after
    `prompt` by greedy decoding. A problem counts as solved when that text starts with the
    answer followed by a newline. `max_new_tokens` is the same for every problem (the longest
    answer plus the newline), so it tells the model nothing about the answer.
    """
    problems = held_out_problems() if problems is None else tuple(problems)
    if not problems:
        raise ValueError("addition_accuracy needs at least one problem, got none")
    max_new_tokens = max(len(p.answer) for p in problems) + 1
    solved = 0
    for problem in problems:
        completion = generate_fn(problem.prompt, max_new_tokens)
        if not isinstance(completion, str):
            raise TypeError(f"generate_fn must return a str, got {type(completion).__name__}")
        solved += completion.startswith(problem.answer + "\n")
    return solved / len(problems)
