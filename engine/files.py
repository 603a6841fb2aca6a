"""Writing a file whole or not at all: the one way the project writes every file it keeps.

A crash, a full disk or a kill in the middle of a plain `open(path, "w").write(...)` leaves
half a file where the old one was. Here the bytes go to a new temporary file beside the
target, are flushed and synced to the disk, and only then is the temporary file renamed over
the target. A rename within a directory is atomic, so a reader (or the next run) finds the
old file or the new one, never a mix. A directory of several files is made the same way
(`atomic_directory`): filled under a temporary name, then renamed into place.

Only a regular file is replaced so. A symlink stays a link: the file it points to is replaced.
A target that is no file to keep, a device (`/dev/null`), a FIFO or one of the process's open
files (`/dev/stdout`), is written into as `echo text > target` would, since replacing it would
put a regular file in its place (and, for root, replace /dev/null for everyone).

A process killed between writing and renaming leaves its temporary file behind (nothing can
clean up after SIGKILL); `remove_temporary_files` clears them when the directory is next used.
"""

import contextlib
import errno
import os
import re
import secrets
import shutil
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")
"""The name of a temporary file of `write_atomic`: `.NAME.RANDOM.tmp`."""


def write_atomic(path, data):
    """Write `data` (bytes, or str as UTF-8) to `path` atomically; returns the path.

    The temporary file is `.NAME.RANDOM.tmp` in the same directory (a unique name, so two
    writers never share one); it is removed again if writing fails. A failure (a full disk,
    say) raises the OSError with `path` as its filename, so the message names the file. A
    directory, or a name ending in "/" (or "/."), is IsADirectoryError; a device, a FIFO or
    an open file is written into directly (see the top of this file).
    """
    data = data.encode("utf-8") if isinstance(data, str) else data
    if os.path.basename(os.fspath(path)) in ("", ".", ".."):  # Path() would drop a "/" or
        # "/." and write a file named as the directory was
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(path))
    path = Path(path)
    try:
        mode = os.stat(path).st_mode  # through symlinks: what a write would land in
    except FileNotFoundError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    try:
        if mode is not None and (
            not stat.S_ISREG(mode) or open_descriptor(path) is not None or _in_proc(path)
        ):
            _write_into(path, data)
        else:  # a symlink stays a link: the file it points to is replaced
            _replace(Path(os.path.realpath(path)) if path.is_symlink() else path, data)
    except OSError as e:
        if e.errno is None:
            raise
        raise type(e)(e.errno, e.strerror, str(path)) from e
    return path


def _replace(path, data):
    """Write `data` to a temporary file beside `path`, sync it, and rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:  # the temporary file is only still there if writing failed; on a read-only
        # disk removing it fails too, and the error to raise is the write's
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    sync_directory(path.parent)


def open_descriptor(path):
    """The file descriptor of this process that `path` names through symlinks (1 for
    /dev/stdout, N for /dev/fd/N and /proc/self/fd/N), or None."""
    link = os.path.abspath(path)
    own = f"/proc/{os.getpid()}/fd"
    for _ in range(40):  # as the kernel, which gives up on a loop of links after 40
        if os.path.realpath(os.path.dirname(link)) == own and os.path.basename(link).isdigit():
            return int(os.path.basename(link))
        if not os.path.islink(link):
            return None
        link = os.path.join(os.path.dirname(link), os.readlink(link))
    return None


def _in_proc(path):
    """Whether `path` is a file of /proc, which is no file on a disk to replace."""
    real = os.path.realpath(path)
    return real == "/proc" or real.startswith("/proc/")


def _write_into(path, data):
    """Write `data` into the existing file `path` that is not to be replaced.

    One of this process's open files (/dev/stdout) is written through its own descriptor, after
    Python's buffers for it are flushed: opening it again would make a second, independent
    write position, and the next `print` would overwrite what was written. Anything else (a
    device, a FIFO) is opened for appending."""
    fd = open_descriptor(path)
    if fd is not None:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None and _fileno(stream) == fd:
                stream.flush()
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        return
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        try:
            os.fsync(f.fileno())
        except OSError as e:  # a pipe, a FIFO or a device cannot be synced: nothing to sync
            if e.errno not in (errno.EINVAL, errno.EROFS, errno.ENOTSUP):
                raise


def _fileno(stream):
    """The descriptor under a text stream, or None (a StringIO under pytest's capture has none)."""
    try:
        return stream.fileno()
    except (OSError, ValueError, AttributeError):
        return None


@contextmanager
def atomic_directory(path):
    """Make the directory `path` whole or not at all: yields a new, empty hidden directory
    beside it (`.NAME.RANDOM.tmp`) to fill; when the block ends, one rename makes it `path`.
    An empty directory already at `path` (the user's, perhaps their shell's current one) is
    kept: the finished files are renamed into it, one by one. If the block raises, the hidden
    directory is removed, and `path` is as it was: a cut-short write never leaves a partial
    `path`."""
    path = Path(os.path.abspath(path))  # "." has no name to put a sibling beside
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.mkdir()
        yield tmp
        if path.is_dir():
            if any(path.iterdir()):
                raise FileExistsError(errno.EEXIST, "not an empty directory", str(path))
            for child in tmp.iterdir():
                os.replace(child, path / child.name)
            tmp.rmdir()
            sync_directory(path)
        else:
            os.rename(tmp, path)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError) and isinstance(e.filename, str):  # the name the user knows
            e.filename = e.filename.replace(str(tmp), str(path), 1)
        raise
    sync_directory(path.parent)


def remove_temporary_files(directory):
    """Delete the temporary files that writes cut short left in `directory`; returns their
    names. Only for a directory no one else is writing to at the same time."""
    names = [p.name for p in Path(directory).iterdir() if TEMPORARY.fullmatch(p.name)]
    for name in names:
        (Path(directory) / name).unlink(missing_ok=True)
    return names


def sync_directory(directory):
    """Make the rename itself durable: sync the directory entry (where the OS allows it)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a directory; the rename is still atomic
    finally:
        os.close(fd)
