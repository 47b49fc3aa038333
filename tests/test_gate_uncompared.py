"""The gate fails with its own exit code (3) when it compared nothing, or a case it was asked to guard was not
compared: another suite, no overlap, an empty side, a killed run with unmeasured cases, lost samples."""

from __future__ import annotations

import json
import warnings

import pytest

from bench import gate
from bench.cli import main
from tests.gate_helpers import latencies, make_run

EIGHT = {f"m[{i}]": {"samples": latencies(i), "model_size_bytes": 1000} for i in range(8)}


def selected(run, cases, status=None):
    """Record in meta.json which cases the run set out to measure (as the plugin does), and its status."""
    meta = json.loads((run / "meta.json").read_text())
    meta["cases"] = [f"demo::{case}" for case in cases]
    if status:
        meta["status"] = status
    (run / "meta.json").write_text(json.dumps(meta))


@pytest.fixture
def results(tmp_path):
    results = tmp_path / "results"
    make_run(results, "base", EIGHT, started_at="2026-11-21T00:00:00Z")
    return results


def test_a_killed_run_with_unmeasured_cases_fails_with_exit_3(results):
    measured = {k: {**v, "samples": latencies(10 + i)} for i, (k, v) in enumerate(list(EIGHT.items())[:3])}
    selected(make_run(results, "cur", measured, status="running"), EIGHT, status="interrupted")
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.count("regressed") == 0 and result.compared > 0
    assert result.uncompared == [f"demo::m[{i}]" for i in range(3, 8)] and result.not_run == []
    assert result.exit_code == gate.NOT_COMPARED == 3
    assert "5 case(s) ok in the baseline and selected now were not compared" in gate.render_markdown(result)
    assert "is still running" not in gate.render_markdown(result)
    assert (  # which cause it was, of all those the line of uncompared cases names
        "current run cur was interrupted: compared as far as it measured; the cases it set out to measure but has no "
        "record of are not compared; bench run SUITE --resume cur measures them, then gate again"
    ) in gate.render_markdown(result)


def test_a_current_run_stopped_by_maxfail_says_what_stopped_it(results):
    run = make_run(results, "cur", {"m[0]": {**EIGHT["m[0]"], "samples": latencies(10)}}, status="running")
    selected(run, EIGHT, status="interrupted")
    meta = json.loads((run / "meta.json").read_text())
    (run / "meta.json").write_text(json.dumps({**meta, "stopped_by": "-x/--maxfail"}))
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.exit_code == gate.NOT_COMPARED and len(result.uncompared) == 7
    assert "current run cur was interrupted (stopped by -x/--maxfail): compared as far as it measured" in (
        gate.render_markdown(result)
    )


def test_a_current_run_still_running_says_so(results):
    """Was: only "never measured: the run was killed or interrupted" about a run that was still measuring."""
    measured = {k: {**v, "samples": latencies(10 + i)} for i, (k, v) in enumerate(list(EIGHT.items())[:3])}
    selected(make_run(results, "cur", measured, status="running"), EIGHT)
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.exit_code == gate.NOT_COMPARED and len(result.uncompared) == 5
    assert (
        "current run cur is still running: the cases it has not measured yet are not compared; run bench gate again "
        "once it has finished"
    ) in gate.render_markdown(result)


def test_cases_deselected_on_purpose_are_not_guarded(results):
    selected(make_run(results, "cur", dict(list(EIGHT.items())[:3])), list(EIGHT)[:3])  # like -k
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.uncompared == [] and len(result.not_run) == 5
    assert result.exit_code == 0


@pytest.mark.parametrize(
    ("baseline", "current"),
    [
        (EIGHT, {}),  # the current run is empty
        ({}, EIGHT),  # the baseline is empty
        ({"m[0]": EIGHT["m[0]"]}, {"m[1]": EIGHT["m[1]"]}),  # no case overlaps
    ],
    ids=["empty-current", "empty-baseline", "no-overlap"],
)
def test_comparing_nothing_is_exit_3(tmp_path, baseline, current):
    results = tmp_path / "results"
    make_run(results, "b", baseline, started_at="2026-11-21T00:00:00Z")
    make_run(results, "c", current)
    result = gate.gate_runs(["b"], ["c"], results)
    assert result.compared == 0 and result.exit_code == gate.NOT_COMPARED
    assert "nothing was compared" in gate.render_markdown(result) or result.uncompared


def test_a_baseline_of_another_suite_is_exit_3_through_the_cli(results, tmp_path, capsys):
    make_run(results, "other", EIGHT, suite="elsewhere")
    out = tmp_path / "out"
    code = main(["gate", "--results", str(results), "--baseline", "base", "--current", "other",
                 "--summary", str(out / "s.md"), "--json", str(out / "v.json")])  # fmt: skip
    assert code == 3
    payload = json.loads((out / "v.json").read_text())
    assert payload["exit_code"] == 3 and payload["counts"]["regressed"] == 0
    assert (out / "s.md").read_text().startswith("## bench gate: FAILED: asked to guard what it could not compare")


def test_a_case_whose_samples_were_lost_is_not_compared(results):
    run = make_run(results, "cur", EIGHT)
    (run / "samples.jsonl").write_text("")  # ok records, but no raw samples to test
    result = gate.gate_runs(["base"], ["cur"], results, rules={"demo": {"model_size_bytes": "off"}})
    assert len(result.uncompared) == 8 and result.exit_code == gate.NOT_COMPARED


def test_a_regression_still_wins(results):
    slow = {**EIGHT, "m[0]": {"samples": latencies(0, scale=3.0), "model_size_bytes": 1000}}
    selected(make_run(results, "cur", dict(list(slow.items())[:4])), EIGHT, status="interrupted")
    result = gate.gate_runs(["base"], ["cur"], results)
    assert result.uncompared and result.exit_code == 1


@pytest.mark.parametrize("twice", [["--current", "r2"], ["--current", "RESULTS/r2"], ["--baseline", "r1"]])
def test_a_run_given_twice_on_one_side_is_refused_not_counted_twice(tmp_path, capsys, twice):
    """Was: --baseline r1 --baseline r1 --current r2 --current r2 pooled each run as two replicates and turned an
    inconclusive +12% into 'regressed' (exit 1) on the evidence of one run a side."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2, scale=1.12)}}, started_at="2026-11-22T00:00:00Z")
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2"]
    argv += [twice[0], twice[1].replace("RESULTS", str(results))]
    argv += ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(argv) == 2
    run = "r2" if twice[0] == "--current" else "r1"
    assert capsys.readouterr().err.strip() == (
        f"bench gate: error: run {results / run} is given twice on one side of the comparison; give each run once"
    )
    assert not (tmp_path / "v.json").exists()  # no verdict about it


@pytest.mark.parametrize("current", ["base", "RESULTS/base", "RESULTS/baseline/demo"])
def test_a_run_on_both_sides_is_refused_not_passed(results, tmp_path, capsys, current):
    """Was: --baseline base --current base (or the baseline folder as both) said "passed, 16 unchanged": a run
    compared with itself, nothing guarded."""
    gate.history.promote("base", results)
    baseline = "RESULTS/baseline/demo" if current == "RESULTS/baseline/demo" else "base"
    argv = ["gate", "--results", str(results), "--baseline", baseline.replace("RESULTS", str(results))]
    argv += ["--current", current.replace("RESULTS", str(results))]
    argv += ["--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]
    assert main(argv) == 2
    path = results / ("baseline/demo" if "baseline" in current else "base")
    assert capsys.readouterr().err.strip() == (
        f"bench gate: error: run {path} is both the baseline and the current run: compared with itself it would pass "
        "whatever it measured; give another --baseline or --current"
    )
    assert not (tmp_path / "v.json").exists()


def test_a_baseline_promoted_from_the_current_run_is_not_compared_with_it(results, tmp_path):
    """Was: `bench baseline set base` then `bench gate --current base` compared each case with its own record and
    passed. Now those cases are not comparable, and the gate exits 3; a case promoted from an older run still is."""
    older = make_run(results, "older", {"m[0]": EIGHT["m[0]"]}, started_at="2026-11-20T00:00:00Z")
    gate.history.promote(older.name, results)
    gate.history.promote("base", results, replace=True)
    gate.history.promote(older.name, results)  # m[0]'s baseline is older's, the other seven are base's own
    result = gate.gate_runs([results / "baseline" / "demo"], ["base"], results)
    assert result.uncompared == [f"demo::m[{i}]" for i in range(1, 8)]
    assert result.exit_code == gate.NOT_COMPARED
    own = [v for v in result.verdicts if v.case == "demo::m[1]"]
    assert own and all(v.verdict == "not comparable" for v in own)
    assert own[0].reason == "the baseline's record is this run's own (promoted from run base): compared with itself"
    assert any(v.case == "demo::m[0]" and v.verdict != "not comparable" for v in result.verdicts)


def test_a_pooled_current_side_holding_the_baselines_own_run_is_not_compared_with_it(results):
    """Was: with the baseline promoted from base, `--current later --current base` checked only later's record, so
    base's samples were pooled against themselves and the cases read "unchanged"."""
    gate.history.promote("base", results)
    make_run(results, "later", EIGHT, started_at="2026-11-22T00:00:00Z")
    result = gate.gate_runs([results / "baseline" / "demo"], ["later", "base"], results)
    assert result.uncompared == [f"demo::m[{i}]" for i in range(8)] and result.count("unchanged") == 0
    assert {v.reason for v in result.verdicts} == {
        "the baseline's record is this run's own (promoted from run base): compared with itself"
    }


def test_a_run_id_reused_for_another_measurement_is_compared(tmp_path):
    """A --run-id used again (another machine, another day) names a different measurement: one is one run id *and*
    one record timestamp. Was: any baseline record of that run id read as the current run's own."""
    results = tmp_path / "results"
    first = {k: {**v, "timestamp": "2026-11-20T10:00:00+00:00"} for k, v in EIGHT.items()}
    make_run(results, "nightly", first, started_at="2026-11-20T10:00:00Z")
    gate.history.promote("nightly", results)
    again = {
        k: {**v, "samples": latencies(20 + i), "timestamp": "2026-11-23T10:00:00+00:00"}
        for i, (k, v) in enumerate(EIGHT.items())
    }
    other = results / "elsewhere"
    make_run(other, "nightly", again, started_at="2026-11-23T10:00:00Z")
    result = gate.gate_runs([results / "baseline" / "demo"], [other / "nightly"], results)
    assert result.uncompared == [] and not any("this run's own" in (v.reason or "") for v in result.verdicts)
    assert result.compared > 0


@pytest.mark.parametrize("status", ["running", "interrupted"])
def test_a_baseline_run_that_stopped_early_says_so_and_does_not_call_its_unmeasured_cases_new(tmp_path, status):
    """Was: --baseline of a run still running (or interrupted) read the cases it had not reached as "new case: not
    in the baseline", with nothing in the summary saying that the baseline was partial."""
    results = tmp_path / "results"
    selected(make_run(results, "b", dict(list(EIGHT.items())[:3]), status="running"), EIGHT, status=status)
    make_run(results, "c", EIGHT, started_at="2026-11-23T00:00:00Z")
    result = gate.gate_runs(["b"], ["c"], results)
    state = "is still running" if status == "running" else f"was {status}"
    assert f"baseline run b {state}: compared as far as it measured" in gate.render_markdown(result)
    reasons = {v.reason for v in result.verdicts if v.case == "demo::m[5]"}
    assert reasons == {f"not in the baseline: its run (b, {status}) set out to measure it but has no record"}
    assert result.count("unchanged") > 0


@pytest.mark.skipif(not hasattr(__import__("os"), "mkfifo"), reason="needs FIFOs (POSIX)")
def test_a_summary_fifo_that_no_process_reads_is_refused_not_waited_on(tmp_path):
    """Was: bench gate --summary FIFO blocked for ever, waiting for a reader. A pipe that is read still works."""
    import os
    import subprocess
    import sys

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    fifo = tmp_path / "summary.md"
    os.mkfifo(fifo)
    argv = [sys.executable, "-m", "bench.cli", "gate", "--results", str(results), "--baseline", "r1", "--current"]
    argv += ["r2", "--summary", str(fifo), "--json", str(tmp_path / "v.json")]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    err = done.stderr.strip()
    assert err == f"bench gate: error: {fifo}: a FIFO (named pipe) that no process reads; nothing written"
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # someone reads it now (the summary fits the pipe's buffer)
    try:
        assert subprocess.run(argv, capture_output=True, timeout=60).returncode == 0
        assert os.read(reader, 1 << 16).startswith(b"## bench gate: passed")
    finally:
        os.close(reader)


def test_json_to_dev_stdout_on_a_pipe_is_written_there(tmp_path):
    """Was: `bench gate --json /dev/stdout | jq .` failed: '--json /dev/stdout: cannot write it (no such file or
    directory)' (its real path on a pipe is /proc/PID/fd/pipe:[N], which was taken for a new file to stage)."""
    import subprocess
    import sys

    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    argv = [sys.executable, "-m", "bench.cli", "gate", "--results", str(results), "--baseline", "r1", "--current"]
    argv += ["r2", "--summary", str(tmp_path / "s.md"), "--json", "/dev/stdout"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)  # stdout: a pipe
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout[done.stdout.index("{") : done.stdout.rindex("}") + 1])["current"] == "r2"


def test_summary_and_json_naming_one_file_are_refused_before_comparing(tmp_path, capsys):
    """Was: both were staged to one temporary file, the verdicts stood in the summary's place, and the gate ended on
    "bench gate: error: [Errno 2] No such file or directory: '.v.tmpN' -> 'v'" (after a --rerun's minutes, too)."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2"]
    same = str(tmp_path / "out.md")
    assert main([*argv, "--summary", same, "--json", same]) == 2
    assert capsys.readouterr().err == (
        f"bench gate: error: --summary and --json both name {same}: the verdicts would replace the summary; give "
        "each a file\n"
    )
    assert not (tmp_path / "out.md").exists()


@pytest.mark.parametrize(
    ("option", "name", "link"),
    [("--summary", "records.jsonl", False), ("--json", "samples.jsonl", False), ("--json", "meta.json", True)],
)
def test_an_output_naming_a_runs_own_file_is_refused_before_comparing(tmp_path, capsys, option, name, link):
    """Was: ``bench gate --summary results/r2/records.jsonl`` (or a link to it) wrote the summary over the run's
    records: every case it measured was lost, and the run read as damaged ever after."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    kept = {p: p.read_bytes() for p in results.rglob("*") if p.is_file()}
    target = results / "r2" / name
    if link:
        (tmp_path / "out.json").symlink_to(target)
    given = str(tmp_path / "out.json") if link else str(target)
    outputs = {"--summary": str(tmp_path / "s.md"), "--json": str(tmp_path / "v.json"), option: given}
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2"]
    assert main([*argv, *(item for pair in outputs.items() for item in pair)]) == 2
    assert capsys.readouterr().err == (
        f"bench gate: error: {option} {given}: it is {name} of the run in {results / 'r2'}, what the run measured; "
        "writing there would replace it: give another file\n"
    )
    assert {p: p.read_bytes() for p in results.rglob("*") if p.is_file()} == kept


def test_a_step_summary_naming_a_runs_own_file_is_not_appended_to_and_the_verdict_stands(tmp_path, capsys, monkeypatch):
    """Was: ``GITHUB_STEP_SUMMARY=results/r2/records.jsonl`` appended the Markdown summary to the run's records, a
    run of damaged lines after its last case."""
    results = tmp_path / "results"
    make_run(results, "r1", {"m[a]": {"samples": latencies(1)}}, started_at="2026-11-21T00:00:00Z")
    make_run(results, "r2", {"m[a]": {"samples": latencies(2)}}, started_at="2026-11-22T00:00:00Z")
    records = results / "r2" / "records.jsonl"
    kept = records.read_bytes()
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(records))
    argv = ["gate", "--results", str(results), "--baseline", "r1", "--current", "r2"]
    assert main([*argv, "--summary", str(tmp_path / "s.md"), "--json", str(tmp_path / "v.json")]) == 0
    assert capsys.readouterr().err == (
        f"bench gate: warning: GITHUB_STEP_SUMMARY={records}: it is records.jsonl of the run in {results / 'r2'}, "
        "what the run measured; it must name a file the summary can be appended to; the summary was not appended "
        "there\n"
    )
    assert records.read_bytes() == kept


def _concatenate(run, other):
    """``run``'s records.jsonl and samples.jsonl followed by ``other``'s: two measurements of each case."""
    for name in ("records.jsonl", "samples.jsonl"):
        (run / name).write_text((run / name).read_text() + (other / name).read_text())


@pytest.mark.filterwarnings("default::bench.results.ResultsWarning")  # shown by the command, one line each
@pytest.mark.parametrize("side", ["current", "baseline"])
def test_a_case_measured_twice_in_one_run_is_not_compared_never_passed(results, tmp_path, capsys, side):
    """Was: a records.jsonl with a case on two lines (a concatenated or hand-edited run) was judged on its first
    record and its last samples line, two different measurements, and the gate passed (exit 0)."""
    slow = {key: {"samples": latencies(20 + i, scale=2.0), "model_size_bytes": 3000} for i, key in enumerate(EIGHT)}
    cur = make_run(results, "cur", {k: {**v, "samples": latencies(30 + i)} for i, (k, v) in enumerate(EIGHT.items())})
    _concatenate(cur if side == "current" else results / "base", make_run(results, "slow", slow))
    out = tmp_path / "out"
    code = main(["gate", "--results", str(results), "--baseline", "base", "--current", "cur",
                 "--summary", str(out / "s.md"), "--json", str(out / "v.json")])  # fmt: skip
    assert code == gate.NOT_COMPARED
    payload = json.loads((out / "v.json").read_text())
    assert sorted(payload["uncompared"]) == sorted(f"demo::{case}" for case in EIGHT)
    assert {v["verdict"] for v in payload["verdicts"]} == {"not comparable"}
    where = (results / ("cur" if side == "current" else "base")) / "records.jsonl"
    assert payload["verdicts"][0]["reason"] == (
        f"{where} has it on lines 1, 9: two measurements of one case, neither judged (keep one line per case)"
    )
    printed = capsys.readouterr()
    assert "not comparable  demo::m[0]  latency_p50_ms" in printed.out
    assert f"bench gate: warning: {where}: 8 case(s) on more than one line, only the last of each read" in printed.err


def test_an_attempt_cut_short_before_its_record_leaves_samples_that_are_not_judged(results):
    """A kill between a case's samples line and its record, then --resume: the case's samples are on two lines and
    its record on one; the last samples line, written with the record, is the one compared."""
    cur = make_run(results, "cur", EIGHT)
    slow = make_run(results, "slow", {key: {"samples": latencies(i, scale=3.0)} for i, key in enumerate(EIGHT)})
    samples = cur / "samples.jsonl"
    samples.write_text((slow / "samples.jsonl").read_text() + samples.read_text())  # the cut-short attempts first
    with warnings.catch_warnings():  # an attempt a kill cut short is not damage: no warning
        warnings.simplefilter("error")
        result = gate.gate_runs(["base"], ["cur"], results)
    assert result.exit_code == 0 and result.uncompared == []
    assert {v.verdict for v in result.verdicts} == {"unchanged"}


def test_run_noise_runs_without_a_run_noise_is_refused_in_one_line(results, tmp_path, capsys):
    make_run(results, "cur", EIGHT, started_at="2026-11-22T00:00:00Z")
    argv = ["gate", "--results", str(results), "--baseline", "base", "--current", "cur", "--run-noise-runs", "30"]
    assert main([*argv, "--json", str(tmp_path / "v.json")]) == 2
    assert capsys.readouterr().err.strip() == (
        "bench gate: error: --run-noise-runs needs --run-noise: the run noise those runs measured"
    )


def test_a_baseline_ref_without_rerun_is_refused_not_ignored(results, tmp_path, capsys):
    """Was: `bench gate --baseline-ref v1.2` without --rerun compared the stored runs and passed, as if it had
    measured the code of v1.2."""
    make_run(results, "cur", EIGHT, started_at="2026-11-22T00:00:00Z")
    argv = ["gate", "--results", str(results), "--baseline", "base", "--current", "cur", "--baseline-ref", "v1.2"]
    assert main([*argv, "--json", str(tmp_path / "v.json")]) == 2
    assert capsys.readouterr().err.strip() == (
        "bench gate: error: --baseline-ref needs --rerun: it names the baseline code that --rerun measures again"
    )
    assert not (tmp_path / "v.json").exists()


def test_a_calibrated_run_noise_is_named_in_the_summary(tmp_path):
    results = tmp_path / "results"
    gates = {"run_noise": "1%", "run_noise_runs": 30}
    make_run(results, "b", EIGHT, gates=gates, started_at="2026-11-21T00:00:00Z")
    make_run(results, "c", EIGHT, gates=gates, started_at="2026-11-22T00:00:00Z")
    result = gate.gate_runs(["b"], ["c"], results)
    assert (
        "demo: run noise 1.0%, measured over 30 runs (bench calibrate): taken for one run a side, and pooled with "
        "the run pairs of several runs a side"
    ) in gate.render_markdown(result)


def test_a_case_on_a_damaged_line_of_the_baseline_is_not_compared_and_never_passes_as_new(results):
    path = results / "base" / "records.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], b'{"suite": "demo", "case_id": "m[2]", "sta\n', *lines[3:]]))
    make_run(results, "cur", {k: {**v, "samples": latencies(20 + i)} for i, (k, v) in enumerate(EIGHT.items())})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gate.gate_runs(["base"], ["cur"], results)
    assert result.uncompared == ["demo::m[2]"] and result.compared > 0
    assert result.exit_code == gate.NOT_COMPARED  # it was "new", and the gate passed
    reasons = {v.reason for v in result.verdicts if v.case == "demo::m[2]"}
    assert reasons and all(f"{path} line 3 (not JSON): it may be on one of them" in r for r in reasons)
    # with an intact baseline the same runs pass
    path.write_bytes(b"".join(lines))
    assert gate.gate_runs(["base"], ["cur"], results).exit_code == 0


def test_a_timed_figure_without_samples_says_which_side_lacks_them_and_why():
    """A side without raw samples had no such figure (nothing was guarded), samples that were not its record's, or
    none at all: three reasons, not one "no raw samples"."""
    from bench.gate.compare import NEW_IN_CURRENT, _no_samples_reason

    unusable = "raw samples are not its record's (another count or median, see the warning): not used"
    assert _no_samples_reason((False, True), (False, True), (False, False)) == NEW_IN_CURRENT
    assert _no_samples_reason((True, False), (True, False), (False, False)) == "not measured in the current run"
    assert _no_samples_reason((True, False), (True, True), (False, False)) == "no raw samples in the current run"
    assert _no_samples_reason((False, False), (True, True), (False, False)) == "no raw samples in either run"
    assert _no_samples_reason((False, True), (True, True), (True, False)) == f"the baseline's {unusable}"
    assert _no_samples_reason((False, False), (True, True), (False, True)) == (
        f"no raw samples in the baseline; the current run's {unusable}"
    )


def test_a_case_on_a_damaged_line_of_both_runs_is_not_passed_over(results):
    """Was: a case whose line was damaged in the baseline and in the current run was in neither side's records, so
    the gate compared the other cases and said "passed" (exit 0). The current run's damaged lines now count as
    cases not compared (exit 3), named in the summary and in verdicts.json."""
    make_run(results, "cur", {k: {**v, "samples": latencies(20 + i)} for i, (k, v) in enumerate(EIGHT.items())})
    for run in ("base", "cur"):
        path = results / run / "records.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        path.write_bytes(b"".join([*lines[:2], lines[2][:30] + b"\n", *lines[3:]]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = gate.gate_runs(["base"], ["cur"], results)
    assert result.compared > 0 and not result.uncompared and result.count("regressed") == 0
    assert result.damaged == [f"{results / 'cur' / 'records.jsonl'} line 3 (not JSON)"]
    assert result.exit_code == gate.NOT_COMPARED and result.to_json()["damaged"] == result.damaged
    assert "The current run's records.jsonl has 1 damaged line(s), skipped" in gate.render_markdown(result)
