"""The capacity plan and $/1M with load figures: the LoadGen Server peak replaces single-stream throughput where it
exists and fits the SLO; elsewhere the single-stream formula is used and labelled as such."""

from __future__ import annotations

import dataclasses
import importlib.util
import math

import pandas as pd
import pytest

from bench.judge.cost import Capacity, add_costs, capacity_plan, load_prices


def records(**columns) -> pd.DataFrame:
    base = {
        "suite": ["s"] * 3,
        "model": ["m"] * 3,
        "case_id": ["loaded", "looser-slo", "no-load"],
        "status": ["ok"] * 3,
        "device": ["cpu"] * 3,
        "threads": [1] * 3,
        "batch_size": [2] * 3,
        "throughput_items_per_s": [1000.0] * 3,  # single stream: 2 items per 2 ms
        "latency_p99_ms": [3.0] * 3,
        "server_max_qps": [300.0, 300.0, None],  # requests/s; 600 items/s under load at the SLO
        "server_slo_ms": [10.0, 50.0, None],
        "energy_j_per_item": [0.01] * 3,
        "power_w_avg": [12.0] * 3,
    }
    base.update(columns)
    return pd.DataFrame(base)


CAPACITY = Capacity(target_qps=6000, latency_slo_ms=20, slo_statistic="p99", headroom=1.5)


def test_the_plan_uses_the_server_peak_when_present_and_the_old_formula_otherwise():
    prices = load_prices({"cpu_core_hour": 0.1})
    plan = capacity_plan(add_costs(records(), prices), CAPACITY).set_index("case_id")
    # single stream: ceil(6000 * 1.5 / 1000) = 9 for every case, kept side by side
    assert plan["replicas_single_stream"].tolist() == [9, 9, 9]
    # under load: ceil(6000 * 1.5 / (300 * 2)) = 15 replicas: queueing at the SLO costs 6 more
    assert plan.loc["loaded", "replicas"] == plan.loc["loaded", "replicas_load"] == 15
    assert plan.loc["loaded", "plan_basis"] == "load: LoadGen Server peak at p99 <= 10 ms"
    assert plan.loc["loaded", "monthly_cost"] == pytest.approx(15 * 0.1 * 730)
    assert plan.loc["loaded", "monthly_cost_single_stream"] == pytest.approx(9 * 0.1 * 730)
    # a peak searched at a looser SLO than the plan's proves nothing about it: labelled fallback
    assert plan.loc["looser-slo", "replicas"] == 9 and pd.isna(plan.loc["looser-slo", "replicas_load"])
    assert "looser than the plan's" in plan.loc["looser-slo", "plan_basis"]
    assert plan.loc["no-load", "replicas"] == 9
    assert plan.loc["no-load", "plan_basis"] == "single-stream formula (no load test)"
    # the cheapest plan that meets the SLO is chosen on the plan's own basis
    assert plan["cheapest"].tolist() == [False, True, True]  # looser-slo and no-load tie at 9: both, said a tie
    assert plan["cheapest_tie"].tolist() == [0, 2, 2]


def test_a_load_test_that_found_no_rate_refutes_the_slo_and_its_verdict_is_shown():
    frame = records(
        case_id=["invalid-peak", "none-at-looser", "none-at-stricter"],
        server_max_qps=[300.0, None, None],
        server_slo_ms=[10.0, 20.0, 5.0],
        server_validity=["INVALID", "INVALID", "INVALID"],
    )
    plan = capacity_plan(add_costs(frame, load_prices()), CAPACITY).set_index("case_id")
    assert plan.loc["invalid-peak", "replicas"] == 15
    assert plan.loc["invalid-peak", "plan_basis"].endswith("(LoadGen: INVALID, see server_validity)")
    # nothing met p99 <= 20 ms under load: the single-stream p99 of 3 ms does not make the plan's 20 ms reachable
    assert not plan.loc["none-at-looser", "meets_slo"] and pd.isna(plan.loc["none-at-looser", "replicas"])
    assert plan.loc["none-at-looser", "plan_basis"].startswith("load: no rate met p99 <= 20 ms")
    # nothing met a stricter 5 ms: the plan's 20 ms may still be met, by the single-stream formula, labelled
    assert plan.loc["none-at-stricter", "replicas"] == 9
    assert "stricter p99 <= 5 ms" in plan.loc["none-at-stricter", "plan_basis"]


NOTE = "load.max_time_s ran out after 6 Server runs, before the search narrowed the peak to search.precision 0.05: "


def cut_records() -> pd.DataFrame:
    """A peak from a search cut short, a search cut short before any rate passed, and the same from a record written
    before ``extra.server_search_cut`` existed (only its reason text says the time ran out)."""
    return records(
        case_id=["bound-peak", "runs-out", "old-record"],
        server_max_qps=[300.0, None, None],
        server_slo_ms=[10.0, 20.0, 20.0],
        server_validity=["VALID", "INVALID", "INVALID"],
        **{
            "extra.server_search_cut": ["load.max_time_s", "search.max_runs", None],
            "extra.server_peak_note": [NOTE + "the peak is at least this", None, None],
            "extra.server_invalid_reason": [
                None,
                "no rate met p99 <= 20 ms; ...; search.max_runs 2 ran out before the search's floor",
                "no rate met p99 <= 20 ms; ...; load.max_time_s ran out after 3 runs, before the search's floor",
            ],
        },
    )


def test_a_search_cut_short_is_not_measured_rather_than_unreachable_and_its_peak_only_a_bound():
    costed = add_costs(cut_records(), load_prices({"cpu_core_hour": 0.1}))
    plan = capacity_plan(costed, CAPACITY).set_index("case_id")
    # the bound is used, as a bound: 300 QPS met the SLO, so at most ceil(6000 * 1.5 / 600) = 15 replicas
    assert plan.loc["bound-peak", "replicas"] == 15 and plan.loc["bound-peak", "meets_slo"]
    assert plan.loc["bound-peak", "plan_basis"] == (
        "load: LoadGen Server peak at p99 <= 10 ms, only a lower bound (the search ran out of time (load.max_time_s)): "
        "at most this many replicas"
    )
    assert costed.set_index("case_id").loc["bound-peak", "throughput_basis"] == "load (lower bound)"
    assert costed.set_index("case_id").loc["bound-peak", "energy_kwh_per_1m"] == pytest.approx(0.02 * 1e6 / 3.6e6)
    # before: "load: no rate met p99 <= 20 ms, so none meets the plan's 20 ms", no replicas, though nothing was proved
    for case, why in (("runs-out", "ran out of runs (search.max_runs)"), ("old-record", "ran out of time (load.max_")):
        assert plan.loc[case, "meets_slo"] and plan.loc[case, "replicas"] == 9  # the single-stream formula
        assert plan.loc[case, "plan_basis"].startswith(
            f"single-stream formula (load not measured: the load search {why}"
        )
        assert "no rate met" not in plan.loc[case, "plan_basis"]


def test_a_load_peak_meets_the_slo_even_when_the_single_stream_latency_alone_would_not():
    # batching: one call is slower than the SLO's statistic would allow, but the loaded p99 met it
    plan = capacity_plan(add_costs(records(latency_p99_ms=[30.0] * 3), load_prices()), CAPACITY).set_index("case_id")
    assert plan.loc["loaded", "meets_slo"] and plan.loc["loaded", "replicas"] == 15
    assert not plan.loc["no-load", "meets_slo"] and pd.isna(plan.loc["no-load", "replicas"])


def test_cost_and_energy_per_million_use_the_loaded_throughput_where_it_exists():
    costed = add_costs(records(), load_prices({"cpu_core_hour": 0.36})).set_index("case_id")
    assert costed.loc["loaded", "throughput_basis"] == "load" and costed.loc["no-load", "throughput_basis"] == (
        "single-stream"
    )
    assert costed.loc["loaded", "loaded_items_per_s"] == 600 and costed.loc["no-load", "loaded_items_per_s"] == 1000
    # $0.36/h at 600 items/s -> 0.36 / (600 * 3600) * 1e6
    assert costed.loc["loaded", "cost_per_1m"] == pytest.approx(0.36 / (600 * 3600) * 1e6)
    assert costed.loc["no-load", "cost_per_1m"] == pytest.approx(0.1)
    # energy under load: 12 W / 600 items/s = 0.02 J per item; without load the measured 0.01 J
    assert costed.loc["loaded", "energy_kwh_per_1m"] == pytest.approx(0.02 * 1e6 / 3.6e6)
    assert costed.loc["no-load", "energy_kwh_per_1m"] == pytest.approx(0.01 * 1e6 / 3.6e6)


def test_unmeasured_energy_stays_empty_under_load_too():
    costed = add_costs(records(energy_j_per_item=[None] * 3, power_w_avg=[None] * 3), load_prices())
    assert costed["energy_kwh_per_1m"].isna().all()


def test_records_without_load_columns_plan_exactly_as_before():
    frame = records().drop(columns=["server_max_qps", "server_slo_ms"])
    plan = capacity_plan(add_costs(frame, load_prices()), CAPACITY)
    assert (plan["replicas"] == plan["replicas_single_stream"]).all()
    assert set(plan["plan_basis"]) == {"single-stream formula (no load test)"}
    assert all(math.isnan(v) for v in plan["server_max_qps"])


@pytest.mark.skipif(importlib.util.find_spec("mlperf_loadgen") is None, reason="mlcommons-loadgen is not installed")
def test_a_run_with_a_load_section_records_logs_and_reports_both_plans(tmp_path):
    import openpyxl

    from bench.measure.load import LoadSpec
    from bench.report import write_report
    from bench.results import RunWriter
    from bench.runner import Session
    from bench.spec import Case, MeasureSpec, MethodSpec, Placement
    from tests.test_runner import time_calls

    capacity = {"target_qps": 100_000, "latency_slo_ms": 20, "headroom": 1.5}
    writer = RunWriter(tmp_path / "results", "run", {"suites": [{"name": "s", "sections": {"capacity": capacity}}]})
    spec = LoadSpec(scenarios=("server",), slo_p99_ms=20, min_duration_s=0.3, min_queries=100, max_runs=3)
    measure = MeasureSpec(
        warmup_s=0.0, min_time_s=0.01, min_rounds=5, memory_s=0.01, energy=False, unstable_iqr_ratio=1e9
    )
    case = Case("s", MethodSpec("noop"), MethodSpec("fp32"), MethodSpec("eager"), Placement("cpu", 1), 1, measure)
    record = Session(writer, {}).run_case(dataclasses.replace(case, load=spec), time_calls)
    writer.close("finished")

    assert record.pass_errors is None and record.server_validity in ("VALID", "INVALID")
    assert record.server_max_qps > 0 and record.server_slo_ms == 20
    assert record.server_p50_ms <= record.server_p90_ms <= record.server_p99_ms <= 20
    assert record.extra["server_runs"] == len(record.extra["load_curve"]) <= 3
    logs = tmp_path / "results" / "run" / "loadgen" / "s__noop_fp32-cpu-1t-bs1" / "server"
    assert len(list(logs.glob("qps-*/mlperf_log_summary.txt"))) == record.extra["server_runs"]

    folder, tables = write_report("run", tmp_path / "results", tmp_path / "reports")
    assert (folder / "load_curve.png").is_file()
    plan = tables.capacity.iloc[0]
    assert plan["plan_basis"].startswith("load:") and plan["replicas"] == plan["replicas_load"]
    assert plan["replicas_load"] == math.ceil(100_000 * 1.5 / record.server_max_qps)
    html = (folder / "index.html").read_text()
    assert "replicas under load" in html and "Latency under load" in html
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    header = [c.value for c in sheet[10]]
    assert header[12] == "replicas under load" and sheet["M11"].value == plan["replicas_load"]
    # three runs rarely narrow the peak of a no-op model: a peak from a search cut short is labelled a bound
    cut = record.extra.get("server_search_cut")
    assert sheet["O11"].value == ("load (lower bound)" if cut else "load") and sheet["P11"].value == plan["replicas"]
    assert ("only a lower bound" in plan["plan_basis"]) == bool(cut)
    assert ('the peak is at least this">≥ </span>' in html) == bool(cut)  # the page's Server peak cell says so too


def test_the_workbook_does_not_call_an_slo_unreachable_when_the_search_ran_out(tmp_path):
    import openpyxl

    from bench.report import write_report
    from tests.gate_helpers import latencies, make_run

    reasons = {"server_invalid_reason": "no rate met p99 <= 20 ms; ...; search.max_runs 2 ran out before the floor"}
    cases = {
        "m[0]": {
            "samples": latencies(0),
            "server_slo_ms": 20.0,
            "server_validity": "INVALID",
            "extra": {"server_search_cut": "search.max_runs", **reasons},
        }
    }
    make_run(tmp_path / "results", "run", cases)
    folder, tables = write_report("run", tmp_path / "results", tmp_path / "reports")
    assert tables.capacity.iloc[0]["plan_basis"].startswith("single-stream formula (load not measured: the load")
    sheet = openpyxl.load_workbook(folder / "capacity.xlsx", data_only=True)["capacity"]
    formulas = openpyxl.load_workbook(folder / "capacity.xlsx")["capacity"]
    # before: "load: none meets the SLO" (a 20 ms load SLO at least as loose as the plan's 100 ms refuted it)
    assert sheet["O11"].value == "single stream (load search cut short)" and "IF(FALSE," in formulas["O11"].value
    assert sheet["P11"].value == tables.capacity.iloc[0]["replicas"] > 0
