"""`bench report`: tables for notebooks, the report folder, the XLSX formulas, the CLI and the pytest option."""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from bench.cli import main
from bench.hardware import this_process
from bench.judge.cost import replicas_needed
from bench.report import tables, write_report
from bench.report.xlsx import NO_PLAN
from bench.results import Record, RunWriter

SECTIONS = {
    "scoring": {"profile": "recommendation"},
    "constraints": {"accuracy_drop_max": 0.02},
    "capacity": {"target_qps": 2000, "latency_slo_ms": 5, "headroom": 1.5},
}


def ok_record(
    run_id: str, case_id: str, compression: str, device: str, threads: int | None, latency: float, size: int, **more
) -> Record:
    """An ok eager case of model m in suite s at batch 1: its latency, the figures that follow from it, its size."""
    return Record(
        run_id=run_id,
        suite="s",
        case_id=case_id,
        model="m",
        compression=compression,
        engine="eager",
        device=device,
        threads=threads,
        batch_size=1,
        status="ok",
        latency_p50_ms=latency,
        latency_p99_ms=latency * 1.5,
        latency_mean_ms=latency,
        throughput_items_per_s=1000.0 / latency,
        model_size_bytes=size,
        peak_rss_mb=200.0,
        **more,
    )


def make_run(results: Path, run_id: str = "20260101T000000Z-abcd", accuracy: bool = True, sections=None) -> str:
    """A finished run of model m: fp32/bf16/int8 on 1 and 2 CPU threads, and a skipped CUDA case."""
    meta = {"suites": [{"name": "s", "path": "s.yaml", "sections": SECTIONS if sections is None else sections}]}
    writer = RunWriter(results, run_id, meta)
    figures = {"fp32": (4.0, 4000, 0.90), "bf16": (3.0, 2000, 0.895), "int8": (2.0, 1000, 0.85)}
    for threads in (1, 2):
        for compression, (latency, size, acc) in figures.items():
            latency = latency / (1.6 if threads == 2 else 1)
            writer.append(
                ok_record(
                    run_id,
                    f"m[{compression}-cpu-{threads}t-bs1]",
                    compression,
                    "cpu",
                    threads,
                    latency,
                    size,
                    accuracy=acc if accuracy else None,
                    accuracy_metric="auc" if accuracy else None,
                    energy_source="unavailable: no energy meter implemented",
                ),
                [latency] * 5,
            )
    writer.append(
        Record(
            run_id=run_id,
            suite="s",
            case_id="m[fp32-cuda0-bs1]",
            model="m",
            compression="fp32",
            engine="eager",
            device="cuda:0",
            threads=None,
            batch_size=1,
            status="skipped",
            error="cuda:0 not available",
        )
    )
    writer.close("finished")
    return run_id


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    run_id = make_run(root / "results")
    folder, result = write_report(run_id, root / "results", root / "reports")
    return folder, result


def test_tables_for_notebooks(tmp_path):
    run_id = make_run(tmp_path)
    t = tables(run_id, tmp_path)
    assert list(t.ranking["rank"].head(3)) == [1, 2, 3]
    assert t.cases["threads"].dtype == "Int64"
    rec = t.recommendations.set_index("device").loc["cpu"]
    # int8 breaks accuracy_drop_max 0.02 (0.05 drop); bf16 on 2 threads is faster than on 1 at the same size
    assert rec["case_id"] == "m[bf16-cpu-2t-bs1]"
    assert (
        t.cases.set_index("case_id").loc["m[bf16-cpu-1t-bs1]", "verdict"] == "dominated by m[bf16-cpu-2t-bs1] (faster)"
    )
    assert "violates accuracy_drop 0.05 > 0.02" in t.cases.set_index("case_id").loc["m[int8-cpu-1t-bs1]", "verdict"]
    assert set(t.pareto["compression"]) == {"fp32", "bf16", "int8"}
    assert t.robustness.iloc[0]["perturbations"] == 27
    assert t.summary.columns[0] == "suite" and len(t.summary) == 7


def test_report_folder_has_every_file_and_charts(report):
    folder, _ = report
    names = {p.name for p in folder.iterdir()}
    assert {"index.html", "summary.csv", "capacity.xlsx"} <= names
    assert {"pareto.png", "latency_by_compression.png", "throughput_threads.png", "size_accuracy.png"} <= names
    assert {"score_ranking.png", "cost_per_1m.png"} <= names
    assert "energy_per_inference.png" not in names  # energy not measured: the chart is skipped with a note
    for png in folder.glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = pd.read_csv(folder / "summary.csv")
    assert summary["energy_kwh_per_1m"].isna().all()  # empty, never 0
    assert summary.loc[summary["recommended"].fillna(False).astype(bool), "case_id"].tolist() == ["m[bf16-cpu-2t-bs1]"]


def test_html_is_self_contained(report):
    folder, _ = report
    html = (folder / "index.html").read_text()
    sources = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert html.count("<img ") == 6
    assert "Chart skipped: energy was not measured in this run" in html
    assert "deploy <code>m[bf16-cpu-2t-bs1]</code>" in html
    assert "P        = ωS·S + ωT·T + ωA·(1 − A)" in html


def test_workbook_has_live_formulas_and_cached_results(report):
    folder, result = report
    book = openpyxl.load_workbook(folder / "capacity.xlsx")
    assert book.sheetnames == ["summary", "cases", "pareto", "capacity"]
    assert {"target_qps", "latency_slo_ms", "headroom", "hours_per_month"} <= set(book.defined_names)
    assert book.defined_names["target_qps"].attr_text == "capacity!$B$4"
    sheet = book["capacity"]
    assert sheet["A4"].value.startswith("target load") and sheet["B4"].value == 2000
    assert sheet["B5"].value == 5 and sheet["B6"].value == 1.5 and sheet["B7"].value == 730
    assert [c.value for c in sheet[10]][:8] == [
        "case_id",
        "device",
        "latency p99 (ms)",
        "throughput (items/s)",
        "price per hour (USD)",
        "meets SLO",
        "replicas",
        "monthly cost (USD)",
    ]
    assert sheet["F11"].value == '=IF(AND(ISNUMBER(C11),C11<=latency_slo_ms),"yes","no")'
    assert sheet["G11"].value == '=IF(AND(F11="yes",N(D11)>0),ROUNDUP(target_qps*headroom/D11,0),"")'
    assert sheet["H11"].value == '=IF(AND(ISNUMBER(G11),ISNUMBER(E11)),G11*E11*hours_per_month,"")'

    cached = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    plan = result.capacity.reset_index(drop=True)
    for offset, row in plan.iterrows():
        r = 11 + offset
        assert cached[f"A{r}"].value == row["case_id"]
        assert cached[f"F{r}"].value == ("yes" if row["meets_slo"] else "no")
        if row["meets_slo"]:
            expected = replicas_needed(2000, 1.5, row["throughput_items_per_s"])
            assert cached[f"G{r}"].value == expected == row["replicas"]
            assert cached[f"H{r}"].value == pytest.approx(expected * row["price_per_hour"] * 730)
    cases = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["cases"]
    assert [c.value for c in cases[1]][:2] == ["suite", "case_id"] and cases.max_row == 8
    header = [c.value for c in cases[1]]
    skipped = [c.value for c in cases[8]]
    assert skipped[header.index("case_id")] == "m[fp32-cuda0-bs1]"
    assert skipped[header.index("threads")] is None  # a blank cell, not "<NA>" or 0
    assert skipped[header.index("score")] is None


def _plan_summary(sheet) -> dict[str, object]:
    """The capacity sheet's cells below the plan: label in column A -> the cell beside it ("" for a blank one)."""
    return {
        sheet.cell(row, 1).value: "" if sheet.cell(row, 2).value is None else sheet.cell(row, 2).value
        for row in range(12, sheet.max_row + 1)
        if str(sheet.cell(row, 1).value).startswith(("cheapest plan", "its monthly cost"))
    }


def test_the_workbooks_cheapest_plan_is_the_pages_star_among_feasible_plans(report):
    """Was: the workbook named the cheapest plan of every plan meeting the SLO, m[int8-cpu-1t-bs1], which breaks the
    suite's accuracy_drop_max (the page's ★ is on a feasible plan). Now columns S-U say which cases are feasible and
    why not, and the cheapest plan is the lowest of the feasible plans' costs (column T)."""
    folder, result = report
    plan = result.capacity.reset_index(drop=True)
    formulas = openpyxl.load_workbook(folder / "capacity.xlsx")["capacity"]
    cached = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    assert [c.value for c in formulas[10]][18:21] == [
        "feasible",
        "feasible plan monthly cost (USD)",
        "not feasible because",
    ]
    assert formulas["T11"].value == '=IF(AND(S11=TRUE,ISNUMBER(Q11)),Q11,"")'
    for offset, row in plan.iterrows():
        r = 11 + offset
        assert cached[f"S{r}"].value is bool(row["feasible"])
        feasible_cost = row["monthly_cost"] if row["feasible"] and not pd.isna(row["monthly_cost"]) else None
        assert cached[f"T{r}"].value in ((None, "") if feasible_cost is None else (pytest.approx(feasible_cost),))
        assert (cached[f"U{r}"].value or "") == row["infeasible_reason"]
    reasons = dict(zip(plan["case_id"], plan["infeasible_reason"], strict=True))
    assert reasons["m[int8-cpu-1t-bs1]"].startswith("violates accuracy_drop 0.05 > 0.02")
    assert reasons["m[bf16-cpu-2t-bs1]"] == ""
    last = 10 + len(plan)
    summary = _plan_summary(formulas)
    assert summary["cheapest plan meeting the SLO and the constraints"] == (
        f'=IF(COUNT(T11:T{last})>0,IF(COUNTIF(T11:T{last},MIN(T11:T{last}))>1,"a tie: "&COUNTIF(T11:T{last},'
        f'MIN(T11:T{last}))&" plans at this cost (the rows whose column T shows it)",INDEX(A11:A{last},'
        f"MATCH(MIN(T11:T{last}),T11:T{last},0))),"
        f'IF(COUNT(P11:P{last})=0,"none meets the SLO",IF(COUNTIF(S11:S{last},TRUE)=0,"none is feasible (column U '
        f'says why)",IF(COUNTIFS(S11:S{last},TRUE,P11:P{last},">0")=0,"none that meets the SLO is feasible (column '
        'U says why)","no feasible plan that meets the SLO has a price (column R says why)"))))'
    )
    assert summary["its monthly cost (USD)"] == f'=IF(COUNT(T11:T{last})=0,"",MIN(T11:T{last}))'
    star = plan[plan["cheapest"]].iloc[0]
    assert _plan_summary(cached) == {
        "cheapest plan meeting the SLO and the constraints": star["case_id"],
        "its monthly cost (USD)": pytest.approx(star["monthly_cost"]),
    }
    cheaper = plan[plan["meets_slo"] & ~plan["feasible"]]["monthly_cost"].min()
    assert star["case_id"] == "m[bf16-cpu-1t-bs1]" and cheaper < star["monthly_cost"]  # int8 is cheaper, not feasible


def make_tie(results: Path) -> str:
    """A run whose bf16 and int8 cases, on one thread at the same latency, need the same replicas at the same price:
    their plans cost exactly the same per month, the lowest of the group."""
    run_id = "20260101T000000Z-tie0"
    sections = {"capacity": {"target_qps": 1000, "latency_slo_ms": 50, "headroom": 1.5}}
    writer = RunWriter(results, run_id, {"suites": [{"name": "s", "path": "s.yaml", "sections": sections}]})
    for compression, latency, size in (("fp32", 4.0, 4000), ("bf16", 2.0, 2000), ("int8", 2.0, 1000)):
        case = f"m[{compression}-cpu-1t-bs1]"
        writer.append(ok_record(run_id, case, compression, "cpu", 1, latency, size), [latency] * 5)
    writer.close("finished")
    return run_id


def test_plans_tied_on_the_lowest_monthly_cost_are_each_starred_as_a_tie_and_the_workbook_names_none(tmp_path):
    """Was: bf16 and int8 cost 98.55 a month each, and the page starred bf16 alone (the first), the workbook naming
    it "cheapest plan meeting the SLO and the constraints", beside int8's recommendation. Now both are starred, each
    saying it is a tie, and the workbook says so in place of a name."""
    run_id = make_tie(tmp_path / "results")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    plan = result.capacity.set_index("case_id")
    tied = ["m[bf16-cpu-1t-bs1]", "m[int8-cpu-1t-bs1]"]
    assert plan.loc[tied[0], "monthly_cost"] == plan.loc[tied[1], "monthly_cost"]
    assert plan["cheapest"].to_dict() == {"m[fp32-cpu-1t-bs1]": False, tied[0]: True, tied[1]: True}
    page = (folder / "index.html").read_text()
    section = page[page.index("<h2>Capacity plan</h2>") : page.index("<h2>Charts</h2>")]
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)]
    stars = [(row[0], row[-1]) for row in cells if row and row[-1].startswith("★")]
    assert stars == [(case, "★ a tie: 2 plans at this cost") for case in tied]
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    assert _plan_summary(sheet) == {
        "cheapest plan meeting the SLO and the constraints": "a tie: 2 plans at this cost (the rows whose column T "
        "shows it)",
        "its monthly cost (USD)": pytest.approx(plan.loc[tied[0], "monthly_cost"]),
    }


@pytest.mark.parametrize(
    ("sections", "why"),
    [
        ({**SECTIONS, "constraints": {"memory_mb_max": 100}}, "none is feasible (column U says why)"),
        (  # the feasible cases (fp32, bf16) miss a 2.5 ms SLO, the infeasible int8 ones meet it
            {**SECTIONS, "capacity": {**SECTIONS["capacity"], "latency_slo_ms": 2.5}},
            "none that meets the SLO is feasible (column U says why)",
        ),
        ({**SECTIONS, "capacity": {"latency_slo_ms": 0.001}}, "none meets the SLO"),
    ],
)
def test_a_workbook_without_a_feasible_plan_meeting_the_slo_names_none_and_says_why(tmp_path, sections, why):
    """Was: with every case breaking the constraints, the workbook named "m[int8-cpu-1t-bs1]" as the cheapest plan
    and gave its cost, where the page has no ★. Now the cost is blank and the cell says why there is none."""
    run_id = make_run(tmp_path / "results", sections=sections)
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert not result.capacity["cheapest"].any()  # the page has no ★
    assert "<td>★</td>" not in (folder / "index.html").read_text()
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    assert _plan_summary(sheet) == {
        "cheapest plan meeting the SLO and the constraints": why,
        "its monthly cost (USD)": "",
    }


def test_accuracy_free_run_still_reports_and_says_so(tmp_path):
    run_id = make_run(tmp_path / "results", accuracy=False, sections={})
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    html = (folder / "index.html").read_text()
    assert "Accuracy was not measured in this run" in html
    assert "Chart skipped: accuracy was not measured" in html
    assert not (folder / "size_accuracy.png").exists() and (folder / "pareto.png").exists()
    assert result.cases["score"].notna().sum() == 6
    assert "term left out" in result.recommendations.iloc[0]["reasons"]


def test_a_run_whose_size_was_not_measured_still_draws_its_pareto_chart(tmp_path):
    writer = RunWriter(tmp_path / "results", "r1", {"suites": [{"name": "s"}]})
    identity = {"run_id": "r1", "suite": "s", "model": "m", "compression": "fp32", "engine": "eager"}
    writer.append(
        Record(**identity, case_id="m[fp32]", device="cpu", threads=1, batch_size=1, status="ok", latency_p50_ms=1.0)
    )
    writer.close("finished")
    folder, _ = write_report("r1", tmp_path / "results", tmp_path / "reports")
    assert (folder / "pareto.png").exists()


def test_cli_report_prints_the_recommendation(tmp_path, capsys):
    run_id = make_run(tmp_path / "results")
    code = main(["report", run_id[:8], "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out = capsys.readouterr().out
    assert code == 0
    assert "s · m on cpu, batch 1: m[bf16-cpu-2t-bs1]" in out and "robustness:" in out
    assert (tmp_path / "reports" / run_id / "index.html").is_file()


def test_cli_report_profile_and_prices_override(tmp_path, capsys):
    run_id = make_run(tmp_path / "results", sections={})
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpu_core_hour: 1.0\n")
    args = ["report", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")]
    assert main([*args, "--profile", "edge", "--prices", str(prices)]) == 0
    summary = pd.read_csv(tmp_path / "reports" / run_id / "summary.csv").set_index("case_id")
    assert summary.loc["m[fp32-cpu-1t-bs1]", "price_per_hour"] == 1.0
    assert summary.loc["m[int8-cpu-1t-bs1]", "score"] == pytest.approx(0.6 * 0.25 + 0.2 * 0.5 + 0.2 * 0.15)


def test_cli_missing_reference_writes_the_figures_says_why_and_exits_3(tmp_path, capsys):
    run_id = make_run(tmp_path / "results", sections={"scoring": {"reference": {"compression": "fp8"}}})
    code = main(["report", run_id, "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert code == 3 and len(err.strip().splitlines()) == 1
    assert err.startswith("bench report: warning: no group could be scored (no reference case ran)")
    assert "s · m on cpu, batch 1: not scored: its reference case (model=m, compression=fp8, engine=eager" in out
    assert (tmp_path / "reports" / run_id / "index.html").is_file()


@pytest.mark.parametrize("status", ["running", "interrupted"])
def test_cli_report_of_a_run_still_running_or_stopped_says_it_covers_part_of_it(tmp_path, capsys, status):
    """`bench report` on a run still being written (or stopped half-way) printed a recommendation as if the run were
    complete; now one warning line says how much of the run the report covers."""
    run_id = make_run(tmp_path / "results")
    meta_file = tmp_path / "results" / run_id / "meta.json"
    meta = json.loads(meta_file.read_text())
    recorded = len((tmp_path / "results" / run_id / "records.jsonl").read_text().splitlines())
    meta.update(status=status, cases=[f"s::case{i}" for i in range(recorded + 2)], process=this_process())
    meta_file.write_text(json.dumps(meta))
    code = main(["report", run_id, "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert code == 0 and "robustness:" in out
    if status == "running":
        expected = (
            f"bench report: warning: run {run_id} is still running (pid {os.getpid()} on {socket.gethostname()}): "
            f"this report covers the {recorded} of {recorded + 2} cases recorded so far; run bench report again once "
            "it has finished"
        )
    else:
        expected = (
            f"bench report: warning: run {run_id} was interrupted: this report covers the {recorded} of "
            f"{recorded + 2} cases it recorded; bench run SUITE --resume {run_id} measures the rest"
        )
    assert err.strip().splitlines() == [expected]


def test_run_command_passes_report_to_pytest():
    import argparse

    from bench.commands.run import pytest_args

    args = argparse.Namespace(suites=["suites/quick.yaml"], results=None, run_id=None, k=None, report=True)
    command = pytest_args(args, [])
    assert "--bench-report" in command
    assert "no:hypothesispytest" in command  # a suite run does not pay for test-framework plugins' imports


def test_pytest_option_writes_the_report_at_session_end(pytester):
    suites = pytester.mkdir("suites")
    (suites / "tiny.yaml").write_text(
        "suite: tiny\nmodels: [noop]\nhardware: {cpu: {threads: [1]}}\n"
        "measure: {warmup_s: 0, min_time_s: 0.01, min_rounds: 3, memory_s: 0.01, energy_min_s: 0.01}\n"
    )
    reports = Path(tempfile.mkdtemp(dir=pytester.path))
    result = pytester.runpytest_subprocess(
        "--benchmark-only",
        "suites/",
        "--bench-results",
        "results",
        "--bench-report",
        "--bench-reports-dir",
        str(reports),
        "-p",
        "no:cacheprovider",
    )
    result.stdout.fnmatch_lines(["*report: *index.html"])
    (folder,) = list(reports.iterdir())
    assert (folder / "index.html").is_file() and (folder / "capacity.xlsx").is_file()


def test_a_run_without_records_is_a_clear_error(tmp_path, capsys):
    RunWriter(tmp_path, "20260101T000000Z-0000", {"suites": []}).close("interrupted")
    assert main(["report", "--results", str(tmp_path), "--out", str(tmp_path / "reports")]) == 2
    assert "has no records yet (status interrupted): nothing to report" in capsys.readouterr().err


def test_a_run_with_only_skipped_cases_still_writes_a_report(tmp_path):
    writer = RunWriter(tmp_path / "results", "r", {"suites": [{"name": "s", "sections": {}}]})
    writer.append(
        Record(
            run_id="r",
            suite="s",
            case_id="c",
            model="m",
            compression="fp32",
            engine="eager",
            device="cuda:0",
            threads=None,
            batch_size=1,
            status="skipped",
            error="no GPU",
        )
    )
    writer.close("finished")
    folder, result = write_report("r", tmp_path / "results", tmp_path / "reports")
    assert result.recommendations.iloc[0]["reasons"] == "no case measured (1 skipped): no GPU"
    assert "Chart skipped: no measured case" in (folder / "index.html").read_text()
    # was: "none meets the SLO" (no case was compared with it), over formulas of a blank plan row
    workbook = openpyxl.load_workbook(folder / "capacity.xlsx")
    sheet = workbook[next(name for name in workbook.sheetnames if name.startswith("capacity"))]
    assert _plan_summary(sheet) == {
        "cheapest plan meeting the SLO and the constraints": NO_PLAN,
        "its monthly cost (USD)": "",
    }


def test_the_ranking_and_its_chart_are_in_p_order_with_the_recommendation_marked_alike(tmp_path):
    from bench.report.charts import RECOMMENDED_COLOR, score_chart

    t = tables(make_run(tmp_path), tmp_path)
    ranking = t.ranking
    assert list(ranking["score"]) == sorted(ranking["score"])  # one group: the whole ranking is the P order
    assert list(ranking["rank"]) == list(range(1, len(ranking) + 1))
    assert set(ranking["reference_case"]) == {"m[fp32-cpu-1t-bs1]"}  # one reference for the group
    recommended = ranking.loc[ranking["recommended"].astype(bool), "case_id"].item()
    assert not ranking.loc[
        ranking["rank"] < ranking["rank"][ranking["recommended"].astype(bool)].item(), "feasible"
    ].any()
    axis = score_chart(t).figure.axes[0]
    labels = [tick.get_text() for tick in axis.get_yticklabels()][::-1]  # top to bottom
    assert labels == [("★ " if case == recommended else "") + case for case in ranking["case_id"]]
    marked = [tick for tick in axis.get_yticklabels() if tick.get_text().startswith("★")]
    assert len(marked) == 1 and marked[0].get_color() == RECOMMENDED_COLOR
    html = (write_report(t.run_id, tmp_path, tmp_path / "reports")[0] / "index.html").read_text()
    assert f"★ {recommended}" in html and "S and T relative to <code>m[fp32-cpu-1t-bs1]</code>" in html
    assert "one reference per group" in html
    assert "Confidence from the measurements: ★" not in html
    assert f"Confidence from the measurements: {recommended} is best in 100% of 1000 resamples" in html


def test_the_load_curve_marks_a_peak_from_a_search_cut_short_as_a_lower_bound(tmp_path):
    """Before, the chart drew the star of ``server_max_qps`` alike for a peak the search narrowed and for one from a
    search cut short (only a lower bound, ``≥`` in the page's tables): it presented a bound as the peak."""
    from matplotlib.collections import PathCollection
    from matplotlib.markers import MarkerStyle

    from bench.report.load_chart import load_curve_chart

    writer = RunWriter(tmp_path, "r", {"suites": [{"name": "s", "path": "s.yaml", "sections": {}}]})
    note = "load.max_time_s ran out after 2 Server runs, before the search narrowed the peak: the peak is at least this"
    cut = {"server_search_cut": "load.max_time_s", "server_peak_note": note}
    for compression, peak, search in (("fp32", 1200.0, {}), ("int8", 2400.0, cut)):
        curve = [{"qps": q, "p99_ms": q / 400, "meets_slo": q <= peak} for q in (peak / 2, peak, peak * 2)]
        extra = {"load_curve": curve, **search}
        case_id = f"m[{compression}-cpu-1t-bs1]"
        record = ok_record("r", case_id, compression, "cpu", 1, 2.0, 1000, server_max_qps=peak, server_slo_ms=5.0)
        writer.append(Record(**{**record.__dict__, "extra": extra}), [2.0] * 5)
    writer.close("finished")

    axis = load_curve_chart(tables("r", tmp_path)).figure.axes[0]
    labels = [text.get_text() for text in axis.get_legend().get_texts()]
    assert labels[:2] == ["fp32 cpu 1t: peak 1,200 QPS", "int8 cpu 1t: peak ≥ 2,400 QPS (search cut short)"]
    assert [text.get_text() for text in axis.texts] == ["≥ 2,400"]  # the bound's point is annotated, the peak's not

    def drawn_as(path, marker: str) -> bool:
        style = MarkerStyle(marker)
        shape = style.get_path().transformed(style.get_transform()).vertices
        return shape.shape == path.vertices.shape and bool((shape == path.vertices).all())

    peaks = {}  # the marker drawn on each line's peak point: a star for a peak, a triangle to higher rates for a bound
    for points in axis.collections:
        if isinstance(points, PathCollection) and len(points.get_offsets()) == 1 and points.get_sizes()[0] > 100:
            (qps, _), path = points.get_offsets()[0], points.get_paths()[0]
            peaks[float(qps)] = [marker for marker in ("*", ">") if drawn_as(path, marker)]
    assert peaks == {1200.0: ["*"], 2400.0: [">"]}


def test_each_chart_is_drawn_once_for_the_page_and_its_png_file(tmp_path, monkeypatch):
    import base64

    from matplotlib.figure import Figure

    draws = []
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: draws.append(self) or savefig(self, *a, **k))
    folder, _ = write_report(make_run(tmp_path / "results"), tmp_path / "results", tmp_path / "reports")
    pngs = sorted(folder.glob("*.png"))
    assert len(draws) == len(set(map(id, draws))) == len(pngs)  # a chart of thousands of cases takes seconds
    html = (folder / "index.html").read_text()
    for png in pngs:
        assert base64.b64encode(png.read_bytes()).decode("ascii") in html


def test_python_readers_follow_bench_results_dir_as_the_cli_does(tmp_path, monkeypatch):
    """load(), list_runs() and tables() read ./results whatever $BENCH_RESULTS_DIR said, while bench results and
    bench report followed it: the same run was found from the shell and not from a notebook."""
    from bench.gate.history import index_runs
    from bench.results import list_runs, load, load_meta

    run_id = make_run(tmp_path / "elsewhere")
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.setenv("BENCH_RESULTS_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("BENCH_REPORTS_DIR", str(tmp_path / "reports"))
    assert list_runs()["run_id"].tolist() == [run_id]
    assert load_meta()["run_id"] == run_id and len(load()) == 7
    assert tables().run_id == run_id and [run.run_id for run in index_runs()] == [run_id]
    folder, _ = write_report()
    assert folder == tmp_path / "reports" / run_id and (folder / "index.html").is_file()


def test_the_pareto_chart_joins_a_front_of_several_thread_counts_as_one_line(tmp_path):
    """The front is the decision group's (model, device, batch size: every thread count), as the ranking's Pareto
    column. Was: one line per thread count, so a front of fp32 on 2 threads and bf16, int8 on 1 thread drew a line
    from int8 to bf16 over fp32's ringed point, which no line reached."""
    import matplotlib.pyplot as plt

    from bench.report.charts import pareto_chart

    writer = RunWriter(tmp_path, "r", {"suites": [{"name": "s", "path": "s.yaml", "sections": {}}]})
    figures = {  # fp32 on 1 thread is dominated by fp32 on 2; the other three are the front
        ("fp32", 1): (4.0, 4000, 0.90),
        ("fp32", 2): (2.5, 4000, 0.90),
        ("bf16", 1): (3.0, 2000, 0.895),
        ("int8", 1): (2.0, 1000, 0.85),
    }
    for (compression, threads), (latency, size, accuracy) in figures.items():
        case_id = f"m[{compression}-cpu-{threads}t-bs1]"
        record = ok_record("r", case_id, compression, "cpu", threads, latency, size, accuracy=accuracy)
        writer.append(record, [latency] * 5)
    writer.close("finished")
    t = tables("r", tmp_path)
    front = t.cases[t.cases["pareto"].astype(bool)].sort_values("latency_ms")
    assert set(front["threads"]) == {1, 2} and len(front) == 3
    chart = pareto_chart(t)
    lines = [line.get_xydata().tolist() for line in chart.figure.axes[0].get_lines()]
    plt.close(chart.figure)
    assert lines == [front[["latency_ms", "accuracy"]].to_numpy().tolist()]


def test_the_ranking_names_the_latency_statistic_its_latency_column_holds(tmp_path):
    """Was "latency (ms)" over the p50 and, re-reported with --profile chat, over the p99: the same case showed two
    latencies under one header. Now the header names the statistic the cells hold, as the charts' axes do."""
    from bench.report.html import render_html

    run_id = make_run(tmp_path)
    for profile, statistic, figure in ((None, "p50", 4.0), ("chat", "p99", 6.0)):  # fp32 on 1 thread: p99 = 1.5 p50
        page = render_html(tables(run_id, tmp_path, profile=profile), [])
        header = re.search(r"<th>A</th><th>([^<]*)</th>", page).group(1)
        assert header == f"latency {statistic} (ms)"
        row = re.search(r"<td>(?:★ )?m\[fp32-cpu-1t-bs1\].*?</tr>", page, re.S).group(0)  # its ranking row
        cells = re.findall(r'<td class="n">([^<]*)</td>', row)
        assert float(cells[4]) == figure  # P, S, T, A, then the latency


def test_a_recommendation_the_capacity_plan_gives_no_replicas_says_so_and_names_the_plans_cheapest(tmp_path):
    """Was: "deploy m[bf16...]" in the card, and below it a capacity plan giving that case no replicas (its p99 past
    the SLO) and starring fp32, with nothing on the page joining the two. Now the card says why it has no plan and
    names the group's cheapest plan meeting the SLO and the constraints, the plan's ★."""
    import html

    from bench.report.html import render_html

    sections = {"capacity": {"target_qps": 100, "latency_slo_ms": 5}}
    writer = RunWriter(tmp_path, "r", {"suites": [{"name": "s", "path": "s.yaml", "sections": sections}]})
    for compression, p50, p99, size in (("fp32", 4.0, 4.5, 4000), ("bf16", 2.0, 50.0, 2000)):  # bf16: a noisy tail
        record = ok_record("r", f"m[{compression}-cpu-1t-bs1]", compression, "cpu", 1, p50, size, accuracy=0.9)
        writer.append(Record(**{**record.__dict__, "latency_p99_ms": p99}), [p50] * 5)
    writer.close("finished")
    t = tables("r", tmp_path)
    recommended = t.recommendations.iloc[0]["case_id"]
    plan = t.capacity.set_index("case_id")
    assert recommended == "m[bf16-cpu-1t-bs1]" and not plan.loc[recommended, "meets_slo"]
    starred = plan.index[plan["cheapest"].astype(bool)].item()
    page = html.unescape(render_html(t, []))
    assert (
        f"Capacity plan: no replicas for it: its p99 latency 50 ms misses the plan's p99 SLO of 5 ms; the group's "
        f"cheapest plan meeting the SLO and the constraints is {starred} ("
    ) in page
    page = render_html(tables(make_run(tmp_path / "other"), tmp_path / "other"), [])  # its ★ has a plan: no line
    assert "Capacity plan: no replicas" not in page


@pytest.mark.parametrize(
    ("value", "digits"), [(14861.69, 4), (38352.4, 4), (9999.6, 4), (1234567.89, 6), (-25000.4, 4), (2e6, 4)]
)
def test_a_large_figure_on_the_page_is_written_out_not_in_exponent_form(value, digits):
    """Was "1.486e+04" in the ranking's throughput column and "1.23457e+06" for a monthly cost: figures a reader
    must decode. Now they are written out, at the same significant digits."""
    from bench.report.html import _num

    text = _num(value, digits)
    assert re.fullmatch(r"-?\d+", text)
    assert float(text) == pytest.approx(value, rel=10 ** (1 - digits))
    assert _num(0.0003259) == "0.0003259" and _num(3.5) == "3.5" and _num(164.24999999999997, 6) == "164.25"


def test_a_per_item_score_labels_the_latency_axes_per_item_not_per_call(tmp_path):
    """Was "latency per_item per call (ms)" on pareto.png under scoring.latency: per_item, whose points are the p50
    divided by the batch size: a per-item figure labelled as a call's."""
    import matplotlib.pyplot as plt

    from bench.report.charts import latency_chart, pareto_chart

    labels = {"per_item": "latency per item, p50 / batch size (ms)", "p99": "latency p99 per call (ms)"}
    for latency, label in labels.items():
        run_id = make_run(tmp_path / latency, sections={"scoring": {"latency": latency}})
        t = tables(run_id, tmp_path / latency)
        for chart in (pareto_chart(t), latency_chart(t)):
            axis = chart.figure.axes[0]
            assert label in (axis.get_xlabel(), axis.get_ylabel())
            plt.close(chart.figure)


def _two_close_scores(tmp_path):
    """The tables of a run whose one group scores P 1.0100 (fp32) and P 1.0102 (bf16: smaller, slower)."""
    writer = RunWriter(tmp_path, "r", {"suites": [{"name": "s", "path": "s.yaml", "sections": {}}]})
    for compression, latency, size in (("fp32", 10.0, 1000), ("bf16", 13.337, 500)):
        record = ok_record("r", f"m[{compression}-cpu-1t-bs1]", compression, "cpu", 1, latency, size, accuracy=0.9)
        writer.append(record, [latency] * 5)
    writer.close("finished")
    return tables("r", tmp_path)


def test_the_score_chart_labels_two_close_scores_of_a_group_apart(tmp_path):
    """Was " 1.010" on the bars of both the recommendation (P 1.0100) and its runner-up (P 1.0102): 3 decimals hid
    the difference the ranking rests on. A group's labels now carry the decimals that tell its scores apart."""
    import matplotlib.pyplot as plt

    from bench.report.charts import score_chart

    t = _two_close_scores(tmp_path)
    chart = score_chart(t)
    labels = [float(text.get_text()) for text in chart.figure.axes[0].texts]
    plt.close(chart.figure)
    scores = sorted(t.ranking["score"], reverse=True)  # bars bottom-up
    assert len(set(labels)) == 2 and labels == sorted(labels, reverse=True)
    assert labels == pytest.approx(scores, abs=1e-4)


def test_the_ranking_writes_two_close_scores_of_a_group_apart(tmp_path):
    """Was "1.01" in the P column of both rank 1 (P 1.0100) and rank 2 (P 1.0102): 4 significant digits hid the
    difference the ranks rest on. A group's P cells now carry the digits that tell its scores apart."""
    from bench.report.html import render_html

    t = _two_close_scores(tmp_path)
    page = render_html(t, [])
    shown = {}
    for case in t.ranking["case_id"]:
        row = re.search(r"<td>(?:★ )?" + re.escape(case) + r".*?</tr>", page, re.S).group(0)
        shown[case] = float(re.findall(r'<td class="n">([^<]*)</td>', row)[0])
    assert len(set(shown.values())) == 2
    scores = t.ranking.set_index("case_id")["score"]
    assert all(shown[case] == pytest.approx(scores[case], rel=1e-4) for case in shown)


def test_summary_csv_says_which_statistic_its_latency_column_is(tmp_path):
    """Was: summary.csv's latency_ms held the p50 in one report and the p99 in one with --profile chat, and nothing
    in the file said which (its p95 has no column of its own). Now latency_statistic names it on every row."""
    run_id = make_run(tmp_path)
    for profile, statistic in ((None, "p50"), ("chat", "p99")):
        summary = tables(run_id, tmp_path, profile=profile).summary
        ok = summary[summary["status"] == "ok"]
        assert set(ok["latency_statistic"]) == {statistic}
        assert list(ok["latency_ms"]) == list(ok[f"latency_{statistic}_ms"])
        columns = list(summary.columns)
        assert columns.index("latency_statistic") == columns.index("latency_ms") + 1


def test_the_page_counts_the_cases_measured_on_a_busy_machine(tmp_path):
    """Was: nothing on the page, though bench run had warned (BusyWarning) that another process held the cores of
    these cases' timed calls and bench gate refuses such timings. Now a note counts them, as it counts unstable ones."""
    from bench.report.html import render_html

    writer = RunWriter(tmp_path, "r", {"suites": [{"name": "s", "path": "s.yaml", "sections": {}}]})
    for compression, wait in (("fp32", 0.01), ("bf16", 0.41), ("int8", None)):
        record = ok_record("r", f"m[{compression}-cpu-1t-bs1]", compression, "cpu", 1, 2.0, 1000)
        extra = {} if wait is None else {"cpu_wait_share": wait}
        writer.append(Record(**{**record.__dict__, "extra": extra}), [2.0] * 5)
    writer.close("finished")
    assert "1 case(s) were measured on a <em>busy machine</em>" in render_html(tables("r", tmp_path), [])
    assert "busy machine" not in render_html(tables(make_run(tmp_path / "quiet"), tmp_path / "quiet"), [])
