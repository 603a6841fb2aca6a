"""A tiny probabilistic grammar whose text can be read back into the choices that made it.

A grammar is a dict of rules. Each rule names a symbol and lists its alternatives as
`(weight, template)` pairs; a template is text in which `{name}` stands for another symbol:

    rules = {
        "greeting": [(3, "Hello, {name}!"), (1, "Hi, {name}.")],
        "name": [(1, "Pip"), (1, "Luna")],
    }

To *sample*, start from the start symbol, pick one alternative with probability
`weight / sum(weights)`, and expand the symbols in its template the same way, left to right.
The record of a sample is its list of choices `[(symbol, alternative index), ...]` in the
order they were made, and its log-probability is the sum of `log p` of those choices.

A *bound* symbol is chosen once per sample, at its first use, and every later `{name}` repeats
the same text: that is how a story keeps its hero's name from the first line to the last.

To *parse*, run the same expansion against a given text, trying every alternative and keeping
those whose text matches (a backtracking recursive-descent parser). A grammar is unambiguous
when every text it can make has exactly one parse; then the text and its choices determine each
other, so `P(text) = P(choices)`, and `-log P(text)` is exactly `-sum(log p(choice))`.

The expected values of a sample can be computed exactly, without sampling, by walking the rules
once: `expected_length()` (characters) and `expected_entropy()` (nats). Rules may not refer to
themselves, directly or through other rules, so every sample is finite and these walks end.
"""

import bisect
import math
import re
from dataclasses import dataclass

_SYMBOL = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Alternative:
    """One way to expand a symbol: its probability and its template split into parts.

    `parts` alternates literal text and symbol names, `(text, symbol, text, ..., text)`:
    even indices are literals (maybe empty), odd indices are symbols.
    """

    prob: float
    log_prob: float
    parts: tuple[str, ...]


class Grammar:
    """A probabilistic grammar with bound symbols; see the module docstring."""

    def __init__(self, rules, start, bound=()):
        if start not in rules:
            raise ValueError(f"start symbol {start!r} has no rule; rules: {sorted(rules)}")
        self.start = start
        self.bound = frozenset(bound)
        self.rules = {}
        self._cumulative = {}  # symbol -> running totals of the weights, for sampling
        for symbol, alternatives in rules.items():
            self.rules[symbol] = self._compile(symbol, alternatives)
            totals, running = [], 0
            for weight, _ in alternatives:
                running += weight
                totals.append(running)
            self._cumulative[symbol] = totals
        self._check_references()

    def _compile(self, symbol, alternatives):
        if not alternatives:
            raise ValueError(f"rule {symbol!r} has no alternatives")
        for weight, template in alternatives:
            if not isinstance(weight, int) or isinstance(weight, bool) or weight <= 0:
                raise ValueError(f"rule {symbol!r}: weight must be a positive int, got {weight!r}")
            if not isinstance(template, str):
                raise ValueError(f"rule {symbol!r}: template must be a str, got {template!r}")
        total = sum(weight for weight, _ in alternatives)
        compiled = []
        for weight, template in alternatives:
            parts = tuple(_SYMBOL.split(template))
            if any("{" in text or "}" in text for text in parts[::2]):
                raise ValueError(f"rule {symbol!r}: stray brace in template {template!r}")
            compiled.append(Alternative(weight / total, math.log(weight / total), parts))
        return compiled

    def _check_references(self):
        for name in self.bound:
            if name not in self.rules:
                raise ValueError(f"bound symbol {name!r} has no rule")
        for symbol, alternatives in self.rules.items():
            for alternative in alternatives:
                for name in alternative.parts[1::2]:
                    if name not in self.rules:
                        raise ValueError(f"rule {symbol!r} uses {{{name}}}, which has no rule")
                    if symbol in self.bound and name in self.bound:
                        raise ValueError(f"bound rule {symbol!r} may not use bound {{{name}}}")
        # Depth-first search for a cycle: a symbol met again while still being expanded.
        done, active = set(), []

        def visit(symbol):
            if symbol in active:
                cycle = " -> ".join([*active[active.index(symbol) :], symbol])
                raise ValueError(f"rules refer to themselves: {cycle}")
            if symbol in done:
                return
            active.append(symbol)
            for alternative in self.rules[symbol]:
                for name in alternative.parts[1::2]:
                    visit(name)
            active.pop()
            done.add(symbol)

        for symbol in self.rules:
            visit(symbol)

    # ----- sampling -------------------------------------------------------------------------

    def sample(self, next_uniform):
        """One random text: returns `(text, choices, log_prob)`.

        `next_uniform()` returns a float in [0, 1); alternative i is picked when
        `u * total_weight` falls in its slice of the running totals.
        """
        out, choices = [], []
        log_prob = self._expand(self.start, next_uniform, out, choices, {})
        return "".join(out), choices, log_prob

    def _expand(self, symbol, next_uniform, out, choices, bound):
        if symbol in bound:
            out.append(bound[symbol])
            return 0.0  # repeating a bound symbol costs no choice
        totals = self._cumulative[symbol]
        index = bisect.bisect_right(totals, next_uniform() * totals[-1])
        alternative = self.rules[symbol][index]
        choices.append((symbol, index))
        log_prob = alternative.log_prob
        first = len(out)
        for k, part in enumerate(alternative.parts):
            if k % 2 == 0:
                out.append(part)
            else:
                log_prob += self._expand(part, next_uniform, out, choices, bound)
        if symbol in self.bound:
            bound[symbol] = "".join(out[first:])
        return log_prob

    def log_prob(self, choices):
        """Sum of `log p` over a list of `(symbol, index)` choices."""
        return sum(self.rules[symbol][index].log_prob for symbol, index in choices)

    # ----- parsing --------------------------------------------------------------------------

    def parse(self, text):
        """Every list of choices whose expansion is exactly `text` (one, if unambiguous)."""
        return [
            choices
            for end, choices, _ in self._parse_symbol(self.start, text, 0, {})
            if end == len(text)
        ]

    def _parse_symbol(self, symbol, text, pos, bound):
        """Yield `(end, choices, bound)` for each way `symbol` can match `text` from `pos`."""
        if symbol in bound:
            if text.startswith(bound[symbol], pos):
                yield pos + len(bound[symbol]), [], bound
            return
        for index, alternative in enumerate(self.rules[symbol]):
            for end, choices, inner in self._parse_parts(alternative.parts, 0, text, pos, bound):
                if symbol in self.bound:
                    inner = {**inner, symbol: text[pos:end]}
                yield end, [(symbol, index), *choices], inner

    def _parse_parts(self, parts, k, text, pos, bound):
        """Yield `(end, choices, bound)` for each way `parts[k:]` can match from `pos`."""
        if k == len(parts):
            yield pos, [], bound
        elif k % 2 == 0:
            if text.startswith(parts[k], pos):
                yield from self._parse_parts(parts, k + 1, text, pos + len(parts[k]), bound)
        else:
            for middle, first, bound_1 in self._parse_symbol(parts[k], text, pos, bound):
                for end, rest, bound_2 in self._parse_parts(parts, k + 1, text, middle, bound_1):
                    yield end, first + rest, bound_2

    # ----- exact expectations ---------------------------------------------------------------

    def expected_length(self, symbol=None):
        """Expected number of characters in an expansion of `symbol` (default: the start).

        E[len(A)] = sum_i p_i * (literal characters of i + sum of E[len(B)] for each {B} in i).
        A bound symbol's repeats have the length of its one expansion, which is independent of
        where it is repeated, so the same formula holds for them.
        """
        memo = {}

        def length(name):
            if name not in memo:
                memo[name] = sum(
                    alt.prob * (sum(map(len, alt.parts[::2])) + sum(map(length, alt.parts[1::2])))
                    for alt in self.rules[name]
                )
            return memo[name]

        return length(self.start if symbol is None else symbol)

    def expected_entropy(self):
        """Exact entropy of one sample, in nats: E[-log P(choices)].

        By the chain rule it is the sum, over every choice made, of the entropy of that choice:
        G(A) = H(A) + sum_i p_i * (sum of G(B) for each unbound {B} in alternative i), with
        H(A) = -sum_i p_i log p_i. Each bound symbol is chosen exactly once per sample (this
        requires every sample to use it, which is checked) and adds its G once.
        """
        memo = {}

        def entropy(name):
            if name not in memo:
                rule = self.rules[name]
                memo[name] = -sum(alt.prob * alt.log_prob for alt in rule) + sum(
                    alt.prob * sum(entropy(b) for b in alt.parts[1::2] if b not in self.bound)
                    for alt in rule
                )
            return memo[name]

        for name in sorted(self.bound):
            if not self._always_uses(self.start, name, {}):
                raise ValueError(f"bound symbol {name!r} is not used by every sample")
        return entropy(self.start) + sum(entropy(name) for name in self.bound)

    def _always_uses(self, symbol, name, memo):
        """True if every expansion of `symbol` contains `{name}`."""
        if symbol not in memo:
            memo[symbol] = all(
                any(b == name or self._always_uses(b, name, memo) for b in alt.parts[1::2])
                for alt in self.rules[symbol]
            )
        return memo[symbol]
