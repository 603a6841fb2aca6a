"""Writing a file whole or not at all: the one way the project writes every file it keeps.

A crash, a full disk or a kill in the middle of a plain `open(path, "w").write(...)` leaves
half a file where the old one was. Here the bytes go to a new temporary file beside the
target, are flushed and synced to the disk, and only then is the temporary file renamed over
the target. A rename within a directory is atomic, so a reader (or the next run) finds the
old file or the new one, never a mix.

A process killed between writing and renaming leaves its temporary file behind (nothing can
clean up after SIGKILL); `remove_temporary_files` clears them when the directory is next used.
"""

import contextlib
import os
import re
import secrets
from pathlib import Path

TEMPORARY = re.compile(r"\..+\.[0-9a-f]{8}\.tmp")
"""The name of a temporary file of `write_atomic`: `.NAME.RANDOM.tmp`."""


def write_atomic(path, data):
    """Write `data` (bytes, or str as UTF-8) to `path` atomically; returns the path.

    The temporary file is `.NAME.RANDOM.tmp` in the same directory (a unique name, so two
    writers never share one); it is removed again if writing fails. A failure (a full disk,
    say) raises the OSError with `path` as its filename, so the message names the file.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        if e.errno is None:
            raise
        raise type(e)(e.errno, e.strerror, str(path)) from e
    finally:  # the temporary file is only still there if writing failed; on a read-only
        # disk removing it fails too, and the error to raise is the write's
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    sync_directory(path.parent)
    return path


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
