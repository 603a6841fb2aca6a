"""The optimizers' threaded step (nn/kernels/threads.py) against its reference, the updates in
order: equal weights and state bit for bit, every update run once, errors raised."""

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import nn
from nn.kernels import threads
from nn.optim import SGD, Adam, AdamW


@pytest.fixture
def two_cores(monkeypatch):
    """Threads on two cores for any number of elements, however many cores CI has."""
    monkeypatch.setattr(threads, "_cores", lambda: 2)
    monkeypatch.setattr(threads, "PER_THREAD", 1)


def recording(n, seen, error=None):
    """An update of n elements that records the thread it ran on (and raises `error`): the
    Thread object, as an ident may be used again once a thread has ended."""

    def update():
        seen.append((n, threading.current_thread()))
        if error is not None:
            raise error

    return n, update


@pytest.mark.parametrize(
    "cls, options",
    [
        (AdamW, {"lr": 0.1, "weight_decay": 0.1}),
        (Adam, {"lr": 0.1, "weight_decay": 0.1}),
        (SGD, {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.1}),
    ],
)
def test_threaded_step_equals_the_updates_in_order(two_cores, cls, options):
    def train(fused):
        rng = np.random.default_rng(0)
        shapes = [(64, 32), (32,), (16, 8), (5,), (3, 3, 3)]
        params = [nn.Parameter(rng.standard_normal(s).astype(np.float32)) for s in shapes]
        optimizer = cls(params, **options)
        with nn.use_fused(fused):
            for _ in range(4):
                for p in params:
                    p.grad = rng.standard_normal(p.shape).astype(np.float32)
                params[1].grad = None  # one without a gradient is left alone
                optimizer.step()
        return params, optimizer.state_dict()["state"]

    (threaded, threaded_state), (in_order, in_order_state) = train(True), train(False)
    for a, b in zip(threaded, in_order, strict=True):
        assert a.dtype == np.float32
        np.testing.assert_array_equal(a.data, b.data)
    assert threaded_state.keys() == in_order_state.keys()
    for key, value in in_order_state.items():
        np.testing.assert_array_equal(threaded_state[key], value)
    name = "momentum_buffer" if cls is SGD else "step"
    assert f"1.{name}" not in threaded_state  # the parameter that had no gradient


def test_run_updates_shares_large_updates_over_the_cores(two_cores):
    seen = []
    threads.run_updates([recording(n, seen) for n in (5, 4, 3, 3, 2)])
    assert sorted(n for n, _ in seen) == [2, 3, 3, 4, 5]  # each once
    assert len({thread for _, thread in seen}) == 2
    assert threading.current_thread() in {thread for _, thread in seen}  # the caller takes a share


def test_each_thread_gets_per_thread_elements_or_more(monkeypatch):
    monkeypatch.setattr(threads, "_cores", lambda: 4)
    per_thread = threads.PER_THREAD
    for sizes, expected in [
        ((2 * per_thread - 2, 1), 1),  # too few for two threads: all in this one
        ((2 * per_thread - 1, 1), 2),
        ((per_thread,) * 3, 3),
        ((per_thread,) * 9, 4),  # no more threads than cores
        ((10 * per_thread,), 1),  # nor than updates
    ]:
        seen = []
        threads.run_updates([recording(n, seen) for n in sizes])
        assert len({thread for _, thread in seen}) == expected, sizes


def test_run_updates_on_one_core_runs_them_in_order(monkeypatch):
    monkeypatch.setattr(threads, "_cores", lambda: 1)
    seen = []
    threads.run_updates([recording(n, seen) for n in (1, 2 << 20, 3)])
    assert seen == [
        (1, threading.current_thread()),
        (2 << 20, threading.current_thread()),
        (3, threading.current_thread()),
    ]


@pytest.mark.parametrize("failing", [0, 1])
def test_an_update_that_raises_is_raised_after_the_other_share_has_run(two_cores, failing):
    seen = []
    updates = [recording(n, seen) for n in (8, 1, 1, 1, 1)]  # shares: [8] and [1, 1, 1, 1]
    n, _ = updates[failing]
    updates[failing] = recording(n, seen, ValueError("bad update"))
    with pytest.raises(ValueError, match="bad update"):
        threads.run_updates(updates)
    other_share = [1, 1, 1, 1] if failing == 0 else [8]
    ran = sorted(n for n, _ in seen)
    assert all(ran.count(n) >= other_share.count(n) for n in other_share)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 10**6), min_size=1, max_size=30), st.integers(1, 6))
def test_balanced_deals_every_update_once_into_even_shares(sizes, n):
    updates = [(size, i) for i, size in enumerate(sizes)]
    shares = threads.balanced(updates, n)
    assert len(shares) == n
    assert sorted(u for share in shares for u in share) == sorted(updates)
    totals = [sum(size for size, _ in share) for share in shares]
    # the greedy rule: no share exceeds the smallest by more than the largest update
    assert max(totals) - min(totals) <= max(sizes)
