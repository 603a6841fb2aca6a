"""Running a kernel's independent pieces on every core at once.

NumPy lets go of Python's global lock inside its loops and its BLAS calls, so Python threads
that each work on their own slice of the arrays really do run side by side: two threads
computing tanh on two halves take about the time one takes on one half. Most of a training
step that is not a matmul runs one NumPy loop at a time, on one core; these helpers give the
kernels the other cores too, as PyTorch's intra-op threads do.

Two rules keep this safe and worth it:
- BLAS must not start threads of its own meanwhile, or twice as many threads as cores fight
  over them (and OpenBLAS's waiting threads spin, which is ruinous on a busy machine). So the
  splitting starts only once `use_all_cores()` has set the BLAS library to one thread; until
  then every kernel runs in one piece, exactly as before. `model.train.train` calls it.
- Handing work to a thread costs some 50-100 µs, so a kernel only splits work that is larger
  than that (`pieces`). The split is fixed by the shapes alone, so results are the same on
  every run: a resumed training run still continues bit for bit.
"""

import ctypes
import os
import re
from concurrent.futures import ThreadPoolExecutor

CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
WORKERS = 1  # how many threads a kernel may use: CORES once use_all_cores() has run
_pool = None


def use_all_cores():
    """Let the kernels split their work over every core, with BLAS kept to one thread.

    Returns whether it could: False (and nothing changed) where no OpenBLAS whose threads we
    can set is loaded (another BLAS, or another system), or the machine has one core.
    """
    global WORKERS
    set_threads = _openblas_set_num_threads()
    if set_threads is None or CORES == 1:
        return False
    set_threads(1)
    WORKERS = CORES
    return True


def _openblas_set_num_threads():
    """OpenBLAS's `set_num_threads` in this process (NumPy's own copy of it), or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = set(re.findall(r"\S*openblas\S*\.so\S*", maps.read()))
    except OSError:
        return None
    for path in sorted(paths):
        library = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(library, name):
                return getattr(library, name)
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
    going through its tasks in turn. An error in any task is raised here.
    """
    if WORKERS == 1 or len(tasks) == 1:
        return [task() for task in tasks]
    shares = [tasks[i::WORKERS] for i in range(min(WORKERS, len(tasks)))]
    futures = [_executor().submit(lambda s=s: [task() for task in s]) for s in shares[1:]]
    done = [[task() for task in shares[0]]] + [future.result() for future in futures]
    return [done[i % WORKERS][i // WORKERS] for i in range(len(tasks))]


MIN_WORK = 1 << 16
"""Elements of work below which a kernel does not split: a thread would cost more than it saves."""


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
