"""The decision across runs: a report says how the earlier runs of its cases on this machine decided, with its own
weights, since the bootstrap of one run's samples cannot see the variation between runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.judge.confidence import add_earlier_runs
from bench.report.tables import tables
from tests.gate_helpers import latencies, make_run

A, B = "m[fp32-cpu-1t-bs1]", "m[fp32-cpu-2t-bs1]"  # the reference (1 thread) and the same model on 2 threads


def run(
    results: Path, run_id: str, started: str, b_scale: float, *, host: str = "ci-box", more: bool = False, gpu=None
):
    """A run of two cases of one group: A at 1 ms and B at ``b_scale`` ms (B wins when below 1)."""
    cases = {
        A: {"samples": latencies(1), "threads": 1, "model_size_bytes": 1000},
        B: {"samples": latencies(2, scale=b_scale), "threads": 2, "model_size_bytes": 1000},
    }
    if more:
        cases["m[fp32-cpu-4t-bs1]"] = {"samples": latencies(3, scale=0.5), "threads": 4, "model_size_bytes": 1000}
    make_run(results, run_id, cases, started_at=started, env={"hostname": host, "gpu_name": gpu})


def test_a_report_says_how_the_earlier_runs_of_its_cases_on_this_machine_decided(tmp_path):
    results = tmp_path / "results"
    run(results, "r1", "2026-11-20T10:00:00Z", 0.8)
    run(results, "r2", "2026-11-21T10:00:00Z", 0.8)
    run(results, "r-elsewhere", "2026-11-21T11:00:00Z", 1.2, host="another-box")  # not this machine
    run(results, "r-gpu", "2026-11-21T11:30:00Z", 1.2, gpu="NVIDIA H100 80GB HBM3")  # nor is it with a GPU
    run(results, "r-more", "2026-11-21T12:00:00Z", 1.2, more=True)  # not the same cases
    run(results, "r3", "2026-11-22T10:00:00Z", 1.2)  # A wins here
    run(results, "r4", "2026-11-23T10:00:00Z", 0.8)  # later than r3: not one of r3's earlier runs

    rec = tables("r3", results).recommendations.iloc[0]
    assert rec["case_id"] == A
    assert (rec["earlier_runs_compared"], rec["earlier_runs_agree"], rec["runs_disagree"]) == (2, 0, True)
    assert rec["earlier_runs"].startswith("the order changes between runs: of 2 earlier runs")
    assert f"the lowest P was {B} in 2 ({A} in this run)" in rec["earlier_runs"]

    rec = tables("r2", results).recommendations.iloc[0]
    assert rec["case_id"] == B and not rec["runs_disagree"]
    assert rec["earlier_runs"] == f"{B} had the lowest P in the one earlier run of these cases on this machine too."

    first = tables("r1", results).recommendations.iloc[0]
    assert first["earlier_runs_compared"] == 0 and first["earlier_runs"] == ""


def test_an_earlier_run_that_cannot_be_read_is_passed_over(tmp_path):
    results = tmp_path / "results"
    run(results, "r1", "2026-11-20T10:00:00Z", 0.8)
    (results / "r0").mkdir()
    (results / "r0" / "meta.json").write_text('{"started_at": "2026-11-19T10:00:00Z", "environment": {"hostn')
    run(results, "r2", "2026-11-21T10:00:00Z", 0.8)
    (results / "r1" / "records.jsonl").write_bytes(b"\xff\xfe not json\n")
    rec = tables("r2", results).recommendations.iloc[0]
    assert rec["earlier_runs_compared"] == 0  # r1's records are unreadable, r0 is no run of this machine


def test_a_run_that_does_not_name_its_machine_compares_with_no_other(tmp_path):
    results = tmp_path / "results"
    run(results, "r1", "2026-11-20T10:00:00Z", 0.8, host="")
    run(results, "r2", "2026-11-21T10:00:00Z", 0.8, host="")
    assert tables("r2", results).recommendations.iloc[0]["earlier_runs_compared"] == 0


def test_add_earlier_runs_counts_only_groups_with_the_same_cases():
    def decided(best: str, cases=(A, B)) -> pd.DataFrame:
        return pd.DataFrame(
            {"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": list(cases), "status": "ok",
             "recommended": [c == best for c in cases]}
        )  # fmt: skip

    this = decided(A)
    recs = pd.DataFrame([{"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": A}])
    earlier = [decided(A), decided(B), decided(B), decided(A, cases=(A, B, "m[x]")), decided("none")]
    add_earlier_runs(recs, this, earlier, {"s": ["suite", "model", "device", "batch_size"]})
    rec = recs.iloc[0]
    assert (rec["earlier_runs_compared"], rec["earlier_runs_agree"]) == (4, 1)
    assert f"was {B} in 2, {A} in 1, no feasible case in 1 ({A} in this run)" in rec["earlier_runs"]


def test_a_decision_without_the_weight_perturbation_recommends_the_same_cases():
    from bench.judge.decide import decide
    from bench.judge.scoring import ScoringConfig, score
    from tests.test_scoring import THREE, frame

    scored = score(frame(*THREE), ScoringConfig())
    full, quick = decide(scored), decide(scored, perturb=False)
    assert full.recommendations["case_id"].tolist() == quick.recommendations["case_id"].tolist()
    assert quick.cases["recommended"].tolist() == full.cases["recommended"].tolist()
    assert quick.recommendations.iloc[0]["robustness"] == "not computed"


def test_a_near_tie_compares_its_lowest_p_case_beside_a_suite_scored_across_batch_sizes(tmp_path):
    """A suite scored across batch sizes has no batch_size in its recommendation rows: with it beside another suite
    in one run, the other's batch sizes become floats (1.0), and a near tie there compared the moved recommendation
    (the cheaper case) with the earlier runs instead of the lowest-P case."""
    import json

    results = tmp_path / "results"
    for run_id, started, b_scale, seed in [
        ("r1", "2026-11-20T10:00:00Z", 0.8, 2),
        ("r2", "2026-11-21T10:00:00Z", 0.8, 2),
        ("r3", "2026-11-22T10:00:00Z", 0.998, 1),  # B a hair faster than A on the same samples: a near tie
    ]:
        cases = {
            A: {"samples": latencies(1), "threads": 1, "model_size_bytes": 1000},
            B: {"samples": latencies(seed, scale=b_scale), "threads": 2, "model_size_bytes": 1000},
            "o" + A: {"suite": "other", "samples": latencies(1), "threads": 1, "model_size_bytes": 1000},
            "o" + B: {"suite": "other", "samples": latencies(2, scale=0.8), "threads": 2, "model_size_bytes": 1000},
        }
        path = make_run(results, run_id, cases, started_at=started, extra_suites=("other",))
        meta = json.loads((path / "meta.json").read_text())
        meta["suites"][1]["sections"] = {"scoring": {"across_batch_sizes": True}}
        (path / "meta.json").write_text(json.dumps(meta))

    recs = tables("r3", results).recommendations.set_index("suite")
    tie = recs.loc["demo"]
    assert tie["near_tie"] and tie["case_id"] == A  # moved to the cheaper 1-thread case; B had the lowest P
    assert (tie["earlier_runs_compared"], tie["earlier_runs_agree"], tie["runs_disagree"]) == (2, 2, False)
    assert tie["earlier_runs"].startswith(f"{B} had the lowest P in")
    assert recs.loc["other", "earlier_runs_agree"] == 2


def test_a_run_that_could_not_score_a_case_of_the_group_is_compared_with_no_other_on_it(tmp_path):
    """B measured (ok) but not scored in r1 (its accuracy missing while A has it): r1 could not rank B, so it says
    nothing of whether B or A has the lower P; it was counted as a run where A had the lowest P (and r1's own report
    compared its A with the runs where B won)."""
    results = tmp_path / "results"
    scored = {
        A: {"samples": latencies(1), "threads": 1, "model_size_bytes": 1000, "accuracy": 0.9},
        B: {"samples": latencies(2, scale=0.8), "threads": 2, "model_size_bytes": 1000, "accuracy": 0.9},
    }
    unscored = {**scored, B: {**scored[B], "accuracy": None}}
    make_run(results, "r0", scored, started_at="2026-11-19T10:00:00Z")
    make_run(results, "r1", unscored, started_at="2026-11-20T10:00:00Z")
    make_run(results, "r2", scored, started_at="2026-11-21T10:00:00Z")

    rec = tables("r2", results).recommendations.iloc[0]
    assert rec["case_id"] == B
    assert (rec["earlier_runs_compared"], rec["earlier_runs_agree"]) == (1, 1)  # r0 only
    assert rec["earlier_runs"] == f"{B} had the lowest P in the one earlier run of these cases on this machine too."
    rec = tables("r1", results).recommendations.iloc[0]
    assert rec["case_id"] == A and (rec["earlier_runs_compared"], rec["earlier_runs"]) == (0, "")


def test_two_earlier_runs_that_agree_are_both_not_all_2():
    def decided(best: str) -> pd.DataFrame:
        return pd.DataFrame(
            {"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": [A, B], "status": "ok",
             "recommended": [c == best for c in (A, B)]}
        )  # fmt: skip

    recs = pd.DataFrame([{"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": A}])
    add_earlier_runs(recs, decided(A), [decided(A), decided(A)], {"s": ["suite", "model", "device", "batch_size"]})
    assert (
        recs.iloc[0]["earlier_runs"] == f"{A} had the lowest P in both earlier runs of these cases on this machine too."
    )
