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


def test_the_report_of_an_old_run_finds_the_runs_before_it_behind_many_newer_ones(tmp_path):
    """Was: the earlier runs were looked for among the runs last written to only, so the report of a run with more
    than that many runs after it found none before it. Now the runs last written to before it are looked at too,
    and the nearest that started before it are compared."""
    import os

    from bench.report.tables import earlier_runs

    results = tmp_path / "results"
    for day in range(1, 8):  # r3 is reported; r4 to r7 came after it. A has the lowest P in r3 and r5, B elsewhere
        run(results, f"r{day}", f"2026-11-{day:02d}T10:00:00Z", 1.2 if day in (3, 5) else 0.8)
        for name in ("meta.json", "records.jsonl"):
            os.utime(results / f"r{day}" / name, (1_800_000_000 + day * 100,) * 2)
    result = tables("r3", results)
    earlier_runs(result, results / "r3", look_back=2)
    rec = result.recommendations.iloc[0]
    assert (rec["case_id"], rec["earlier_runs_compared"], rec["earlier_runs_agree"]) == (A, 2, 0)
    result = tables("r7", results)
    earlier_runs(result, results / "r7", look_back=2)  # the nearest two before r7: r6 and r5, not r2 and r1
    rec = result.recommendations.iloc[0]
    assert (rec["case_id"], rec["earlier_runs_compared"], rec["earlier_runs_agree"]) == (B, 2, 1)
    # r1 and r2 written last of all (a resumed run, a file touched): with r6 and r5, written before r7, they are
    # four runs that started before r7, of which the two that started last, r6 and r5, are compared
    for day in (1, 2):
        for name in ("meta.json", "records.jsonl"):
            os.utime(results / f"r{day}" / name, (1_800_000_000 + 1000 + day,) * 2)
    result = tables("r7", results)
    earlier_runs(result, results / "r7", look_back=2)
    rec = result.recommendations.iloc[0]
    assert (rec["case_id"], rec["earlier_runs_compared"], rec["earlier_runs_agree"]) == (B, 2, 1)


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


def test_across_runs_a_change_of_the_lowest_p_between_runs_is_a_near_tie_that_goes_to_the_cheaper_case(
    tmp_path, capsys
):
    """`bench report --across-runs`: B (2 threads) has the lowest P in this run (0.8 ms), A (1 thread, 1 ms) in the
    earlier one (B at 1.2 ms): one run each, so the runs cannot tell them apart, and A, on one thread, costs less per
    inference than B on two. Without the option the recommendation stays this run's."""
    from bench.cli import main

    results = tmp_path / "results"
    run(results, "r1", "2026-11-20T10:00:00Z", 1.2)  # A has the lowest P
    run(results, "r2", "2026-11-21T10:00:00Z", 0.8)  # B has it

    alone = tables("r2", results)
    rec = alone.recommendations.iloc[0]
    assert rec["case_id"] == B and rec["runs_disagree"] and not rec["across_runs_tie"]

    across = tables("r2", results, across_runs=True)
    rec = across.recommendations.iloc[0]
    assert rec["case_id"] == A and rec["across_runs_tie"]
    cases = across.cases.set_index("case_id")
    assert cases["recommended"].to_dict() == {A: True, B: False}
    assert cases.at[A, "verdict"].startswith(f"recommended: near tie across runs (lowest P {B} in 1, {A} in 1 of 2 ")
    assert cases.at[B, "verdict"] == f"recommended by this run alone; across runs: {A}"
    assert rec["reasons"].startswith(f"near tie across runs (lowest P {B} in 1, {A} in 1 of 2 runs on this machine)")
    assert rec["score"] == cases.at[A, "score"] > cases.at[B, "score"]  # the pick is not the lowest P: the rule's
    # the weight perturbation beside it describes A (was B's line: "only one feasible non-dominated configuration")
    assert rec["robustness"].startswith(f"{A}, recommended although {B} has the lowest P (see the reasons), ")
    assert across.robustness["top_case"].tolist() == [A] and rec["stays_top_share"] == 0.0  # B dominates A
    assert rec["earlier_runs"].endswith(
        "Across these 2 runs, this one among them, a near tie (--across-runs); in a near tie the cheaper (USD per "
        f"1M), then the smaller, then the lower-P configuration is recommended: {A}, not {B}."
    )

    assert main(["report", "r2", "--results", str(results), "--out", str(tmp_path / "out"), "--across-runs"]) == 0
    assert f"batch 1: {A}  P=" in capsys.readouterr().out


def test_across_runs_the_runs_never_overrule_a_case_that_had_the_lowest_p_in_all_of_them(tmp_path):
    results = tmp_path / "results"
    run(results, "r1", "2026-11-20T10:00:00Z", 0.8)
    run(results, "r2", "2026-11-21T10:00:00Z", 0.8)
    rec = tables("r2", results, across_runs=True).recommendations.iloc[0]
    assert rec["case_id"] == B and not rec["across_runs_tie"] and "Across" not in rec["earlier_runs"]


def test_across_runs_a_run_that_is_the_odd_one_out_gives_way_to_the_case_the_runs_chose(tmp_path):
    """Nine earlier runs had the lowest P on A, this one on B: A has 90% of the votes, so the runs are no near tie,
    and A, the case they chose, is recommended, not this run's B; the reasons say so."""
    results = tmp_path / "results"
    for day in range(1, 10):
        run(results, f"r{day}", f"2026-11-{day:02d}T10:00:00Z", 1.2)  # A has the lowest P
    run(results, "r10", "2026-11-20T10:00:00Z", 0.8)  # B has it
    across = tables("r10", results, across_runs=True)
    rec = across.recommendations.iloc[0]
    assert rec["case_id"] == A and not rec["across_runs_tie"]
    assert rec["reasons"].startswith("the lowest P in 9 of 10 runs on this machine (--across-runs); P ")
    assert rec["earlier_runs"].endswith(
        f"Across these 10 runs, this one among them (--across-runs), {A} had the lowest P in 9, not {B}."
    )
    assert across.cases.set_index("case_id")["recommended"].to_dict() == {A: True, B: False}
    # this run's resamples spoke of B, no longer the recommendation: the line says whose figure it is
    alone = tables("r10", results).recommendations.iloc[0]["confidence"]
    assert alone.startswith(f"{B} is best in ") and rec["confidence"] == f"in this run alone: {alone}"


def test_across_runs_a_case_that_has_the_lowest_p_in_nine_tenths_of_the_runs_is_no_tie():
    """The thresholds of the bootstrap's near tie (90%, 10%), applied to runs: 1 dissent in 9 runs is a tie, in 10
    it is not."""

    def decided(best: str) -> pd.DataFrame:
        return pd.DataFrame(
            {"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": [A, B], "status": "ok",
             "recommended": [c == best for c in (A, B)], "feasible": True, "score": [0.5, 0.4],
             "cost_per_1m": [1.0, 2.0], "model_size_bytes": 1000, "verdict": ["", ""]}
        )  # fmt: skip

    for earlier, tie in ((8, True), (9, False)):
        this = decided(B)
        recs = pd.DataFrame(
            [{"suite": "s", "model": "m", "device": "cpu", "batch_size": 1, "case_id": B, "reasons": ""}]
        )
        runs = [decided(A)] + [decided(B)] * (earlier - 1)
        add_earlier_runs(recs, this, runs, {"s": ("suite", "model", "device", "batch_size")}, across=True)
        assert (recs.at[0, "across_runs_tie"], recs.at[0, "case_id"]) == (tie, A if tie else B), earlier
