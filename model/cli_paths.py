"""The checks of the paths a `tinyllm` command is given, made before it does any work.

Every path flag must be a non-empty UTF-8 name (`check_paths`). A file to write, `--out`, must
name a file in a directory that exists, must not be what the command reads, and must not be
one of a run's own files (`check_out`): a command never destroys its input or a run's files
(the trainer rewrites them, and deletes old checkpoints). What it writes, it writes
atomically (engine/files.py); where `--out` is stdout itself, the line saying so goes to
stderr (`report_stream`).
"""

import os
import sys
from pathlib import Path

from engine.files import open_descriptor
from model.run_dir import CHECKPOINTS, enclosing_run, is_run_file

PATH_ARGUMENTS = ("out_dir", "resume", "run", "corpus", "out", "init_from", "tokenizer")


def check_paths(args):
    """Refuse an empty path (it would mean the current directory) and one that is not UTF-8
    (it could be neither stored in JSON nor printed)."""
    for name in PATH_ARGUMENTS:
        value, flag = getattr(args, name, None), "--" + name.replace("_", "-")
        if value == "":
            raise ValueError(f"{flag} needs a path, got ''")
        if isinstance(value, str):
            check_utf8(flag, value, "not a UTF-8 name; use one that is")


def check_utf8(flag, value, why):
    """Refuse a `value` given to `flag` that is not UTF-8 (the shell passes any bytes; Python
    keeps those that are not UTF-8 as lone surrogates), naming it by its bytes: "--FLAG
    b'...' is WHY"."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError(f"{flag} {os.fsencode(value)!r} is {why}") from None


def check_out(out, inputs=()):
    """Refuse the --out file `out` before any work is done, if it names a directory, lies in a
    directory that does not exist (no command makes one for a file), is a run's own file
    (`refuse_run_files`), or is one of the command's own
    `inputs` ([(flag, path)]: the file it reads, which writing would destroy)."""
    path = Path(out)
    if os.path.basename(out) in ("", ".", "..") or path.is_dir():
        raise IsADirectoryError(f"--out names a directory: {out}; give a file name")
    if not path.parent.is_dir():
        why = "is not a directory" if path.parent.exists() else "does not exist"
        raise FileNotFoundError(f"--out {out}: its directory {path.parent} {why}")
    refuse_run_files(out)
    for flag, name in inputs:
        if path.exists() and Path(name).exists() and os.path.samefile(path, name):
            raise ValueError(
                f"--out {out} is the {flag} file itself: writing it would destroy what it is "
                "read from; give another --out"
            )


def make_parents(out):
    """Make the missing directories above the --out directory `out`, as --out-dir's are made;
    returns those made, outermost first, so that a command that fails can remove them again.
    A part of the path that is a file is refused first, naming it."""
    made = []
    try:
        for directory in reversed(Path(out).parents):  # outermost first; `a/..` once `a` is made
            if not directory.exists():
                directory.mkdir()
                made.append(directory)
            elif not directory.is_dir():
                raise NotADirectoryError(f"--out {out}: {directory} is not a directory")
    except BaseException:
        remove_made(made)
        raise
    return made


def remove_made(directories):
    """Remove the directories `make_parents` made (innermost first), those left empty."""
    for directory in reversed(directories):
        try:
            directory.rmdir()
        except OSError:  # something else was put there meanwhile: it stays
            break


def refuse_run_files(out):
    """Refuse an --out that is one of a run's own files (`metrics.jsonl`, `graph.svg`, ...) or
    lies in its checkpoints/, which its trainer rewrites and deletes (only `tinyllm plot` draws
    a run's own pictures). A file of another name beside them is the user's, and is left alone."""
    run = enclosing_run(out)
    if run is None:
        return
    parts = Path(out).resolve().relative_to(run).parts
    if parts[0] == CHECKPOINTS or (len(parts) == 1 and is_run_file(parts[0])):
        raise FileExistsError(
            f"--out {out} is the run {run}'s own, which its trainer rewrites (and deletes old "
            "checkpoints): give another name"
        )


def report_stream(out):
    """Where to say "wrote OUT": stderr where OUT is stdout itself, whose reader wants the
    file's bytes alone (`tinyllm corpus stories --out /dev/stdout > stories.txt`)."""
    return sys.stderr if open_descriptor(out) == 1 else sys.stdout
