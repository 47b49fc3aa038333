"""The runs of a results folder: their status (running, finished, interrupted, killed, damaged), finding one by id
or prefix, and loading records and samples into pandas."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import stat
import time
import warnings
from collections.abc import Callable, Collection, Iterable
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.checks import short, short_commit
from bench.errors import BenchError, first_few, one_line_text, os_reason, short_name
from bench.hardware import process_gone
from bench.results.paths import RUN_ID_RULE, results_folder, run_id_problem
from bench.results.reading import (
    _BESIDE,
    NAME_RULE,
    NOT_UNICODE,
    ResultsWarning,
    _clear_damaged_parts,
    _finite_number,
    _is_name,
    _meta_json,
    _read_jsonl,
    _suite_names,
    _warn,
    unicode_text,
)
from bench.results.record import COLUMNS


class ResultsError(BenchError):
    """A results folder cannot be read as written (a corrupt line, an unreadable meta.json)."""


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
                "git_commit": short_commit(env.get("git_commit")),
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
