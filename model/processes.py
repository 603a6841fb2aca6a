"""What two processes of one machine share: memory both map, pipes, and BLAS's threads.

The pieces model/data_parallel.py builds its worker from. A forked child shares the parent's
anonymous shared mappings (`share`), so arrays put there are seen by both without copying;
everything else goes through pipes as raw bytes (`write_all`, `read_exactly`), never pickled.
"""

import ctypes
import mmap
import os
import re

import numpy as np


def share(arrays):
    """Copies of `arrays` in one anonymous shared mapping, which a forked child shares."""
    offsets, size = [], 0
    for a in arrays:
        offsets.append(size)
        size += -(-a.nbytes // 64) * 64  # each array on its own 64-byte line
    memory = mmap.mmap(-1, max(size, 1))
    copies = []
    for a, offset in zip(arrays, offsets, strict=True):
        copy = np.frombuffer(memory, a.dtype, a.size, offset).reshape(a.shape)
        copy[...] = a
        copies.append(copy)
    return copies


def openblas_threads():
    """(get, set) of the thread count of the OpenBLAS NumPy loaded, or None."""
    try:
        with open("/proc/self/maps") as maps:
            paths = sorted(set(re.findall(r"\S*openblas\S*\.so\S*", maps.read())))
    except OSError:
        return None
    for path in paths:
        library = ctypes.CDLL(path)
        for prefix, suffix in (("scipy_openblas_", "64_"), ("openblas_", "")):
            get, set_ = f"{prefix}get_num_threads{suffix}", f"{prefix}set_num_threads{suffix}"
            if hasattr(library, get) and hasattr(library, set_):
                return getattr(library, get), getattr(library, set_)
    return None


def close_all_but(*keep):
    """Close every file descriptor but stdin, stdout, stderr and `keep`: the worker must not
    hold the parent's files open (a run directory's lock is an flock on one, which would
    outlive a killed parent for as long as the worker did)."""
    start = 3
    for fd in sorted(fd for fd in keep if fd >= start):
        os.closerange(start, fd)
        start = fd + 1
    os.closerange(start, os.sysconf("SC_OPEN_MAX"))


def write_all(fd, data):
    """Write all of `data` to the pipe `fd`; False if its other end is closed."""
    view = memoryview(data)
    try:
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        return False
    return True


def read_exactly(fd, n):
    """Exactly n bytes from the pipe `fd`, or None if its other end is closed."""
    chunks, left = [], n
    while left:
        chunk = os.read(fd, left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)
