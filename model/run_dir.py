"""A run directory on disk: one writer at a time, checkpoints that are saved whole or not at all.

    run_dir/.lock                              held (flock) by the one process writing the run
    run_dir/checkpoints/step-000500/           a complete checkpoint: every file of step 500
    run_dir/checkpoints/.step-000600.RANDOM.tmp/   a checkpoint being written, or cut short
    run_dir/checkpoints/.step-000300.RANDOM.old/   a checkpoint being deleted
    run_dir/metrics.jsonl, samples.txt, loss.png, graph.svg   what training writes at its end
    run_dir/embeddings.png, attention_layer0.png, ...     what `tinyllm plot` adds

A checkpoint is several files (weights, optimizer, state, ...), and no file system can replace
several files at once. So a save never touches a checkpoint on disk:
  1. every file of step N goes into a new hidden directory, `.step-N.RANDOM.tmp` (each file
     written atomically and synced to the disk);
  2. one rename makes it `step-N`, and the rename is synced;
  3. older checkpoints that are no longer kept are renamed to `.old` and then deleted.
A directory named `step-N` is therefore always complete, whatever moment a kill -9, a power cut
or a full disk strikes at; a hidden `.step-N.RANDOM.tmp` or `.old` is what a cut-short save or
deletion left behind, and is removed the next time the run is opened for writing (any other
file there is left alone).

One writer: `lock()` takes an exclusive `fcntl.flock` on `.lock`. The operating system drops it
when the process ends, however it ends, so a killed run never leaves its directory locked.
Readers (`tinyllm sample`, `plot`, `export`) take no lock: the newest checkpoint they find may
be deleted while they read it, and `read_checkpoint` then reads the new newest. Nothing but
the trainer and `tinyllm plot` writes into a run directory (`enclosing_run` tells a command
that its --out would).
"""

import contextlib
import fcntl
import os
import re
import secrets
import shlex
import shutil
from contextlib import contextmanager
from pathlib import Path

from engine.files import TEMPORARY, remove_temporary_files, sync_directory
from model.checkpoint import METRICS, CheckpointError

CHECKPOINTS = "checkpoints"
LOCK = ".lock"
STEP_NAME = re.compile(r"step-(\d+)")
SAVE_DEBRIS = re.compile(r"\.step-\d+\.[0-9a-f]{8}\.(tmp|old)")  # cut short: see above
OLD_LAYOUT_FILES = ("model.safetensors", "state.json")  # at the top of a run, before checkpoints/
SAMPLES, LOSS_PLOT, GRAPH, EMBEDDINGS_PLOT = (
    "samples.txt",
    "loss.png",
    "graph.svg",
    "embeddings.png",
)
RUN_FILES = (LOCK, CHECKPOINTS, METRICS, SAMPLES, LOSS_PLOT, GRAPH, EMBEDDINGS_PLOT)


def attention_plot(layer):
    """The name of `tinyllm plot`'s picture of one layer's attention heads."""
    return f"attention_layer{layer}.png"


def is_run_file(name):
    """Whether `name`, at the top of a directory, is one a run writes there (see above), or what
    a write that was cut short left."""
    attention = re.fullmatch(r"attention_layer\d+\.png", name)
    return name in RUN_FILES or attention is not None or TEMPORARY.fullmatch(name) is not None


class RunDirInUseError(OSError):
    """Another process holds the run directory's lock."""


class RunDir:
    """The directory of one run: its checkpoints, its lock and the debris of cut-short saves."""

    def __init__(self, path):
        self.path = Path(path)
        self.checkpoints_dir = self.path / CHECKPOINTS
        self._lock_fd = None

    def checkpoints(self):
        """[(step, directory)] of every complete checkpoint, oldest first."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = []
        for p in self.checkpoints_dir.iterdir():
            match = STEP_NAME.fullmatch(p.name)
            if match and p.is_dir():
                found.append((int(match[1]), p))
        return sorted(found)

    def latest(self):
        """The directory of the newest complete checkpoint, or None."""
        found = self.checkpoints()
        return found[-1][1] if found else None

    def incomplete(self):
        """The hidden directories of checkpoints whose save was cut short."""
        if not self.checkpoints_dir.is_dir():
            return []
        found = (p for p in self.checkpoints_dir.iterdir() if SAVE_DEBRIS.fullmatch(p.name))
        return sorted(p for p in found if SAVE_DEBRIS.fullmatch(p.name)[1] == "tmp")

    def refuse_old_layout(self):
        """Raise CheckpointError if this is a run of the layout before checkpoints/step-N."""
        old = [name for name in OLD_LAYOUT_FILES if (self.path / name).exists()]
        if (self.path / "config.json").exists():
            raise CheckpointError(f"{self.path} is a Hugging Face model directory, not a run")
        if old and not self.checkpoints_dir.exists():
            raise CheckpointError(
                f"{self.path} has {old[0]} at its top but no config.json: it is not a Hugging "
                f"Face model directory, and if it is a run of an older tinyllm, this version "
                f"keeps checkpoints in {CHECKPOINTS}/step-N/ and cannot read it: train it again"
            )

    def refuse_inside_a_run(self):
        """Raise FileExistsError if the directory is inside another run's (its checkpoints/,
        say): a new run goes beside a run, never into it."""
        parent = enclosing_run(self.path)
        if parent is not None:
            raise FileExistsError(
                f"{self.path} is inside the run {parent}: choose a --out-dir outside it "
                f"(or continue that run with --resume {shlex.quote(str(parent))})"
            )

    def refuse_foreign_files(self):
        """Raise FileExistsError unless the directory is empty or a run's (it has the `.lock`
        a run makes) holding nothing that no run writes: a new run must not write among
        someone's files, nor over them, even ones named like a run's (samples.txt, say).
        NotADirectoryError if it is a file."""
        if not require_directory(self.path, missing_ok=True).exists():
            return
        names = sorted(p.name for p in self.path.iterdir())
        foreign = [name for name in names if not is_run_file(name)]
        if foreign:
            raise FileExistsError(
                f"{self.path} holds {foreign[0]!r}, which is no run's: choose a new or empty "
                "--out-dir"
            )
        if names and LOCK not in names:
            raise FileExistsError(
                f"{self.path} holds {names[0]!r} but no {LOCK}: no run made it, so it is not "
                "a run's to write over; choose a new or empty --out-dir"
            )

    def lock(self):
        """Take the run's lock (creating the directory): raises RunDirInUseError, naming the
        holder's pid, if another process has it. Returns self."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 20, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunDirInUseError(
                f"{self.path} is in use by another writer (pid {holder}); wait for it "
                "to finish or stop it, or choose another directory"
            ) from None
        # The pid goes into the locked file itself, not through write_atomic: the lock belongs
        # to this open file, and an atomic rename would put a new, unlocked file in its place.
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd
        return self

    def unlock(self):
        """Release the lock (if held)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the file releases its flock
            self._lock_fd = None

    def discard(self):
        """Release the lock and remove the directory, if the lock file is all it holds: undo
        `lock()` on a directory that a new run made and then gave up (a refused size, say)."""
        (self.path / LOCK).unlink()  # while still locked: no one can take this lock meanwhile
        self.unlock()
        with contextlib.suppress(OSError):  # not empty: someone else's now
            self.path.rmdir()

    def remove_debris(self):
        """Delete what cut-short saves and deletions left (the hidden temporary files and
        directories named above, nothing else); returns their names. Only with the lock held."""
        removed = remove_temporary_files(self.path)
        if self.checkpoints_dir.is_dir():
            for p in sorted(self.checkpoints_dir.iterdir()):
                if SAVE_DEBRIS.fullmatch(p.name):
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed.append(f"{CHECKPOINTS}/{p.name}")
        return removed

    def check_writable(self):
        """Raise PermissionError, naming the directory, unless files can be made where saves
        write them (the run directory, and its checkpoints/ once there is one): found now, at
        the start, rather than at the first save, with the steps before it lost."""
        places = [self.path, self.checkpoints_dir] if self.checkpoints_dir.is_dir() else [self.path]
        for where in places:
            probe = where / f".step-000000.{secrets.token_hex(4)}.tmp"  # debris, if left
            try:
                probe.touch(exist_ok=False)
            except OSError as e:
                raise PermissionError(
                    f"{where} is not writable ({e.strerror}), so no checkpoint could be saved"
                ) from e
            probe.unlink()

    @contextmanager
    def new_checkpoint(self, step):
        """Save a checkpoint of `step`: yields an empty hidden directory to write its files
        into; when the block ends, one rename makes it `checkpoints/step-N`. If the block
        raises, the directory is deleted and the checkpoints on disk are as they were."""
        if not self.checkpoints_dir.is_dir():
            self.checkpoints_dir.mkdir()
            sync_directory(self.path)
        final = self.checkpoints_dir / f"step-{step:06d}"
        tmp = self.checkpoints_dir / f".{final.name}.{secrets.token_hex(4)}.tmp"
        tmp.mkdir()
        try:
            yield tmp
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        sync_directory(self.checkpoints_dir)

    def keep_only(self, steps):
        """Delete every complete checkpoint whose step is not in `steps` (renamed to a hidden
        name first, so a deletion cut short never leaves a partial `step-N`)."""
        for step, path in self.checkpoints():
            if step not in steps:
                trash = path.with_name(f".{path.name}.{secrets.token_hex(4)}.old")
                os.rename(path, trash)
                shutil.rmtree(trash, ignore_errors=True)
        sync_directory(self.checkpoints_dir)


def enclosing_run(path):
    """The run directory that `path` is inside, at any depth, or None. A run directory is one
    holding a `.lock` and a `checkpoints/`; its files are its trainer's, who rewrites them and
    deletes old checkpoints, so nothing else writes there."""
    for parent in Path(path).resolve().parents:
        if (parent / LOCK).is_file() and (parent / CHECKPOINTS).is_dir():
            return parent
    return None


def require_directory(path, missing_ok=False):
    """`path` as a Path, if it is a directory (or, with `missing_ok`, nothing yet); else
    NotADirectoryError, or FileNotFoundError."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(f"{path} is a file, not a run directory")
    if not path.is_dir() and not missing_ok:
        raise FileNotFoundError(f"run directory not found: {path}")
    return path


def find_checkpoint(path):
    """The checkpoint a reader (sampling, plots, graphs) means by `path`: a run directory's
    newest complete checkpoint, or `path` itself when it is a checkpoint directory."""
    path = require_directory(path)
    where = Path(os.path.abspath(path))  # `.` or `step-N/..` name no directory of their own
    if STEP_NAME.fullmatch(where.name) and where.parent.name == CHECKPOINTS:
        return path
    if where.name == CHECKPOINTS and RunDir(where.parent).checkpoints():
        raise CheckpointError(
            f"{path} is a run's {CHECKPOINTS} directory: name the run ({where.parent}) for its "
            f"newest checkpoint, or one of its {CHECKPOINTS}/step-N"
        )
    run_dir = RunDir(path)
    run_dir.refuse_old_layout()
    latest = run_dir.latest()
    if latest is None:
        why = (
            "its first save was cut short"
            if run_dir.incomplete()
            else "not a run directory, nor a Hugging Face model directory with a config.json?"
        )
        raise CheckpointError(f"{path} holds no complete checkpoint ({why})")
    return latest


READ_TRIES = 5


def read_checkpoint(path, read):
    """`read(checkpoint)` of the checkpoint a reader means by `path` (`find_checkpoint`).

    A run that trains meanwhile keeps only its newest checkpoints: the one found as the newest
    may be deleted while it is read, and a file of it is then missing. Then the new newest is
    read instead, up to READ_TRIES times. A checkpoint never changes once it is complete, so
    what a read returns is one checkpoint's, whole. A checkpoint named by `path` itself is not
    replaced by another: its missing file is the error."""
    for _ in range(READ_TRIES):
        checkpoint = find_checkpoint(path)
        try:
            return read(checkpoint)
        except (OSError, CheckpointError):
            if checkpoint == Path(path) or checkpoint.is_dir():
                raise  # not deleted meanwhile: the error is the checkpoint's own
    raise CheckpointError(
        f"{path}: its newest checkpoint was deleted while it was read, {READ_TRIES} times in a "
        "row (its run is saving faster than a checkpoint can be read); try again, or name one "
        f"of its {CHECKPOINTS}/step-N"
    )
