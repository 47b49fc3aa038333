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
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,{sheet}"

pytestmark = pytest.mark.skipif(SOFFICE is None, reason="LibreOffice not installed (libreoffice-calc-nogui)")


def _recalculated(edited, tmp_path, sheet: int = 4) -> list[list[str]]:
    """The capacity sheet of ``edited`` (or its ``sheet``-th sheet) as LibreOffice Calc recomputes it (exported as
    CSV)."""
    subprocess.run(
        [
            SOFFICE,
            "--headless",
            "--norestore",
            f"-env:UserInstallation={(tmp_path / 'lo').as_uri()}",
            "--convert-to",
            CSV_FILTER.format(sheet=sheet),
            "--outdir",
            str(tmp_path),
            str(edited),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    (exported,) = tmp_path.glob(f"{edited.stem}*.csv")  # edited-capacity.csv: one sheet exported
    with exported.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    return rows


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
    rows = _recalculated(edited, tmp_path)
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
    # the cheapest plan is chosen among the feasible ones (column S), as the page's ★: int8 breaks the accuracy
    # constraint, so its cheaper plan is not named (before: m[int8-cpu-1t-bs1], the cheapest of every plan)
    feasible = {name: r for name, r in plan.items() if r[18] == "TRUE"}
    assert set(feasible) == set(result.capacity.loc[result.capacity["feasible"], "case_id"])
    assert all(r[19] == "" for name, r in plan.items() if name not in feasible)
    cheapest = min((float(r[7]), name) for name, r in feasible.items() if r[7])
    assert cheapest[1] == "m[bf16-cpu-2t-bs1]"
    assert min(float(r[7]) for r in plan.values() if r[7]) < cheapest[0]  # an infeasible plan is cheaper
    assert rows[len(plan) + 11][:2] == ["cheapest plan meeting the SLO and the constraints", cheapest[1]]
    assert float(rows[len(plan) + 12][1]) == pytest.approx(cheapest[0])


def test_with_every_case_infeasible_no_plan_is_named_whatever_the_inputs(tmp_path):
    """Was: with every case breaking the constraints, the workbook still named a "cheapest plan meeting the SLO"
    (the page has no ★). Now Calc too says why there is none and leaves the cost blank, and says the SLO is the
    reason once no plan meets it."""
    from tests.test_report import SECTIONS, make_run

    sections = {**SECTIONS, "constraints": {"memory_mb_max": 100}}  # every case peaks at 200 MB
    run_id = make_run(tmp_path / "results", sections=sections)
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert result.capacity["meets_slo"].any() and not result.capacity["feasible"].any()
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    book["capacity"]["E11"] = 0.0001  # a price edited down: still not feasible, so still not named
    edited = tmp_path / "infeasible.xlsx"
    book.save(edited)
    rows = _recalculated(edited, tmp_path)
    n = len(result.capacity)
    assert rows[n + 11][:2] == [
        "cheapest plan meeting the SLO and the constraints",
        "none is feasible (column U says why)",
    ]
    assert rows[n + 12][1] == ""
    assert all(
        row[18] == "FALSE" and row[20].startswith("violates memory_mb 200 MiB > 100 MiB") for row in rows[10 : 10 + n]
    )
    book["capacity"]["B5"] = 0.001  # latency_slo_ms: no case meets it
    book.save(tmp_path / "slo.xlsx")
    rows = _recalculated(tmp_path / "slo.xlsx", tmp_path)
    assert rows[n + 11][1] == "none meets the SLO" and rows[n + 12][1] == ""


def test_when_the_feasible_plans_lose_their_slo_or_their_prices_calc_says_which(tmp_path):
    """The reasons that need COUNTIFS over the feasible column and the replicas, as Calc evaluates them."""
    from tests.test_report import make_run

    run_id = make_run(tmp_path / "results")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    n = len(result.capacity)
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    book["capacity"]["B5"] = 2.5  # latency_slo_ms: only m[int8-cpu-2t-bs1] meets it, and it breaks a constraint
    book.save(tmp_path / "slo.xlsx")
    rows = _recalculated(tmp_path / "slo.xlsx", tmp_path)
    assert [row[0] for row in rows[10 : 10 + n] if row[6]] == ["m[int8-cpu-2t-bs1]"]
    assert rows[n + 11][1:2] + rows[n + 12][1:2] == ["none that meets the SLO is feasible (column U says why)", ""]
    book["capacity"]["B5"] = 5
    for row in range(11, 11 + n):
        book["capacity"][f"E{row}"] = None  # every price per hour removed
    book.save(tmp_path / "unpriced.xlsx")
    rows = _recalculated(tmp_path / "unpriced.xlsx", tmp_path)
    assert rows[n + 11][1:2] + rows[n + 12][1:2] == [
        "no feasible plan that meets the SLO has a price (column R says why)",
        "",
    ]


def test_each_suites_sheet_recalculates_with_its_own_inputs(tmp_path):
    """A run of two suites: each capacity sheet's formulas read the names scoped to it. Changing the second suite's
    target load replans its rows only; the first suite's sheet keeps its own inputs (2000 QPS, x1.5)."""
    from tests.test_report_suites import make_suites_run

    run_id = make_suites_run(tmp_path / "results")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    second = book.sheetnames[4]
    book[second]["B4"] = 1000  # the EUR suite's target_qps (was 100); its headroom stays 2, its SLO 50 ms
    edited = tmp_path / "two.xlsx"
    book.save(edited)
    for number, target, headroom, suite in ((4, 2000, 1.5, "s"), (5, 1000, 2, result.capacity["suite"].iloc[-1])):
        rows = _recalculated(edited, tmp_path / str(number), sheet=number)
        plan = result.capacity[result.capacity["suite"] == suite].set_index("case_id")
        got = {row[0]: row for row in rows[10 : 10 + len(plan)]}
        assert set(got) == set(plan.index)
        for case_id, row in got.items():
            if row[5] == "yes":
                replicas = replicas_needed(target, headroom, plan.at[case_id, "throughput_items_per_s"])
                assert int(row[6]) == replicas
                assert float(row[7]) == pytest.approx(replicas * plan.at[case_id, "price_per_hour"] * 730)
        assert any(row[5] == "yes" for row in got.values())


def test_calc_says_a_tie_where_plans_share_the_lowest_cost_and_names_the_one_a_price_edit_makes_cheaper(tmp_path):
    """Was: INDEX/MATCH named the first of the plans at the lowest cost. Now Calc says it is a tie while they cost
    the same, and names the cheaper one once a price cell makes it so."""
    from tests.test_report import make_tie

    run_id = make_tie(tmp_path / "results")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    n = len(result.capacity)
    book = openpyxl.load_workbook(folder / "capacity.xlsx")  # without cached values: Calc computes every cell
    book.save(tmp_path / "tie.xlsx")
    rows = _recalculated(tmp_path / "tie.xlsx", tmp_path)
    assert rows[n + 11][1] == "a tie: 2 plans at this cost (the rows whose column T shows it)"
    assert float(rows[n + 12][1]) == pytest.approx(result.capacity["monthly_cost"].min())
    book["capacity"]["E13"] = 0.01  # int8's price per hour, lowered: it alone is the cheapest
    book.save(tmp_path / "cheaper.xlsx")
    rows = _recalculated(tmp_path / "cheaper.xlsx", tmp_path)
    assert rows[12][0] == "m[int8-cpu-1t-bs1]" and rows[n + 11][1] == "m[int8-cpu-1t-bs1]"
