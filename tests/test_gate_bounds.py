"""A LoadGen Server peak that is only a lower bound (its search cut short: ``extra.server_peak_note``) is judged as a
bound: decisive when the bound already settles the rule, else not comparable (exit 3), never a plain pass."""

from __future__ import annotations

import pytest

from bench import gate
from bench.gate.summary import render_markdown
from tests.gate_helpers import latencies, make_run

CUT = "load.max_time_s ran out after 6 Server runs, before the search narrowed the peak to search.precision 0.05: "
NOTE = CUT + "the peak is at least this"
GATES = {"server_max_qps": "-5%"}


def gate_peaks(tmp_path, baseline: float, current: float, baseline_bound: bool = False, current_bound: bool = False):
    """Gate one case with the same latency samples on both sides and these peaks (lower bounds on the sides
    asked)."""
    results = tmp_path / "results"
    for run_id, peak, bound in (("base", baseline, baseline_bound), ("cur", current, current_bound)):
        extra = {"server_peak_note": NOTE} if bound else {}
        case = {"m[0]": {"samples": latencies(0), "server_max_qps": peak, "server_slo_ms": 10.0, "extra": extra}}
        make_run(results, run_id, case, gates=GATES)
    result = gate.gate_runs(["base"], ["cur"], results)
    (verdict,) = [v for v in result.verdicts if v.metric == "server_max_qps"]
    return result, verdict


def test_exact_peaks_are_compared_as_before(tmp_path):
    result, verdict = gate_peaks(tmp_path, 1000, 800)
    assert verdict.verdict == "regressed" and verdict.bound == "" and result.exit_code == 1


@pytest.mark.parametrize(
    ("baseline", "current", "verdict_name", "change_text"),
    [
        (1000, 1200, "improved", "≥ +20.00%"),  # even the bound clears the rule in the good direction
        (1000, 980, "unchanged", "≥ -2.00%"),  # the bound is within the rule: no true peak can regress
    ],
)
def test_a_current_lower_bound_that_already_clears_the_rule_is_decisive(
    tmp_path, baseline, current, verdict_name, change_text
):
    result, verdict = gate_peaks(tmp_path, baseline, current, current_bound=True)
    assert verdict.verdict == verdict_name and verdict.bound == "at least"
    assert verdict.reason.startswith("the current run's server_max_qps is only a lower bound (load.max_time_s ran out")
    assert "so the rule -5% holds whatever the true figure" in verdict.reason
    assert result.exit_code == 0
    assert change_text in render_markdown(result)


def test_a_current_lower_bound_below_the_rule_is_not_comparable_and_fails_exit_3(tmp_path):
    # before: "regressed" (exit 1) on a peak the search never finished: the true peak may be anywhere above it
    result, verdict = gate_peaks(tmp_path, 1000, 700, current_bound=True)
    assert verdict.verdict == "not comparable" and verdict.bound == "at least"
    assert verdict.reason == (
        f"the current run's server_max_qps is only a lower bound ({NOTE}): the change is at least -30.0%, which "
        "cannot decide the rule -5%: not compared"
    )
    assert "\n" not in verdict.reason
    assert result.exit_code == gate.NOT_COMPARED  # guarded, not compared: never "passed"
    assert "FAILED: asked to guard what it could not compare" in render_markdown(result)


def test_a_baseline_lower_bound_decides_only_a_regression_beyond_the_rule(tmp_path):
    # the current peak is 30% below even the baseline's lower bound: the true baseline is higher still
    result, verdict = gate_peaks(tmp_path, 1000, 700, baseline_bound=True)
    assert verdict.verdict == "regressed" and verdict.bound == "at most" and result.exit_code == 1
    assert verdict.reason.startswith("the baseline's server_max_qps is only a lower bound (")
    assert "beyond the rule -5% whatever the true figure" in verdict.reason
    # before: "improved" (exit 0) against a baseline figure that may lie far above the current one
    result, verdict = gate_peaks(tmp_path / "up", 1000, 1500, baseline_bound=True)
    assert verdict.verdict == "not comparable" and result.exit_code == gate.NOT_COMPARED
    assert "the change is at most +50.0%, which cannot decide the rule -5%" in verdict.reason
    assert "≤ +50.00%" in render_markdown(result)


def test_two_lower_bounds_decide_nothing(tmp_path):
    result, verdict = gate_peaks(tmp_path, 1000, 2000, baseline_bound=True, current_bound=True)
    assert verdict.verdict == "not comparable" and verdict.bound == "unknown"
    assert "the baseline's server_max_qps is only a lower bound" in verdict.reason
    assert "; the current run's server_max_qps is only a lower bound" in verdict.reason
    assert "the change could be anything" in verdict.reason
    assert result.exit_code == gate.NOT_COMPARED and [
        v["bound"] for v in result.to_json()["verdicts"] if v["metric"] == "server_max_qps"
    ] == ["unknown"]


def gate_server_p99(tmp_path, peaks: tuple[float, float], bounds: tuple[bool, bool], p99s=(5.0, 5.0)):
    """Gate one case's server_p99_ms (rule +10%) with these Server peaks, lower bounds on the sides asked."""
    results = tmp_path / "results"
    for run_id, peak, bound, p99 in zip(("base", "cur"), peaks, bounds, p99s, strict=True):
        extra = {"server_peak_note": NOTE} if bound else {}
        case = {"m[0]": {"samples": latencies(0), "server_max_qps": peak, "server_p99_ms": p99, "extra": extra}}
        make_run(results, run_id, case, gates={"server_p99_ms": "+10%"})
    result = gate.gate_runs(["base"], ["cur"], results)
    (verdict,) = [v for v in result.verdicts if v.metric == "server_p99_ms"]
    return result, verdict


@pytest.mark.parametrize("bounds", [(False, True), (True, False), (True, True)])
def test_a_latency_at_a_bound_peak_is_not_compared_with_a_latency_at_another_rate(tmp_path, bounds):
    # before: "unchanged" (exit 0): the current p99 was taken at 700 QPS, below its unknown peak, against the
    # baseline's p99 at 1000 QPS: two different loads
    result, verdict = gate_server_p99(tmp_path, (1000, 700), bounds)
    assert verdict.verdict == "not comparable" and result.exit_code == gate.NOT_COMPARED
    assert verdict.reason.endswith(
        "its server_p99_ms was measured below the true peak, so the two sides' server_p99_ms are latencies at "
        "different loads (1000 and 700 QPS): not compared"
    )
    sides = [side for side, bound in zip(("the baseline's", "the current run's"), bounds, strict=True) if bound]
    assert all(f"{side} server_max_qps is only a lower bound ({NOTE})" in verdict.reason for side in sides)
    assert "\n" not in verdict.reason


def test_latencies_at_the_same_rate_are_compared_even_when_that_rate_is_a_bound(tmp_path):
    # both searches stopped at the same rate (e.g. the rate cap): the same load on both sides
    result, verdict = gate_server_p99(tmp_path, (1000, 1000), (True, True), p99s=(5.0, 6.0))
    assert verdict.verdict == "regressed" and verdict.change == pytest.approx(0.2)
    # and exact peaks at different rates are compared as before (the metric is the latency at the peak)
    result, verdict = gate_server_p99(tmp_path / "exact", (1000, 700), (False, False))
    assert verdict.verdict == "unchanged" and result.exit_code == 0
