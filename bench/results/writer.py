"""Writing a run that survives a crash: :class:`RunWriter` appends and ``fsync``s each case's record and samples, and
holds Ctrl-C and SIGTERM while one is being saved."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from bench.durable import NO_LOCKS, write_atomic
from bench.errors import BenchError, os_reason
from bench.hardware import this_process
from bench.results.reading import _read_jsonl, _suite_names
from bench.results.record import SCHEMA_VERSION, Record

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Replace ``path`` by ``payload`` as JSON, whole and on disk before returning (:func:`write_atomic`): a power
    loss or a VM reset right after a run finished leaves its ``meta.json`` ``finished``, never empty or missing."""
    write_atomic(path, json.dumps(payload, indent=2, default=str).encode("utf-8"))


class RunBusyError(BenchError):
    """Another process is writing the run (two ``bench run --resume`` of one run started at once)."""


def drop_cut_short_line(path: Path) -> None:
    """Drop the last line of ``path`` when a kill cut it short (no newline at the end of the file, and not JSON): an
    append would glue a record to it. A whole line that lacks only its newline (a hand edit) is read as any other
    (:func:`_read_jsonl`): its case counts as done, so it gets its newline, never dropped (that lost the case).
    Only the file's last line is read (from its end, :func:`_last_line_start`): a large run's samples file, hundreds
    of MB, is not read into memory for every resumption."""
    if not path.is_file():
        return
    with open(path, "rb") as handle:  # read only: a file that needs nothing is never opened for writing
        end = handle.seek(0, os.SEEK_END)
        if end == 0:
            return
        handle.seek(end - 1)
        if handle.read(1) == b"\n":
            return
        start = _last_line_start(handle, end)
        handle.seek(start)
        last = handle.read(end - start)
    try:
        json.loads(last.decode("utf-8-sig"))
        whole = True
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        whole = False
    except ValueError:  # JSON whole, but an integer of thousands of digits: kept, and read as a damaged line
        whole = True
    with open(path, "r+b") as handle:
        if whole:
            handle.seek(0, os.SEEK_END)
            handle.write(b"\n")
        else:
            handle.truncate(start)


TAIL_CHUNK = 1 << 16
"""How much of a file :func:`_last_line_start` reads at a time, going back from its end."""


def _last_line_start(handle, end: int) -> int:
    """Where the last line of the open binary file ``handle`` (``end`` bytes long) starts: just after its last
    newline, or 0 for a file of one line; read backwards, :data:`TAIL_CHUNK` bytes at a time."""
    position = end
    while position > 0:
        size = min(TAIL_CHUNK, position)
        position -= size
        handle.seek(position)
        found = handle.read(size).rfind(b"\n")
        if found >= 0:
            return position + found + 1
    return 0


def _hold(handle, path: Path) -> None:
    """Take the run for this writer: an exclusive lock on its open ``records.jsonl``, which the system releases when
    the writer closes it or its process dies however it dies (``kill -9`` included). Where there is no ``flock``
    (Windows) or the file system refuses locks (:data:`bench.durable.NO_LOCKS`: NFS without its lock daemon), the
    ``meta.json`` status check alone guards the run, and :func:`bench.resume.reopen` checks what the run holds."""
    if fcntl is None:  # no flock (Windows): the meta.json status check alone guards the run
        return
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        try:
            process = json.loads((path / "meta.json").read_text(encoding="utf-8-sig")).get("process") or {}
        except (OSError, ValueError, AttributeError):
            process = {}
        who = f" (pid {process.get('pid')} on {process.get('host')})" if isinstance(process, dict) and process else ""
        raise RunBusyError(f"--resume {path.name!r}: another process is writing the run{who}; stop it first") from None
    except OSError as err:  # a file system that refuses locks: the run goes on unlocked, as on Windows
        if err.errno not in NO_LOCKS:
            raise


STOP_KEYS = ("stopped_by", "stop_reason")
"""What ``meta.json`` says stopped an interrupted run; a resumption clears them (its own stop, if any, sets them)."""


class ResultsWriteError(BenchError):
    """A run's file could not be written (a full disk, a read-only or removed folder): the run stops there, and the
    cases it wrote before are kept."""


class RunWriter:
    """Appends records and samples for one run; every append is flushed and fsync'ed before returning.

    ``resume=True`` reopens a stopped run (``bench run --resume``): a line its kill cut short is dropped, ``meta``
    updates its metadata, and counts and times carry on from what the run holds. A writer holds its run while it is
    open: a second writer of the same run (two resumptions started at once) gets a :class:`RunBusyError` before it
    writes anything. ``check``, on a reopened run, is called with its ``meta.json`` and the cases (``suite::case_id``)
    its records hold once the writer holds the run, before anything is written: it raises to refuse the run (one that
    another resumption wrote to since the caller looked at it, :func:`bench.resume.reopen`).

    A write the file system refuses (a full disk, a read-only folder) raises :class:`ResultsWriteError` naming the
    file: the case's half-written lines are taken back (it is all there or not at all), every later append raises
    it too, and :attr:`write_error` keeps its text. A run folder removed while the run goes on (``rm -rf
    results/<run>``) raises it after the case is appended to the files the writer holds open, and :meth:`close`
    writes them back: no measured case is lost. A new run that cannot write its first ``meta.json`` removes the
    folder it made, so that no empty run is left to read as damaged and its id stays free. A new run writes its
    ``meta.json`` before any other file: a kill at any moment leaves a run that reads as ``killed`` and may be
    resumed, never a folder of empty files without one (see :data:`EMPTY_RUN` for those an earlier bench left)."""

    def __init__(
        self,
        results_dir: str | os.PathLike[str],
        run_id: str,
        meta: dict[str, Any],
        resume: bool = False,
        check: Callable[[dict[str, Any], frozenset[str]], None] | None = None,
    ):
        self.run_id = run_id
        self.path = Path(results_dir) / run_id
        self.counts: dict[str, int] = {"ok": 0, "failed": 0, "skipped": 0}
        self.closed = False
        self.write_error: str | None = None
        """What stopped the writes: ``cannot write <file>: <why>``; ``None`` while every write succeeded."""
        self.close_error: str | None = None
        """What :meth:`close` could not write (the final ``meta.json``), or ``None``."""
        self.removed = False
        """Whether the run's folder was found removed (then written back by :meth:`close`)."""
        self.kept_in: Path | None = None
        """Where :meth:`close` wrote a removed run back: its own folder, or, when that was refused too, a new folder
        in the system's temporary folder; ``None`` when it could be written nowhere."""
        self._carried: dict[str, Any] = {}
        if not resume:
            self.path.mkdir(parents=True, exist_ok=False)
        try:
            self._open(meta, resume, check)
        except BaseException:
            for handle in (getattr(self, "_records", None), getattr(self, "_samples", None)):
                if handle is not None:
                    handle.close()
            if not resume:  # nothing was measured: the half-made run would be read as damaged and hold its id
                with suppress(OSError):
                    for name in ("records.jsonl", "samples.jsonl", "meta.tmp", "meta.json"):  # meta.json last
                        (self.path / name).unlink(missing_ok=True)
                    self.path.rmdir()
            raise

    def _open(self, meta: dict[str, Any], resume: bool, check: Callable[..., None] | None) -> None:
        if resume:
            self._hold_records()
            for name in ("records.jsonl", "samples.jsonl"):
                drop_cut_short_line(self.path / name)
            previous = json.loads((self.path / "meta.json").read_text(encoding="utf-8-sig"))
            rows = _read_jsonl(self.path / "records.jsonl", suites=_suite_names(previous))
            if check is not None:
                check(previous, frozenset(f"{row['suite']}::{row['case_id']}" for row in rows))
            for row in rows:
                self.counts[row["status"]] = self.counts.get(row["status"], 0) + 1
            carry = ("wall_time_s", "measure_time_s", "phase_time_s")
            self._carried = {k: previous[k] for k in carry if k in previous}
            # what stopped the earlier part describes that part only (bench.resume keeps it in its resumed entry)
            kept = {k: v for k, v in previous.items() if k not in self._carried and k not in STOP_KEYS}
            meta = {**kept, **meta}
        self.meta = {"run_id": self.run_id, "schema_version": SCHEMA_VERSION, **meta, "status": "running"}
        self.meta["process"] = this_process()  # a reader seeing 'running' checks that this process still exists
        try:
            _write_json_atomic(self.path / "meta.json", self.meta)
        except OSError as err:  # named: a refused write has no file name of its own (a full disk)
            raise OSError(err.errno, err.strerror, str(self.path / "meta.json")) from None
        if not resume:  # after meta.json: a kill between the two leaves a run read as killed, not a nameless folder
            self._hold_records()
        self._samples = open(self.path / "samples.jsonl", "a+b", buffering=0)  # noqa: SIM115

    def _hold_records(self) -> None:
        # binary and unbuffered: a refused write leaves nothing pending that a later flush or the close would write
        self._records = open(self.path / "records.jsonl", "a+b", buffering=0)  # noqa: SIM115
        _hold(self._records, self.path)

    @property
    def saved(self) -> int:
        """How many cases the run holds (those of an earlier part of a resumed run included)."""
        return sum(self.counts.values())

    def append(self, record: Record, samples_ms: list[float] | None = None) -> None:
        """Write one case: its samples' line, then its record's. A Ctrl-C or SIGTERM arriving meanwhile (serialising
        a million samples takes a while) waits until both are written and the case counted (:func:`signals_held`),
        then acts as it would have: a case measured in full is never lost because the stop came as it was saved."""
        if self.write_error is not None:
            raise ResultsWriteError(self.write_error)
        with signals_held():
            self._append(record, samples_ms)

    def _append(self, record: Record, samples_ms: list[float] | None) -> None:
        self.removed = self._removed()  # the case still goes to the files held open, which close() writes back
        lines = []
        if samples_ms:
            lines.append((self._samples, {"case_id": record.case_id, "suite": record.suite, "samples_ms": samples_ms}))
        lines.append((self._records, dataclasses.asdict(record)))
        ends = [os.fstat(handle.fileno()).st_size for handle, _ in lines]
        for handle, payload in lines:
            try:
                self._write_line(handle, payload)
            except OSError as err:  # the case is all there or not at all (--resume measures it again)
                for (written, _), end in zip(lines, ends, strict=True):
                    with suppress(OSError):
                        written.truncate(end)
                self.write_error = f"cannot write {handle.name}: {os_reason(err)}"
                raise ResultsWriteError(self.write_error) from None
        self.counts[record.status] += 1
        if self.removed:
            self.write_error = f"{self.path} was removed during the run"
            raise ResultsWriteError(self.write_error)

    def _removed(self) -> bool:
        """Whether the run's ``records.jsonl`` was removed (with its folder) since the writer opened it."""
        try:
            return os.fstat(self._records.fileno()).st_nlink == 0
        except OSError:
            return False

    @staticmethod
    def _write_line(handle, payload: dict[str, Any]) -> None:
        try:
            line = json.dumps(payload, default=str, allow_nan=False)
        except (ValueError, TypeError):  # NaN or infinity: null, "not measured"; a key JSON cannot hold: its text
            line = json.dumps(json_safe(payload), default=str)
        data = memoryview((line + "\n").encode("utf-8"))
        while data:  # an unbuffered write may take part of it
            data = data[handle.write(data) :]
        os.fsync(handle.fileno())

    def close(self, status: str, **extra: Any) -> None:
        """Write the run's final ``meta.json`` (``status``, counts, ``extra``). A Ctrl-C or SIGTERM arriving meanwhile
        (a second Ctrl-C while the first one stops the run) waits until it is written, then acts as it would have:
        the run never stays ``running`` because it came at that moment. A run folder removed during the run is
        written back first. What cannot be written is not raised: :attr:`close_error` says what it was, and the
        ``meta.json`` the run started with stays whole."""
        with signals_held():
            try:
                if self._removed():  # after the last append: every case is written back, and bench run says so
                    self.removed = True
                    self._write_back()
            finally:
                self._records.close()
                self._samples.close()
            carried = {k: _add(extra[k], self._carried[k]) for k in self._carried if k in extra}
            self.meta.update(status=status, counts=self.counts, **{**extra, **carried})
            folder = self.kept_in if self.removed else self.path  # None: the removed run could go nowhere
            if folder is not None:
                try:
                    _write_json_atomic(folder / "meta.json", self.meta)
                except OSError as err:
                    self.close_error = self.close_error or f"cannot write {folder / 'meta.json'}: {os_reason(err)}"
            self.closed = True

    def _write_back(self) -> None:
        """Write a removed run folder back from the files the writer still holds open; where its own place refuses
        them (a full disk, often why a folder is removed), into a new folder of the system's temporary folder
        (:attr:`kept_in`): no measured case is dropped while some place can take it."""
        try:
            self._copy_into(self.path)
            self.kept_in = self.path
            return
        except OSError as err:
            where = getattr(err, "filename", None) or self.path
            self.close_error = f"cannot write {where} back: {os_reason(err)}"
        try:
            rescue = Path(tempfile.mkdtemp(prefix=f"bench-{self.run_id}-"))
            self._copy_into(rescue)
            self.kept_in = rescue
        except OSError:
            self.kept_in = None

    def _copy_into(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for handle in (self._records, self._samples):
            handle.seek(0)
            with open(folder / Path(handle.name).name, "xb") as copy:  # never over a file someone made there since
                shutil.copyfileobj(handle, copy)  # a piece at a time: a run's samples may be gigabytes
                copy.flush()
                os.fsync(copy.fileno())


HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


@contextmanager
def signals_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM while the block runs, then deliver the first that arrived to the handler it would
    have reached (Ctrl-C's KeyboardInterrupt, bench's SIGTERM handler, or the default action). Only the main thread
    receives signals: elsewhere the block just runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    # an ignored signal needs no holding, and one a handler outside Python took (None) could not be given back
    previous = {n: h for n in HELD_SIGNALS if (h := signal.getsignal(n)) not in (signal.SIG_IGN, None)}
    try:
        for signum in previous:
            signal.signal(signum, lambda number, frame: arrived.append(number))
        yield
    finally:
        _restore(list(previous.items()))
        if arrived:
            signal.raise_signal(arrived[0])


def _restore(handlers: list[tuple[int, Any]]) -> None:
    """Put back each signal's handler, each in its own ``finally``: a Ctrl-C that reaches a handler already put back
    still lets the others be restored (a SIGTERM left on the holding handler would be swallowed for the rest of the
    run)."""
    if handlers:
        (signum, handler), rest = handlers[0], handlers[1:]
        try:
            signal.signal(signum, handler)
        finally:
            _restore(rest)


def _add(new: Any, old: Any) -> Any:
    """A resumed run's totals: numbers add up, and so do mappings of numbers (seconds per phase), key by key."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: _add(new.get(k, 0.0), old.get(k, 0.0)) for k in {**old, **new}}
    if isinstance(new, (int, float)) and isinstance(old, (int, float)):
        return new + old
    return new


def json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinity (nested in lists and dicts too) as ``None``: strict JSON, "not measured";
    a mapping key JSON cannot hold (a factory parameter's ``{2024-01-01: a}`` reads as a date) becomes its text."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return {_json_key(k): json_safe(v) for k, v in value.items()} if isinstance(value, dict) else value


def _json_key(key: Any) -> Any:
    """A mapping key as JSON holds it: text, a finite number, a flag or null as they are, anything else as text."""
    if key is None or isinstance(key, (str, bool, int)) or (isinstance(key, float) and math.isfinite(key)):
        return key
    return str(key)


# ----------------------------------------------------------------------------------------------- reading
