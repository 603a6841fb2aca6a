"""Keeping freed memory for the next step.

Every op allocates its result, and its backward its gradients, as fresh NumPy arrays. glibc's
malloc serves arrays over 128 KiB straight from the operating system and gives them back when
they are freed, so each training step asks for the same megabytes again, and the kernel zeroes
and maps them page by page (about a microsecond per 4 KiB page): thousands of page faults a
step. Raising two malloc thresholds keeps freed blocks in the process for reuse, which is what
PyTorch's caching allocator does for its own tensors.
"""

import ctypes

M_TRIM_THRESHOLD = -1  # mallopt's parameter numbers, from glibc's <malloc.h>
M_MMAP_THRESHOLD = -3


def keep_freed_memory(mmap_threshold=32 * 2**20, trim_threshold=512 * 2**20):
    """Ask glibc to serve blocks under `mmap_threshold` bytes from its heap, and to keep up to
    `trim_threshold` free bytes there. Returns whether glibc took both settings (False, with
    nothing changed, where the C library is not glibc).

    32 MiB is the largest threshold glibc accepts on 64-bit machines: an (B, T, 4C) activation
    of a 512-wide model, or a block-256 attention's (B, nh, T, T) scores, is over 4 MiB, and
    each would otherwise be mapped and faulted in afresh on every call."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(
        libc.mallopt(M_MMAP_THRESHOLD, mmap_threshold)
        and libc.mallopt(M_TRIM_THRESHOLD, trim_threshold)
    )
