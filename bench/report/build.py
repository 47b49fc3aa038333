"""Writing ``reports/<run_id>/``: index.html, the PNG charts, summary.csv and capacity.xlsx."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from bench import results as store
from bench.durable import leftovers, replace_folder
from bench.errors import BenchError
from bench.report.tables import Tables, tables

DEFAULT_REPORTS_DIR = "reports"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What a spreadsheet opening a CSV reads as the start of a formula (OWASP, CSV injection)."""


def csv_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with every text cell that a spreadsheet would run as a formula (``=HYPERLINK(...)``, ``-2+3``,
    ``@SUM(A1)``) prefixed with ``'``, OWASP's neutralisation, so that summary.csv opened by a double click shows it
    as text. bench never writes such a label itself: only a hand-edited or foreign records file has one, and its
    text as written stays in records.jsonl and capacity.xlsx. Numbers are not text and stay numbers (-0.5)."""

    def neutral(value):
        return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value

    out = frame.copy()
    for column in out.select_dtypes(include=["object", "string"]).columns:
        out[column] = out[column].map(neutral)
    return out


def write_report(
    run: str | os.PathLike[str] | None = None,
    results_dir: str | os.PathLike[str] | None = None,
    reports_dir: str | os.PathLike[str] | None = None,
    *,
    prices_file: str | os.PathLike[str] | None = None,
    profile: str | None = None,
    across_runs: bool = False,
) -> tuple[Path, Tables]:
    """Score a run and write its report folder; returns the folder and the tables it shows. ``results_dir`` and
    ``reports_dir`` default to the CLI's folders (``$BENCH_RESULTS_DIR``, ``$BENCH_REPORTS_DIR``, see
    :func:`bench.results.default_results_dir`); ``across_runs``: see :func:`bench.report.tables.tables`."""
    from bench.report.charts import make_charts, plt, save_charts
    from bench.report.html import render_html
    from bench.report.load_chart import load_curve_chart
    from bench.report.xlsx import write_workbook

    found = store.open_run(run, results_dir)
    problem = store.report_name_problem(found.meta["run_id"], found.path)
    if problem:  # a copied folder ("r1 (copy)"): its name is its id, and no folder of the reports may be named so
        raise BenchError(problem)  # before scoring it: nothing could be written
    result = tables(found, prices_file=prices_file, profile=profile, across_runs=across_runs)
    folder = Path(store.default_reports_dir() if reports_dir is None else reports_dir) / result.run_id
    if (folder / "meta.json").exists():  # the reports folder is a results folder: it was replaced, records and all
        raise BenchError(
            f"{folder} holds a run (its meta.json), not a report: writing the report there would replace the run; "
            "write reports to another folder than the results"
        )
    _tidy(folder)
    made = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    charts = [*make_charts(result), load_curve_chart(result)]
    html = render_html(result, charts)  # embeds the figures before they are closed
    staging = folder.with_name(f".{folder.name}.tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        staging.mkdir()
        for chart in charts:
            if chart.figure is not None:
                _write(folder, staging, chart.filename, lambda path, chart=chart: save_charts([chart], path.parent))
        _write(folder, staging, "index.html", lambda path: path.write_text(html, encoding="utf-8"))
        _write(folder, staging, "summary.csv", lambda path: csv_safe(result.summary).to_csv(path, index=False))
        _write(folder, staging, "capacity.xlsx", lambda path: write_workbook(result, path))
        _replace_folder(staging, folder)
    except BaseException:
        if made:  # the empty folder made for it: no report stands there
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise
    finally:
        for chart in charts:  # those a failed write did not reach
            if chart.figure is not None:
                plt.close(chart.figure)
        shutil.rmtree(staging, ignore_errors=True)
    return folder, result


LEFTOVER_GRACE_S = 60.0
"""A leftover whose process is gone is put right once it has not been written to for this long: a report written
from another machine into a shared folder has a pid that means nothing here, but it writes its files within
seconds."""


def _tidy(folder: Path) -> None:
    """Put right what a report of the same run left beside ``folder`` when its process was killed (``kill -9``, a CI
    timeout, a power loss) mid-write: its staging folder is removed, and the earlier report it had moved aside is put
    back where no report stands (else removed). Before, each stayed for ever, hidden, and a kill between the two
    renames left the run without its earlier report. Nothing here fails: what cannot be tidied stays as it is."""
    try:
        found = leftovers(folder.parent, folder.name)  # its staging folder, the earlier report moved aside
    except OSError:
        return
    for path, _, kind, pid in found:
        if not _stale(path, pid):
            continue
        with contextlib.suppress(OSError):
            if kind == "old" and not os.path.lexists(folder):
                path.rename(folder)
            else:
                shutil.rmtree(path)


def _stale(path: Path, pid: int) -> bool:
    """Whether no live process on this machine writes the leftover folder ``path``: its pid is gone and it has not
    been written to for :data:`LEFTOVER_GRACE_S`. This process's own pid counts as gone: it has written
    nothing yet, so such a folder is an earlier process's that had the same pid (a container's pids repeat from
    job to job); left, it would also stand where this report moves the earlier one aside, and fail it."""
    from bench.hardware import process_gone

    try:
        info = path.lstat()
    except OSError:
        return False
    quiet = time.time() - info.st_mtime > LEFTOVER_GRACE_S
    gone = pid == os.getpid() or process_gone({"pid": pid, "host": socket.gethostname()})
    return quiet and gone


def _write(folder: Path, staging: Path, name: str, write: Callable[[Path], Any]) -> None:
    """``write(staging / name)``; a write the file system refuses (a full disk, a read-only folder) raises an
    ``OSError`` that names the file as the report will have it, ``folder / name`` (xlsxwriter's own error for it
    included)."""
    from xlsxwriter.exceptions import FileCreateError

    try:
        write(staging / name)
    except (OSError, FileCreateError) as err:
        cause = err.args[0] if isinstance(err, FileCreateError) and err.args else err
        if not isinstance(cause, OSError):
            raise
        raise OSError(cause.errno, cause.strerror or str(cause), str(folder / name)) from None


def _replace_folder(staging: Path, folder: Path) -> None:
    """Put the written ``staging`` folder in the place of ``folder`` (an earlier report of the run, or none): a
    report that could not be written whole never stands as the run's report, and an earlier one stays until this
    one is complete."""
    if folder.exists() and not folder.is_dir():  # never moved away: it is not an earlier report
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(folder))
    replace_folder(staging, folder)
