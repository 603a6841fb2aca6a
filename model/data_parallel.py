"""Data parallelism on one machine: each training step's rows shared by two processes.

NumPy runs each elementwise pass (GELU, LayerNorm, the softmax) on one core, and only large
matrix products on every core; PyTorch spreads each op over the cores. Here the cores share
the work another way, the way PyTorch's DistributedDataParallel shares it between machines:
two processes each run the whole forward and backward on their own rows of the batch, each
with half of BLAS's threads (one each on a 2-core machine), and the gradients add up to the
whole batch's:

    this process                         the worker (forked once, at the start)
    rows [0, h): forward, backward       rows [h, B): forward, backward
                 <-- the worker's gradients, through shared memory
    add them, clip, AdamW step: the weights live in shared memory, so the worker sees them

With every target counted (as in training), the loss is a mean over the rows, so each share's
loss is scaled by its share of the rows: the sum of the two gradients is the gradient of the
whole batch's mean loss, up to rounding. Only the ids of the worker's rows (raw int64 bytes
through a pipe, never pickled) and its loss back (or the error its step raised, as text) are
copied between the processes.

On a 2-core machine this takes the baby GPT's step from 76 to 61 ms, and at 64 wide and block
256 from 186 to 98 ms (docs/reference.md, Speed): NumPy's one-core passes were half of it.
"""

import contextlib
import math
import os
import signal
import struct
import traceback
import warnings

import numpy as np

import engine
from model import processes

# rows, columns, dropout seed, training mode, loss scale (NaN: no gradient); then x, y as int64
REQUEST = struct.Struct("<qqq?d")
# the worker's loss, the index in ERRORS of the error its step raised (-1: none), the length of
# the error's UTF-8 text that follows
REPLY = struct.Struct("<dqq")
# A step's errors the parent raises again as they were; any other becomes a RuntimeError
ERRORS = (ValueError, IndexError, TypeError, FloatingPointError, MemoryError, RuntimeError)


class DataParallel:
    """`loss_backward(model, x, y, scale)` on (B, T) rows shared with one forked worker.

    `loss_backward` must return a Python float, the loss of its rows, and add `scale` times
    its gradient into the parameters' `.grad` (scale None: no gradient, as in an evaluation);
    `DataParallel(...)(x, y, scale)` does the same for all B rows, its half here and the rest
    in the worker, which follows this process's train or eval mode. An error in the worker's
    step is raised here; a worker that dies (killed, say, for memory) is warned of, and its
    rows run here from then on. Use it as a context manager, or call `close()`: the worker
    exits, and the parameters get private arrays back.

    PyTorch's `nn.DataParallel` shares a step between threads of one process; this works as
    its `DistributedDataParallel` does, with a process each, which NumPy needs: one process
    runs its elementwise passes on one core.
    """

    def __init__(self, model, loss_backward, blas_threads=None):
        """`blas_threads`: the (get, set) of BLAS's thread count, to halve while the worker
        runs (one each on two cores) and give back when it ends; None leaves it as it is."""
        self.model, self.loss_backward = model, loss_backward
        self._blas_threads, self._threads_before = blas_threads, None
        self.params = list(model.parameters())
        self.shared = processes.share([p.data for p in self.params])
        for p, array in zip(self.params, self.shared, strict=True):
            p.data = array
        self.worker_grads = processes.share([np.zeros_like(p.data) for p in self.params])
        requests, self._to_worker = os.pipe()
        self._from_worker, replies = os.pipe()
        if blas_threads is not None:  # halved in both processes, as the fork copies it
            self._threads_before = blas_threads[0]()
            blas_threads[1](max(1, self._threads_before // 2))
        try:
            self.worker_pid = os.fork()
        except OSError:  # no worker: the pipes closed and BLAS's threads back, as when it ends
            for fd in (requests, self._to_worker, self._from_worker, replies):
                os.close(fd)
            self._give_back_threads()
            raise
        if self.worker_pid == 0:  # the worker: serve until the pipe closes, never return
            code = 1
            try:
                processes.close_all_but(requests, replies)
                code = self._serve(requests, replies)
            except BaseException:
                traceback.print_exc()  # a bug in the worker's loop (a step's errors are replies)
            finally:
                os._exit(code)
        os.close(requests)
        os.close(replies)

    def __call__(self, x, y, scale=None):
        """The mean loss of all B rows of (x, y); scale × its gradient is added to `.grad`
        (None: no gradient)."""
        if self.shared is None:
            raise RuntimeError("DataParallel: it is closed; make a new one")
        if x.ndim != 2 or x.shape != y.shape:
            raise ValueError(
                f"DataParallel: x and y must be (B, T) arrays of one shape, got {x.shape} and "
                f"{y.shape}"
            )
        rows = len(x)
        if rows < 2 or self.worker_pid is None:  # None: the worker died, its rows run here
            return self.loss_backward(self.model, x, y, scale)
        self._check_shared()
        h = (rows + 1) // 2
        if scale is None:  # an evaluation: no gradient, and no dropout to draw for
            seed, mine, theirs = 0, None, None
        else:  # each share's loss weighted by its share of the rows
            seed = int(engine.generator().integers(2**63))  # the worker's dropout draws
            mine, theirs = scale * h / rows, scale * (rows - h) / rows
        worker_rows = b"".join(np.ascontiguousarray(a[h:], np.int64).tobytes() for a in (x, y))
        request = REQUEST.pack(
            rows - h, x.shape[1], seed, self.model.training, math.nan if theirs is None else theirs
        )
        try:
            sent = processes.write_all(self._to_worker, request + worker_rows)
            my_loss = self.loss_backward(self.model, x[:h], y[:h], mine)
            reply = processes.read_exactly(self._from_worker, REPLY.size) if sent else None
            if reply is not None:
                their_loss, error, length = REPLY.unpack(reply)
                if error >= 0:
                    text = processes.read_exactly(self._from_worker, length) or b""
                    raise ERRORS[error](text.decode("utf-8", "replace"))
        except BaseException:  # a half-finished exchange cannot be resumed
            if self.worker_pid is not None:
                os.kill(self.worker_pid, signal.SIGKILL)  # its half-step is of no use now
            self.close()
            raise
        if reply is None:  # the worker died: its rows are done here, as from now on all are
            self._reap_dead_worker()
            their_loss = self.loss_backward(self.model, x[h:], y[h:], theirs)
        elif scale is not None:
            for p, g in zip(self.params, self.worker_grads, strict=True):
                if p.grad is not None:  # the same graph: the same parameters have gradients
                    p.grad += g
        return (my_loss * h + their_loss * (rows - h)) / rows

    def _check_shared(self):
        """Refuse a parameter whose array was replaced: the worker would not see it."""
        for p, array in zip(self.params, self.shared, strict=True):
            if p.data is not array:
                raise RuntimeError(
                    f"DataParallel: the array of a parameter {p.shape} was replaced, so the "
                    "worker would not see it; make the DataParallel after loading weights"
                )

    def _reap_dead_worker(self):
        """Warn how the worker ended (its pipe closed under us); it has no more rows, and BLAS
        gets its threads back."""
        pid, self.worker_pid = self.worker_pid, None
        os.close(self._to_worker)
        os.close(self._from_worker)
        _, status = os.waitpid(pid, 0)
        self._give_back_threads()
        if os.WIFSIGNALED(status):
            how = f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
        else:
            how = f"exit status {os.WEXITSTATUS(status)}"
        warnings.warn(
            f"DataParallel: the worker process {pid} died ({how}); its rows run in this "
            "process from now on",
            RuntimeWarning,
            stacklevel=3,
        )

    def _serve(self, requests, replies):
        """The worker's loop: one request, its rows' gradients into worker_grads, a reply."""
        for signum in (signal.SIGINT, signal.SIGTERM):  # the parent's to handle: it saves
            signal.signal(signum, signal.SIG_IGN)
        while True:
            header = processes.read_exactly(requests, REQUEST.size)
            if header is None:
                return 0  # the parent closed its end (or died): done
            rows, cols, seed, training, scale = REQUEST.unpack(header)
            data = processes.read_exactly(requests, 2 * rows * cols * 8)
            x, y = np.frombuffer(data, np.int64).reshape(2, rows, cols)
            engine.manual_seed(seed)
            self.model.train(training)
            loss, error, text = math.nan, -1, b""
            try:
                if np.isnan(scale):  # an evaluation: no graph, no gradient
                    with engine.no_grad():
                        loss = self.loss_backward(self.model, x, y, None)
                else:
                    loss = self.loss_backward(self.model, x, y, scale)
                    for p, g in zip(self.params, self.worker_grads, strict=True):
                        g[...] = 0 if p.grad is None else p.grad
            except Exception as e:  # raised again in the parent
                error, text = _passed_on(e)
            for p in self.params:
                p.grad = None
            if not processes.write_all(replies, REPLY.pack(loss, error, len(text)) + text):
                return 1

    def close(self):
        """End the worker and give the parameters private copies of their arrays."""
        pid, self.worker_pid = self.worker_pid, None
        if pid is not None:  # None: closed, or the worker died
            os.close(self._to_worker)
            os.close(self._from_worker)
            os.waitpid(pid, 0)
        self._give_back_threads()
        if self.shared is not None:
            for p, array in zip(self.params, self.shared, strict=True):
                if p.data is array:
                    p.data = array.copy()
            self.shared = self.worker_grads = None

    def _give_back_threads(self):
        if self._threads_before is not None:
            self._blas_threads[1](self._threads_before)
            self._threads_before = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@contextlib.contextmanager
def data_parallel(model, loss_backward):
    """A DataParallel, each of its two processes with half of BLAS's threads (one on two
    cores), where this machine has two cores or more, `os.fork` exists and OpenBLAS's thread
    count can be set; None elsewhere (the caller then runs its plain step). BLAS gets its
    threads back at the end."""
    threads = processes.openblas_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if threads is None or cores < 2 or not hasattr(os, "fork"):
        yield None
        return
    with DataParallel(model, loss_backward, threads) as parallel:
        yield parallel


def _passed_on(error):
    """(index in ERRORS, UTF-8 text) of an error in the worker's step, for the parent to raise."""
    for i, kind in enumerate(ERRORS):
        if isinstance(error, kind):
            return i, str(error).encode("utf-8", "replace")
    text = f"{type(error).__name__} in the worker: {error}"
    return ERRORS.index(RuntimeError), text.encode("utf-8", "replace")
