"""The optimizers' kernel: their per-parameter updates shared over the cores by Python threads.

An optimizer's step is a dozen elementwise NumPy passes over every weight (AdamW's: the decay,
two moments, a square root, a division), each pass on one core. NumPy lets go of the GIL
inside a pass over a large array, so threads that each update their own parameters run side
by side. In training the step comes after both data-parallel processes have finished their
backward (model/data_parallel.py), so the other core has nothing to do: at 512 wide (12.6M
weights) AdamW's 27 ms take 20 on two cores (the cores share the memory's bandwidth, which
keeps it from 13.5), and the whole step 2.7% less time.

The reference it replaces is the loop in order, `for update in updates: update()`, which runs
where `nn.use_fused(False)`, on one core, and where the weights are too few for threads to
pay: a step's threads cost about 0.1 ms to start and join, and NumPy keeps the GIL in a pass
over a small array. Each parameter's update is the same arithmetic either way, so the two
give equal weights, bit for bit.
"""

import os
import threading

# The elements a thread must have to pay for itself: on two cores the baby GPT's 0.8M weights
# paid for a second thread, 64 wide's 0.2M did not.
PER_THREAD = 1 << 18


def run_updates(updates):
    """Call every update in `updates`, a list of (elements, function of no arguments) pairs,
    shared over up to one thread per core, each thread with PER_THREAD elements or more. The
    first error an update raises is raised here, after every thread has finished."""
    threads = min(_cores(), len(updates), sum(n for n, _ in updates) // PER_THREAD)
    if threads < 2:
        _run_all(updates)
        return
    errors = []

    def run(share):
        try:
            _run_all(share)
        except BaseException as error:  # raised in this thread, once all have finished
            errors.append(error)

    shares = balanced(updates, threads)
    workers = [threading.Thread(target=run, args=(share,)) for share in shares[1:]]
    for worker in workers:
        worker.start()
    run(shares[0])  # this thread takes a share too
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]


def balanced(updates, n):
    """`updates` dealt into n shares of about equal elements: the largest first, each to the
    share that holds the fewest so far (the greedy rule for scheduling jobs on machines)."""
    shares, sizes = [[] for _ in range(n)], [0] * n
    for update in sorted(updates, key=lambda u: -u[0]):
        k = sizes.index(min(sizes))
        shares[k].append(update)
        sizes[k] += update[0]
    return shares


def _run_all(updates):
    for _, update in updates:
        update()


def _cores():
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
