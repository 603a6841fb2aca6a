"""Running a kernel's independent pieces on every core at once.

NumPy lets go of Python's global lock inside its loops and its BLAS calls, so Python threads
that each work on their own slice of the arrays really do run side by side. A big matmul needs
none of this: BLAS already spreads it over the cores. But attention's many small per-head
matmuls are each too small for BLAS to split, and most of a step that is not a matmul runs
one NumPy loop at a time, on one core; these helpers give those kernels the other cores too,
as PyTorch's intra-op threads do.

Three rules keep this safe and worth it:
- While the pieces run, BLAS is held to one thread (`run_all`), so threads never outnumber
  cores (OpenBLAS's waiting threads spin, which is ruinous when they do); outside, BLAS has
  every core again. Where OpenBLAS's threads cannot be set, nothing is split.
- Handing work to a thread, and the global lock passing between threads at every NumPy call,
  cost tens of microseconds, so a kernel only splits work much larger than that (`pieces`).
- The split is fixed by the shapes alone, so results are the same on every run: a resumed
  training run still continues bit for bit.

Splitting starts once `use_all_cores()` has run (`model.train.train` calls it); until then
every kernel runs in one piece.
"""

import ctypes
import os
import re
from concurrent.futures import ThreadPoolExecutor

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
WORKERS = 1  # how many threads a kernel may use: CORES once use_all_cores() has run
MIN_WORK = 1 << 20
"""Work (elements touched, times the passes over them) below which a kernel does not split:
measured here, a thread then costs more than it saves."""

_pool = None
_blas = None  # OpenBLAS's (get_num_threads, set_num_threads), once found


def use_all_cores():
    """Let the kernels split their work over every core. Returns whether they will: False
    (nothing changes) where no OpenBLAS whose threads can be set is loaded (another BLAS, or
    another system), or the machine has one core."""
    global WORKERS, _blas
    _blas = _openblas_thread_setters()
    if _blas is None or CORES == 1:
        return False
    WORKERS = CORES
    return True


def _openblas_thread_setters():
    """(get_num_threads, set_num_threads) of the OpenBLAS in this process (NumPy's own copy,
    found among the loaded libraries), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = set(re.findall(r"\S*openblas\S*\.so\S*", maps.read()))
    except OSError:
        return None
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "")):
            names = [f"{prefix}_{verb}_num_threads{suffix}" for verb in ("get", "set")]
            if all(hasattr(library, name) for name in names):
                return tuple(getattr(library, name) for name in names)
    return None


def _executor():
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(CORES - 1, thread_name_prefix="tinyllm-kernel")
    return _pool


def _forget_pool():
    """A forked child has none of its parent's threads: it starts a pool of its own."""
    global _pool
    _pool = None


os.register_at_fork(after_in_child=_forget_pool)


def run_all(tasks):
    """Call each of `tasks` (functions of no arguments); return their results in order.

    Task i runs on worker i % WORKERS: worker 0 is this thread, the others the pool's, each
    going through its tasks in turn, with BLAS held to one thread meanwhile. An error in any
    task is raised here.
    """
    if WORKERS == 1 or len(tasks) == 1:
        return [task() for task in tasks]
    shares = [tasks[i::WORKERS] for i in range(min(WORKERS, len(tasks)))]
    blas_threads = None if _blas is None else _blas[0]()
    if blas_threads is not None:
        _blas[1](1)
    try:
        futures = [_executor().submit(lambda s=s: [task() for task in s]) for s in shares[1:]]
        done = [[task() for task in shares[0]]] + [future.result() for future in futures]
    finally:
        if blas_threads is not None:
            _blas[1](blas_threads)
    return [done[i % WORKERS][i // WORKERS] for i in range(len(tasks))]


def pieces(n, work_per_item):
    """Split range(n) into at most WORKERS contiguous slices of about equal size.

    `work_per_item` is a rough cost of one item (say, the elements it touches): work smaller
    than MIN_WORK in all stays in one piece.
    """
    count = max(1, min(WORKERS, n, (n * work_per_item) // MIN_WORK))
    bounds = [n * i // count for i in range(count + 1)]
    return [slice(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]


def for_each_piece(fn, n, work_per_item):
    """Call fn(piece) for the slices of `pieces(n, work_per_item)` at once; return the results
    in order."""
    return run_all([lambda s=s: fn(s) for s in pieces(n, work_per_item)])
