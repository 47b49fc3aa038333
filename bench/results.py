"""Results: the versioned record schema, an append-only crash-safe store, and loading into pandas.

Layout of one run, ``results/<run_id>/``:

* ``meta.json`` -- the run: id, status (``running`` / ``finished`` / ``interrupted``), suites, environment, argv,
  wall and measuring time. Rewritten atomically at start and end, and ``fsync``'ed (file, then folder).
* ``records.jsonl`` -- one JSON record per case, appended, flushed and fsync'ed as soon as the case finishes, so
  a crash or a kill keeps every finished case.
* ``samples.jsonl`` -- per case, the raw latency samples in milliseconds (one per timed round).
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import stat
import tempfile
import threading
import time
import warnings
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import field
from pathlib import Path
from typing import Any

from bench import metrics
from bench.checks import MAX_COUNT, short
from bench.durable import NO_LOCKS, write_atomic
from bench.errors import BenchError, BenchWarning, first_few, one_line_text, os_reason, short_name
from bench.hardware import process_gone, this_process

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

SCHEMA_VERSION = 2
"""2 added ``pass_errors``, ``repeats``, ``latency_between_spread`` and ``cuda_weights_mb``; version-1 records read as
before (the new columns empty)."""
DEFAULT_RESULTS_DIR = "results"
RUN_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RESERVED_RUN_IDS = ("latest", "baseline", "history", "gate", "calibration")
"""``latest`` names the newest run; ``baseline`` is the folder of the promoted baselines; ``history``, ``gate`` and
``calibration`` are the folders of ``bench history``, ``bench gate`` and ``bench calibrate`` beside the runs' reports
(``reports/<run>``): a run of that name would have its report rebuilt over theirs."""
MAX_RUN_ID = 128


RUN_ID_RULE = (
    f"letters, digits, '.', '_' or '-' (at most {MAX_RUN_ID}, first a letter or digit; "
    f"not {', '.join(RESERVED_RUN_IDS)})"
)
"""What a run id is made of: it names the run's folder and its report's (``reports/<run_id>``)."""


def run_id_problem(run_id: str) -> str | None:
    """Why ``run_id`` cannot name a new run (:data:`RUN_ID_RULE`), or ``None``."""
    if not re.fullmatch(RUN_ID_PATTERN, run_id) or len(run_id) > MAX_RUN_ID or run_id in RESERVED_RUN_IDS:
        return f"{short_name(run_id)!r}: use {RUN_ID_RULE}"
    return None


PYTEST_INI_FILES = ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml")
PYTEST_SECTIONS = {"pyproject.toml": "[tool.pytest", "tox.ini": "[pytest]", "setup.cfg": "[tool:pytest]"}


def _has_section(path: Path, marker: str) -> bool:
    try:
        return path.is_file() and marker in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The folder pytest takes as its rootdir when run from ``start`` (default: the current folder) without paths,
    which is where the plugin writes ``results/`` and ``reports/``: the nearest folder going up holding a pytest
    configuration (``pytest.ini``, ``pytest.toml``, a ``pyproject.toml`` with ``[tool.pytest...]``, a ``tox.ini``
    with ``[pytest]``, a ``setup.cfg`` with ``[tool:pytest]``); failing that the nearest with a ``pyproject.toml``,
    then with a ``setup.py``; failing all, ``start`` itself."""
    here = Path(start if start is not None else os.getcwd()).absolute()
    folders = [here, *here.parents]
    for folder in folders:
        if any((folder / name).is_file() for name in PYTEST_INI_FILES):
            return folder
        if any(_has_section(folder / name, marker) for name, marker in PYTEST_SECTIONS.items()):
            return folder
    for marker in ("pyproject.toml", "setup.py"):
        for folder in folders:
            if (folder / marker).is_file():
                return folder
    return here


def _in_project(name: str) -> str:
    """``<project root>/name``, written relative (``name``) when the root is the current folder."""
    root = project_root()
    return name if root == Path(os.getcwd()).absolute() else str(root / name)


def default_results_dir() -> str:
    """``$BENCH_RESULTS_DIR`` or ``<project root>/results`` (:func:`project_root`, pytest's rootdir, where the plugin
    writes): where runs are written and read unless a command is told otherwise, from any folder of the project."""
    return os.environ.get("BENCH_RESULTS_DIR") or _in_project(DEFAULT_RESULTS_DIR)


def results_folder(results_dir: str | os.PathLike[str] | None = None) -> Path:
    """``results_dir``, or when it is ``None`` the default folder (:func:`default_results_dir`): what every reader
    of runs (:func:`load`, :func:`list_runs`, the report's ``tables()``, the gate) falls back to, as the CLI does."""
    return Path(default_results_dir() if results_dir is None else results_dir)


def default_reports_dir() -> str:
    """``$BENCH_REPORTS_DIR`` or ``<project root>/reports`` (as :func:`default_results_dir`)."""
    return os.environ.get("BENCH_REPORTS_DIR") or _in_project("reports")


class ResultsError(BenchError):
    """A results folder cannot be read as written (a corrupt line, an unreadable meta.json)."""


IDENTITY_FIELDS: tuple[tuple[str, Any, Any], ...] = (
    ("run_id", str, dataclasses.MISSING),
    ("suite", str, dataclasses.MISSING),
    ("case_id", str, dataclasses.MISSING),
    ("model", str, dataclasses.MISSING),
    ("compression", str, dataclasses.MISSING),
    ("engine", str, dataclasses.MISSING),
    ("device", str, dataclasses.MISSING),
    ("threads", int | None, dataclasses.MISSING),  # empty on GPU
    ("batch_size", int, dataclasses.MISSING),
    ("status", str, dataclasses.MISSING),  # ok | failed | skipped
    ("error", str | None, None),  # the exception of a failed case, the reason of a skipped one
)
ENVIRONMENT_FIELDS: tuple[str, ...] = (
    "cpu_model",
    "cpu_cores",
    "gpu_name",
    "driver_version",
    "torch_version",
    "cuda_version",
    "python_version",
    "git_commit",
    "hostname",
)
"""What decides whether two results are comparable; every record carries it (``git_commit`` ends in ``+dirty``
when tracked files were modified)."""


_ENV_TYPES = {"cpu_cores": int | None}


STATUSES = ("ok", "failed", "skipped")
"""What a case's record says of it."""


def _check_record(self) -> None:
    if self.status not in STATUSES:
        raise ValueError(f"status must be ok, failed or skipped, not {self.status!r}")
    if self.status == "ok" and self.latency_p50_ms is None:
        raise ValueError(f"{self.case_id}: an ok record needs latency figures")


Record = dataclasses.make_dataclass(
    "Record",
    [
        *((name, kind, field(default=default)) for name, kind, default in IDENTITY_FIELDS),
        # every measured column of the metric table, in its order (bench.metrics: one row per metric)
        *((m.name, m.type | None, field(default=None)) for m in metrics.recorded()),
        *((name, _ENV_TYPES.get(name, str | None), field(default=None)) for name in ENVIRONMENT_FIELDS),
        ("timestamp", str | None, field(default=None)),
        ("schema_version", int, field(default=SCHEMA_VERSION)),
        # parameters of the axes and anything method-specific
        ("extra", dict[str, Any], field(default_factory=dict)),
    ],
    frozen=True,
    namespace={"__post_init__": _check_record, "__module__": __name__},
)
Record.__doc__ = """One case's result. ``None`` means "not measured", never zero.

Identity fields, then one field per measured column of :mod:`bench.metrics` (its table documents them), then the
environment (:data:`ENVIRONMENT_FIELDS`), ``timestamp``, ``schema_version`` and ``extra`` (axis parameters and
method-specific figures)."""


COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(Record))


def new_run_id() -> str:
    """Sortable and unique: UTC start time plus 4 random hex digits, e.g. ``20261122T140501Z-3f2a``."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(2)


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


class ResultsWarning(BenchWarning):
    """Part of a run could not be read (a damaged line, an unreadable ``meta.json``): the rest is read anyway."""


class NewerSchemaWarning(ResultsWarning):
    """A run's records were written by a newer bench (a ``schema_version`` above :data:`SCHEMA_VERSION`): read as
    far as this one knows their columns, never called damaged for it (nothing of them is skipped)."""


REQUIRED_KEYS = {
    "records.jsonl": ("suite", "case_id", "status", "model", "compression", "engine", "device"),
    "samples.jsonl": ("suite", "case_id", "samples_ms"),
}
"""Keys every line of the file needs: ``samples_ms`` a list of finite numbers above 0, the others strings (a record's
identity: what its figures are of)."""


NOT_UNICODE = "text that is not Unicode (an escaped lone surrogate such as \\ud800), read with U+FFFD in its place"
"""What a warning says of a line or a ``meta.json`` whose text :func:`unicode_text` mended."""


def _line_problem(row: Any, required: tuple[str, ...]) -> str | None:
    """Why a parsed line is not one a run writes (see :data:`REQUIRED_KEYS`), or ``None``."""
    if not isinstance(row, dict):
        return "not an object"
    if not all(isinstance(row.get(k), list if k == "samples_ms" else str) for k in required):
        return "keys missing"
    if any(_breaks_line(row[k]) for k in required if k != "samples_ms"):
        return "a name holding a line break"  # printed, it would start a line of its own ("## bench gate: passed")
    if "status" in required and row["status"] not in STATUSES:  # read as another status, a case the gate guards
        return "status not ok, failed or skipped"  # was "not comparable" in a gate that passed
    if "status" in required and not all(
        _finite_number(row[k]) and isinstance(row[k], int) for k in ("batch_size", "threads") if row.get(k) is not None
    ):
        return "batch_size or threads not an integer"
    counts = [row[k] for k in ("batch_size", "threads") if row.get(k) is not None] if "status" in required else []
    if not all(1 <= count <= MAX_COUNT for count in counts):
        return f"batch_size or threads not in 1..{MAX_COUNT}"  # 0 threads priced a case at $0; 2**63 overflowed
    if "status" in required and row.get("batch_size") is None:  # every run records it; none: cost and plan unknown
        return "batch_size missing"
    if "samples_ms" in required and _sample_array(row["samples_ms"]) is None:
        return "samples not finite numbers above 0"
    return None


def _breaks_line(name: str) -> bool:
    """True for a name (a suite, a case id, a model, ...) that holds a line break: no run writes one (a case id is
    built from a suite's names: letters, digits, '.', '_' and '-'), and every command prints its names, where one
    would start a line of its own (a fake ``## bench gate: passed``). Other control characters are shown escaped
    where they are printed (:func:`bench.errors.printable`), which keeps newlines on purpose. A line break is any
    that ``str.splitlines`` breaks at."""
    return "".join(name.splitlines()) != name


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
"""A JSON escape of a UTF-16 surrogate (``\\ud800`` to ``\\udfff``): the only way a lone surrogate, which is no
Unicode text, gets into a string ``json.loads`` returns (strict UTF-8 refuses one written as bytes)."""
_SURROGATE = re.compile("[\ud800-\udfff]")


def unicode_text(value: Any, found: list[int] | None = None) -> Any:
    """``value`` with each lone surrogate in its text (mapping keys too, nested in lists and mappings) as U+FFFD, the
    replacement character; each one replaced counts 1 in ``found`` (a one-item list) when given. Written whole, a
    name holding one stopped every file it went into (``'utf-8' codec can't encode character '\\ud800'``) and every
    chart (matplotlib's ``TypeError``)."""

    def text(string: str) -> str:
        fixed, count = _SURROGATE.subn("\ufffd", string)
        if found is not None:
            found[0] += count
        return fixed

    if isinstance(value, str):
        return text(value)
    if isinstance(value, list):
        return [unicode_text(v, found) for v in value]
    if isinstance(value, dict):
        return {unicode_text(k, found): unicode_text(v, found) for k, v in value.items()}
    return value


def _lone_surrogates(data: bytes) -> bool:
    """Whether the JSON text ``data`` may hold a lone surrogate (:func:`unicode_text`): a cheap look, most lines
    hold no ``\\u`` at all."""
    return b"\\u" in data and _SURROGATE_ESCAPE.search(data) is not None


MAX_META_BYTES = 256 << 20
"""The largest ``meta.json`` read (a run of 100,000 cases writes about 10 MB): a larger one (a file system's damage, a
sparse file of gigabytes) reads as damaged instead of into memory, where it stopped every command that lists the runs
beside it (``MemoryError``, or a machine swapping for minutes)."""


def _meta_json(folder: Path) -> Any:
    """The JSON of the ``meta.json`` in ``folder``, as written (a regular file only, UTF-8 with or without a BOM, at
    most :data:`MAX_META_BYTES`); raises as reading and parsing it do (:func:`read_meta` says which,
    :func:`_named_suites` goes without)."""
    data = _read_regular(folder / "meta.json", MAX_META_BYTES)
    if len(data) > MAX_META_BYTES:
        raise OSError(f"larger than {MAX_META_BYTES >> 20} MiB, which no run writes")
    return json.loads(data.decode("utf-8-sig"))


def _named_suites(folder: Path) -> set[str] | None:
    """The suites the ``meta.json`` of the run in ``folder`` names (:func:`_suite_names`), or ``None`` where it
    cannot be read."""
    try:
        meta = _meta_json(folder)
    except (OSError, ValueError, RecursionError):  # missing, not a file, not UTF-8 or not JSON: read_meta says so
        return None
    return _suite_names(meta)


def _suite_names(meta: Any) -> set[str] | None:
    """The suites a run's ``meta.json`` (its JSON, as written) names, where its list of suites is whole (each a
    mapping with a name): a record of another suite is none of the run's (a line pasted from another run), and would
    be scored with no suite's sections (default weights, prices and constraints). ``None`` where the list cannot be
    gone by (the run is then read from its records, as :func:`read_meta` reads it)."""
    suites = meta.get("suites") if isinstance(meta, dict) else None
    if not isinstance(suites, list) or not all(isinstance(s, dict) and _is_name(s.get("name")) for s in suites):
        return None
    return {s["name"] for s in suites} or None


def _sample_array(values: list[Any]) -> Any:
    """``values`` as a numpy float64 array when every one is a finite int or float above 0 (a latency: not a
    boolean, NaN, an infinity, 10**400, 0 or below), else ``None``: one pass in C over a million samples, not a Python
    call per sample."""
    import numpy as np  # here: numpy stays out of the command line's start-up

    if not set(map(type, values)) <= {int, float}:
        return None
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:  # an int beyond a float's range
        return None
    return array if np.isfinite(array).all() and (array > 0).all() else None


def _finite_number(value: Any) -> bool:
    """True for an int or float that is finite as a float (not a boolean, NaN, an infinity or 10**400)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _warn(problems: list[str], message: str) -> None:
    problems.append(message)
    warnings.warn(message, ResultsWarning, stacklevel=4)


MAX_LINE_BYTES = 512 << 20
"""The longest line of ``records.jsonl`` or ``samples.jsonl`` read (the most samples a case may keep, 10 million,
take about 250 MB): a longer one (a file system's damage, a file that is not a run's) is skipped as damaged, read
past a piece at a time, never held in memory whole."""


def _lines(handle: Any) -> Iterator[tuple[int, bytes | None]]:
    """The lines of the binary file ``handle`` with their numbers (from 1), each as read, its newline included (none
    after the last line when the file does not end in one); ``None`` for a line longer than :data:`MAX_LINE_BYTES`.
    One line is in memory at a time: a results file of gigabytes is read, never held whole."""
    from bench.safe_yaml import READ_PIECE  # here, as open_regular is: yaml stays out of the start-up

    number = 0
    while line := handle.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while line and not line.endswith(b"\n"):
                line = handle.readline(READ_PIECE)
            yield number, None
            continue
        yield number, line


_CASE_NAMES = re.compile(rb'\{"case_id": ("(?:[^"\\\x00-\x1f]|\\.)*"), "suite": ("(?:[^"\\\x00-\x1f]|\\.)*"), ')
"""How a run writes the start of a line of ``samples.jsonl``: its case's id and suite, then its samples."""


def _named_case(line: bytes) -> str | None:
    """The case (``suite::case_id``) a line of ``samples.jsonl`` starts by naming, as a run writes it, without
    parsing its samples; ``None`` where it does not start so (a line written otherwise is parsed whole)."""
    found = _CASE_NAMES.match(line)
    if found is None:
        return None
    try:
        case_id, suite = json.loads(found.group(1)), json.loads(found.group(2))
    except ValueError:  # not UTF-8 or not JSON text
        return None
    return None if _SURROGATE.search(case_id + suite) else f"{suite}::{case_id}"


def _broken_link(path: Path, err: OSError) -> str | None:
    """What ``path`` is when it is a symbolic link that ``err`` (opening it) says leads to no file: one to a path
    that does not exist, or one of a loop of links; else ``None``."""
    try:
        if not path.is_symlink():
            return None
        target = os.readlink(path)
    except OSError:
        return None
    if isinstance(err, FileNotFoundError):
        return f"a broken link (to {short_name(target)!r}, which does not exist)"
    if err.errno == errno.ELOOP:
        return f"a broken link (to {short_name(target)!r}, a loop of links that leads to no file)"
    return None


def broken_link(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` is when it is a symbolic link that leads to no file (:func:`_broken_link`: to a path that does
    not exist, or one of a loop of links), else ``None``: a writer opening it to append would create its target."""
    try:
        os.stat(path)
    except OSError as err:
        return _broken_link(Path(path), err)
    return None


def _open_regular(path: Path):
    """A run's file opened to be read a line at a time, only if it is a regular file (as :func:`_read_regular`)."""
    from bench.safe_yaml import open_regular  # here: yaml stays out of the command line's start-up

    return open_regular(path)


def _read_regular(path: Path, limit: int | None = None) -> bytes:
    """A run's file, read only if it is a regular file: a FIFO would block the reader for ever, a device never end
    (at most ``limit + 1`` bytes of it when ``limit`` is given)."""
    from bench.safe_yaml import read_regular  # here: yaml stays out of the command line's start-up

    return read_regular(path, limit)


_BESIDE = object()
"""What :func:`_read_jsonl` is told of a run's suites when its caller has not read the run's ``meta.json``: it reads
them from the ``meta.json`` beside the file."""


def _read_jsonl(
    path: Path,
    problems: list[str] | None = None,
    repeated: dict[str, list[int]] | None = None,
    *,
    arrays: bool = False,
    skipped_lines: list[str] | None = None,
    suites: Any = _BESIDE,
    cases: Collection[str] | None = None,
) -> list[dict[str, Any]]:
    """The JSON objects of a ``.jsonl`` file, read as far as it is intact: a damaged line (not JSON, not UTF-8, not
    an object, lacking its keys) is skipped with a :class:`ResultsWarning` and noted in ``problems``.

    A run's ``records.jsonl`` and ``samples.jsonl`` hold one line per case: of a case found on several lines (a
    hand-edited or concatenated file) only the last is read, with a warning naming the case and its lines, and the
    case's line numbers go into ``repeated``. The last, in both files, so that a record and its samples are one
    measurement: a case's samples are written just before its record, so an earlier samples line of a case with
    one record is an attempt a kill cut short before its record (measured again by ``--resume``). That is why a
    case on several lines of ``samples.jsonl`` alone is read without a warning; on several lines of
    ``records.jsonl`` it is two measurements, warned about (and ``bench gate`` judges neither). With ``arrays``,
    each line's ``samples_ms`` becomes a numpy float64 array as the line is read. ``skipped_lines``, when given, gets
    each damaged line skipped, as ``<path> line <n> (<why>)``: a line whose case cannot be told. ``suites``: the
    suites the run's ``meta.json`` names (:func:`_suite_names`), from a caller that has read it already; by default
    they are read from the ``meta.json`` beside the file. ``cases``, when given, are the only cases (``suite::case_id``)
    read: a line of another is passed over, and one of ``samples.jsonl`` that starts as a run writes it is not parsed
    past its case's name (its samples are neither read nor checked). The file is read a line at a time
    (:func:`_lines`), so a file of gigabytes takes the memory of the lines kept."""
    problems = [] if problems is None else problems
    rows: list[dict[str, Any]] = []
    numbers: list[int] = []
    if not os.path.lexists(path):  # a link leading nowhere is no missing file: it is named below
        return rows
    required = REQUIRED_KEYS.get(path.name, ())
    if not required:
        suites = None
    elif suites is _BESIDE:
        suites = _named_suites(path.parent)
    skipped: list[str] = []
    cleared: list[str] = []
    impossible: list[str] = []
    disordered: list[str] = []
    newer: list[str] = []
    replaced: list[str] = []
    number = 0
    try:
        with _open_regular(path) as handle:
            for number, line in _lines(handle):
                if line is None:
                    skipped.append(f"{number} (longer than {MAX_LINE_BYTES >> 20} MiB, which no run writes)")
                    continue
                if not line.strip():
                    continue
                if cases is not None and (named := _named_case(line)) is not None and named not in cases:
                    continue  # a case not asked for: its samples are not parsed
                try:
                    row = json.loads(line.decode("utf-8-sig"))
                except RecursionError:  # nested deeper than the JSON decoder can go: damage, not a run's line
                    skipped.append(f"{number} (nested too deep)")
                    continue
                except (UnicodeDecodeError, json.JSONDecodeError):
                    if not line.endswith(b"\n"):  # no newline after it: a write cut short by a kill
                        _warn(problems, f"{path}: ignoring a truncated last line (the run was killed mid-write)")
                    else:
                        skipped.append(f"{number} (not JSON)")
                    continue
                except ValueError:  # an integer of more digits than Python converts (4300): no figure a run writes
                    skipped.append(f"{number} (a number too long to read)")
                    continue
                if _lone_surrogates(line):
                    found = [0]
                    row = unicode_text(row, found)
                    replaced += [str(number)] if found[0] else []
                problem = _line_problem(row, required)
                if problem is None and suites is not None and row["suite"] not in suites:  # another's sections
                    problem = f"suite {short(row['suite'])} is not one its meta.json names"
                if problem:
                    skipped.append(f"{number} ({problem})")
                    continue
                if cases is not None and f"{row['suite']}::{row['case_id']}" not in cases:
                    continue
                if path.name == "records.jsonl":
                    cleared += [f"{number} ({key})" for key in _clear_wrong_types(row)]
                    impossible += [f"{number} ({key})" for key in _clear_impossible(row)]
                    disordered += [f"{number} ({pair})" for pair in _clear_disordered(row)]
                    if (row.get("schema_version") or 0) > SCHEMA_VERSION:
                        newer.append(f"{number} (version {row['schema_version']})")
                if arrays and "samples_ms" in required:
                    row["samples_ms"] = _sample_array(row["samples_ms"])
                rows.append(row)
                numbers.append(number)
    except OSError as err:  # opening it, or reading on (an I/O error): what was read before stays read
        after = f"after line {number}; the lines before it read" if number else "nothing read from it"
        _warn(problems, f"{path}: {_broken_link(path, err) or f'unreadable ({err.strerror or err})'}; {after}")
    if replaced:
        _warn(problems, f"{path}: {len(replaced)} line(s) holding {NOT_UNICODE}: {first_few(replaced)}")
    if skipped:
        _warn(problems, f"{path}: {len(skipped)} damaged line(s) skipped: {first_few(skipped)}")
        if skipped_lines is not None:
            skipped_lines += [f"{path} line {line}" for line in skipped]
    if cleared:
        _warn(
            problems,
            f"{path}: {len(cleared)} value(s) not of their column's type, read as not measured: {first_few(cleared)}",
        )
    if impossible:
        _warn(
            problems,
            f"{path}: {len(impossible)} value(s) no measurement gives ({RANGE_RULE}), read as not measured: "
            f"{first_few(impossible)}",
        )
    if disordered:
        _warn(
            problems,
            f"{path}: {len(disordered)} record(s) whose latencies are out of order ({' <= '.join(LATENCY_ORDER)}), "
            f"their latencies read as not measured: {first_few(disordered)}",
        )
    if newer:  # read anyway: a newer version adds columns (as version 2 did), and nothing measured is dropped
        warnings.warn(
            f"{path}: {len(newer)} record(s) of a schema newer than this bench's (version {SCHEMA_VERSION}), read "
            f"as far as it knows their columns: {first_few(newer)}; upgrade bench to read them whole",
            NewerSchemaWarning,
            stacklevel=2,
        )
    if path.name in REQUIRED_KEYS:
        rows = _last_of_each_case(path, rows, numbers, problems, repeated)
    return rows


def _last_of_each_case(
    path: Path,
    rows: list[dict[str, Any]],
    numbers: list[int],
    problems: list[str],
    repeated: dict[str, list[int]] | None,
) -> list[dict[str, Any]]:
    """The last line of each case (``suite::case_id``) of ``rows`` (read from lines ``numbers`` of ``path``)."""
    lines: dict[str, list[int]] = {}
    for row, number in zip(rows, numbers, strict=True):
        lines.setdefault(f"{row['suite']}::{row['case_id']}", []).append(number)
    twice = {key: found for key, found in lines.items() if len(found) > 1}
    if not twice:
        return rows
    if repeated is not None:
        repeated.update(twice)
    if path.name != "samples.jsonl":  # samples alone twice: a kill between samples and record, then --resume
        shown = first_few([f"{key} (lines {', '.join(map(str, found))})" for key, found in twice.items()])
        message = f"{len(twice)} case(s) on more than one line, only the last of each read: {shown}"
        _warn(problems, f"{path}: {message}")
    last = {found[-1] for found in lines.values()}
    return [row for row, number in zip(rows, numbers, strict=True) if number in last]


def _field_types() -> dict[str, tuple[type, ...]]:
    """What each column of :class:`Record` may hold besides null: numbers for a number, else its own type."""
    numeric = (int, float)
    types: dict[str, tuple[type, ...]] = {name: (dict,) if name == "extra" else (str,) for name in COLUMNS}
    types.update(cpu_cores=(int,), schema_version=(int,))
    del types["threads"], types["batch_size"]  # identity: a line where they are damaged is skipped (_line_problem)
    types.update({m.name: numeric if m.type in numeric else (m.type,) for m in metrics.recorded()})
    return types


_FIELD_TYPES = _field_types()


def _clear_wrong_types(row: dict[str, Any]) -> list[str]:
    """Set to ``None`` ("not measured") every known column whose value is not of its type (a string where a number
    belongs, NaN, a list); returns their names. Booleans count as numbers nowhere."""
    wrong = []
    for key, allowed in _FIELD_TYPES.items():
        value = row.get(key)
        if value is None:
            continue
        if int in allowed or float in allowed:
            ok = _finite_number(value) and (float in allowed or isinstance(value, int))
        else:
            ok = isinstance(value, allowed)
        if not ok:
            row[key] = None
            wrong.append(key)
    return wrong


POSITIVE = (
    *(m.name for m in metrics.TABLE if m.statistic and m.recorded),
    "throughput_items_per_s",
    "model_size_bytes",
)
"""Figures a measurement gives only above zero: the latency statistics a score can use, throughput and size (each
is a denominator of S, T, cost or replicas)."""
SIGNED = ("accuracy_drop",)
"""The one measured figure that may be negative (a compressed model more accurate than its fp32 reference)."""
SHARES = ("cpu_wait_share",)
"""Keys of a record's ``extra`` that are a share of a time, so from 0 to 1: ``cpu_wait_share`` decides whether the
gate judges a run's timings (a busy machine), and a negative one read as a quiet run, one above 1 as a run that
waited for a CPU 500% of its time. Out of range (or not a number), it reads as not recorded, as in a run written
before the figure existed."""
RANGE_RULE = (
    "a latency, throughput or size <= 0, another figure < 0, an accuracy or extra.cpu_wait_share outside [0, 1]"
)


def _clear_impossible(row: dict[str, Any]) -> list[str]:
    """Set to ``None`` ("not measured") every measured figure out of the range a measurement gives (a hand-edited
    or foreign record: a negative latency, a zero size, an accuracy of 5), so that no score, cost or chart is built on
    it, and every share of :data:`SHARES` outside [0, 1] to not recorded; returns their names. Run after
    :func:`_clear_wrong_types` (every value left is a finite number or null)."""
    wrong = []
    for metric in metrics.recorded():
        value = row.get(metric.name)
        if metric.type not in (int, float) or metric.better is None or metric.name in SIGNED or value is None:
            continue
        if value < 0 or (value == 0 and metric.name in POSITIVE) or (metric.name == "accuracy" and value > 1):
            row[metric.name] = None
            wrong.append(metric.name)
    extra = row.get("extra")
    for key in SHARES:
        value = extra.get(key) if isinstance(extra, dict) else None
        if value is not None and not (_finite_number(value) and 0 <= value <= 1):
            extra[key] = None
            wrong.append(f"extra.{key}")
    return wrong


LATENCY_ORDER = ("latency_min_ms", "latency_p50_ms", "latency_p90_ms", "latency_p95_ms", "latency_p99_ms")
"""A record's latency statistics that one set of samples gives in this order (the least, then ever higher
percentiles): the latency pass computes them together, so a record where they are not is a hand-edited or foreign
one (:func:`_clear_disordered`)."""


def _clear_disordered(row: dict[str, Any]) -> list[str]:
    """Set to ``None`` ("not measured") every statistic of :data:`LATENCY_ORDER` of a record where two of them are
    out of order (a p99 below the p50: which one is wrong cannot be told), so that no constraint passes on a p99
    the samples never gave, nor a score uses its p50; returns the first pair out of order (``a > b``), or nothing.
    Run after :func:`_clear_impossible` (every value left is a finite number above 0 or null)."""
    present = [(name, row[name]) for name in LATENCY_ORDER if row.get(name) is not None]
    for (lower, low), (upper, high) in itertools.pairwise(present):
        if low > high and not math.isclose(low, high, rel_tol=1e-9):
            for name, _ in present:
                row[name] = None
            return [f"{lower} > {upper}"]
    return []


NAME_RULE = "letters, digits, '.', '_' or '-', starting with a letter or digit"
"""What a run id and a suite name are made of (each names a folder: never a path)."""


def _is_name(value: Any) -> bool:
    return isinstance(value, str) and re.fullmatch(RUN_ID_PATTERN, value) is not None


TIME_KEYS = ("started_at", "finished_at")
"""The times a run's ``meta.json`` holds, as text (UTC, ``2026-01-01T00:00:00Z``): runs are ordered by the first."""


def _clear_damaged_parts(meta: dict[str, Any]) -> list[str]:
    """Drop the parts of a run's metadata that are not of their type (a suite's section that is not a mapping, an
    environment value that is not a string, a list of cases that is not one of ids, a start time that is not text),
    so that no reader trips on them; returns what was dropped."""
    dropped = []
    for key in TIME_KEYS:  # a list here broke bench history ("Length of values (1) does not match length of index")
        value = meta.get(key)
        if value is not None and not isinstance(value, str):
            del meta[key]
            dropped.append(f"{key}: {short(value)} is not a time (text such as 2026-01-01T00:00:00Z); ignored")
    for key, wanted, allowed in (("cases", str, "a list of case ids"), ("resumed", dict, "a list of mappings")):
        value = meta.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, wanted) for v in value)):
            del meta[key]
            dropped.append(f"{key}: {short(value)} is not {allowed}; ignored")
    for number, suite in enumerate(meta.get("suites", [])):
        measure = suite.get("measure")  # the gate compares two runs' settings only where each is a mapping
        if measure is not None and not isinstance(measure, dict):
            del suite["measure"]
            dropped.append(f"suites[{number}].measure: {short(measure)} is not a mapping; ignored")
        files = suite.get("files")
        if files is not None and not (isinstance(files, dict) and all(isinstance(v, str) for v in files.values())):
            del suite["files"]
            dropped.append(f"suites[{number}].files: {short(files)} is not a mapping of files to checksums; ignored")
        sections = suite.get("sections")
        if sections is not None and not isinstance(sections, dict):
            suite["sections"] = {}
            dropped.append(f"suites[{number}].sections: not a mapping; ignored")
        for key, section in list((suite.get("sections") or {}).items()):
            if section is not None and not isinstance(section, dict):  # each (gates, scoring, prices, ...) is one
                del suite["sections"][key]
                dropped.append(f"suites[{number}].sections.{key}: not a mapping; ignored")
    environment = meta.get("environment", {})
    for key in ENVIRONMENT_FIELDS:
        value, integer = environment.get(key), key in _ENV_TYPES
        if value is not None and (isinstance(value, bool) or not isinstance(value, int if integer else str)):
            environment[key] = None
            dropped.append(f"environment.{key}: {short(value)} is not {'an integer' if integer else 'a string'}")
    return dropped


def _is_run_dir(path: Path) -> bool:
    """Whether the folder ``path`` holds a run (a ``meta.json`` or a ``records.jsonl``); not one that cannot be looked
    into (another user's mode-700 run, a file system's ``lost+found``): no command could read it, and looking into it
    stopped every command on ``[Errno 13] Permission denied`` (:func:`resolve_run` names one asked for)."""
    try:
        return (path / "meta.json").is_file() or (path / "records.jsonl").is_file()
    except PermissionError:
        return False


RUN_FILES = ("meta.json", "records.jsonl", "samples.jsonl")
"""A run's own files (a baseline's too): what it measured, and what it is."""


def run_holding(path: str | os.PathLike[str]) -> Path | None:
    """The run folder of which ``path`` (through any link) is one of the own files (:data:`RUN_FILES`), or ``None``:
    a command writing a file of its own there (a gate's summary or verdicts) would replace what the run measured."""
    real = Path(os.path.realpath(path))
    try:
        return real.parent if real.name in RUN_FILES and _is_run_dir(real.parent) else None
    except OSError:  # a name too long to look up: no run's file
        return None


def _closed(path: Path) -> str | None:
    """Why the folder ``path`` cannot be looked into (``permission denied``), or ``None`` (it can, or it is none)."""
    try:
        if path.is_dir():
            os.stat(path / "meta.json")
    except PermissionError as err:
        return os_reason(err)
    except OSError:  # no meta.json (a folder that may be read), a name too long to look up
        pass
    return None


def read_meta(path: Path) -> dict[str, Any]:
    """A run folder's ``meta.json``, read as far as it is intact.

    A missing or unreadable one (or one without a ``run_id``) gives what the folder itself tells: its name as the
    run id, status ``damaged``, the suites of its records, and ``damage`` saying what is wrong (warned as well).
    A part not of its type is dropped the same way (:func:`_clear_damaged_parts`), and so is a suite name that is not
    a name (it names a folder). The run id is the folder's name, whatever its ``meta.json`` says (with a warning where
    they differ: a copied folder), also where that name is no run id (``r1 (copy)``: see
    :func:`report_name_problem`); only a baseline's keeps the run id it was promoted from. A ``running`` run whose
    process is gone reads as ``killed`` (:func:`process_gone`); one whose process ran on another host, which cannot
    be checked from here (a results folder shared over NFS), keeps ``running`` and gets ``quiet_s``: the seconds since
    its folder was last written (:func:`quiet_for`), which :func:`running_who` shows. A folder that an earlier bench's
    run killed as it started left without its ``meta.json`` and with nothing measured reads as ``killed``, not
    damaged, with ``empty`` saying so (:data:`EMPTY_RUN`)."""
    return _read_meta(path)[0]


def _read_meta(path: Path) -> tuple[dict[str, Any], set[str] | None]:
    """:func:`read_meta`'s metadata and the suites the ``meta.json`` names (:func:`_suite_names`), from one read of
    it: for a reader of the run's records too, which reads them with those suites (:func:`_read_jsonl`)."""
    problems: list[str] = []
    empty = False
    try:
        meta = _meta_json(path)
    except FileNotFoundError:
        meta = None
        empty = killed_empty(path)
        if not empty:
            _warn(problems, f"{path / 'meta.json'}: missing; the run is read from its records")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as err:
        meta = None
        _warn(problems, f"{path / 'meta.json'}: unreadable ({' '.join(str(err).split())[:120]})")
    except ValueError:  # an integer of more digits than Python converts: Python's advice is not the user's
        meta = None
        _warn(problems, f"{path / 'meta.json'}: unreadable (a number too long to read)")
    if meta is not None:
        found = [0]
        meta = unicode_text(meta, found)
        if found[0]:
            _warn(problems, f"{path / 'meta.json'}: it holds {NOT_UNICODE}")
    named_suites = _suite_names(meta)  # as written: what follows reads it as a run's, and may change it
    if meta is not None and not (isinstance(meta, dict) and isinstance(meta.get("run_id"), str)):
        _warn(problems, f"{path / 'meta.json'}: not a run's metadata (no run_id)")
        meta = None
    if meta is not None:  # the reader's findings (READ_KEYS), never the file's: a hand edit is not believed
        for key in READ_KEYS:
            meta.pop(key, None)
    # a run is its folder (listed, asked for and reported by its name), a run given as '.' or '..' its folder's too:
    # a copied folder ("r1 (copy)"), or a hand edit, must not speak for, nor write the report of, the run its
    # meta.json names. A name that is no run id ("r1 (copy)", 250 characters) is read all the same; only a report,
    # which it would name, refuses it (report_name_problem). A baseline's folder is its suite's: not a run id.
    folder = Path(os.path.abspath(path)).name
    named = one_line_text(folder) if folder else UNNAMED  # a line break in it never starts a line of its own
    if meta is not None and ("promoted_from" not in meta or not _is_name(meta["run_id"])) and meta["run_id"] != named:
        why = "is not its folder's name" if _is_name(meta["run_id"]) else f"is not a run id ({NAME_RULE})"
        _warn(problems, f"{path / 'meta.json'}: run_id: {short(meta['run_id'])} {why}; read as {short(named)}")
        meta["run_id"] = named
    if meta is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResultsWarning)
            records = _read_jsonl(path / "records.jsonl", suites=named_suites)
            suites = sorted({str(r["suite"]) for r in records})
        meta = {"run_id": named, "status": "killed" if empty else "damaged", "suites": [{"name": n} for n in suites]}
        if empty:
            meta["empty"] = EMPTY_RUN
    suites = meta.get("suites", [])
    if not isinstance(suites, list) or not all(isinstance(s, dict) and _is_name(s.get("name")) for s in suites):
        suites = suites if isinstance(suites, list) else []
        meta["suites"] = [s for s in suites if isinstance(s, dict) and _is_name(s.get("name"))]
        _warn(problems, f"{path / 'meta.json'}: its list of suites is damaged (each needs a name: {NAME_RULE})")
    for key in ("environment", "counts", "process"):
        if not isinstance(meta.get(key, {}), dict):
            meta[key] = {}
    if meta.get("status") not in RUN_STATUSES:  # a run that says it is in no state a run can be in is not promoted
        _warn(
            problems,
            f"{path / 'meta.json'}: status: {short(meta.get('status'))} is not a run's status "
            f"({', '.join(RUN_STATUSES[:3])}); read as damaged",
        )
        meta["status"] = "damaged"
    for problem in _clear_damaged_parts(meta):
        _warn(problems, f"{path / 'meta.json'}: {problem}")
    if problems:
        meta["damage"] = problems
    if meta.get("status") == "running" and process_gone(meta.get("process")):
        meta["status"] = "killed"
    elif meta.get("status") == "running" and _other_host(meta.get("process")):
        meta["quiet_s"] = quiet_for(path)
    return meta, named_suites


READ_KEYS = ("damage", "quiet_s", "empty")
"""What :func:`read_meta` adds to a run's metadata from reading it (what could not be read; how long a run on another
host has been quiet; that it was killed before any case): a ``meta.json`` that holds them (a hand edit) is not
believed, so a ``damage`` of ``true`` or ``null`` never stops ``bench results``, and a run is never called damaged,
nor quiet, nor empty, by its own say-so."""

EMPTY_RUN = "killed before its first case (nothing measured); safe to delete"
"""What :func:`read_meta` says of a run folder holding no ``meta.json``, an empty ``records.jsonl`` and no or an
empty ``samples.jsonl`` (:func:`killed_empty`): an earlier bench created ``records.jsonl`` before the run's first
``meta.json``, and a ``kill -9`` between the two left that folder, which was listed as damaged for ever and could not
be resumed ("meta.json is missing"). Nothing of it was measured, so nothing is lost by deleting it."""


def killed_empty(path: Path) -> bool:
    """Whether the run folder ``path`` is one a run killed as it started left (:data:`EMPTY_RUN`): no ``meta.json``
    (its temporary ``meta.tmp`` may be there), a ``records.jsonl`` of no bytes, and no ``samples.jsonl`` or one of
    no bytes (regular files only)."""
    try:
        if os.path.lexists(path / "meta.json"):
            return False
        files = [(path / "records.jsonl").lstat()]
        if os.path.lexists(path / "samples.jsonl"):
            files.append((path / "samples.jsonl").lstat())
    except OSError:
        return False
    return all(stat.S_ISREG(found.st_mode) and found.st_size == 0 for found in files)


RUN_STATUSES = ("running", "finished", "interrupted", "killed", "damaged")
"""What a run's ``meta.json`` may say it is: the first three as :class:`RunWriter` writes them (``running`` as it
starts, the others as it closes), the last two as :func:`read_meta` reads a run (a process gone without closing
it, a folder it cannot read)."""

UNNAMED = "unnamed-run"
"""The run id of a run in a folder without a name (the root folder: a run is its folder, :func:`read_meta`)."""


def _other_host(process: Any) -> bool:
    """True when a run's ``process`` names a host other than this one (a meta.json without it names none)."""
    return isinstance(process, dict) and "host" in process and process["host"] != socket.gethostname()


def quiet_for(path: Path) -> float | None:
    """Seconds since the run folder ``path`` was last written (its newest ``meta.json``, ``records.jsonl`` or
    ``samples.jsonl``: a running run appends a record as each case finishes), by this machine's clock (never below
    0); ``None`` where none of them can be looked at. Nothing else is written while a case is measured (a timer
    writing meanwhile would disturb what is timed): a long case is a quiet stretch of a live run too."""
    times = []
    for name in ("meta.json", "records.jsonl", "samples.jsonl"):
        with suppress(OSError):
            times.append((path / name).stat().st_mtime)
    return max(0.0, time.time() - max(times)) if times else None


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def running_who(meta: dict[str, Any]) -> str:
    """The process of a run read as ``running`` (:func:`read_meta`), to follow ``is still running``:
    `` (pid N on HOST)``, and where HOST is another host, whose process cannot be checked from here, how long the run
    has written nothing: `` (pid N on HOST; another host: nothing written for 42 min)`` (a run killed there with
    ``kill -9`` or out of memory says ``running`` for ever; one whose case takes long is quiet meanwhile). One line
    whatever the ``meta.json`` holds: a host name with a line break broke ``still running ...`` in two."""
    process = meta.get("process")
    if not isinstance(process, dict) or not process:
        return ""
    quiet = meta.get("quiet_s")
    since = f"; another host: nothing written for {_duration(quiet)}" if isinstance(quiet, (int, float)) else ""
    return one_line_text(f" (pid {process.get('pid')} on {process.get('host')}{since})")


def unlistable(path: str | os.PathLike[str]) -> str | None:
    """Why the results folder ``path`` cannot be listed and looked into (``permission denied``), or ``None`` (it can,
    or it is no folder: there is no run in it yet)."""
    try:
        with os.scandir(path) as entries:
            next(entries, None)
        os.stat(os.path.join(path, "."))  # looked into (x), not only listed (r)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as err:
        return os_reason(err)
    return None


def _run_folders(results_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """The run folders under ``results_dir``, in no order (none when it is not a folder); a :class:`ResultsError`
    naming it where it cannot be listed (``chmod 000``)."""
    root = results_folder(results_dir)
    if not root.is_dir():
        return []
    try:
        return [p for p in root.iterdir() if p.is_dir() and _is_run_dir(p)]
    except OSError as err:
        raise ResultsError(
            f"results folder {short_name(str(root))!r}: cannot list the runs in it ({os_reason(err)})"
        ) from None


def run_dirs(results_dir: str | os.PathLike[str] | None = None) -> list[Path]:
    """Run folders under ``results_dir``, oldest first: by start time, then by id (custom ids sort in by time).

    A folder with a damaged ``meta.json`` is listed too (read as far as it is intact, with a warning)."""
    return [path for path, _meta, _suites in _read_runs(results_dir)]


def _read_runs(results_dir: str | os.PathLike[str] | None) -> list[tuple[Path, dict[str, Any], set[str] | None]]:
    """The run folders under ``results_dir`` in :func:`run_dirs`' order, each with its metadata and suites
    (:func:`_read_meta`), read without warning: for a caller that reads every run (:func:`list_runs`) with no second
    read of each ``meta.json`` to sort them."""
    with warnings.catch_warnings():  # only sorting: whoever reads a damaged run warns about it
        warnings.simplefilter("ignore", ResultsWarning)
        runs = [(path, *_read_meta(path)) for path in _run_folders(results_dir)]
    return sorted(runs, key=lambda run: (str(run[1].get("started_at") or ""), run[0].name))


def resolve_run(run: str | os.PathLike[str] | None = None, results_dir: str | os.PathLike[str] | None = None) -> Path:
    """A run folder from a path, a run id, a unique id prefix, or ``None``/``"latest"`` for the newest run. An empty
    id is refused: as a prefix it would name any run (``bench baseline set ''`` promoted whichever there was)."""
    return _resolve(run, results_dir, _listing(results_dir))[0]


_Read = tuple[dict[str, Any], set[str] | None]
"""A run's metadata and the suites its ``meta.json`` names (:func:`_read_meta`)."""


def _listing(results_dir: str | os.PathLike[str] | None) -> Callable[[], dict[Path, _Read]]:
    """The runs under ``results_dir`` in :func:`run_dirs`' order, each with what :func:`_read_meta` read of it, read
    at the first call only: runs found by id one after the other list their folder once."""
    read: list[dict[Path, _Read]] = []

    def listed() -> dict[Path, _Read]:
        if not read:
            read.append({path: (meta, suites) for path, meta, suites in _read_runs(results_dir)})
        return read[0]

    return listed


def _resolve(
    run: str | os.PathLike[str] | None,
    results_dir: str | os.PathLike[str] | None,
    listed: Callable[[], dict[Path, _Read]],
) -> tuple[Path, _Read | None]:
    """:func:`resolve_run`'s folder, with its metadata where finding it read every run's (a run id, a prefix,
    ``latest``: read to sort the runs, without warning, by ``listed``), else ``None`` (a run folder's path: nothing
    read)."""
    if run is not None and not str(run).strip():
        raise FileNotFoundError(
            f"run {str(run)!r}: an empty run id names no run; give a run id, a unique start of one, a run folder's "
            "path, or latest"
        )
    try:
        if run is not None and Path(run).is_dir() and _is_run_dir(Path(run)):
            return Path(run), None
    except OSError:  # no path can be looked up by that name (too long): it is looked for as a run id
        pass
    results_dir = results_folder(results_dir)
    read = listed()
    runs = list(read)
    if run is not None and str(run) != "latest" and not any(p.name == str(run) for p in runs):
        for folder in (Path(run), results_dir / str(run)):
            reason = _closed(folder)
            if reason:  # listed as no run, it would read "not found" (or "no runs"): say which folder and why
                raise ResultsError(f"run {short_name(str(run))!r}: cannot read its folder {folder} ({reason})")
    if not runs:
        raise FileNotFoundError(f"no runs under {results_dir}/ (run a suite first: bench run suites/quick.yaml)")
    if run is None or str(run) == "latest":
        return runs[-1], read[runs[-1]]
    matches = [p for p in runs if p.name == str(run)] or [p for p in runs if p.name.startswith(str(run))]
    if len(matches) > 1:  # the runs it could mean, not the latest runs (which need not start with it)
        named = first_few([p.name for p in reversed(matches)], rest="older")  # the newest first
        raise FileNotFoundError(
            f"run {short_name(str(run))!r} is ambiguous under {results_dir}/: {len(matches)} runs start with it "
            f"({named}); give more of the id"
        )
    if not matches:
        known = ", ".join(p.name for p in runs[-5:])
        raise FileNotFoundError(f"run {short_name(str(run))!r} not found under {results_dir}/; latest runs: {known}")
    return matches[0], read[matches[0]]


@dataclasses.dataclass(frozen=True)
class RunFolder:
    """A run's folder and its metadata, read once (:func:`open_run`): given to :func:`load` and :func:`load_samples`
    in the place of a run, it is read by without reading its ``meta.json`` again. A path-like object (its folder)."""

    path: Path
    meta: dict[str, Any]
    """:func:`read_meta`'s reading of it."""
    suites: set[str] | None
    """The suites its ``meta.json`` names, as written (:func:`_suite_names`): what its records are read with."""

    def __fspath__(self) -> str:
        return os.fspath(self.path)


def open_run(
    run: str | os.PathLike[str] | RunFolder | None = None, results_dir: str | os.PathLike[str] | None = None
) -> RunFolder:
    """The run :func:`resolve_run` finds, with its metadata (:func:`read_meta`, whose warnings it gives once); a
    :class:`RunFolder` is given back as it is. Its ``meta.json`` is read once, by finding the run among the others
    or after: ``bench report`` read it four times (to find the run, for its records, its metadata and its samples),
    ``bench gate`` five, and warned twice of a damaged one."""
    return _open(run, results_dir, _listing(results_dir))


def open_runs(
    runs: Iterable[str | os.PathLike[str] | RunFolder | None], results_dir: str | os.PathLike[str] | None = None
) -> list[RunFolder]:
    """:func:`open_run` of each of ``runs``, the folder ``results_dir`` listed (and its runs' ``meta.json`` read) at
    most once for all of them (``bench gate --baseline r1 --current r2``)."""
    listed = _listing(results_dir)
    return [_open(run, results_dir, listed) for run in runs]


def _open(
    run: str | os.PathLike[str] | RunFolder | None,
    results_dir: str | os.PathLike[str] | None,
    listed: Callable[[], dict[Path, _Read]],
) -> RunFolder:
    if isinstance(run, RunFolder):
        return run
    path, read = _resolve(run, results_dir, listed)
    if read is None:
        return RunFolder(path, *_read_meta(path))
    meta, suites = read
    for problem in meta.get("damage", []):  # read without warning, to sort the runs: warned now, once
        warnings.warn(problem, ResultsWarning, stacklevel=2)
    return RunFolder(path, meta, suites)


def _run_files(
    run: str | os.PathLike[str] | RunFolder | None, results_dir: str | os.PathLike[str] | None
) -> tuple[Path, Any]:
    """The folder of ``run`` and the suites its files are read with: a :class:`RunFolder`'s, else those of the
    ``meta.json`` beside them (:data:`_BESIDE`)."""
    if isinstance(run, RunFolder):
        return run.path, run.suites
    return resolve_run(run, results_dir), _BESIDE


def report_name_problem(run_id: str, path: str | os.PathLike[str]) -> str | None:
    """Why the run read as ``run_id`` from the folder ``path`` can have no report, or ``None``: a report is written to
    ``<reports>/<run_id>``, and a run's id is its folder's name (:func:`read_meta`), which a copy may have made no run
    id (``r1 (copy)``, 250 letters, which left no room for the report's staging folder beside it: "file name too
    long") or one of the reports' own folders (``gate``: the report would replace ``bench gate``'s)."""
    if run_id_problem(run_id) is None:
        return None
    return (
        f"run {short_name(run_id)!r}: its folder's name is no run id, and it would name the report's folder: rename "
        f"{short_name(os.fspath(path))} to a run id to report it: {RUN_ID_RULE}"
    )


def load_meta(
    run: str | os.PathLike[str] | RunFolder | None = None, results_dir: str | os.PathLike[str] | None = None
) -> dict[str, Any]:
    """The metadata of the run :func:`resolve_run` finds (:func:`read_meta`)."""
    return open_run(run, results_dir).meta


def load(
    run: str | os.PathLike[str] | RunFolder | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    *,
    repeated: dict[str, list[int]] | None = None,
    problems: list[str] | None = None,
    skipped_lines: list[str] | None = None,
):
    """A run's records as a pandas DataFrame: one row per case, the columns of :class:`Record`.

    ``extra`` (method parameters and method-specific figures) is flattened into ``extra.<key>`` columns.
    Records of an older schema version load too; columns they lack are empty. ``repeated``, when given, gets the
    cases (``suite::case_id``) the file holds on more than one line, with those lines' numbers (the frame has the
    last of each, see :func:`_read_jsonl`); ``problems``, when given, gets what of the file could not be read (each
    also warned about); ``skipped_lines`` the damaged lines skipped, one entry each.
    """
    import pandas as pd

    folder, suites = _run_files(run, results_dir)
    path = folder / "records.jsonl"
    rows = _read_jsonl(path, problems, repeated=repeated, skipped_lines=skipped_lines, suites=suites)
    frame = pd.DataFrame(rows)
    for column in COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    if "extra" in frame.columns and len(frame):
        extras = pd.json_normalize(frame["extra"].apply(lambda e: e if isinstance(e, dict) else {}).tolist())
        extras = extras.add_prefix("extra.")
        # a record's own key "extra.x" (no run writes one) would make a second column of that name: extra's is read
        twice = [c for c in extras.columns if c in frame.columns]
        if twice:
            shown = first_few(twice)
            _warn([], f"{path}: {shown}: a key of a record and of its extra (extra.<key>); only extra's read")
        frame = pd.concat([frame.drop(columns=["extra", *twice]), extras.set_index(frame.index)], axis=1)
    else:
        frame = frame.drop(columns="extra")
    leading = [c for c in COLUMNS if c in frame.columns]
    return frame[leading + [c for c in frame.columns if c not in leading]]


def load_samples(
    run: str | os.PathLike[str] | RunFolder | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    *,
    arrays: bool = False,
    cases: Collection[str] | None = None,
) -> dict[str, Any]:
    """Raw latency samples in milliseconds, keyed by ``suite::case_id``: lists of floats, or with ``arrays`` numpy
    float64 arrays, each made as its line is read (a million samples take 8 MB as an array, about 32 MB as a list:
    a run of many such cases no longer holds them all as lists at once). ``cases``, when given, are the only cases
    whose samples are read (the others' lines are passed over unparsed)."""
    folder, suites = _run_files(run, results_dir)
    rows = _read_jsonl(folder / "samples.jsonl", arrays=arrays, cases=cases, suites=suites)
    return {f"{row['suite']}::{row['case_id']}": row["samples_ms"] for row in rows}


def checked_samples(
    frame: Any, samples: dict[str, Any], path: str | os.PathLike[str], problems: list[str] | None = None
) -> dict[str, Any]:
    """``samples`` (:func:`load_samples`) without those that are not the samples of their case's record in ``frame``
    (:func:`load`): a record's ``rounds`` is its sample count and its ``latency_p50_ms`` their median (as the
    latency pass computes them), so samples of another count or median are another measurement's (a samples file
    copied from another run, a line edited by hand). Confidence and the gate's statistics would otherwise be drawn
    from figures the record does not show. Each such one is warned about (a :class:`ResultsWarning` naming
    ``path``, the samples file) and added to ``problems`` when given. Samples of a case with no ``ok`` record are
    dropped without a word: an attempt a kill cut short before its record, then measured again by ``--resume`` or
    not (:func:`_read_jsonl`). A record without those figures keeps its samples."""
    import numpy as np

    problems = [] if problems is None else problems
    figures = {
        f"{row.get('suite')}::{row.get('case_id')}": (row.get("status"), row.get("rounds"), row.get("latency_p50_ms"))
        for row in (frame.to_dict("records") if len(frame) else [])
    }
    kept: dict[str, Any] = {}
    for key, values in samples.items():
        status, rounds, p50 = figures.get(key, (None, None, None))
        if status != "ok":  # an attempt a kill cut short before its record (see _read_jsonl): nothing to warn of
            continue
        median = float(np.percentile(np.asarray(values, dtype=float), 50)) if len(values) else math.nan
        wrong_count = _finite_number(rounds) and len(values) != rounds
        wrong_median = _finite_number(p50) and not math.isclose(median, p50, rel_tol=1e-9)
        if wrong_count or wrong_median:
            said = [f"{rounds:g} rounds"] if _finite_number(rounds) else []
            said += [f"a p50 of {p50:.6g} ms"] if _finite_number(p50) else []
            _warn(
                problems,
                f"{path}: {key}: {len(values)} samples with a median of {median:.6g} ms, but its record says "
                f"{' with '.join(said)}: another measurement's samples; not used",
            )
            continue
        kept[key] = values
    return kept


def run_damage(path: Path | RunFolder) -> list[str]:
    """What could not be read of a run (``meta.json``, damaged lines of its records and samples), without warning.
    A :class:`RunFolder` (:func:`open_run`) is read by without reading its ``meta.json`` again."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)
        if isinstance(path, RunFolder):
            path, meta, suites = path.path, path.meta, path.suites
        else:
            meta, suites = _read_meta(path)
        problems = list(meta.get("damage", []))
        for name in ("records.jsonl", "samples.jsonl"):  # samples as arrays: 8 bytes each, not a list's 32
            _read_jsonl(path / name, problems, suites=suites, arrays=True)
    return problems


def past_case_seconds(
    cases: Iterable[str],
    environment: dict[str, Any],
    results_dir: str | os.PathLike[str] | None = None,
    *,
    exclude: Path | None = None,
    look_back: int = 20,
) -> dict[str, float]:
    """How long each of ``cases`` (``suite::case_id``) took when it last ran on this machine (the same host and
    CPU as ``environment``): its set-up and measurement, ``setup_time_s + measure_time_s``, of its newest ``ok``
    record in the ``look_back`` runs last written to but ``exclude`` (the run now writing). A guess to plan by, not a
    figure: damaged runs and lines are passed over without a word, a time over a day is taken for damage too, and a
    case found in none is left out (:func:`runs_here`)."""
    wanted = set(cases)
    found: dict[str, float] = {}
    for path, _meta in runs_here(environment, results_dir, exclude=exclude, look_back=look_back):
        if len(found) == len(wanted):
            break
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResultsWarning)
            lines = _read_jsonl(path / "records.jsonl")
        for record in reversed(lines):
            case = f"{record.get('suite')}::{record.get('case_id')}"
            seconds = [record.get("setup_time_s"), record.get("measure_time_s")]
            if case not in wanted or case in found or record.get("status") != "ok":
                continue
            if all(_finite_number(v) and v >= 0 for v in seconds) and sum(seconds) <= DAY_S:
                found[case] = float(sum(seconds))
    return found


SAME_MACHINE = ("hostname", "cpu_model", "gpu_name")
"""The environment keys two runs must share to be taken as runs on the same machine (:func:`runs_here`): the GPU
too, which is none on a machine without one (a GPU swapped in a host makes another machine)."""
NAMED_BY = ("hostname", "cpu_model")
"""The keys a run's environment must fill for it to be matched with any other (:func:`runs_here`)."""


def runs_here(
    environment: dict[str, Any],
    results_dir: str | os.PathLike[str] | None = None,
    *,
    exclude: Path | None = None,
    look_back: int = 20,
) -> list[tuple[Path, dict[str, Any]]]:
    """The runs, among the ``look_back`` last written to but ``exclude``, made on the machine of ``environment``
    (the same :data:`SAME_MACHINE`; none when ``environment`` lacks one of :data:`NAMED_BY`), newest first, each
    with its ``meta.json``. With ``exclude``, the ``look_back`` last written to before it are among them too: the
    report of an old run finds the runs that came before it, not only the newest. Damaged runs and lines are passed
    over without a word; only those runs' ``meta.json`` are read (by their files' modification times: a results
    folder of thousands of runs costs a listing, not thousands of reads)."""
    if any(environment.get(key) in (None, "") for key in NAMED_BY):  # a machine it cannot name matches none
        return []
    try:
        folders = _run_folders(results_dir)
    except (OSError, ResultsError):  # a folder that cannot be listed: no run to go by
        return []

    def written(path: Path) -> float:
        try:
            return max(f.stat().st_mtime for f in (path / "records.jsonl", path / "meta.json") if f.exists())
        except (OSError, ValueError):  # gone meanwhile, or neither file
            return 0.0

    times = {path: written(path) for path in folders}
    newest = sorted(folders, key=times.__getitem__, reverse=True)
    chosen = newest[:look_back]
    if exclude is not None:
        newest = [p for p in newest if p.resolve() != exclude.resolve()]
        last = written(exclude)
        before = [p for p in newest if times[p] <= last]
        chosen = sorted({*newest[:look_back], *before[:look_back]}, key=times.__getitem__, reverse=True)
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResultsWarning)
        for path in chosen:
            meta = read_meta(path)
            env = meta.get("environment") or {}
            if isinstance(env, dict) and all(env.get(key) == environment.get(key) for key in SAME_MACHINE):
                found.append((path, meta))
    return found


DAY_S = 86400.0
"""The longest a case's earlier set-up and measurement is believed (:func:`past_case_seconds`)."""


def list_runs(results_dir: str | os.PathLike[str] | None = None):
    """One row per run: id, status, suites, case counts (of the records on disk), commit, machine, ``damage``: what
    of the run could not be read (empty for an intact run), and ``empty``: :data:`EMPTY_RUN` for a run killed before
    its first case that left no ``meta.json`` (else empty)."""
    import pandas as pd

    rows = []
    for path, meta, suites in _read_runs(results_dir):  # read without warning: reported in the damage column instead
        problems = list(meta.get("damage", []))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResultsWarning)
            records = _read_jsonl(path / "records.jsonl", problems, suites=suites)
        env = meta.get("environment", {})
        counts: dict[str, int] = {}
        for record in records:
            counts[record["status"]] = counts.get(record["status"], 0) + 1
        rows.append(
            {
                "run_id": meta["run_id"],
                "status": meta.get("status"),
                "suites": ",".join(s["name"] for s in meta.get("suites", [])),
                "ok": counts.get("ok", 0),
                "failed": counts.get("failed", 0),
                "skipped": counts.get("skipped", 0),
                "git_commit": (env.get("git_commit") or "")[:12],
                "hostname": env.get("hostname"),
                "started_at": meta.get("started_at"),
                "damage": "; ".join(problems),
                "empty": meta.get("empty", ""),
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "run_id",
            "status",
            "suites",
            "ok",
            "failed",
            "skipped",
            "git_commit",
            "hostname",
            "started_at",
            "damage",
            "empty",
        ],
    )
