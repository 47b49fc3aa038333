"""capacity.xlsx recalculates in a real spreadsheet: change the inputs, LibreOffice recomputes replicas and cost.

Needs LibreOffice Calc (Debian: ``apt-get install -y --no-install-recommends libreoffice-calc-nogui``); skipped
without it.
"""

from __future__ import annotations

import csv
import shutil
import subprocess

import openpyxl
import pytest

from bench.judge.cost import replicas_needed
from bench.report import write_report

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# CSV export options: comma, double quote, UTF-8, first line 1, ..., sheet 4 (the capacity sheet)
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,4"

pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice not installed (libreoffice-calc-nogui)")


def test_changing_the_inputs_updates_replicas_and_monthly_cost(tmp_path):
    from tests.test_report import make_run

    run_id = make_run(tmp_path / "results")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    sheet = book["capacity"]
    sheet["B4"] = 100_000  # target_qps
    sheet["B5"] = 3.5  # latency_slo_ms: drops the slower cases
    sheet["B6"] = 2.0  # headroom
    sheet["E11"] = 1.0  # the first row's price per hour
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
            "--convert-to",
            CSV_FILTER,
            "--outdir",
            str(tmp_path),
            str(edited),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (exported,) = tmp_path.glob("edited*.csv")  # edited-capacity.csv: one sheet exported
    with exported.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    plan = {row[0]: row for row in rows[10:] if row and row[0].startswith("m[")}
    assert len(plan) == len(result.capacity)
    for case in result.capacity.itertuples():
        row = plan[case.case_id]
        latency = float(row[2])
        price = 1.0 if case.case_id == rows[10][0] else case.price_per_hour
        if latency <= 3.5:
            replicas = replicas_needed(100_000, 2.0, case.throughput_items_per_s)  # 375.0 exactly is 375
            assert row[5:7] == ["yes", str(replicas)]
            assert float(row[7]) == pytest.approx(replicas * price * 730)
        else:
            assert row[5:8] == ["no", "", ""]
    cheapest = min((float(r[7]), name) for name, r in plan.items() if r[7])
    assert rows[len(plan) + 11][:2] == ["cheapest plan meeting the SLO", cheapest[1]]
