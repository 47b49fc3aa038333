"""Where a $/1M figure's price per hour comes from: the page, summary.csv and capacity.xlsx name each row's
``price_basis`` (the price table entry, or why there is none)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import openpyxl
import pandas as pd

from bench.report import write_report
from bench.results import RunWriter
from tests.test_report import ok_record

MYSTERY = "Mystery GPU 9000"
NO_PRICE = f"no price for GPU '{MYSTERY}'; add it to prices.gpu_hour"
CPU_BASIS = "2 core-hour(s) from the default table (bench/data/prices.yaml)"


TARGETS = (("cpu", 2, None), ("cuda:0", None, MYSTERY))


def make_run(results: Path, run_id: str = "r", targets=TARGETS) -> str:
    """fp32 and int8 of model m on 2 CPU threads and on a GPU that the price table does not know."""
    writer = RunWriter(results, run_id, {"suites": [{"name": "s", "sections": {}}]})
    for device, threads, gpu in targets:
        for compression, latency, size in (("fp32", 4.0, 4000), ("int8", 2.0, 1000)):
            rec = ok_record(
                run_id, f"m[{compression}-{device}-bs1]", compression, device, threads, latency, size, gpu_name=gpu
            )
            writer.append(rec, [latency] * 5)
    writer.close("finished")
    return run_id


def cells(text: str, row_start: str) -> list[str]:
    """The cells of the page's table row that starts with ``row_start``, as text."""
    row = re.search(r"<tr[^>]*>\s*<td>" + re.escape(row_start) + r"</td>(.*?)</tr>", text, re.S)
    assert row, f"no row for {row_start}"
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row[1], re.S)]


def test_the_price_basis_of_every_row_is_on_the_page_in_the_csv_and_in_the_workbook(tmp_path):
    folder, result = write_report(make_run(tmp_path / "results"), tmp_path / "results", tmp_path / "reports")
    page = (folder / "index.html").read_text()
    text = re.sub(r"\s+", " ", html.unescape(page))  # the prose as a reader sees it
    # the capacity table: a price basis column beside the price per hour, the reason where there is no price
    assert "<th>price / hour (USD)</th><th>price basis</th>" in page
    assert CPU_BASIS in cells(page, "m[int8-cpu-bs1]")
    gpu_row = cells(page, "m[int8-cuda:0-bs1]")
    assert any(cell.startswith(NO_PRICE) for cell in gpu_row)
    # under the ranking: what the $/1M figures rest on, per suite, with the case counts
    note = re.sub(r"<[^>]+>", "", re.search(r"where it comes from \(column price basis\)(.*?)</ul>", text, re.S)[1])
    assert f"s (prices: default, in USD): {CPU_BASIS} (2 case(s)) · " + NO_PRICE in note
    summary = pd.read_csv(folder / "summary.csv").set_index("case_id")
    assert summary.loc["m[fp32-cpu-bs1]", "price_basis"] == CPU_BASIS
    assert summary.loc["m[fp32-cuda:0-bs1]", "price_basis"].startswith(NO_PRICE)
    assert summary.loc["m[fp32-cpu-bs1]", "throughput_basis"] == "single-stream"
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    capacity = book["capacity"]
    assert capacity["R10"].value == "price basis"
    bases = {capacity[f"A{r}"].value: capacity[f"R{r}"].value for r in range(11, 11 + len(result.capacity))}
    assert bases["m[fp32-cpu-bs1]"] == CPU_BASIS and bases["m[int8-cuda:0-bs1]"].startswith(NO_PRICE)
    header = [c.value for c in book["cases"][1]]
    assert "price_basis" in header and "throughput_basis" in header


def test_a_workbook_whose_feasible_plans_have_no_price_names_none_and_says_why(tmp_path):
    """Was: "cheapest plan meeting the SLO: none meets the SLO" when every plan met it but none had a price (a GPU
    the price table does not know). Now the cell says that no feasible plan has a price, and where to look."""
    run_id = make_run(tmp_path / "results", targets=TARGETS[1:])
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert result.capacity["meets_slo"].all() and result.capacity["feasible"].all()
    assert result.capacity["monthly_cost"].isna().all() and not result.capacity["cheapest"].any()
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    assert sheet["A14"].value == "cheapest plan meeting the SLO and the constraints"
    assert sheet["B14"].value == "no feasible plan that meets the SLO has a price (column R says why)"
    assert sheet["B15"].value in ("", None)
    assert sheet["R11"].value.startswith(NO_PRICE)
