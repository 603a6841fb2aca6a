"""Data parallelism (model/data_parallel.py): a step shared by two processes is the plain step."""

import fcntl
import os
import signal
import time

import numpy as np
import pytest

import engine
from model import data_parallel as dp
from model import processes
from model.gpt import GPT, GPTConfig
from model.train import loss_backward, make_optimizer, train_step


class Options:
    lr, beta1, beta2, weight_decay = 1e-2, 0.9, 0.99, 0.1


def tiny_gpt(dropout=0.0):
    engine.manual_seed(0)
    config = GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8, dropout=dropout)
    return GPT(config).to(np.float64)


def train(model, parallel, rows, steps=3, grad_accum=2):
    """Losses, gradient norms and the weights after `steps` steps on fixed random batches."""
    optimizer = make_optimizer(model, Options)
    rng = np.random.default_rng(1)
    results = []
    for _ in range(steps):
        batches = [tuple(rng.integers(0, 11, (2, rows, 8))) for _ in range(grad_accum)]
        results.append(train_step(model, optimizer, batches, 1.0, parallel))
    return results, [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("rows", [1, 2, 5])
def test_a_shared_step_is_the_plain_step(rows):
    plain_results, plain_weights = train(tiny_gpt(), None, rows)
    model = tiny_gpt()
    with dp.DataParallel(model, loss_backward) as parallel:
        results, weights = train(model, parallel, rows)
    np.testing.assert_allclose(results, plain_results, rtol=1e-12)
    for a, b in zip(weights, plain_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_a_shared_evaluation_is_the_plain_one_and_leaves_no_gradient():
    model = tiny_gpt(dropout=0.3)
    x, y = np.random.default_rng(2).integers(0, 11, (2, 5, 8))
    model.eval()
    with engine.no_grad():
        plain = loss_backward(model, x, y, None)
        with dp.DataParallel(model, loss_backward) as parallel:
            state = engine.get_rng_state()
            shared = parallel(x, y)  # the worker follows eval mode: no dropout there either
            assert engine.get_rng_state() == state  # and no seed drawn for it
    assert shared == pytest.approx(plain, rel=1e-12)
    assert all(p.grad is None for p in model.parameters())


def test_a_frozen_parameter_gets_no_gradient_from_the_worker():
    model = tiny_gpt()
    frozen = model.transformer.wpe.weight.requires_grad_(False)
    with dp.DataParallel(model, loss_backward) as parallel:
        parallel(*np.random.default_rng(0).integers(0, 11, (2, 4, 8)), 1.0)
    assert frozen.grad is None
    assert all(p.grad is not None for p in model.parameters() if p is not frozen)


def test_shared_steps_with_dropout_repeat_from_the_seed():
    # The worker's dropout draws come from a seed the parent draws: a rerun is the same run.
    def run():
        model = tiny_gpt(dropout=0.3)
        with dp.DataParallel(model, loss_backward) as parallel:
            return train(model, parallel, rows=4)

    (first, first_weights), (second, second_weights) = run(), run()
    assert first == second
    assert all(np.array_equal(a, b) for a, b in zip(first_weights, second_weights, strict=True))


def is_dead(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "Z"  # a zombie: exited, not reaped


def test_a_worker_killed_between_steps_is_warned_of_and_its_rows_run_here():
    x, y = np.random.default_rng(0).integers(0, 11, (2, 4, 8))
    plain = loss_backward(tiny_gpt(), x, y, 1.0)
    model = tiny_gpt()
    parallel = dp.DataParallel(model, loss_backward)
    pid = parallel.worker_pid
    os.kill(pid, signal.SIGKILL)
    while not is_dead(pid):
        time.sleep(0.01)
    with pytest.warns(RuntimeWarning, match=f"process {pid} died \\(killed by SIGKILL\\)"):
        loss = parallel(x, y, 1.0)  # the request finds its pipe closed
    assert loss == pytest.approx(plain, rel=1e-12)
    assert parallel.worker_pid is None
    parallel(x, y, 1.0)  # no second warning (warnings are errors here): all rows run here
    parallel.close()
    assert all(p.data.flags.owndata for p in model.parameters())


def test_blas_gets_its_threads_back_when_the_worker_ends_dies_or_cannot_start(monkeypatch):
    count = [4]  # BLAS's thread count, as a (get, set) pair would read and set it
    threads = (lambda: count[0], lambda n: count.__setitem__(0, n))
    with dp.DataParallel(tiny_gpt(), loss_backward, threads):
        assert count == [2]  # half each
    assert count == [4]
    parallel = dp.DataParallel(tiny_gpt(), loss_backward, threads)
    os.kill(parallel.worker_pid, signal.SIGKILL)
    with pytest.warns(RuntimeWarning, match="died"):
        parallel(*np.random.default_rng(0).integers(0, 11, (2, 4, 8)), 1.0)
    assert count == [4]  # all rows run here now, on every thread
    parallel.close()
    assert count == [4]

    def no_more_processes():
        raise BlockingIOError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(os, "fork", no_more_processes)
    with pytest.raises(BlockingIOError):
        dp.DataParallel(tiny_gpt(), loss_backward, threads)
    assert count == [4]


def test_a_worker_that_dies_mid_step_is_warned_of_and_the_step_is_whole():
    parent = os.getpid()

    def dies_in_the_worker(model, x, y, scale):
        if os.getpid() != parent:
            os._exit(3)
        return loss_backward(model, x, y, scale)

    (plain, plain_weights), model = train(tiny_gpt(), None, rows=4, steps=1), tiny_gpt()
    dying = dp.DataParallel(model, dies_in_the_worker)
    with dying as parallel, pytest.warns(RuntimeWarning, match="died \\(exit status 3\\); its"):
        results, weights = train(model, parallel, rows=4, steps=1)  # no reply comes
    np.testing.assert_allclose(results, plain, rtol=1e-12)
    for a, b in zip(weights, plain_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


def test_the_worker_ignores_ctrl_c_and_sigterm():
    x, y = np.random.default_rng(0).integers(0, 11, (2, 4, 8))
    with dp.DataParallel(tiny_gpt(), loss_backward) as parallel:
        parallel(x, y, 1.0)  # the worker is up, in its loop
        for signum in (signal.SIGINT, signal.SIGTERM):  # the parent handles them: it saves
            os.kill(parallel.worker_pid, signum)
        parallel(x, y, 1.0)  # a warning here would be an error
        assert parallel.worker_pid is not None


@pytest.mark.parametrize(
    "error, raised, message",
    [
        (ValueError("bad rows"), ValueError, "^bad rows$"),
        (FloatingPointError("overflow"), FloatingPointError, "^overflow$"),
        (KeyError("k"), RuntimeError, "^KeyError in the worker: 'k'$"),
    ],
)
def test_an_error_in_the_workers_step_is_raised_here_and_ends_it(error, raised, message):
    parent = os.getpid()

    def fails_in_the_worker(model, x, y, scale):
        if os.getpid() != parent:
            raise error
        return loss_backward(model, x, y, scale)

    model = tiny_gpt()
    parallel = dp.DataParallel(model, fails_in_the_worker)
    pid = parallel.worker_pid
    with pytest.raises(raised, match=message):
        parallel(*np.random.default_rng(0).integers(0, 11, (2, 4, 8)), 1.0)
    assert parallel.worker_pid is None
    with pytest.raises(ChildProcessError):  # ended and waited for
        os.waitpid(pid, os.WNOHANG)
    assert all(p.data.flags.owndata for p in model.parameters())


def test_rows_of_two_shapes_and_a_closed_data_parallel_are_refused():
    x = np.zeros((4, 8), np.int64)
    parallel = dp.DataParallel(tiny_gpt(), loss_backward)
    with pytest.raises(ValueError, match=r"one shape, got \(4, 8\) and \(4, 7\)"):
        parallel(x, x[:, :7], 1.0)
    with pytest.raises(ValueError, match=r"\(B, T\) arrays of one shape, got \(8,\)"):
        parallel(x[0], x[0], 1.0)
    parallel.close()
    parallel.close()  # twice is harmless
    with pytest.raises(RuntimeError, match="closed"):
        parallel(x, x, 1.0)


def test_a_replaced_parameter_array_is_refused():
    model = tiny_gpt()
    with dp.DataParallel(model, loss_backward) as parallel:
        model.lm_head.weight.data = model.lm_head.weight.data.copy()
        with pytest.raises(RuntimeError, match=r"parameter \(11, 8\) was replaced"):
            parallel(*np.random.default_rng(0).integers(0, 11, (2, 4, 8)), 1.0)


def test_closing_ends_the_worker_and_unshares_the_weights():
    model = tiny_gpt()
    parallel = dp.DataParallel(model, loss_backward)
    pid = parallel.worker_pid
    assert not any(p.data.flags.owndata for p in model.parameters())  # views of shared memory
    parallel.close()
    with pytest.raises(ChildProcessError):  # already waited for: it has exited
        os.waitpid(pid, os.WNOHANG)
    assert all(p.data.flags.owndata for p in model.parameters())


def test_the_worker_holds_none_of_the_parents_files(tmp_path):
    # A run directory's lock is an flock: a worker holding the file open would hold the lock.
    held = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(held, fcntl.LOCK_EX)
    with dp.DataParallel(tiny_gpt(), loss_backward) as parallel:
        parallel(*np.random.default_rng(0).integers(0, 11, (2, 4, 8)), 1.0)  # the worker is up
        os.close(held)  # the parent lets go, the worker still runs
        again = os.open(tmp_path / "lock", os.O_RDWR)
        fcntl.flock(again, fcntl.LOCK_EX | fcntl.LOCK_NB)  # BlockingIOError if still held
        os.close(again)


def test_data_parallel_halves_blas_threads_and_gives_them_back():
    threads = processes.openblas_threads()
    cores = len(os.sched_getaffinity(0))
    before = threads[0]() if threads else None
    with dp.data_parallel(tiny_gpt(), loss_backward) as parallel:
        if threads is None or cores < 2:
            assert parallel is None
        else:
            assert isinstance(parallel, dp.DataParallel)
            assert threads[0]() == max(1, before // 2)
    if threads:
        assert threads[0]() == before


def test_an_error_in_the_step_ends_the_worker():
    model = tiny_gpt()
    parallel = dp.DataParallel(model, loss_backward)
    x, y = np.random.default_rng(0).integers(0, 11, (2, 4, 8))
    with pytest.raises(IndexError):
        parallel(x, y + 100, 1.0)  # targets out of the vocabulary: both halves fail
    assert parallel.worker_pid is None
