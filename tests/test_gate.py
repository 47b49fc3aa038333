"""The regression gate: rules, statistics with known verdicts, environments, exit codes and the summaries."""

from __future__ import annotations

import contextlib
import json
import math
from pathlib import Path

import pytest

from bench import gate
from bench.cli import main
from bench.errors import SuiteError
from bench.suite import load_suite
from tests.gate_helpers import compare_samples, latencies, make_run

# ------------------------------------------------------------------------------------------------ rules


@pytest.mark.parametrize(
    ("metric", "raw", "limit", "relative", "text"),
    [
        ("latency_p50_ms", "+5%", 0.05, True, "+5%"),
        ("latency_p99_ms", "+ 12.5 %", 0.125, True, "+12.5%"),
        ("throughput_items_per_s", "-5%", 0.05, True, "-5%"),
        ("accuracy", "-0.005", 0.005, False, "-0.005"),
        ("accuracy", -0.005, 0.005, False, "-0.005"),
        ("model_size_bytes", "+1%", 0.01, True, "+1%"),
        ("model_size_bytes", "+0%", 0.0, True, "+0%"),
        ("latency_p50_ms", "+0.2", 0.2, False, "+0.2"),
    ],
)
def test_rules_parse(metric, raw, limit, relative, text):
    rule = gate.parse_rule(metric, raw)
    assert rule is not None
    assert math.isclose(rule.limit, limit)
    assert rule.relative is relative
    assert rule.text == text


@pytest.mark.parametrize("raw", [None, "off", "OFF", False])
def test_rules_can_be_switched_off(raw):
    assert gate.parse_rule("latency_p50_ms", raw) is None


@pytest.mark.parametrize(
    ("metric", "raw", "expected"),
    [
        ("latency_p50_ms", "-5%", "wrong sign"),
        ("throughput_items_per_s", "+5%", "wrong sign"),
        ("accuracy", 0.01, "wrong sign"),
        ("latency_p50_ms", "5%", "cannot read"),
        ("latency_p50_ms", "+5 percent", "cannot read"),
        ("latency_p50_ms", True, "got True"),
        ("latency_p50_ms", [5], "got a list"),
    ],
)
def test_bad_rules_name_the_key_and_the_allowed_forms(metric, raw, expected):
    with pytest.raises(SuiteError) as err:
        gate.parse_rule(metric, raw)
    message = str(err.value)
    assert f"gates.{metric}" in message
    assert expected in message
    assert "'off'" in message and "%" in message  # the allowed forms are listed


def test_a_rules_allowed_forms_never_name_a_currency_it_does_not_know():
    """The gate's rules are per metric, not per suite: a money metric's absolute form names no currency (its unit in
    the metric table is "currency/h", filled in only where a row's currency is known), never "$" or "currency"."""
    from bench import metrics
    from bench.gate.rules import _allowed_forms

    assert "(absolute ms, e.g. '+0.5')" in _allowed_forms(metrics.METRICS["latency_p50_ms"])
    money = _allowed_forms(metrics.METRICS["price_per_hour"])
    assert "(absolute, e.g. '+0.5')" in money and "currency" not in money and "$" not in money


def test_unknown_metric_suggests_the_near_miss():
    with pytest.raises(SuiteError) as err:
        gate.validate_gates({"latency_p50": "+5%"})
    assert "gates.latency_p50" in str(err.value)
    assert "Did you mean 'latency_p50_ms'?" in str(err.value)
    assert "model_size_bytes" in str(err.value)


@pytest.mark.parametrize("alpha", [0, 1, "0.01", True])
def test_bad_alpha(alpha):
    with pytest.raises(SuiteError, match=r"gates\.alpha.*between 0 and 1"):
        gate.validate_gates({"alpha": alpha})


def test_suite_gates_section_is_validated_with_file_and_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("suite: s\nmodels: [noop]\ngates: {latency_p50_ms: '-5%'}\n")
    with pytest.raises(SuiteError) as err:
        load_suite(path)
    assert str(err.value).startswith(f"{path}: gates.latency_p50_ms: ")
    path.write_text("suite: s\nmodels: [noop]\ngates: [latency_p50_ms]\n")
    with pytest.raises(SuiteError, match="gates: must be a mapping of metric to rule"):
        load_suite(path)
    path.write_text("suite: s\nmodels: [noop]\ngates: {latency_p50_ms: '+3%', accuracy: -0.01, alpha: 0.001}\n")
    assert load_suite(path).section("gates") == {"latency_p50_ms": "+3%", "accuracy": -0.01, "alpha": 0.001}


def test_suite_rules_override_the_defaults():
    rules, alpha = gate.rules_for({"latency_p50_ms": "+3%", "model_size_bytes": "off", "alpha": 0.001})
    assert rules["latency_p50_ms"].limit == pytest.approx(0.03)
    assert "model_size_bytes" not in rules
    assert rules["accuracy"].text == "-0.005"  # a default
    assert alpha == 0.001
    assert gate.rules_for(None)[1] == gate.DEFAULT_ALPHA


# ------------------------------------------------------------------------------------------- statistics


def test_holm_adjusts_step_down():
    assert gate.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert gate.holm([0.5]) == [0.5]
    assert gate.holm([0.9, 0.8]) == pytest.approx([1.0, 1.0])


RULE = gate.Rule("latency_p50_ms", 0.05, relative=True)


@pytest.mark.parametrize(
    ("scale", "expected"),
    [(1.0, "unchanged"), (1.10, "regressed"), (0.90, "improved"), (1.03, "unchanged"), (0.97, "unchanged")],
)
def test_known_samples_give_known_verdicts(scale, expected):
    verdict, change, p = compare_samples(RULE, latencies(1), latencies(2, scale=scale))
    assert verdict == expected
    assert change == pytest.approx(scale - 1, abs=0.01)
    if expected != "unchanged":
        assert p < 1e-6


def test_a_small_shift_is_significant_but_within_the_rule():
    verdict, change, p = compare_samples(RULE, latencies(1, n=5000), latencies(2, n=5000, scale=1.03))
    assert change == pytest.approx(0.03, abs=0.005)
    assert p < 1e-10  # thousands of samples make any shift "significant" ...
    assert verdict == "unchanged"  # ... so the effect must also be beyond the rule


def test_a_large_effect_on_few_noisy_samples_is_not_significant():
    """Not significant, so never regressed; nor unchanged (was), which these samples, every one 20% slower, do not
    show: inconclusive."""
    base = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    current = [v * 1.2 for v in base]
    verdict, change, p = compare_samples(RULE, base, current)
    assert change > 0.05
    assert p > 0.05
    assert verdict == "inconclusive"


def _disturbed(seed: int, blocks: int, factor: float = 2.0) -> list[float]:
    """1000 calls in 10 blocks; the first ``blocks`` blocks slowed by a neighbour (interference adds time)."""
    values = latencies(seed, n=1000)
    return [v * factor if i < blocks * 100 else v for i, v in enumerate(values)]


def test_blocks_slowed_by_interference_are_dropped():
    cleaned = gate.undisturbed([_disturbed(5, 3)])
    assert (cleaned.blocks, cleaned.dropped) == (10, 3)
    assert len(cleaned.samples_ms) == 700
    verdict, change, _ = compare_samples(RULE, latencies(1, n=1000), _disturbed(5, 3))
    assert verdict == "unchanged" and abs(change) < 0.02  # without cleaning the p50 would move by ~+5%
    figures = gate.timed_figures("latency_p50_ms", latencies(1, n=1000), _disturbed(5, 3))
    assert figures.note == "3/10 disturbed blocks dropped in the current run"


def test_a_mostly_disturbed_run_is_not_comparable():
    verdict, change, p = compare_samples(RULE, latencies(1, n=1000), _disturbed(5, 8))
    assert (verdict, change, p) == ("not comparable", None, None)
    reason = gate.timed_figures("latency_p50_ms", latencies(1, n=1000), _disturbed(5, 8)).reason
    assert reason.startswith("current run disturbed: 8 of 10 blocks") and "--rerun" in reason


def test_a_real_slowdown_slows_every_block_and_is_kept():
    slowed = [v * 1.10 for v in _disturbed(5, 2)]
    verdict, change, _ = compare_samples(RULE, latencies(1, n=1000), slowed)
    assert verdict == "regressed" and change == pytest.approx(0.10, abs=0.02)


def test_pooled_runs_are_cleaned_together():
    runs = [latencies(7, n=300), [v * 1.5 for v in latencies(8, n=300)], latencies(9, n=300)]
    cleaned = gate.undisturbed(runs)
    assert (cleaned.blocks, cleaned.dropped) == (30, 10)  # the whole middle run was on a busy machine


def test_throughput_is_judged_in_its_own_direction():
    rule = gate.parse_rule("throughput_items_per_s", "-5%")
    verdict, change, _ = compare_samples(rule, latencies(1), latencies(2, scale=1.10))
    assert verdict == "regressed"
    assert change == pytest.approx(1 / 1.10 - 1, abs=0.01)


def test_deterministic_metrics_use_the_rule_alone():
    size = gate.parse_rule("model_size_bytes", "+1%")
    assert gate.verdict_for(size, size.change(1000, 1020)) == "regressed"
    assert gate.verdict_for(size, size.change(1000, 1005)) == "unchanged"
    assert gate.verdict_for(size, size.change(1000, 500)) == "improved"
    accuracy = gate.parse_rule("accuracy", "-0.005")
    assert gate.verdict_for(accuracy, accuracy.change(0.90, 0.896)) == "unchanged"
    assert gate.verdict_for(accuracy, accuracy.change(0.90, 0.89)) == "regressed"
    assert gate.verdict_for(accuracy, accuracy.change(0.90, 0.91)) == "improved"


# ------------------------------------------------------------------------------------------- comparison


FIGURES = {"m[a]": {"model_size_bytes": 1000, "accuracy": 0.9}, "m[b]": {"model_size_bytes": 2000, "accuracy": 0.8}}
"""The baseline's untimed figures in :func:`_pair`: a current run that leaves them out cannot be vouched for."""


def _pair(tmp_path, current_cases, baseline_cases=None, current_env=None, gates=None):
    results = tmp_path / "results"
    baseline_cases = baseline_cases or {
        "m[a]": {"samples": latencies(1), **FIGURES["m[a]"]},
        "m[b]": {"samples": latencies(3), **FIGURES["m[b]"]},
    }
    make_run(results, "base", baseline_cases, gates=gates, started_at="2026-11-21T00:00:00Z")
    make_run(results, "cur", current_cases, gates=gates, env=current_env, started_at="2026-11-22T00:00:00Z")
    return results


def _verdicts(result):
    return {(v.case, v.metric): v.verdict for v in result.verdicts}


def test_compare_case_by_case(tmp_path):
    results = _pair(
        tmp_path,
        {
            "m[a]": {"samples": latencies(2, scale=1.12), "model_size_bytes": 1000, "accuracy": 0.9},
            "m[b]": {"samples": latencies(4), "model_size_bytes": 2000, "accuracy": 0.78},
            "m[new]": {"samples": latencies(5), "model_size_bytes": 10},
        },
    )
    result = gate.gate_runs(["base"], ["cur"], results, run_noise=0.0)  # synthetic runs: no run-to-run noise
    verdicts = _verdicts(result)
    assert verdicts[("demo::m[a]", "latency_p50_ms")] == "regressed"
    assert verdicts[("demo::m[a]", "throughput_items_per_s")] == "regressed"
    assert verdicts[("demo::m[a]", "model_size_bytes")] == "unchanged"
    assert verdicts[("demo::m[b]", "latency_p50_ms")] == "unchanged"
    assert verdicts[("demo::m[b]", "accuracy")] == "regressed"
    assert verdicts[("demo::m[new]", "latency_p50_ms")] == "not comparable"
    assert ("demo::m[new]", "accuracy") not in verdicts  # measured on neither side: no row
    assert ("demo::m[a]", "peak_rss_mb") not in verdicts
    assert result.exit_code == 1
    assert all(v.p_adjusted is not None for v in result.verdicts if v.metric == "latency_p50_ms" and v.change)


def test_a_case_that_newly_fails_is_a_regression(tmp_path):
    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2), "status": "failed", "error": "boom"}})
    result = gate.gate_runs(["base"], ["cur"], results)
    (verdict,) = [v for v in result.verdicts if v.case == "demo::m[a]"]
    assert (verdict.metric, verdict.verdict) == ("status", "regressed")
    assert verdict.reason == "ok in the baseline, failed now: boom"
    assert "demo::m[b]" not in {v.case for v in result.verdicts}  # not run: listed once, not as verdicts
    assert result.not_run == ["demo::m[b]"]
    assert "1 baseline case(s) not measured in the current run" in gate.render_markdown(result)
    assert result.exit_code == 1


def test_a_case_that_failed_in_the_baseline_is_not_comparable(tmp_path):
    baseline = {"m[a]": {"status": "failed", "error": "old bug"}}
    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2)}}, baseline_cases=baseline)
    result = gate.gate_runs(["base"], ["cur"], results)
    reasons = {v.reason for v in result.verdicts if v.case == "demo::m[a]"}
    assert reasons == {"failed in the baseline: old bug"}
    assert result.exit_code == gate.NOT_COMPARED  # no case was ok in both: the gate compared nothing


def test_skipped_cases_are_not_run(tmp_path):
    current = {"m[a]": {"samples": latencies(2)}, "m[b]": {"status": "skipped", "error": "cuda:0 not available"}}
    result = gate.gate_runs(["base"], ["cur"], _pair(tmp_path, current))
    assert result.not_run == ["demo::m[b]"]
    assert {v.case for v in result.verdicts} == {"demo::m[a]"}


def test_suite_rules_are_used(tmp_path):
    current = {"m[a]": {"samples": latencies(2, scale=1.04)}, "m[b]": {"samples": latencies(4)}}
    gates = {"latency_p50_ms": "+2%", "throughput_items_per_s": "off", "run_noise": "0%"}
    results = _pair(tmp_path, current, gates=gates)
    verdicts = _verdicts(gate.gate_runs(["base"], ["cur"], results))
    assert verdicts[("demo::m[a]", "latency_p50_ms")] == "regressed"
    assert ("demo::m[a]", "throughput_items_per_s") not in verdicts


@pytest.mark.parametrize(
    ("env", "differs"),
    [({"torch_version": "2.14.0"}, "torch_version"), ({"cpu_model": "Other CPU"}, "cpu_model")],
)
def test_environment_mismatch_is_refused_unless_forced(tmp_path, env, differs):
    current = {"m[a]": {"samples": latencies(2, scale=3.0)}, "m[b]": {"samples": latencies(4)}}
    results = _pair(tmp_path, current, current_env=env)
    refused = gate.gate_runs(["base"], ["cur"], results)
    assert {v.verdict for v in refused.verdicts} == {"not comparable"}
    assert differs in refused.verdicts[0].reason and "--force" in refused.verdicts[0].reason
    assert refused.exit_code == 2
    # was: "nothing was compared: no case is ok in both runs (another suite, no overlap, or an empty run)", although
    # both cases are ok in both runs: the summary of a refusal (exit 2) gave the reason of exit 3
    note = "nothing was compared: the runs' environments differ (use --force to compare anyway)"
    assert f"> **{note}**" in gate.render_markdown(refused) and "no case is ok in both" not in gate.render_markdown(
        refused
    )
    forced = gate.gate_runs(["base"], ["cur"], results, force=True)
    assert _verdicts(forced)[("demo::m[a]", "latency_p50_ms")] == "regressed"
    assert forced.exit_code == 1
    markdown = gate.render_markdown(forced)
    assert "Environment differs" in markdown and "--force" in markdown and differs in markdown


def test_a_figure_the_baseline_measured_and_the_gate_could_not_compare_is_never_passed(tmp_path):
    current = {
        "m[a]": {"samples": latencies(2), **FIGURES["m[a]"]},
        "m[b]": {"samples": latencies(4), **FIGURES["m[b]"]},
    }
    results = _pair(tmp_path, current)
    assert gate.gate_runs(["base"], ["cur"], results).exit_code == 0
    # m[b]'s size and accuracy still compare, but its raw samples are lost now: its latency is not guarded
    samples = results / "cur" / "samples.jsonl"
    samples.write_text("".join(line + "\n" for line in samples.read_text().splitlines() if "m[b]" not in line))
    result = gate.gate_runs(["base"], ["cur"], results)
    assert _verdicts(result)[("demo::m[b]", "model_size_bytes")] == "unchanged"
    assert not result.uncompared and result.count("regressed") == 0
    assert result.unguarded == [
        "demo::m[b]: latency_p50_ms (no raw samples in the current run)",
        "demo::m[b]: throughput_items_per_s (no raw samples in the current run)",
    ]
    assert result.exit_code == gate.NOT_COMPARED
    markdown = gate.render_markdown(result)
    assert "passed" not in markdown and "could not be compared" in markdown and "m[b]: latency_p50_ms" in markdown


def test_names_read_from_the_runs_cannot_end_their_span_or_row_in_the_markdown_summary(tmp_path):
    """Was: a case id holding a backtick and a '|' (a hand-edited or foreign records.jsonl) ended its code span and
    its table row: the CI summary rendered its <img>, and a second '## bench gate: passed' heading under the real
    verdict; a failed case's error such as "<class 'int'>" was dropped by GitHub as an unknown tag. (A case id with
    a line break is a damaged line, never read: tests/test_store_damage.py.)"""
    from markdown_it import MarkdownIt

    hostile = "m[a]`<img src=https://example.invalid/p.png>` | x | ## bench gate: passed"
    current = {hostile: {"samples": latencies(2, scale=1.5)}, "m[b]": {"status": "failed", "error": "<class 'int'>"}}
    results = _pair(tmp_path, current, {hostile: {"samples": latencies(1)}, "m[b]": {"samples": latencies(3)}})
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.exit_code == 1
    html = MarkdownIt("commonmark").enable("table").render(gate.render_markdown(result))
    assert html.count("<h2>") == 1 and "<h2>bench gate: FAILED: regression</h2>" in html and "<img" not in html
    rows = [row for row in html.split("<tr>")[1:] if "<td>" in row]
    assert len(rows) == 3 and all(row.count("<td") == 8 for row in rows)  # one row a verdict, eight cells each
    assert "<code>demo::m[a]`&lt;img src=https://example.invalid/p.png&gt;` | x | ## bench gate: passed" in html
    assert "failed now: &lt;class 'int'&gt;" in html


def test_a_figure_only_the_current_run_has_guards_nothing(tmp_path):
    current = {
        "m[a]": {"samples": latencies(2), **FIGURES["m[a]"]},
        "m[b]": {"samples": latencies(4), **FIGURES["m[b]"], "energy_j_per_item": 1.0},  # the baseline had none
    }
    result = gate.gate_runs(["base"], ["cur"], _pair(tmp_path, current))
    assert _verdicts(result)[("demo::m[b]", "energy_j_per_item")] == "not comparable"
    assert not result.unguarded and result.exit_code == 0


def test_thread_count_and_gpu_of_a_case(tmp_path):
    current = {
        "m[a]": {"samples": latencies(2), "threads": 2},
        "m[b]": {"samples": latencies(4), **FIGURES["m[b]"]},
    }
    results = _pair(tmp_path, current, current_env={"gpu_name": "Some GPU"})  # a GPU appeared: CPU cases unaffected
    result = gate.gate_runs(["base"], ["cur"], results)
    by_case = {v.case: v for v in result.verdicts if v.metric == "latency_p50_ms"}
    assert by_case["demo::m[a]"].verdict == "not comparable" and "threads 1 -> 2" in by_case["demo::m[a]"].reason
    assert by_case["demo::m[b]"].verdict == "unchanged"
    assert result.exit_code == 0  # something was compared
    assert gate.environment_differences({"gpu_name": "A"}, {"gpu_name": "B", "device": "cuda:0"}) == [
        "gpu_name 'A' -> 'B'"
    ]


# ------------------------------------------------------------------------------- CLI, exit codes, outputs


def _cli(tmp_path, results, *args):
    summary, verdicts = tmp_path / "out" / "summary.md", tmp_path / "out" / "verdicts.json"
    code = main(["gate", "--results", str(results), "--summary", str(summary), "--json", str(verdicts), *args])
    return code, summary, verdicts


def test_cli_exit_codes_and_files(tmp_path, monkeypatch, capsys):
    step_summary = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    slow = {"m[a]": {"samples": latencies(2, scale=3.0)}, "m[b]": {"samples": latencies(4)}}
    results = _pair(tmp_path, slow)
    same = {"m[a]": {"samples": latencies(7), **FIGURES["m[a]"]}, "m[b]": {"samples": latencies(8), **FIGURES["m[b]"]}}
    make_run(results, "same", same)

    # a machine with 4% run-to-run noise: +200% latency (-67% throughput) is decided on both metrics
    code, summary, verdicts = _cli(tmp_path, results, "--baseline", "base", "--current", "cur", "--run-noise", "0.04")
    assert code == 1
    payload = json.loads(verdicts.read_text())
    assert payload["exit_code"] == 1 and payload["counts"]["regressed"] == 2
    assert {v["verdict"] for v in payload["verdicts"]} <= set(gate.VERDICTS)
    text = summary.read_text()
    assert text.startswith("## bench gate: FAILED: regression")
    assert "| `demo::m[a]` | latency_p50_ms |" in text and "❌ regressed" in text
    assert "<details><summary>" in text  # unchanged rows folded away
    assert step_summary.read_text() == text
    assert "regressed  demo::m[a]  latency_p50_ms +" in capsys.readouterr().out

    code, _, _ = _cli(tmp_path, results, "--baseline", "base", "--current", "same")
    assert code == 0
    assert step_summary.read_text().count("## bench gate") == 2  # appended, not overwritten


@pytest.mark.parametrize("where", ["a folder", "in a missing folder"])
def test_an_unwritable_step_summary_is_one_warning_naming_the_variable_and_the_verdict_stands(
    tmp_path, monkeypatch, capsys, where
):
    """Was: GITHUB_STEP_SUMMARY naming a folder gave "bench gate: error: [Errno 21] Is a directory: '...'", exit 2:
    the variable unnamed, the verdict not printed and a regression's exit 1 lost."""
    step_summary = tmp_path / "step" if where == "a folder" else tmp_path / "missing" / "step.md"
    if where == "a folder":
        step_summary.mkdir()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2, scale=3.0)}, "m[b]": {"samples": latencies(4)}})
    code, summary, verdicts = _cli(tmp_path, results, "--baseline", "base", "--current", "cur", "--run-noise", "0.04")
    assert code == 1  # the comparison's: a regression
    assert json.loads(verdicts.read_text())["exit_code"] == 1 and summary.read_text().startswith("## bench gate")
    printed = capsys.readouterr()
    assert "regressed  demo::m[a]  latency_p50_ms +" in printed.out
    reason = "is a directory" if where == "a folder" else "no such file or directory"
    assert printed.err.splitlines() == [
        f"bench gate: warning: GITHUB_STEP_SUMMARY={step_summary}: {reason}; it must name a file the summary can be "
        "appended to (GitHub Actions sets it to one); the summary was not appended there"
    ]
    with pytest.raises(gate.GateError, match=r"^GITHUB_STEP_SUMMARY=.*: " + reason):  # the API says it the same way
        gate.write_outputs(gate.gate_runs(["base"], ["cur"], results), summary, verdicts, str(step_summary))


def test_a_gate_killed_between_its_two_renames_never_leaves_its_summary_beside_another_gates_verdicts(
    tmp_path, monkeypatch
):
    """Was: summary.md and verdicts.json were put in place by two renames, and a gate killed between them left its
    new summary beside the verdicts of the gate before: two comparisons read as one. Now the earlier verdicts are
    gone first: a kill there leaves the verdicts file missing."""
    import os

    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2)}, "m[b]": {"samples": latencies(4)}})
    make_run(results, "later", {"m[a]": {"samples": latencies(5)}}, started_at="2026-11-23T00:00:00Z")
    summary, verdicts = tmp_path / "out" / "summary.md", tmp_path / "out" / "verdicts.json"
    gate.write_outputs(gate.gate_runs(["base"], ["cur"], results), summary, verdicts, None)
    assert json.loads(verdicts.read_text())["current"] == "cur" and "current: `cur`" in summary.read_text()

    class Killed(BaseException):
        """SIGKILL, as near as a test can come: nothing after it runs."""

    real = os.replace

    def killed_after_the_first(source, target):
        real(source, target)
        raise Killed

    monkeypatch.setattr(os, "replace", killed_after_the_first)
    with pytest.raises(Killed):
        gate.write_outputs(gate.gate_runs(["base"], ["later"], results), summary, verdicts, None)
    monkeypatch.undo()
    assert "current: `later`" in summary.read_text()  # the first rename: the new summary
    assert not verdicts.exists()  # never the verdicts of the gate before (current: cur) beside it


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="gates take turns with flock (POSIX)")
@pytest.mark.filterwarnings("ignore::bench.errors.BenchWarning")  # the second's word that it waits for the first
def test_two_gates_writing_the_same_summary_and_verdicts_at_once_leave_one_gates_pair(tmp_path, monkeypatch):
    """Was: a second gate writing the same --summary and --json could put its summary in place between the first's
    two renames, and the first's verdicts then landed beside it: the summary said `later`, the verdicts `cur`. Now
    the second waits for the first to put its pair in place, then puts its own."""
    import os
    import threading

    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2)}, "m[b]": {"samples": latencies(4)}})
    make_run(results, "later", {"m[a]": {"samples": latencies(5)}}, started_at="2026-11-23T00:00:00Z")
    summary, verdicts = tmp_path / "out" / "summary.md", tmp_path / "out" / "verdicts.json"
    first, second = gate.gate_runs(["base"], ["cur"], results), gate.gate_runs(["base"], ["later"], results)
    failed: list[BaseException] = []

    def second_gate() -> None:
        try:
            gate.write_outputs(second, summary, verdicts, None)
        except BaseException as err:  # said by the test, not lost in the thread
            failed.append(err)

    other = threading.Thread(target=second_gate)
    real = os.replace

    def the_second_between_the_firsts_renames(source, target):
        real(source, target)
        if threading.current_thread() is threading.main_thread() and other.ident is None:
            other.start()
            other.join(timeout=1.0)  # the whole second gate, unless it waits for the first

    monkeypatch.setattr(os, "replace", the_second_between_the_firsts_renames)
    gate.write_outputs(first, summary, verdicts, None)
    other.join()
    assert failed == []
    current = json.loads(verdicts.read_text())["current"]
    assert current == "later" and f"current: `{current}`" in summary.read_text()  # the second's pair, whole
    assert sorted(p.name for p in summary.parent.iterdir()) == ["summary.md", "verdicts.json"]  # no lock file left


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="gates take turns with flock (POSIX)")
@pytest.mark.filterwarnings("default")  # as a shell runs `bench`: the wait is a warning line
def test_a_gate_holding_the_output_folder_for_ever_is_waited_for_with_a_word_then_refused(
    tmp_path, monkeypatch, capsys
):
    import fcntl
    import os

    from bench.gate import summary as outputs

    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2)}, "m[b]": {"samples": latencies(4)}})
    folder = tmp_path / "out"
    folder.mkdir()
    monkeypatch.setattr(outputs, "OUTPUTS_WAIT_S", 0.3)
    holder = os.open(folder, os.O_RDONLY)  # another gate, stopped half-way (Ctrl-Z)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        code, summary, verdicts = _cli(tmp_path, results, "--baseline", "base", "--current", "cur")
    finally:
        os.close(holder)
    assert code == 2 and not summary.exists() and not verdicts.exists()
    assert capsys.readouterr().err.splitlines() == [
        f"bench gate: warning: {folder}: another bench gate is writing its summary and verdicts there; waiting for "
        "it (at most 0.3 s)",
        f"bench gate: error: {folder}: another process has held it for 0.3 s (a bench gate that hangs or was stopped "
        "while it wrote there); the summary and the verdicts are left as they were: end that process, then run bench "
        "gate again",
    ]
    code = _cli(tmp_path, results, "--baseline", "base", "--current", "cur")[0]  # released: written at once
    assert code == json.loads(verdicts.read_text())["exit_code"] and summary.exists()
    assert capsys.readouterr().err == ""


def test_cli_usage_errors_exit_2(tmp_path, capsys):
    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2)}})
    assert _cli(tmp_path, results, "--baseline", "nope")[0] == 2
    assert "run 'nope' not found" in capsys.readouterr().err
    assert _cli(tmp_path, results)[0] == 2  # no promoted baseline
    assert "bench baseline set RUN" in capsys.readouterr().err
    assert _cli(tmp_path, tmp_path / "empty", "--baseline", "x")[0] == 2
    with pytest.raises(SystemExit) as exit_info:
        _cli(tmp_path, results, "--correction", "bonferroni")
    assert exit_info.value.code == 2


def test_markdown_summary_shape(tmp_path):
    current = {"m[a]": {"samples": latencies(2, scale=0.8)}, "m[b]": {"samples": latencies(4)}}
    results = _pair(tmp_path, {case: {**fields, **FIGURES[case]} for case, fields in current.items()})
    markdown = gate.render_markdown(gate.gate_runs(["base"], ["cur"], results, run_noise=0.04), max_unchanged=1)
    lines = markdown.splitlines()
    assert lines[0] == "## bench gate: passed"
    assert "0 regressed · 2 improved" in markdown
    assert "alpha=0.01, correction=holm" in markdown
    header = "| case | metric | baseline | current | change | rule | p (adj.) | verdict |"
    assert markdown.count(header) == 2
    assert "✅ improved" in markdown and "more in the JSON verdict file" in markdown
    row = next(line for line in lines if "`demo::m[a]` | latency_p50_ms" in line)
    assert "| -20." in row and "| +5% |" in row


def test_a_run_of_uncommitted_code_reads_as_such_wherever_its_commit_is_shown(tmp_path, capsys):
    """The summary, the verdicts, `bench results` and `bench history` cut a commit to 12 characters, and its
    `+dirty` with it: a gate of a working tree with local changes said `commit 73236dc72707`, a clean commit."""
    from bench.gate.history import index_runs
    from bench.results import list_runs

    dirty = "b" * 40 + "+dirty"
    figures = {case: {"samples": latencies(n), **FIGURES[case]} for n, case in ((2, "m[a]"), (4, "m[b]"))}
    results = _pair(tmp_path, figures, current_env={"git_commit": dirty})
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.to_json()["current_commit"] == "bbbbbbbbbbbb+dirty"
    assert result.to_json()["baseline_commit"] == "aaaaaaaaaaaa"
    assert "- current: `cur` (commit `bbbbbbbbbbbb+dirty`)" in gate.render_markdown(result)
    assert set(list_runs(results)["git_commit"]) == {"aaaaaaaaaaaa", "bbbbbbbbbbbb+dirty"}
    assert {run.commit for run in index_runs(results)} == {"aaaaaaaaaaaa", "bbbbbbbbbbbb+dirty"}
    make_run(results, "odd", figures, env={"git_commit": "c" * 40 + "+whatever"})  # a hand edit: only git's marks
    assert "cccccccccccc" in set(list_runs(results)["git_commit"])
    assert main(["baseline", "set", "cur", "--results", str(results)]) == 0
    capsys.readouterr()
    assert main(["baseline", "show", "--results", str(results)]) == 0
    assert "(commit bbbbbbbbbbbb+dirty, ci-box)" in capsys.readouterr().out


def test_a_pass_names_in_its_heading_what_it_did_not_decide(tmp_path):
    """A gate whose comparisons were inconclusive, or that measured some baseline cases only, was headed
    "## bench gate: passed" like one that decided every figure: a CI reader saw a +28% slowdown as passed."""
    slower = {"m[a]": {"samples": latencies(2, scale=1.3), **FIGURES["m[a]"]}}  # m[b] not measured now
    result = gate.gate_runs(["base"], ["cur"], _pair(tmp_path, slower))
    assert result.exit_code == 0 and result.count("inconclusive") == 2 and result.not_run == ["demo::m[b]"]
    heading = gate.render_markdown(result).splitlines()[0]
    assert heading == "## bench gate: passed (not decided: 2 inconclusive, 1 baseline case(s) not measured now)"


def test_a_suite_without_a_promoted_baseline_is_named_in_the_summary(tmp_path, capsys):
    """Was: one line on standard output only ("no baseline for suite(s) other: ..."); the Markdown summary a CI
    step posts showed the suite's cases as "new case" rows under "passed", never that the suite had no baseline."""
    results = tmp_path / "results"
    make_run(results, "base", {"m[a]": {"samples": latencies(1), **FIGURES["m[a]"]}}, started_at="2026-11-21T00:00:00Z")
    current = {
        "m[a]": {"samples": latencies(2), **FIGURES["m[a]"]},
        "m[z]": {"samples": latencies(3), "suite": "other"},
    }
    make_run(results, "cur", current, extra_suites=("other",), started_at="2026-11-22T00:00:00Z")
    assert main(["baseline", "set", "base", "--results", str(results)]) == 0
    code, summary, verdicts = _cli(tmp_path, results, "--current", "cur")
    note = (
        "no promoted baseline for suite(s) other: their cases are new to the gate, not compared (promote one with "
        "bench baseline set RUN)"
    )
    assert code == 0 and note in summary.read_text() and note in json.loads(verdicts.read_text())["notes"]
    assert capsys.readouterr().out.count(note) == 1  # in the short form, once


def test_json_is_valid_without_nan_or_infinity(tmp_path):
    results = _pair(
        tmp_path,
        {"m[a]": {"samples": latencies(2), "energy_j_per_item": 5.0}},
        baseline_cases={"m[a]": {"samples": latencies(1), "energy_j_per_item": 0.0}},  # a meter's resolution: 0 J
    )
    result = gate.gate_runs(["base"], ["cur"], results)
    text = json.dumps(result.to_json(), allow_nan=False)
    assert '"verdict": "regressed"' in text


def test_pooled_sides(tmp_path):
    results = tmp_path / "results"
    for i in range(2):
        make_run(results, f"A{i}", {"m[a]": {"samples": latencies(10 + i, n=50)}})
        make_run(results, f"B{i}", {"m[a]": {"samples": latencies(20 + i, n=50, scale=1.5)}})
    side = gate.load_side(["A0", "A1"], results)
    assert [len(run) for run in side.samples["demo::m[a]"]] == [50, 50]
    assert side.label == "2 runs pooled"
    result = gate.gate_runs(["A0", "A1"], ["B0", "B1"], results)
    assert _verdicts(result)[("demo::m[a]", "latency_p50_ms")] == "regressed"
    pooled = ("--baseline", "A0", "--baseline", "A1", "--current", "B0", "--current", "B1")
    code, _, verdicts = _cli(tmp_path, results, *pooled)
    assert code == 1 and json.loads(verdicts.read_text())["current"] == "2 runs pooled"


def test_too_few_samples(tmp_path):
    results = _pair(
        tmp_path,
        {"m[a]": {"samples": [1.0, 1.1, 1.2]}},
        baseline_cases={"m[a]": {"samples": [1.0, 1.1, 1.2, 1.0]}},
    )
    verdict = next(v for v in gate.gate_runs(["base"], ["cur"], results).verdicts if v.metric == "latency_p50_ms")
    assert verdict.verdict == "not comparable" and "fewer than" in verdict.reason


def test_gate_module_has_no_import_of_torch():
    assert "import torch" not in Path(gate.__file__).read_text()


def test_replicated_runs_need_the_median_pair_beyond_the_rule():
    rule = gate.parse_rule("latency_p50_ms", "+5%")
    # pooled +10%, but only one of three interleaved pairs moved: one process's bad luck, not the code
    one_bad_pair = ((1.0, 1.30), (1.0, 1.01), (1.0, 0.99))
    assert gate.verdict_for(rule, 0.10, True, one_bad_pair) == "unchanged"
    two_of_three = ((1.0, 1.09), (1.0, 1.11), (1.0, 1.02))
    assert gate.verdict_for(rule, 0.07, True, two_of_three) == "regressed"
    assert gate.verdict_for(rule, 0.07, True) == "regressed"  # one run a side: the pooled rule alone
    assert gate.verdict_for(rule, -0.08, True, ((1.0, 0.9), (1.0, 0.92))) == "improved"


def test_timed_figures_pair_runs_in_order_only_when_both_sides_replicate():
    old = [latencies(1, n=200), latencies(2, n=200)]
    new = [latencies(3, n=200, scale=1.1), latencies(4, n=200, scale=1.1)]
    figures = gate.timed_figures("latency_p50_ms", old, new)
    assert len(figures.pairs) == 2
    assert all(current > baseline for baseline, current in figures.pairs)
    assert gate.timed_figures("latency_p50_ms", old, new[:1]).pairs == ()
    assert gate.timed_figures("latency_p50_ms", old[0], new[0]).pairs == ()


def test_a_change_within_the_between_window_spread_is_not_a_regression(tmp_path):
    """measure.repeats measured how far independent windows of one run land apart: a 12% change is noise for a
    case whose windows spread 20%, and a regression for one whose windows agree within 1%."""
    slower = latencies(2, scale=1.12)
    results = _pair(
        tmp_path,
        {
            "m[a]": {"samples": slower, "latency_between_spread": 0.20},
            "m[b]": {"samples": latencies(4, scale=1.12), "latency_between_spread": 0.01},
        },
    )
    result = gate.gate_runs(["base"], ["cur"], results, run_noise=0.0)
    verdicts = {(v.case, v.metric): v for v in result.verdicts}
    noisy, steady = verdicts[("demo::m[a]", "latency_p50_ms")], verdicts[("demo::m[b]", "latency_p50_ms")]
    assert noisy.verdict == "unchanged" and "between measure.repeats windows (20.0%)" in noisy.reason
    assert steady.verdict == "regressed"


def test_an_absolute_rule_s_change_is_held_against_the_window_spread_relative_to_its_baseline(tmp_path):
    """A +1.2 ms change on 10 ms (+12%) was held against a 20% window spread as 1.2 > 0.20 and called regressed."""
    slow = {"samples": latencies(2, scale=1.12, median_ms=10.0)}
    base = {"m[a]": {"samples": latencies(1, median_ms=10.0)}, "m[b]": {"samples": latencies(3, median_ms=10.0)}}
    results = _pair(
        tmp_path,
        {"m[a]": {**slow, "latency_between_spread": 0.20}, "m[b]": {**slow, "latency_between_spread": 0.01}},
        baseline_cases=base,
        gates={"latency_p50_ms": "+0.5"},
    )
    result = gate.gate_runs(["base"], ["cur"], results, run_noise=0.0)
    verdicts = {(v.case, v.metric): v for v in result.verdicts}
    noisy, steady = verdicts[("demo::m[a]", "latency_p50_ms")], verdicts[("demo::m[b]", "latency_p50_ms")]
    assert noisy.change == pytest.approx(1.2, abs=0.1), "the change stays in milliseconds"
    assert noisy.verdict == "unchanged" and "between measure.repeats windows (20.0%)" in noisy.reason
    assert steady.verdict == "regressed"


@pytest.mark.parametrize(
    ("raw", "pairs", "shown"),
    [
        ("+5%", ((10.0, 10.1), (10.0, 10.2), (10.0, 12.7)), "(+1.0%, +2.0%, +27.0%)"),
        ("+0.5", ((10.0, 10.1), (10.0, 10.2), (10.0, 12.7)), "(+0.1, +0.2, +2.7)"),  # was "(+10.0%, +20.0%, +270.0%)"
    ],
)
def test_a_pooled_change_the_median_pair_does_not_show_names_each_pair_s_change_in_the_rule_s_unit(raw, pairs, shown):
    from bench.gate.compare import Verdict, _decide_timed

    rule = gate.parse_rule("latency_p50_ms", raw)
    change = rule.change(10.0, 11.0)
    verdict = Verdict("demo::m[a]", "latency_p50_ms", "", 10.0, 11.0, change, relative=rule.relative, p_value=1e-9)
    verdict.pairs, verdict.precision = pairs, abs(change) / 10
    _decide_timed([(verdict, rule, 0.01)], "holm")
    assert verdict.verdict == "unchanged"
    assert verdict.reason == f"beyond the rule over the 3 run pairs, but not in their median pair {shown}"


def test_runs_measured_under_different_settings_are_refused_unless_forced(tmp_path):
    results = tmp_path / "results"
    settings = {"min_time_s": 1.0, "min_rounds": 20, "warmup_s": 0.2}
    make_run(results, "base", {"m[a]": {"samples": latencies(1)}}, measure=settings, started_at="2026-11-21T00:00:00Z")
    make_run(
        results,
        "cur",
        {"m[a]": {"samples": latencies(2, scale=3.0)}},
        measure={**settings, "min_time_s": 0.1},
        started_at="2026-11-22T00:00:00Z",
    )
    refused = gate.gate_runs(["base"], ["cur"], results)
    (verdict,) = [v for v in refused.verdicts if v.metric == "latency_p50_ms"]
    assert verdict.verdict == "not comparable" and "min_time_s: 1.0 -> 0.1" in verdict.reason
    assert refused.exit_code != 0 and "measure settings differ" in gate.render_markdown(refused)
    forced = gate.gate_runs(["base"], ["cur"], results, force=True)
    (verdict,) = [v for v in forced.verdicts if v.metric == "latency_p50_ms"]
    assert verdict.verdict == "regressed"


@pytest.mark.parametrize("option", ["--summary", "--json"])
def test_a_step_summary_that_is_the_gates_own_output_keeps_it_whole(tmp_path, monkeypatch, capsys, option):
    """Was: GITHUB_STEP_SUMMARY naming the --json file appended the Markdown summary to the verdicts (no longer JSON:
    "Extra data: line 318"), and naming the --summary file left the summary in it twice."""
    summary, verdicts = tmp_path / "out" / "summary.md", tmp_path / "out" / "verdicts.json"
    step_summary = summary if option == "--summary" else verdicts
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    results = _pair(tmp_path, {"m[a]": {"samples": latencies(2, scale=3.0)}, "m[b]": {"samples": latencies(4)}})
    code, _, _ = _cli(tmp_path, results, "--baseline", "base", "--current", "cur", "--run-noise", "0.04")
    assert code == 1  # the comparison's: a regression
    assert json.loads(verdicts.read_text())["exit_code"] == 1
    assert summary.read_text().count("## bench gate") == 1
    err = capsys.readouterr().err
    if option == "--summary":
        assert err == ""
    else:
        assert err.splitlines() == [
            f"bench gate: warning: GITHUB_STEP_SUMMARY={verdicts}: it is this gate's --json file; appended to, the "
            "verdicts would no longer be JSON; it must name a file of its own; the summary was not appended there"
        ]
    with pytest.raises(gate.GateError, match=r"--json file") if option == "--json" else contextlib.nullcontext():
        gate.write_outputs(gate.gate_runs(["base"], ["cur"], results), summary, verdicts, str(step_summary))
    assert json.loads(verdicts.read_text())["exit_code"] == 1 and summary.read_text().count("## bench gate") == 1
