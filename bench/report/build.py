"""Writing ``reports/<run_id>/``: index.html, the PNG charts, summary.csv and capacity.xlsx."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from bench import results as store
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
) -> tuple[Path, Tables]:
    """Score a run and write its report folder; returns the folder and the tables it shows. ``results_dir`` and
    ``reports_dir`` default to the CLI's folders (``$BENCH_RESULTS_DIR``, ``$BENCH_REPORTS_DIR``, see
    :func:`bench.results.default_results_dir`)."""
    from bench.report.charts import make_charts, save_charts
    from bench.report.html import render_html
    from bench.report.load_chart import load_curve_chart
    from bench.report.xlsx import write_workbook

    result = tables(run, results_dir, prices_file=prices_file, profile=profile)
    folder = Path(store.default_reports_dir() if reports_dir is None else reports_dir) / result.run_id
    folder.mkdir(parents=True, exist_ok=True)
    charts = [*make_charts(result), load_curve_chart(result)]
    html = render_html(result, charts)  # embeds the figures before they are closed
    save_charts(charts, folder)
    (folder / "index.html").write_text(html, encoding="utf-8")
    csv_safe(result.summary).to_csv(folder / "summary.csv", index=False)
    write_workbook(result, folder / "capacity.xlsx")
    return folder, result
