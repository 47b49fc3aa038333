"""Reading a run's files as far as they are intact: line by line, each damaged line or impossible figure skipped or
cleared with a warning naming it."""

from __future__ import annotations

import errno
import itertools
import json
import math
import os
import re
import warnings
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from bench import metrics
from bench.checks import MAX_COUNT, short
from bench.errors import BenchWarning, first_few, short_name
from bench.results.paths import RUN_ID_PATTERN
from bench.results.record import _ENV_TYPES, COLUMNS, ENVIRONMENT_FIELDS, SCHEMA_VERSION, STATUSES


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
