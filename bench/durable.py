"""Writes that survive a power loss or a VM reset, not only a killed process.

A file written then renamed into place (``os.replace``) is atomic for every reader while the machine runs, but the
system may put the rename on disk before the file's bytes: after a power loss the file can be there and empty, or
the rename lost. :func:`write_atomic` writes the bytes, ``fsync``\\ s them, renames, then ``fsync``\\ s the folder
that holds the new name (where the system allows a folder to be ``fsync``\\ ed), as a run's records are appended.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import time
import warnings
from contextlib import suppress
from pathlib import Path
from typing import NamedTuple

from bench.errors import BenchError, BenchWarning

try:
    import fcntl
except ImportError:  # Windows: nothing is locked there
    fcntl = None

NO_LOCKS = frozenset(
    getattr(errno, name) for name in ("ENOLCK", "EOPNOTSUPP", "ENOTSUP", "ENOSYS") if hasattr(errno, name)
)
"""What ``flock`` answers on a file system that cannot lock files (NFS without its lock daemon: "no locks
available"; some FUSE and network file systems): a run there goes on without the lock, as where there is no
``flock`` at all (Windows), rather than being refused; a promotion of a baseline is refused in one line (two at once,
unserialised, would lose a half: :func:`bench.gate.history._take`)."""


def take_lock(
    fd: int,
    name: str | os.PathLike[str],
    wait_s: float,
    *,
    waiting: str,
    hung: str,
    undone: str,
    again: str,
    category: type[Warning] = BenchWarning,
) -> OSError | None:
    """Lock the open file (or folder) ``fd``, called ``name``, exclusively for this process (``flock``; the caller
    checks that there is one). Another process holding it is waited for, saying so in one warning (``{name}:
    {waiting}; waiting for it (at most {wait_s} s)``), at most ``wait_s``, then refused in one line: ``{name}: another
    process has held it for {wait_s} s ({hung}); {undone}: end that process, then {again}``. Waiting for ever
    without a word behind a process that hangs (stopped with Ctrl-Z) is never done. Returns the ``OSError`` a file
    system that refuses locks answered (:data:`NO_LOCKS`), nothing locked: the caller says whether it may go on."""
    deadline, warned = time.monotonic() + wait_s, False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise BenchError(
                    f"{name}: another process has held it for {wait_s:g} s ({hung}); {undone}: end that process, "
                    f"then {again}"
                ) from None
        except OSError as err:
            if err.errno in NO_LOCKS:
                return err
            raise
        if not warned:
            warned = True
            warnings.warn(f"{name}: {waiting}; waiting for it (at most {wait_s:g} s)", category, stacklevel=3)
        time.sleep(0.05)


def fsync_folder(folder: str | os.PathLike[str]) -> None:
    """Put the entries of ``folder`` on disk (a rename or a new file in it). Where a folder cannot be opened or
    ``fsync``\\ ed (Windows; a file system that refuses it) there is nothing more to do: the rename is as durable as
    that system makes it."""
    flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0)
    try:
        handle = os.open(folder, flags)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_synced(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) and ``fsync`` it before returning."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def write_atomic(path: str | os.PathLike[str], data: bytes, tmp: str | os.PathLike[str] | None = None) -> None:
    """Replace ``path`` by ``data`` so that a reader, a kill or a power loss finds the old file or the new one whole:
    written to ``tmp`` (default ``<path>.tmp``) and ``fsync``\\ ed, renamed over ``path``, then the folder
    ``fsync``\\ ed. A write the file system refuses (a full disk) leaves ``path`` as it was and removes ``tmp``."""
    path = Path(path)
    tmp = Path(tmp) if tmp is not None else path.with_suffix(".tmp")
    try:
        write_synced(tmp, data)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)


REPLACE_TRIES = 10
"""How many times :func:`replace_folder` moves aside a folder that another writer put in the place meanwhile before it
gives up (each time, that writer has finished, whole: only a stream of writers of one folder gets that far)."""
TAKEN = frozenset(getattr(errno, name) for name in ("ENOTEMPTY", "EEXIST") if hasattr(errno, name))
"""What a rename onto a folder that is there and holds files answers (Linux: "Directory not empty")."""


def replace_folder(staging: str | os.PathLike[str], folder: str | os.PathLike[str]) -> None:
    """Put the written folder ``staging`` in the place of ``folder`` (an earlier version of it, or none) by two
    renames: the earlier one is moved aside (``.<name>.old<pid>``), ``staging`` takes its place, the parent folder
    is ``fsync``\\ ed, and only then is the earlier one deleted. A reader never finds the folder half written or
    half deleted; a rename the file system refuses puts the earlier folder back and raises its ``OSError``.

    Two writers of one folder at once (two ``bench report`` of one run) both succeed: where another writer's folder
    took the place between the two renames, that one is moved aside in turn (the earlier one it replaced is
    deleted), and the last writer to finish stands there, whole (it was: ``Directory not empty``)."""
    folder = Path(folder)
    old = folder.with_name(f".{folder.name}.old{os.getpid()}")
    aside = False
    for tries_left in range(REPLACE_TRIES - 1, -1, -1):
        if aside:  # superseded: the folder another writer put in the place since is newer
            shutil.rmtree(old, ignore_errors=True)
        try:
            os.rename(folder, old)
            aside = True
        except FileNotFoundError:
            pass
        try:
            os.rename(staging, folder)
            break
        except OSError as err:
            if err.errno in TAKEN and tries_left and os.path.isdir(folder):
                continue  # another writer's folder took the place meanwhile: the last one to finish wins
            if aside:
                with suppress(OSError):  # where another writer's folder stands now, it stays
                    os.rename(old, folder)
            raise
    fsync_folder(folder.parent)  # the swap is on disk before the earlier folder is deleted
    if aside:
        shutil.rmtree(old, ignore_errors=True)


LEFTOVER = re.compile(r"\.(?P<name>.+)\.(?P<kind>tmp|old)(?P<pid>\d+)")
"""The name of what writing a folder by :func:`replace_folder` leaves beside it while it runs (a report, a baseline):
its staging folder (``.<name>.tmp<pid>``) and, for an instant, the earlier folder moved aside (``.<name>.old<pid>``).
"""


class Leftover(NamedTuple):
    """A writer's leftover folder beside the folder it writes (:data:`LEFTOVER`)."""

    path: Path
    name: str
    """The name of the folder it was written for."""
    kind: str
    """``tmp`` (the staging folder) or ``old`` (the earlier folder moved aside)."""
    pid: int
    """The writer's process id."""


def leftovers(parent: Path, name: str = "*") -> list[Leftover]:
    """The leftover folders (:data:`LEFTOVER`) in ``parent`` written for ``name`` (for any folder by default), sorted
    by path. Only folders, never a link, are a writer's: a file of such a name is not, and is never put back. Raises
    as listing ``parent`` does."""
    found = []
    for path in sorted(parent.glob(f".{name}.*")):
        match = LEFTOVER.fullmatch(path.name)
        if match and path.is_dir() and not path.is_symlink() and name in ("*", match["name"]):
            found.append(Leftover(path, match["name"], match["kind"], int(match["pid"])))
    return found
