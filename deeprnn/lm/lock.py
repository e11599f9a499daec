"""One training at a time per run folder: an exclusive lock held for the whole training.

    check_unlocked(run)         # early and cheap: RunLockedError naming the PID if a training holds it
    with RunLock(run):          # the lock itself (the same error if another training got there first)
        ...                     # write checkpoints, metrics, plots

The lock is ``fcntl.flock`` on ``RUN/.lock``, which holds the PID of the training. The kernel drops a
flock when its process dies, however it dies (kill -9 included), so a lock left by a killed training
never blocks the next one: only a live process holds it. The file is removed when the lock is
released; a file left by a killed process is simply taken over. ``eval`` and ``generate`` read a folder
without locking, so they work while it is being trained.

Where ``fcntl`` does not exist (Windows), or the file system refuses locks (some network mounts),
training goes on unlocked, with a warning in the second case.
"""

from __future__ import annotations

import errno
import os
import warnings
from pathlib import Path

from .checkpoint import LOCK, CheckpointError, remove_stale_files

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

HELD = (errno.EAGAIN, errno.EACCES)  # what flock(LOCK_NB) raises when another process holds the lock


class RunLockedError(CheckpointError):
    """Another live process is training into this run folder."""


def _locked_error(run: Path, fd: int) -> RunLockedError:
    holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
    return RunLockedError(f"{run} is being trained by process {holder} (it holds {run / LOCK}); wait for it to "
                          "finish or stop it, or train into another --out")


def check_unlocked(run) -> None:
    """Raise RunLockedError if a live training holds ``run``; changes nothing."""
    path = Path(run) / LOCK
    if fcntl is None:  # pragma: no cover
        return
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # no lock file, no training (or an unreadable folder, which training will report)
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as e:
        if e.errno in HELD:
            raise _locked_error(Path(run), fd) from None
    finally:
        os.close(fd)  # also drops our shared lock


class RunLock:
    """The exclusive lock of a run folder (created if missing); ``release()`` or leave the ``with``."""

    _fd: int | None = None  # the locked file while held

    def __init__(self, run):
        self.run = Path(run)
        self.path = self.run / LOCK
        self.run.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            self._acquire()

    def _acquire(self) -> None:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                error = _locked_error(self.run, fd) if e.errno in HELD else None
                os.close(fd)
                if error is not None:
                    raise error from None
                warnings.warn(f"{self.path}: the file system refuses locks ({e.strerror}); training unlocked",
                              stacklevel=3)
                return
            # The previous holder may have removed the file between our open and our flock: we would then
            # hold a lock on a file nobody else sees, so take the file that is there now instead.
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            self.path.unlink(missing_ok=True)  # while still holding it: see _acquire
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()

    def __del__(self):
        try:
            self.release()
        except Exception:  # noqa: BLE001 - at interpreter exit os may be gone; the kernel drops the lock anyway
            pass


def open_for_writing(run, fresh: bool) -> RunLock:
    """Lock ``run`` for a training, then remove what killed writers left behind: temporary files, and
    the previous checkpoint once the current one loads (everything of an old run when ``fresh``)."""
    lock = RunLock(run)
    try:
        remove_stale_files(lock.run, fresh)
    except BaseException:
        lock.release()
        raise
    return lock
