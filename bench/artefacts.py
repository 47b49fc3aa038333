"""Set-up artefacts cached across processes, keyed by content: what a case costs to build is paid once per machine.

A compressed variant that takes seconds to make (a distilled student, a fine-tuned pruned model, an ONNX export and
its int8 quantization) is stored under ``$BENCH_CACHE_DIR/artefacts/<kind>/`` (default
``~/.cache/bench``) and loaded by the next process that asks for the same thing. "The same thing" is a hash of
everything the result depends on:

- the **content** of the input model: every tensor of its ``state_dict`` (names, dtypes, shapes and bytes) and its
  class, so retrained reference weights or a user's edited factory never hit a stale entry;
- the method's name and parameters, the device type, and example input shapes where they shape the result;
- the versions of torch, torchao, onnx, onnxruntime and onnxscript, and a digest of the bench source file that
  makes the artefact, so an upgrade or a code change misses instead of loading something built differently.

torch.compile's own artefacts are cached by inductor itself (its FX graph and AOTAutograd caches, on by default);
the compile engine records their hits, misses and bypasses per case (frozen graphs, the engine's default, bypass
them). A PT2E ``int8-static`` graph module does not pickle, so it is calibrated again in each process. Entries are
written atomically (a killed run never leaves half a file) and start with a line holding their own name and the
sha256 of the bytes after it, checked before anything is unpickled. An entry that does not unpickle or does not
match that digest (a flipped bit, another entry's file copied over it, a FIFO or device in its place) is reported in
one warning (:class:`CacheWarning`), removed and rebuilt; one that cannot be stored (a cache folder that is a file or
read-only) is reported too, and the case goes on with what it built; a full disk, a quota or a read-only file
system is reported once, and nothing more is stored by that process. In a cache shared with other users, an entry
that may not be read (another user's, mode 600) is no damage: the warning says so, the case builds its own, and that
entry is left as it is; another user's file is never removed nor stored over, damaged or not (by anyone but
root). A temporary file a killed writer left behind (``<entry>.tmp<pid>``) is removed by the next load or store in
its folder once its writer is gone (see :func:`remove_stale_temp_files`). Entries are not ``fsync``'ed (that would
slow the store of every large model): one that a power loss or a VM reset left empty or torn fails its digest and is
rebuilt, as above.
Two processes that need the same entry at once build it once: the second waits on ``<entry>.lock`` (see
:func:`shared_entry` and :func:`building`; the empty lock file stays beside the entry) and loads what the first
stored; a wait of more than a few seconds is said, once, on stderr (:data:`WAIT_NOTICE_S`). Trained reference
weights (:mod:`bench.models._cache`) are shared the same way.
``BENCH_ARTEFACT_CACHE=0`` (or ``false``, ``no``, ``off``) turns this cache off; a value that is neither on nor off
is refused (:func:`switch_problem`). Entries are pickles of our own objects, read back with
``weights_only=False``: the folder must be yours alone (the digest finds damage; it cannot stop someone who can
write there).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import io
import json
import os
import re
import stat
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from bench.errors import BenchError, BenchWarning, one_line, os_reason, short_name, unexpanded_home

CACHE_ENV = "BENCH_CACHE_DIR"
SWITCH_ENV = "BENCH_ARTEFACT_CACHE"
T = TypeVar("T")
HEADER = b"bench-cache-entry sha256:"
"""How an entry starts: ``bench-cache-entry sha256:<hex digest of the bytes after this line> <entry's name>\\n``."""
TEMP_GRACE_S = 600.0
"""A temporary file whose writer is gone is removed once it has not been written to for this long."""
TEMP_STALE_S = 86400.0
"""A temporary file not written to for this long is removed whatever its pid says (the pid has been reused)."""
_TEMP_NAME = re.compile(r"\.tmp(\d+)\Z")


class CacheWarning(BenchWarning):
    """A cache entry was damaged or may not be read (it is rebuilt) or could not be stored (the next run builds it
    again)."""


def cache_dir() -> Path:
    """Where trained weights and artefacts live: ``$BENCH_CACHE_DIR`` or ``~/.cache/bench``; a :class:`BenchError`
    saying to set the variable when it is unset and there is no home folder (no ``$HOME`` and a user id the password
    database does not know, as in some containers; an empty ``$HOME``, which Python reads as ``/``) or the home
    folder is a relative path (``HOME=.``: the cache would move with the working folder), and when
    ``$BENCH_CACHE_DIR`` is a relative path, for the same reason: a relative one was read from whatever folder each
    process ran in (``bench gate --rerun`` runs the suites in a checkout of its own), each building its own cache."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        problem = unexpanded_home(chosen)
        if problem:  # it was told to write it as '<working folder>/~/.cache/bench'
            raise BenchError(f"${CACHE_ENV} {short_name(chosen, 60)!r}: {problem}")
        if not Path(chosen).is_absolute():
            raise BenchError(
                f"${CACHE_ENV} {short_name(chosen, 60)!r} is not an absolute path, so the cache would move with the "
                f"working folder: set it to an absolute path ({short_name(os.path.abspath(chosen), 60)!r} from here)"
            )
        return Path(chosen)
    no_home = f"${CACHE_ENV} is unset and there is no home folder for ~/.cache/bench"
    home = os.environ.get("HOME")
    if os.name == "posix" and home == "":  # not '/', nor the password database's
        raise BenchError(f"{no_home} ($HOME is empty): set ${CACHE_ENV}")
    try:
        folder = Path.home()
    except RuntimeError:  # "Could not determine home directory."
        raise BenchError(f"{no_home}: set ${CACHE_ENV}") from None
    if not folder.is_absolute():
        raise BenchError(
            f"${CACHE_ENV} is unset and $HOME {short_name(str(folder), 60)!r} is not an absolute path, so "
            f"~/.cache/bench would move with the working folder: set ${CACHE_ENV}"
        )
    return folder / ".cache" / "bench"


SWITCH_ON = ("1", "true", "yes", "on")
SWITCH_OFF = ("0", "false", "no", "off")


def switch_problem() -> str | None:
    """Why ``$BENCH_ARTEFACT_CACHE`` is neither on nor off, in one line naming it and what it may be; else ``None``.

    ``1``, ``true``, ``yes``, ``on`` (any case, spaces around ignored) turn the cache on, ``0``, ``false``, ``no``,
    ``off`` turn it off; unset or empty it is on. Anything else (``maybe``, ``2``, ``disabled``) is refused rather
    than read as one of them: a user who meant "off" must not get cached artefacts, nor one who meant "on" a run that
    builds everything again."""
    value = os.environ.get(SWITCH_ENV, "")
    if value.strip().lower() in ("", *SWITCH_ON, *SWITCH_OFF):
        return None
    return (
        f"${SWITCH_ENV} {short_name(value, 40)!r}: use {', '.join(SWITCH_ON)} to cache set-up artefacts or "
        f"{', '.join(SWITCH_OFF)} not to (unset or empty: on)"
    )


def enabled() -> bool:
    """Whether the cache is on (``$BENCH_ARTEFACT_CACHE``, see :func:`switch_problem`); a :class:`BenchError` naming
    the variable when it is neither on nor off."""
    problem = switch_problem()
    if problem:
        raise BenchError(problem)
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in SWITCH_OFF


def config_hash(config: Any) -> str:
    """A short stable hash of a JSON-able config (sorted keys; anything else by ``str``)."""
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def module_digest(module: Any) -> str:
    """The content of a model: its class and every tensor of its ``state_dict`` (name, dtype, shape, bytes).

    Objects without a ``state_dict`` (an ONNX model) are hashed by their ``model_bytes``."""
    digest = hashlib.sha256(f"{type(module).__module__}.{type(module).__qualname__}".encode())
    digest.update(_code_of(module).encode())
    if hasattr(module, "model_bytes"):
        digest.update(module.model_bytes)
        return digest.hexdigest()[:16]
    return state_digest(module.state_dict(), digest)


def state_digest(state: dict[str, Any], digest: Any = None) -> str:
    """A digest of a ``state_dict``: every entry's name, and a tensor's dtype, shape and bytes (else its repr)."""
    import torch

    digest = hashlib.sha256() if digest is None else digest
    for name, value in state.items():
        digest.update(name.encode())
        if isinstance(value, torch.Tensor):
            tensor = value.detach().to("cpu").contiguous()
            digest.update(f"{tensor.dtype}{tuple(tensor.shape)}".encode())
            # dtypes numpy lacks (bf16, fp8) are hashed through their raw bytes
            digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
        else:
            digest.update(repr(value).encode())
    return digest.hexdigest()[:16]


def _code_of(module: Any) -> str:
    """What decides a model's forward besides its tensors: a traced graph's code, else the digest of the file that
    defines its class and of every submodule's class (a user's edited ``forward`` misses the cache)."""
    import inspect

    if isinstance(getattr(module, "code", None), str):  # torch.fx GraphModule
        return module.code
    classes = {type(m) for m in module.modules()} if hasattr(module, "modules") else {type(module)}
    files = set()
    for cls in classes:
        try:
            files.add(inspect.getsourcefile(cls) or "")
        except TypeError:  # built-in
            continue
    return source_digest(*sorted(f for f in files if f))


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    """Versions of the libraries that build artefacts (absent ones are ``-``)."""
    from importlib import metadata

    versions = {}
    for name in ("torch", "torchao", "onnx", "onnxruntime", "onnxscript"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "-"
    return versions


@functools.lru_cache(maxsize=64)
def source_digest(*paths: str) -> str:
    """A digest of the source files that make an artefact."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def load_or_make(kind: str, key: dict[str, Any], make: Callable[[], T]) -> tuple[T, dict[str, Any]]:
    """``make()``'s result for ``key``, from ``$BENCH_CACHE_DIR/artefacts/<kind>/`` when an earlier process made it.

    Returns the value and what to record: ``artefact_cache`` (``hit``, ``miss`` or ``off``), the file, and the
    seconds loading or making took."""
    import torch

    if not enabled():
        return make(), {"artefact_cache": "off"}
    full_key = {**key, "versions": library_versions()}
    path = cache_dir() / "artefacts" / kind / f"{config_hash(full_key)}.pt"
    start = time.perf_counter()
    loader = functools.partial(torch.load, map_location="cpu", weights_only=False)
    with shared_entry(path, lambda: load_entry(path, loader)) as value:
        if value is None:
            value = make()
            made_s = time.perf_counter() - start
            # an unpicklable artefact or a full disk costs the cache, not the case
            return value, {"artefact_cache": "miss", "artefact_file": store(value, path), "artefact_make_s": made_s}
    load_s = time.perf_counter() - start
    return value, {"artefact_cache": "hit", "artefact_file": str(path), "artefact_load_s": load_s}


@contextlib.contextmanager
def shared_entry(path: Path, load: Callable[[], T | None]) -> Iterator[T | None]:
    """The entry at ``path`` as ``load()`` reads it, or ``None`` for the caller to make and store it inside the
    ``with``: when the entry is missing, the lock of :func:`building` is held meanwhile, and after waiting for
    another process that held it, what that process stored is loaded instead."""
    value = load()
    if value is not None:
        yield value
        return
    with building(path) as waited:
        yield load() if waited else None


BUILD_WAIT_S = 900.0
"""How long a process waits for another one that is building the same entry (:func:`building`) before it builds
the entry itself."""
WAIT_NOTICE_S = 5.0
"""How long :func:`building` waits for another process's lock without a word; past it, :data:`notice` says once
what it waits for and for how long at most."""


def _to_stderr(line: str) -> None:
    with contextlib.suppress(OSError, ValueError):  # a closed or broken stderr: the wait goes on all the same
        print(line, file=sys.stderr, flush=True)


notice: Callable[[str], None] = _to_stderr
"""Where a wait for another process is said (:func:`building`): one line on stderr. Under a suite run the plugin puts
its own here, which writes past pytest's output capture (it would hold the line until the case failed) and the
progress line."""


@contextlib.contextmanager
def building(path: Path) -> Iterator[bool]:
    """Hold ``<entry>.lock`` while the entry at ``path`` is made; yields whether another process held it first.

    Two runs started side by side (two suites in two terminals, a CI matrix on one machine) used to build every
    entry they shared twice: a static int8 calibration, a distillation, an ONNX export. Now the second waits for the
    first and, told it waited, loads what the first stored. The lock is the operating system's (``filelock``):
    a killed holder, even by ``kill -9``, releases it. A lock that cannot be taken (a read-only cache, another
    user's lock file) or that is held beyond :data:`BUILD_WAIT_S` costs only the sharing: the entry is made anyway.
    Once the cache refused a store for good (:data:`CACHE_WIDE_ERRORS`), no lock is taken: there is nothing to share.
    A wait longer than :data:`WAIT_NOTICE_S` is said once (:func:`_wait_for`): it was silent for up to 15 minutes.
    """
    from filelock import FileLock, Timeout

    if _cache_refused:  # nothing will be stored (a full disk): nothing to share, no lock file
        yield False
        return
    lock = FileLock(f"{path}.lock")
    waited = False
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            waited = True
            _wait_for(lock)
    except (OSError, Timeout):  # no sharing, never no entry
        yield waited
        return
    try:
        yield waited
    finally:
        lock.release()


def _wait_for(lock: Any) -> None:
    """Take ``lock``, which another process holds, within :data:`BUILD_WAIT_S` in all (else ``filelock.Timeout``),
    saying once through :data:`notice`, after :data:`WAIT_NOTICE_S`, which lock file it waits for, that another
    process holds it, and the longest it waits: ``cache: waiting for ~/.cache/bench/cnn-products/1f0c….pt.lock:
    another process holds it while it builds the same entry; this run waits up to 15 min for it, then builds the
    entry itself``."""
    from filelock import Timeout

    quiet = min(WAIT_NOTICE_S, BUILD_WAIT_S)
    try:
        lock.acquire(timeout=quiet)
        return
    except Timeout:
        if quiet == BUILD_WAIT_S:  # a wait too short to be worth a word is over
            raise
    longest = f"{BUILD_WAIT_S / 60:g} min" if BUILD_WAIT_S >= 120 else f"{BUILD_WAIT_S:g} s"
    notice(
        f"cache: waiting for {short_name(str(lock.lock_file), 160)}: another process holds it while it builds the "
        f"same entry; this run waits up to {longest} for it, then builds the entry itself"
    )
    lock.acquire(timeout=BUILD_WAIT_S - quiet)


def load_entry(path: Path, load: Callable[[BinaryIO], T], *, accept_undigested: bool = False) -> T | None:
    """The cache entry at ``path`` as ``load`` reads it from a binary file, or ``None`` when there is none (entries
    are never ``None``).

    An entry starts with a line naming it and holding the sha256 of the bytes after it (:data:`HEADER`), checked
    before ``load`` sees any of them. An entry that does not match that line (a flipped bit, another entry's file
    copied over it), that ``load`` cannot read or refuses by raising (truncated, zero bytes, random bytes, another
    config's), or that is not a regular file (a FIFO or a device in its place, never read) is reported in one
    :class:`CacheWarning` and removed, so that it is rebuilt and never trusted. One written before entries had a
    digest is rebuilt once too, with its own warning, unless ``accept_undigested`` (then ``load`` reads it as it is
    and must check it: trained weights carry a digest of their tensors). An entry that may not be opened for reading
    (another user's, mode 600, in a shared cache) is not called damaged: ``cannot be read (permission denied): this
    run builds it itself and leaves the entry as it is``. Another user's file is never removed, nor stored over by
    :func:`store` (its warning says whose it is). A path that cannot even be looked at (a
    name too long, a cache folder that is a file) or that is a folder is no entry: storing there reports it. Stale
    temporary files in the folder are removed first (:func:`remove_stale_temp_files`)."""
    remove_stale_temp_files(path.parent)
    _left_as_is.pop(str(path), None)
    try:
        found = path.lstat()
        if stat.S_ISDIR(path.stat().st_mode):  # no entry: storing there says so (see store)
            return None
    except OSError:  # none there, a dangling link, a name too long, a cache folder that is a file
        return None
    try:
        return _read_entry(path, load, accept_undigested)
    except _Unreadable as err:
        _left_as_is[str(path)] = f"the entry in its place cannot be read ({err}) and is left as it is"
        _warn(path, f"cannot be read ({err}): this run builds it itself and leaves the entry as it is")
        return None
    except _Undigested:
        what = "entry without a digest (written by an older bench), rebuilt"
    except Exception as err:
        what = f"damaged entry, rebuilt ({one_line(err, 120)})"
    owner = _owner_if_not_ours(found)
    if owner is not None:  # another user's file: never ours to remove, nor to store over (see store)
        _left_as_is[str(path)] = f"the entry in its place is {owner}'s and is left as it is"
        _warn(path, f"{what}; it is {owner}'s, so it is left as it is")
        return None
    _warn(path, what)
    with contextlib.suppress(OSError):
        path.unlink()
    return None


_left_as_is: dict[str, str] = {}
"""Entries :func:`load_entry` could not use and left as they are (another user's, or unreadable), with why: what
:func:`store` records instead of storing over them (the load's warning already said so)."""


def _owner_if_not_ours(found: os.stat_result) -> str | None:
    """``uid N`` when a file belongs to another user than the one running bench, else ``None`` (also for root, who
    may remove anyone's file, and where users cannot be told apart: not POSIX)."""
    ours = getattr(os, "geteuid", None)
    if ours is None or ours() == 0:  # root may remove anyone's (a container's root and a bind-mounted cache)
        return None
    return None if found.st_uid == ours() else f"uid {found.st_uid}"


class _Unreadable(Exception):
    """An entry that may not be opened for reading (another user's, mode 600, in a shared cache)."""


class _Undigested(Exception):
    """An entry in the format from before entries had a digest."""


def _read_entry(path: Path, load: Callable[[BinaryIO], T], accept_undigested: bool) -> T:
    # O_NONBLOCK: a FIFO in the entry's place must not hang the open; what the file is is known before any read
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except PermissionError as err:  # not damage: another user's entry, readable by them only
        raise _Unreadable(os_reason(err)) from None
    with open(fd, "rb") as file:
        mode = os.fstat(file.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"it is a {_file_type(mode)}, not a regular file")
        first = file.readline(len(HEADER) + 64 + 2 + 400)
        if first.startswith(HEADER):
            data = file.read()
            digest, _, name = first[len(HEADER) :].rstrip(b"\n").partition(b" ")
            if not first.endswith(b"\n") or hashlib.sha256(data).hexdigest().encode() != digest:
                raise ValueError("its bytes do not match the digest stored with them")
            if name != os.fsencode(path.name):
                raise ValueError(f"it holds another entry ({short_name(name.decode(errors='replace'), 60)})")
            return load(io.BytesIO(data))
        if accept_undigested:
            file.seek(0)
            return load(file)
        if first.startswith(b"PK\x03\x04"):  # a torch.save archive: how entries were written before the digest
            raise _Undigested
        raise ValueError("it is empty" if not first else "it does not start with the digest of its bytes")


def _file_type(mode: int) -> str:
    kinds = {stat.S_ISFIFO: "FIFO", stat.S_ISCHR: "character device", stat.S_ISBLK: "block device"}
    return next((name for test, name in kinds.items() if test(mode)), "special file")


def store(value: Any, path: Path) -> str:
    """:func:`save_atomic`, or when that fails one :class:`CacheWarning`; returns what to record: the file, or
    ``not stored: <why>``. A folder in the entry's place is never removed (it may hold someone's files): the warning
    says that every run builds the entry again until it is. Nor is another user's file, or an entry
    :func:`load_entry` could not read, replaced: ``not stored: the entry in its place is uid N's and is left as it
    is`` (without a second warning where the load reported that entry already). Stale temporary files in the folder
    are removed first (:func:`remove_stale_temp_files`)."""
    remove_stale_temp_files(path.parent)
    left = _left_as_is.pop(str(path), None)
    if left is not None and os.path.lexists(path):  # load_entry said so already
        return f"not stored: {left}"
    if _cache_refused:  # the file system refused the cache as a whole: said once, not tried for every entry
        return f"not stored: {_cache_refused[0]}"
    owner = _another_user_s_entry(path)
    if owner is not None:  # it appeared since the load: never replaced, it is not ours
        why = f"the entry in its place is {owner}'s and is left as it is"
        _warn(path, f"not stored, {why}")
        return f"not stored: {why}"
    try:
        save_atomic(value, path)
    except Exception as err:
        if _is_folder(path):  # never removed: it may hold someone's files
            why = "a folder is in its place"
            _warn(path, f"not stored, {why}: every run builds it again until that folder is removed")
        elif isinstance(err, OSError) and err.errno in CACHE_WIDE_ERRORS:
            why = os_reason(err)
            _cache_refused.append(why)
            _warn(
                path, f"not stored ({why}); nothing more is stored in the cache by this process, which goes on uncached"
            )
        else:
            why = one_line(err, 160)
            _warn(path, f"not stored, the next run builds it again ({why})")
        return f"not stored: {why}"
    return str(path)


CACHE_WIDE_ERRORS = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EROFS") if hasattr(errno, name))
"""Refusals of a store that hold for the whole cache (a full disk, a quota, a read-only file system), not one entry:
after the first, :func:`store` stores nothing more in this process, so a run on a full disk warns once and spends no
time serialising entries that cannot be written."""
_cache_refused: list[str] = []


def _another_user_s_entry(path: Path) -> str | None:
    """``uid N`` when a file (not a folder) that another user owns is in the entry's place, else ``None``."""
    try:
        found = path.lstat()
    except OSError:
        return None
    return None if stat.S_ISDIR(found.st_mode) else _owner_if_not_ours(found)


def _is_folder(path: Path) -> bool:
    try:
        return stat.S_ISDIR(path.stat().st_mode)
    except OSError:
        return False


def _warn(path: Path, what: str) -> None:
    warnings.warn(f"cache {short_name(str(path), 120)}: {what}", CacheWarning, stacklevel=3)


def save_atomic(value: Any, path: Path) -> None:
    """``torch.save`` after a line naming the entry and holding the sha256 of what follows (:data:`HEADER`; the
    entry is made in memory first), written to a temporary file beside ``path`` (``<entry>.tmp<pid>``), then
    renamed: a concurrent or killed run never sees half a file, and a failed save leaves nothing behind (what a
    killed one leaves is removed later by :func:`remove_stale_temp_files`)."""
    import torch

    buffer = io.BytesIO()
    torch.save(value, buffer)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with buffer.getbuffer() as data, open(tmp, "wb") as file:
            file.write(HEADER + hashlib.sha256(data).hexdigest().encode() + b" " + os.fsencode(path.name) + b"\n")
            file.write(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def remove_stale_temp_files(folder: Path) -> None:
    """Remove the temporary files that killed writers left in ``folder`` (``<entry>.tmp<pid>``, never renamed).

    One is stale when no process on this machine has its pid and it has not been written to for
    :data:`TEMP_GRACE_S` (a writer on another machine or in another container sharing the folder has a pid that
    means nothing here, but it writes its file within seconds), or when it has not been written to for
    :data:`TEMP_STALE_S` whatever its pid says (that pid is another process's by now). A file a live writer is
    writing is never removed, nor another user's (a shared cache: theirs to clean up). Nothing here fails or warns:
    the folder may be absent or unreadable."""
    now = time.time()
    try:
        with os.scandir(folder) as entries:
            found = [(entry, int(match[1])) for entry in entries if (match := _TEMP_NAME.search(entry.name))]
    except OSError:
        return
    for entry, pid in found:
        with contextlib.suppress(OSError):
            info = entry.stat(follow_symlinks=False)
            if _owner_if_not_ours(info) is not None:
                continue
            idle = now - info.st_mtime
            if idle > TEMP_STALE_S or (idle > TEMP_GRACE_S and not _running(pid)):
                os.unlink(entry.path)


def _running(pid: int) -> bool:
    """Whether a process on this machine has this pid; True where that cannot be told (not POSIX)."""
    if os.name != "posix":
        return True
    if pid <= 0:  # no process has it (and kill(0) would ask about our own process group)
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True
