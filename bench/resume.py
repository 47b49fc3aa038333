"""Resuming a stopped run: ``bench run SUITE --resume RUN_ID`` (``pytest --bench-resume RUN_ID``).

The run's cases that already have a record (ok, failed or skipped) are deselected; the others run and append to the
same run folder, so the union of its records covers every case once. A case that was mid-way when the run died has
no record and is measured again from the start (a line its kill cut short is dropped first). ``meta.json`` gets a
``resumed`` entry per resumption. Resuming is refused, one line each, when the run is still running, its
``meta.json`` is damaged, one of its files is a link that leads to no file (appending through it would create its
target), a suite is not part of it or changed since, or the machine is another one; and when the run was killed
before its first case (nothing to resume).
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.errors import BenchError, counted
from bench.results import (
    STOP_KEYS,
    ResultsWarning,
    RunBusyError,
    RunWriter,
    broken_link,
    killed_empty,
    load,
    read_meta,
    run_id_problem,
    running_who,
)

SAME_MACHINE = ("hostname", "cpu_model", "torch_version")
"""Environment keys a resumed run must share with the run it continues (its records must stay comparable)."""


@dataclass(frozen=True)
class Resumable:
    """A stopped run and the cases (``suite::case_id``) it already has a record of."""

    path: Path
    meta: dict[str, Any]
    done: frozenset[str]


def resumable(results_dir: str | Path, run_id: str) -> Resumable:
    """The run to resume, or a :class:`BenchError` saying why it cannot be resumed."""
    problem = run_id_problem(run_id)  # a run's id names a folder of results_dir: never a path, nor too long a name
    if problem:
        raise BenchError(f"--resume {problem}")
    path = Path(results_dir) / run_id
    if killed_empty(path):
        raise BenchError(
            f"--resume {run_id!r}: the run was killed before its first case, so nothing was measured and there is "
            f"nothing to resume; start a new run (its folder {path} is safe to delete)"
        )
    for name in ("meta.json", "records.jsonl", "samples.jsonl"):  # appended through, a link would create its target
        broken = broken_link(path / name)
        if broken:
            raise BenchError(f"--resume {run_id!r}: {path / name} is {broken}; restore it or start a new run")
    if not (path / "meta.json").is_file():
        raise BenchError(f"--resume {run_id!r}: no run {path} (its meta.json is missing)")
    for name in ("records.jsonl", "samples.jsonl"):  # appended to: each must be a file, or not yet exist
        if (path / name).exists() and not (path / name).is_file():
            raise BenchError(f"--resume {run_id!r}: {path / name} is not a file; start a new run")
    with warnings.catch_warnings():  # a line cut short by the kill is expected; it is dropped before appending
        warnings.simplefilter("ignore", ResultsWarning)
        meta = read_meta(path)
        frame = load(path)
    if meta.get("damage"):
        raise BenchError(f"--resume {run_id!r}: {meta['damage'][0]}; start a new run")
    if meta.get("status") == "running":
        raise BenchError(f"--resume {run_id!r}: the run is still running{running_who(meta)}; stop it first")
    done = frozenset(f"{suite}::{case}" for suite, case in zip(frame["suite"], frame["case_id"], strict=True))
    return Resumable(path, meta, done)


def check_same(run: Resumable, suites: list[dict[str, Any]], environment: dict[str, Any]) -> None:
    """Refuse suites that are not part of the run or changed since it started, and another machine."""
    by_name = {s["name"]: s for s in run.meta.get("suites", [])}
    for suite in suites:
        before = by_name.get(suite["name"])
        if before is None:
            known = ", ".join(by_name) or "none"
            raise BenchError(f"--resume {run.path.name!r}: suite {suite['name']!r} is not part of it (it has: {known})")
        if sorted((before.get("files") or {}).values()) != sorted(suite["files"].values()):
            raise BenchError(
                f"--resume {run.path.name!r}: {suite['path']} (or a file it extends) changed since the run started; "
                "its cases would not be comparable: start a new run"
            )
    old_env = run.meta.get("environment") or {}
    differs = [k for k in SAME_MACHINE if old_env.get(k) and environment.get(k) and old_env[k] != environment[k]]
    if differs:
        what = "; ".join(f"{k} {old_env[k]!r} -> {environment[k]!r}" for k in differs)
        raise BenchError(f"--resume {run.path.name!r}: measured on another machine ({what}); start a new run")


def resumed_meta(run: Resumable, selected: list[str], remaining: int, argv: list[str]) -> dict[str, Any]:
    """What a resumption adds to ``meta.json``: the cases it set out to measure, and a ``resumed`` entry."""
    entry = {
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "argv": argv,
        "status_before": run.meta.get("status"),
        "records_before": len(run.done),
        "cases_remaining": remaining,
        **{f"{key}_before": run.meta[key] for key in STOP_KEYS if run.meta.get(key) is not None},
    }
    cases = sorted(set(run.meta.get("cases") or []) | set(selected))
    return {"cases": cases, "resumed": [*(run.meta.get("resumed") or []), entry]}


def reopen(run: Resumable, update: dict[str, Any]) -> RunWriter:
    """The run's writer, appending after what it holds (a line its kill cut short is dropped first, since an append
    would glue a record to it); a :class:`bench.results.RunBusyError` when another process has reopened it since
    :func:`resumable` looked: one that holds it now (two resumptions started at once), or one that resumed it
    meanwhile, while this one collected its suites (the cases it measured would be measured twice)."""

    def unchanged(meta: dict[str, Any], done: frozenset[str]) -> None:
        added = done - run.done
        if added or _resumptions(meta) != _resumptions(run.meta):
            raise RunBusyError(
                f"--resume {run.path.name!r}: another process resumed the run since this one looked at it"
                f"{running_who(meta)} and recorded {counted(len(added), 'more case')}; resume again to measure what "
                "is left"
            )

    return RunWriter(run.path.parent, run.path.name, update, resume=True, check=unchanged)


def _resumptions(meta: dict[str, Any]) -> int:
    """How many resumptions a run's ``meta.json`` lists."""
    resumed = meta.get("resumed")
    return len(resumed) if isinstance(resumed, list) else 0
