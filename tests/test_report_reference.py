"""A group whose reference case did not run (failed, skipped, or left out with -k): the report is still written,
the other groups are scored and recommended exactly as without it, and the unscored group says why."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest

from bench.cli import main
from bench.report import write_report
from bench.results import Record, RunWriter

SECTIONS = {"scoring": {"profile": "recommendation"}, "constraints": {"accuracy_drop_max": 0.02}}
FIGURES = {"fp32": (4.0, 4000, 0.90), "bf16": (3.0, 2000, 0.895), "int8": (2.0, 1000, 0.85)}
FAILED = "RuntimeError: boom"
SKIPPED = "CUDA out of memory: needs 3.0 GiB"
REFERENCE = "n[fp32-cpu-1t-bs1]"
AXES = "(model=n, compression=fp32, engine=eager, device=cpu, threads=1, batch_size=1)"
BROKEN = {
    "failed": f"its reference case {REFERENCE} failed: {FAILED}",
    "skipped": f"its reference case {REFERENCE} was skipped: {SKIPPED}",
    "absent": f"its reference case {AXES} was not run in this run (selected out with -k or node ids)",
}


def record(run_id: str, model: str, compression: str, status: str = "ok", error: str | None = None) -> Record:
    latency, size, accuracy = FIGURES[compression]
    measured = status == "ok"
    return Record(
        run_id=run_id,
        suite="s",
        case_id=f"{model}[{compression}-cpu-1t-bs1]",
        model=model,
        compression=compression,
        engine="eager",
        device="cpu",
        threads=1,
        batch_size=1,
        status=status,
        error=error,
        latency_p50_ms=latency if measured else None,
        latency_p99_ms=latency * 1.5 if measured else None,
        latency_mean_ms=latency if measured else None,
        throughput_items_per_s=1000.0 / latency if measured else None,
        model_size_bytes=size if measured else None,
        peak_rss_mb=200.0 if measured else None,
        accuracy=accuracy if measured else None,
        accuracy_metric="auc" if measured else None,
    )


def make_run(results: Path, reference: str | None, models=("m", "n"), run_id: str = "r", **meta: Any) -> str:
    """A finished run of suite s: models ``models`` in fp32, bf16 and int8 on one CPU thread (one decision group per
    model). ``reference`` breaks model n's fp32 case: ``failed``, ``skipped``, ``absent`` (no record, as -k leaves
    it), or None (n measured in full)."""
    records = []
    for model in models:
        for compression in FIGURES:
            if model != "n" or compression != "fp32" or reference is None:
                records.append(record(run_id, model, compression))
            elif reference in ("failed", "skipped"):
                error = FAILED if reference == "failed" else SKIPPED
                records.append(record(run_id, model, compression, status=reference, error=error))
    selected = [f"s::{r.case_id}" for r in records]
    writer = RunWriter(results, run_id, {"suites": [{"name": "s", "sections": SECTIONS}], "cases": selected, **meta})
    for rec in records:
        writer.append(rec, [rec.latency_p50_ms] * 5 if rec.status == "ok" else None)
    writer.close("finished")
    return run_id


def decided(result, model: str) -> tuple[dict[str, Any], pd.DataFrame]:
    """One group's recommendation row and its cases' decision columns, as comparable plain values."""
    recs = result.recommendations.set_index("model")
    columns = ["case_id", "score", "reasons", "robustness", "confidence", "runner_up", "margin", "reference_case"]
    rec = {c: recs.loc[model, c] for c in columns}
    cases = result.cases[result.cases["model"] == model].set_index("case_id").sort_index()
    return rec, cases[["score", "S", "T", "rank", "verdict", "recommended", "pareto", "feasible"]]


@pytest.fixture(scope="module")
def without_n(tmp_path_factory):
    root = tmp_path_factory.mktemp("clean")
    return write_report(make_run(root / "results", None, models=("m",)), root / "results", root / "reports")[1]


@pytest.mark.parametrize("broken", list(BROKEN))
def test_a_group_whose_reference_did_not_run_is_shown_unscored_and_the_others_are_decided_as_without_it(
    tmp_path, broken, without_n
):
    run_id = make_run(tmp_path / "results", broken)
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert {"index.html", "summary.csv", "capacity.xlsx"} <= {p.name for p in folder.iterdir()}

    rec, cases = decided(result, "m")  # the intact group: scored and recommended exactly as in a run without n
    clean_rec, clean_cases = decided(without_n, "m")
    assert rec == clean_rec and rec["case_id"] == "m[bf16-cpu-1t-bs1]"
    pd.testing.assert_frame_equal(cases, clean_cases)

    why = BROKEN[broken]
    n_rec = result.recommendations.set_index("model").loc["n"]
    assert pd.isna(n_rec["case_id"]) and n_rec["reference_missing"] == why
    assert n_rec["reasons"].startswith(f"not scored: {why}; S, T and P are relative to that case")
    n_cases = result.cases[(result.cases["model"] == "n") & (result.cases["status"] == "ok")].set_index("case_id")
    assert len(n_cases) == 2 and n_cases["score"].isna().all() and n_cases["rank"].isna().all()
    assert n_cases["S"].isna().all() and n_cases["T"].isna().all() and not n_cases["recommended"].any()
    assert (n_cases["verdict"] == f"not scored: {why}").all()
    assert n_cases["latency_ms"].tolist() == [3.0, 2.0]  # the measured figures stay
    assert list(result.unscored["case_id"]) == ["n[int8-cpu-1t-bs1]", "n[bf16-cpu-1t-bs1]"]  # fastest first

    html = (folder / "index.html").read_text()
    card = re.search(r"<strong>s · n on cpu, batch 1:</strong>(.*?)</div>", html, re.S).group(1)
    assert f"<strong>not scored</strong>: {why}." in card and "deploy" not in card
    rows = re.findall(r'<tr class="infeasible unscored">(.*?)</tr>', html, re.S)
    assert len(rows) == 2 and all(f"<td>not scored: {why}</td>" in row for row in rows)
    assert "n[bf16-cpu-1t-bs1]" in rows[1] and '<td class="n">3</td>' in rows[1]  # its p50, as measured
    assert "deploy <code>m[bf16-cpu-1t-bs1]</code>" in html
    summary = pd.read_csv(folder / "summary.csv").set_index("case_id")
    assert summary.loc["n[bf16-cpu-1t-bs1]", "verdict"] == f"not scored: {why}"


def test_bench_report_names_the_unscored_group_in_its_output_and_exits_0_when_another_was_scored(tmp_path, capsys):
    run_id = make_run(tmp_path / "results", "failed")
    code = main(["report", run_id, "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    assert f"  s · n on cpu, batch 1: not scored: {BROKEN['failed']}\n" in out
    assert "  s · m on cpu, batch 1: m[bf16-cpu-1t-bs1]  P=" in out
    assert "  not scored, no reference case measured (1 of 2 groups): s · n on cpu, batch 1\n" in out


def test_a_run_where_no_group_has_its_reference_is_reported_with_figures_only_and_exits_3(tmp_path, capsys):
    run_id = make_run(tmp_path / "results", "skipped", models=("n",))
    code = main(["report", run_id, "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert code == 3
    assert err == (
        "bench report: warning: no group could be scored (no reference case ran), so the report shows measured "
        "figures only and recommends nothing; exit 3\n"
    )
    assert f"s · n on cpu, batch 1: not scored: {BROKEN['skipped']}" in out
    html = (tmp_path / "reports" / run_id / "index.html").read_text()
    assert "deploy" not in html and html.count('<tr class="infeasible unscored">') == 2


@pytest.mark.parametrize("status", ["skipped", "failed"])
def test_a_run_with_no_case_measured_recommends_nothing_and_exits_3_too(tmp_path, capsys, status):
    """Was exit 0: the report of a run whose every case was skipped (a GPU suite on a machine without one) or failed
    recommended nothing, yet read as a success, although --help promises exit 3 "when no group could be scored"."""
    writer = RunWriter(tmp_path / "results", "r", {"suites": [{"name": "s", "sections": SECTIONS}]})
    for compression in ("fp32", "bf16"):
        writer.append(record("r", "m", compression, status=status, error=SKIPPED if status == "skipped" else FAILED))
    writer.close("finished")
    code = main(["report", "r", "--results", str(tmp_path / "results"), "--out", str(tmp_path / "reports")])
    out, err = capsys.readouterr()
    assert code == 3
    assert err == (
        "bench report: warning: no group could be scored (no case was measured), so the report shows measured "
        "figures only and recommends nothing; exit 3\n"
    )
    assert "s · m on cpu, batch 1: no recommendation (no case measured (2 " in out
    assert (tmp_path / "reports" / "r" / "index.html").is_file()


def test_an_interrupted_run_does_not_claim_the_missing_reference_was_selected_out(tmp_path):
    run_id = make_run(tmp_path / "results", "absent")
    path = tmp_path / "results" / run_id / "meta.json"
    meta = json.loads(path.read_text())  # the run was stopped with the reference still to run
    path.write_text(json.dumps(meta | {"status": "interrupted", "cases": [*meta["cases"], f"s::{REFERENCE}"]}))
    _, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    assert result.recommendations.set_index("model").loc["n", "reference_missing"] == (
        f"its reference case {AXES} was not run in this run (the run is interrupted and 1 selected case never ran: "
        "it was not reached, or -k or node ids left it out)"
    )


def test_bench_run_report_prints_the_unscored_groups_in_one_line(tmp_path):
    from bench.plugin import _write_report

    make_run(tmp_path / "results", "skipped")
    config = SimpleNamespace(getoption=lambda name, default=None: str(tmp_path / "reports"), rootpath=tmp_path)
    line = _write_report(config, SimpleNamespace(path=tmp_path / "results" / "r"))
    assert line == (
        f"report: {tmp_path / 'reports' / 'r' / 'index.html'}\n"
        f"report: not scored, no reference case measured (1 of 2 groups): s · n on cpu, batch 1 ({BROKEN['skipped']})"
    )


def test_a_group_whose_reference_did_not_run_still_gets_its_pareto_front(tmp_path, monkeypatch):
    """A front compares measured latency, size and 1 - A, which needs no reference: the unscored group's cases are
    marked on it (and a case another one beats on all three is not), on the page, in summary.csv and the workbook."""
    import openpyxl

    monkeypatch.setitem(FIGURES, "int4", (2.5, 1500, 0.80))  # slower, larger and less accurate than int8
    run_id = make_run(tmp_path / "results", "failed")
    folder, result = write_report(run_id, tmp_path / "results", tmp_path / "reports")
    n_cases = result.cases[(result.cases["model"] == "n") & (result.cases["status"] == "ok")].set_index("case_id")
    assert n_cases["score"].isna().all()  # still not scored
    assert n_cases["pareto"].to_dict() == {
        "n[bf16-cpu-1t-bs1]": True,  # the most accurate left
        "n[int8-cpu-1t-bs1]": True,  # the fastest and smallest
        "n[int4-cpu-1t-bs1]": False,  # int8 beats it on all three
    }
    m_cases = result.cases[result.cases["model"] == "m"].set_index("case_id")
    assert m_cases["pareto"].to_dict() == {
        "m[fp32-cpu-1t-bs1]": True,
        "m[bf16-cpu-1t-bs1]": True,
        "m[int8-cpu-1t-bs1]": True,
        "m[int4-cpu-1t-bs1]": False,
    }
    html = (folder / "index.html").read_text()
    rows = {
        re.search(r"<td>(n\[[^<]*)</td>", row)[1]: row
        for row in re.findall(r'<tr class="infeasible unscored">(.*?)</tr>', html, re.S)
    }
    assert "<td></td><td>yes</td><td>not scored" in rows["n[int8-cpu-1t-bs1]"]
    assert "<td></td><td>no</td><td>not scored" in rows["n[int4-cpu-1t-bs1]"]
    assert "Their Pareto column compares" in html
    summary = pd.read_csv(folder / "summary.csv").set_index("case_id")
    assert summary.loc["n[bf16-cpu-1t-bs1]", "pareto"] and not summary.loc["n[int4-cpu-1t-bs1]", "pareto"]
    front = openpyxl.load_workbook(folder / "capacity.xlsx")["pareto"]
    listed = {row[1] for row in front.iter_rows(min_row=2, values_only=True)}
    assert {"n[bf16-cpu-1t-bs1]", "n[int8-cpu-1t-bs1]"} <= listed and "n[int4-cpu-1t-bs1]" not in listed
